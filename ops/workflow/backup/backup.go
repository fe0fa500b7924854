// Package backup is the cluster-consistent Cassandra backup workflow of
// domain.md §4.2 without Cassy: pause Scalar DL on every admin target
// (rpc.Admin Pause with wait_outstanding), `nodetool snapshot -t TAG` on
// every Cassandra node in parallel, unpause. It also lists the snapshots
// (List) and clears one (ClearPlan).
//
// Unpausing is guaranteed as far as software can: the journal marker
// workflow.MarkerScalarDLPaused is set before the first Pause is sent; a
// pause refused by one node unpauses the others at once; the unpause step is
// a Cleanup step, so it runs after any failure, timeout or Ctrl-C, on a fresh
// bounded context and retrying each node; and if the process dies, the
// plan's Compensations make `resume` unpause before anything else.
//
// It builds workflow.Plans and knows nothing of the UI. It must not import
// tui or cmd.
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"scalar-tui/inventory"
	"scalar-tui/ops/cassy"
	"scalar-tui/ops/health"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/gates"
)

// Workflow names in plans, journals and run IDs.
const (
	Workflow      = "backup"
	ClearWorkflow = "backup-clear"
)

// Via values.
const (
	// ViaNodetool pauses Scalar DL itself and runs nodetool snapshot (implemented).
	ViaNodetool = "nodetool"
	// ViaCassy asks Cassy (rpc.Cassy TakeBackup, backup_type 1) and polls ListBackups (cassy.go).
	ViaCassy = "cassy"
)

// MarkerPauseWindow is journalled once Scalar DL was unpaused: its value is
// the measured pause window ("1.234s paused 2026-...Z unpaused ...Z"). It
// records a fact, not a state to undo, so it has no compensation.
const MarkerPauseWindow = "backup-pause-window"

// MarkerPauseAttempted is journalled when the run first pauses Scalar DL. A
// resumed run never pauses again: after a crash the snapshots already taken
// and the ones still to take would not share one pause. It records a fact and
// has no compensation.
const MarkerPauseAttempted = "backup-pause-attempted"

// DefaultKeyspaces are Scalar DL's keyspaces.
var DefaultKeyspaces = []string{"scalar", "coordinator"}

// AdminPort is the Scalar DL admin port (rpc.Admin).
const AdminPort = 50053

// Options selects what to back up. The zero value snapshots keyspaces scalar
// and coordinator under a tag made from the current time, via nodetool.
type Options struct {
	// Keyspaces to snapshot (default DefaultKeyspaces).
	Keyspaces []string `json:"keyspaces,omitempty"`
	// Tag names the snapshot (default "scalar-tui-YYYYMMDD-HHMMSS", UTC).
	Tag string `json:"tag,omitempty"`
	// Via is ViaNodetool (default) or ViaCassy (see cassy.go; Tag is then
	// Cassy's snapshot_id, a UUID, generated when empty).
	Via string `json:"via,omitempty"`
	// Cassy tunes ViaCassy.
	Cassy CassyOptions `json:"cassy,omitempty"`
	// Targets are the rpc.Admin addresses to pause (default
	// inventory Endpoints.ScalarDLAdmin, else every Scalar DL host:50053).
	Targets []string `json:"targets,omitempty"`
	// PauseTimeout bounds pausing every target (default 2 minutes).
	PauseTimeout time.Duration `json:"pause_timeout,omitempty"`
	// MaxPauseWait is sent as max_pause_wait_time (0: the ledger's default).
	MaxPauseWait time.Duration `json:"max_pause_wait,omitempty"`
	// SnapshotTimeout bounds one node's snapshot (default 5 minutes): the
	// pause lasts at most about PauseTimeout + SnapshotTimeout.
	SnapshotTimeout time.Duration `json:"snapshot_timeout,omitempty"`
	// UnpauseBudget is how long unpausing keeps retrying a node (default 2 minutes).
	UnpauseBudget time.Duration `json:"unpause_budget,omitempty"`
	// MinFreePercent is the free space /data needs on every node (default
	// DefaultMinFreePercent; negative skips the check, for labs without a
	// /data mount).
	MinFreePercent float64 `json:"min_free_percent,omitempty"`
	// AllowMixedRoutes lets a backup run although the other route is used on
	// this deployment: Cassy clears every local snapshot of its keyspaces on
	// every node before each backup, so it deletes the nodetool route's
	// snapshots (see docs/domain-notes.md).
	AllowMixedRoutes bool `json:"allow_mixed_routes,omitempty"`
	// Dial reaches the admin ports, normally through the bastion. Not journalled.
	Dial Dialer `json:"-"`
	// OnPauseWindow, when set, is told the measured pause window. Not journalled.
	OnPauseWindow func(PauseWindow) `json:"-"`
}

// PauseWindow is how long Scalar DL was paused: from every Pause having
// completed to every Unpause having completed.
type PauseWindow struct {
	Run        string        `json:"run"`
	Tag        string        `json:"tag"`
	Targets    []string      `json:"targets"`
	PausedAt   time.Time     `json:"paused_at"`
	UnpausedAt time.Time     `json:"unpaused_at"`
	Duration   time.Duration `json:"duration_ns"`
}

// String renders the window for notices.
func (w PauseWindow) String() string {
	return fmt.Sprintf("Scalar DL was paused for %s on %d node(s) (paused %s, unpaused %s)",
		w.Duration.Round(time.Millisecond), len(w.Targets), w.PausedAt.UTC().Format(time.RFC3339Nano), w.UnpausedAt.UTC().Format(time.RFC3339Nano))
}

// pausedMarker is the value of workflow.MarkerScalarDLPaused.
type pausedMarker struct {
	Targets  []string  `json:"targets"`
	PausedAt time.Time `json:"paused_at,omitempty"` // zero while pausing
}

var (
	keyspaceRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,48}$`)
	tagRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
)

// ValidTag reports whether tag is a snapshot name this tool accepts: letters,
// digits, dot, underscore and dash, not starting with a dash or a dot.
func ValidTag(tag string) error {
	if !tagRE.MatchString(tag) {
		return fmt.Errorf("bad snapshot tag %q: use letters, digits, '.', '_' and '-' (at most 100, starting with a letter or digit)", tag)
	}
	return nil
}

// DefaultTag returns the tag used when none is given.
func DefaultTag(now time.Time) string { return "scalar-tui-" + now.UTC().Format("20060102-150405") }

// Plan builds the backup plan for inv.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock (for the run ID, the default tag and tests).
// DefaultMinFreePercent is the free space the disk-free preflight wants on
// every Cassandra node's /data: the threshold of the deployment's own
// CassandraDriveSpaceLow rule (health.DiskRules), so that a backup never
// starts on a node the monitoring already calls low on disk.
var DefaultMinFreePercent = health.RuleMinFreePercent(inventory.RoleCassandra, "/data")

func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("backup: no inventory")
	}
	switch opts.Via {
	case "", ViaNodetool:
		opts.Via = ViaNodetool
	case ViaCassy:
		return planCassy(inv, opts, now) // cassy.go
	default:
		return nil, fmt.Errorf("backup: unknown --via %q (want nodetool or cassy)", opts.Via)
	}
	if len(opts.Keyspaces) == 0 {
		opts.Keyspaces = append([]string(nil), DefaultKeyspaces...)
	}
	for _, ks := range opts.Keyspaces {
		if !keyspaceRE.MatchString(ks) {
			return nil, fmt.Errorf("backup: bad keyspace name %q", ks)
		}
	}
	if opts.Tag == "" {
		opts.Tag = DefaultTag(now)
	}
	if err := ValidTag(opts.Tag); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ring, err := opts.normalize(inv)
	if err != nil {
		return nil, err
	}
	adm := admin{dial: opts.Dial}
	targets := append([]string(nil), opts.Targets...)

	p := workflow.NewPlan(Workflow, inv, now)
	p.Params = opts
	p.Preflight = nodetoolPreflight(inv, ring, targets, adm, opts)
	p.Steps = nodetoolSteps(ring, targets, adm, opts)
	p.Compensations = map[string]workflow.Step{
		workflow.MarkerScalarDLPaused: {
			ID:       "compensate-unpause",
			Title:    "unpause Scalar DL left paused by the interrupted run",
			Commands: unpauseCommands(targets),
			Run: func(ctx context.Context, env *workflow.Env) error {
				return unpauseStep(ctx, env, adm, targets, opts)
			},
		},
	}
	return p, nil
}

// normalize fills the nodetool route's defaults in and checks them against
// inv; it returns the Cassandra ring.
func (opts *Options) normalize(inv *inventory.Inventory) ([]inventory.Host, error) {
	ring := inv.ByRole(inventory.RoleCassandra)
	if len(ring) == 0 {
		return nil, errors.New("backup: the inventory has no Cassandra nodes (is the cassandra root loaded?)")
	}
	if len(opts.Targets) == 0 {
		opts.Targets = adminTargets(inv)
	}
	if len(opts.Targets) == 0 {
		return nil, errors.New("backup: the inventory has no Scalar DL admin targets (is the scalardl root loaded?); a snapshot without pausing Scalar DL would not be consistent")
	}
	if opts.PauseTimeout <= 0 {
		opts.PauseTimeout = 2 * time.Minute
	}
	if opts.SnapshotTimeout <= 0 {
		opts.SnapshotTimeout = 5 * time.Minute
	}
	if opts.UnpauseBudget <= 0 {
		opts.UnpauseBudget = 2 * time.Minute
	}
	if opts.MinFreePercent == 0 {
		opts.MinFreePercent = DefaultMinFreePercent
	}
	// NaN compares false with everything: it would pass every node.
	if math.IsNaN(opts.MinFreePercent) || math.IsInf(opts.MinFreePercent, 0) || opts.MinFreePercent > 100 {
		return nil, fmt.Errorf("backup: MinFreePercent %v: want a number up to 100 (negative skips the check)", opts.MinFreePercent)
	}
	return ring, nil
}

// nodetoolPreflight returns the nodetool route's checks. Each passes at once while
// this run holds Scalar DL paused (a resume): see below.
func nodetoolPreflight(inv *inventory.Inventory, ring []inventory.Host, targets []string, adm admin, opts Options) []workflow.Check {
	checks := []workflow.Check{
		gates.RingUNCheck(ring, "a cluster-wide snapshot needs every node up"),
		{
			Name:        "disk-free",
			Description: fmt.Sprintf("`df -Pk /data` shows at least %.0f%% free on every Cassandra node", opts.MinFreePercent),
			Run: func(ctx context.Context, env *workflow.Env) error {
				if opts.MinFreePercent < 0 {
					return nil
				}
				return checkDisk(ctx, env, ring, opts.MinFreePercent)
			},
		},
		{
			Name:        "tag-unused",
			Description: fmt.Sprintf("no Cassandra node has a snapshot named %s yet (`nodetool listsnapshots`)", opts.Tag),
			Run: func(ctx context.Context, env *workflow.Env) error {
				var have []string
				for _, h := range ring {
					snaps, err := listSnapshots(ctx, env.Exec, h)
					if err != nil {
						return err
					}
					for _, s := range snaps {
						if s.Name == opts.Tag {
							have = append(have, h.Short)
							break
						}
					}
				}
				if len(have) > 0 {
					return fmt.Errorf("snapshot %s already exists on %s; choose another --tag or clear it with `scalar-tui backups clear %s`", opts.Tag, strings.Join(have, ", "), opts.Tag)
				}
				return nil
			},
		},
		nodetoolRoutesCheck(inv, ring, opts),
		{
			Name:        "admin-reachable",
			Description: fmt.Sprintf("rpc.Admin answers on all %d Scalar DL admin targets and none is paused already", len(targets)),
			Run: func(ctx context.Context, env *workflow.Env) error {
				for _, t := range targets {
					cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					paused, known, err := adm.checkPaused(cctx, t)
					cancel()
					if err != nil {
						return fmt.Errorf("%s is not reachable: %w; every Scalar DL node must be paused for a consistent backup", hostOf(t), err)
					}
					if known && paused {
						return fmt.Errorf("Scalar DL on %s is already paused (another backup running?); if that pause is stale, unpause it (scalar-admin -c unpause -a %s) and try again", hostOf(t), t)
					}
				}
				return nil
			},
		},
	}

	// The engine checks preflight again on Resume before it runs the
	// Compensations. When this run left Scalar DL paused, nothing may stand
	// in the way of the unpause (a node down, the pause itself): the checks
	// pass, the compensation unpauses, and the pause step refuses to pause a
	// second time.
	for i := range checks {
		check := checks[i].Run
		checks[i].Run = func(ctx context.Context, env *workflow.Env) error {
			if _, ok := env.Markers()[workflow.MarkerScalarDLPaused]; ok {
				return nil
			}
			return check(ctx, env)
		}
	}

	return checks
}

// nodetoolSteps returns the nodetool route's steps: record the containers, pause,
// snapshot every node at once, check no container restarted, and always
// unpause.
func nodetoolSteps(ring []inventory.Host, targets []string, adm admin, opts Options) []workflow.Step {
	var steps []workflow.Step
	pauseCmds := make([]string, 0, len(targets))
	unpauseCmds := make([]string, 0, len(targets))
	for _, t := range targets {
		pauseCmds = append(pauseCmds, "rpc.Admin/Pause {wait_outstanding: true} "+t)
		unpauseCmds = append(unpauseCmds, "rpc.Admin/Unpause "+t)
	}
	hosts := scalarHosts(targets)
	steps = append(steps, workflow.Step{
		ID:       "record-containers",
		Title:    fmt.Sprintf("record the Scalar DL containers' id, StartedAt and RestartCount on all %d hosts (journal marker %s), to detect a restart during the pause", len(hosts), MarkerContainers),
		Commands: []string{InspectCommand + "   # on every Scalar DL host"},
		Timeout:  2 * time.Minute,
		// Read-only; pause-scalardl refuses to pause a second time anyway.
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			if _, ok := env.Markers()[MarkerPauseAttempted]; ok {
				return nil // keep the record of the first (and only) pause
			}
			if err := recordContainers(ctx, env, hosts); err != nil {
				return fmt.Errorf("%w (nothing paused)", err)
			}
			return nil
		},
	})
	steps = append(steps, workflow.Step{
		ID:         "pause-scalardl",
		Title:      fmt.Sprintf("pause Scalar DL on all %d admin targets (journal marker %s set first)", len(targets), workflow.MarkerScalarDLPaused),
		Commands:   pauseCmds,
		Timeout:    opts.PauseTimeout,
		Idempotent: true, // Resume unpauses first (Compensations), so pausing again is safe
		Run: func(ctx context.Context, env *workflow.Env) error {
			return pauseAll(ctx, env, adm, targets, opts)
		},
	})
	for _, h := range ring {
		cmd := shell.Join(append([]string{"nodetool", "snapshot", "-t", opts.Tag}, opts.Keyspaces...)...)
		host := h
		steps = append(steps, workflow.Step{
			ID:       h.Short + "/snapshot",
			Title:    "snapshot " + strings.Join(opts.Keyspaces, ", ") + " as " + opts.Tag + " (hard links under /data on this node only: no off-host copy)",
			Host:     h.Name,
			Commands: []string{cmd},
			Timeout:  opts.SnapshotTimeout,
			Parallel: "snapshot",
			// Safe on Resume: the guard below refuses to snapshot unless Scalar
			// DL is paused by this run, which it never is after a restart.
			Idempotent: true,
			Run: func(ctx context.Context, env *workflow.Env) error {
				if _, ok := env.Markers()[workflow.MarkerScalarDLPaused]; !ok {
					return finalErr(fmt.Errorf("Scalar DL is not paused by this run, so a snapshot of %s now would not be consistent with the other nodes; start a new backup (and clear the partial one with `scalar-tui backups clear %s`)", host.Short, opts.Tag))
				}
				if err := env.Run(ctx, host.Name, cmd); err != nil {
					return finalErr(fmt.Errorf("%w; the backup pauses only once, so take a new one (and clear the partial one with `scalar-tui backups clear %s`)", err, opts.Tag))
				}
				return nil
			},
		})
	}
	clearCmd := shell.Join("nodetool", "clearsnapshot", "-t", opts.Tag)
	steps = append(steps, workflow.Step{
		ID: "verify-containers",
		Title: fmt.Sprintf("check that no Scalar DL container restarted during the pause (id, StartedAt, RestartCount vs. before Pause); if one did, "+
			"the backup is inconsistent: clear %s on every Cassandra node and fail", opts.Tag),
		Commands: []string{InspectCommand + "   # on every Scalar DL host", clearCmd + "   # only if a container restarted"},
		Timeout:  2 * time.Minute,
		// Read-only unless inconsistent; the snapshot steps refuse on Resume anyway.
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			return verifyContainers(ctx, env, ring, opts.Tag, clearCmd)
		},
	})
	unpause := workflow.Step{
		ID:       "unpause-scalardl",
		Title:    "unpause Scalar DL on every admin target (always runs; retries each node)",
		Commands: unpauseCmds,
		Cleanup:  true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			return unpauseStep(ctx, env, adm, targets, opts)
		},
	}
	steps = append(steps, unpause)
	return steps
}

// unpauseCommands lists what unpausing sends, one line per admin target.
func unpauseCommands(targets []string) []string {
	cmds := make([]string, 0, len(targets))
	for _, t := range targets {
		cmds = append(cmds, "rpc.Admin/Unpause "+t)
	}
	return cmds
}

// adminTargets lists the rpc.Admin addresses of inv.
func adminTargets(inv *inventory.Inventory) []string {
	if len(inv.Endpoints.ScalarDLAdmin) > 0 {
		return append([]string(nil), inv.Endpoints.ScalarDLAdmin...)
	}
	var out []string
	for _, r := range []inventory.Role{inventory.RoleScalarDLBlue, inventory.RoleScalarDLGreen} {
		for _, h := range inv.ByRole(r) {
			out = append(out, net.JoinHostPort(h.Name, strconv.Itoa(AdminPort)))
		}
	}
	return out
}

// pauseAll sets the marker, then pauses every target in parallel. If any
// pause fails (or ctx ends), it unpauses all of them before returning.
func pauseAll(ctx context.Context, env *workflow.Env, adm admin, targets []string, opts Options) error {
	if _, ok := env.Markers()[MarkerPauseAttempted]; ok {
		return finalErr(fmt.Errorf("run %s already paused Scalar DL once and was interrupted; a backup pauses only once, so start a new backup (and clear the partial one with `scalar-tui backups clear %s`)", env.RunID(), opts.Tag))
	}
	if _, ok := env.Markers()[MarkerContainers]; !ok {
		return fmt.Errorf("journal marker %s is missing (step record-containers did not run?): nothing paused", MarkerContainers)
	}
	if err := env.SetMarker(MarkerPauseAttempted, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("journal (nothing paused yet): %w", err)
	}
	if err := setPaused(env, pausedMarker{Targets: targets}); err != nil {
		return fmt.Errorf("journal the pause marker (nothing paused yet): %w", err)
	}
	var mu sync.Mutex
	failed := map[string]error{}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := adm.pause(ctx, t, opts.MaxPauseWait); err != nil {
				mu.Lock()
				failed[t] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) == 0 && ctx.Err() == nil {
		pausedAt := time.Now().UTC()
		if err := setPaused(env, pausedMarker{Targets: targets, PausedAt: pausedAt}); err != nil {
			// The marker is still set from before: the cleanup unpauses.
			return fmt.Errorf("journal the pause time: %w", err)
		}
		return nil
	}
	why := describeFailures(failed)
	if why == "" {
		why = ctx.Err().Error()
	}
	// A Pause that timed out here may still be applied by its server: every
	// target gets an explicit Unpause, then CheckPaused, until it is verified.
	var timedOut []string
	for t, err := range failed {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || status.Code(err) == codes.DeadlineExceeded || status.Code(err) == codes.Canceled {
			timedOut = append(timedOut, hostOf(t))
		}
	}
	sort.Strings(timedOut)
	if len(timedOut) > 0 {
		why += fmt.Sprintf("; the Pause to %s timed out on this side and may have paused it anyway: an explicit Unpause was sent to it", strings.Join(timedOut, ", "))
	}
	uf, unverified := adm.unpauseVerified(ctx, targets, opts.UnpauseBudget)
	if len(uf) > 0 {
		return finalErr(fmt.Errorf("pausing Scalar DL failed (%s), and unpausing did not succeed on %s: Scalar DL may still be paused there; the cleanup step retries, and `scalar-tui resume %s` unpauses first", why, describeFailures(uf), env.RunID()))
	}
	_ = env.ClearMarker(workflow.MarkerScalarDLPaused)
	err := fmt.Errorf("pausing Scalar DL failed (%s); every admin target was unpaused again: %s", why, describeUnpause(len(targets), uf, unverified))
	if ctx.Err() != nil {
		return finalErr(fmt.Errorf("%w: %w", err, ctx.Err()))
	}
	return finalErr(err)
}

// verifyContainers fails the run when a Scalar DL container restarted (or
// was replaced) since before the pause: it came back unpaused, so the
// snapshot does not hold one consistent state. The snapshot is then cleared
// on every node so that nobody restores from it.
func verifyContainers(ctx context.Context, env *workflow.Env, ring []inventory.Host, tag, clearCmd string) error {
	changed, err := restartedContainers(ctx, env)
	if err != nil {
		return finalErr(fmt.Errorf("cannot tell whether snapshot %s is consistent: %w; treat it as suspect (clear it with `scalar-tui backups clear %s`) and take a new backup", tag, err, tag))
	}
	if len(changed) == 0 {
		env.Notice(fmt.Sprintf("no Scalar DL container restarted during the pause: snapshot %s is consistent", tag))
		return nil
	}
	why := fmt.Sprintf("a Scalar DL container restarted during the pause and came back unpaused: %s", strings.Join(changed, "; "))
	_ = env.SetMarker(MarkerInconsistent, fmt.Sprintf("snapshot %s: %s", tag, why))
	var left []string
	for _, h := range ring {
		r, err := env.Exec(context.WithoutCancel(ctx), h.Name, clearCmd)
		if err == nil && r.ExitCode != 0 {
			err = fmt.Errorf("exited %d: %s", r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout))
		}
		if err != nil {
			left = append(left, fmt.Sprintf("%s (%v)", h.Short, err))
		}
	}
	fate := "it was cleared on every Cassandra node"
	if len(left) > 0 {
		fate = "it was cleared, except on " + strings.Join(left, ", ") + ": clear it there with `scalar-tui backups clear " + tag + "`"
	}
	return finalErr(fmt.Errorf("snapshot %s is inconsistent: %s; %s; take a new backup", tag, why, fate))
}

func setPaused(env *workflow.Env, m pausedMarker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return env.SetMarker(workflow.MarkerScalarDLPaused, string(b))
}

// unpauseStep unpauses every target the marker names (all targets when the
// marker is unreadable), clears the marker and reports the pause window.
// Without the marker nothing was paused by this run and it does nothing.
func unpauseStep(ctx context.Context, env *workflow.Env, adm admin, targets []string, opts Options) error {
	v, ok := env.Markers()[workflow.MarkerScalarDLPaused]
	if !ok {
		return nil
	}
	var m pausedMarker
	if err := json.Unmarshal([]byte(v), &m); err != nil || len(m.Targets) == 0 {
		m = pausedMarker{Targets: targets}
	}
	if uf, _ := adm.unpauseVerified(ctx, m.Targets, opts.UnpauseBudget); len(uf) > 0 {
		return fmt.Errorf("unpausing Scalar DL failed on %s: it may still be paused there; retry with `scalar-tui resume %s` (it unpauses first) or scalar-admin -c unpause", describeFailures(uf), env.RunID())
	}
	unpausedAt := time.Now().UTC()
	if err := env.ClearMarker(workflow.MarkerScalarDLPaused); err != nil {
		return fmt.Errorf("Scalar DL is unpaused, but the journal could not record it: %w", err)
	}
	if m.PausedAt.IsZero() {
		return nil
	}
	w := PauseWindow{Run: env.RunID(), Tag: opts.Tag, Targets: m.Targets, PausedAt: m.PausedAt, UnpausedAt: unpausedAt, Duration: unpausedAt.Sub(m.PausedAt)}
	_ = env.SetMarker(MarkerPauseWindow, fmt.Sprintf("%s paused %s unpaused %s", w.Duration.Round(time.Millisecond), w.PausedAt.Format(time.RFC3339Nano), w.UnpausedAt.Format(time.RFC3339Nano)))
	env.Notice(w.String())
	if opts.OnPauseWindow != nil {
		opts.OnPauseWindow(w)
	}
	return nil
}

// execFunc is Env.Exec.
type execFunc func(ctx context.Context, host, command string) (workflow.CommandResult, error)

// checkDisk runs `df -Pk /data` on every node.
func checkDisk(ctx context.Context, env *workflow.Env, ring []inventory.Host, minFree float64) error {
	var low []string
	for _, h := range ring {
		r, err := env.Exec(ctx, h.Name, "df -Pk /data")
		if err != nil {
			return fmt.Errorf("df on %s: %w", h.Short, err)
		}
		if r.ExitCode != 0 {
			return fmt.Errorf("`df -Pk /data` on %s exited %d: %s", h.Short, r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout))
		}
		free, avail, err := ParseDF(r.Stdout)
		if err != nil {
			return fmt.Errorf("df on %s: %w", h.Short, err)
		}
		if free < minFree {
			low = append(low, fmt.Sprintf("%s has %.1f%% free on /data (%s)", h.Short, free, nodetool.FormatSize(float64(avail)*1024)))
		}
	}
	if len(low) > 0 {
		return fmt.Errorf("%s; a snapshot flushes memtables and keeps SSTables alive, free space first (see docs/CassandraOperation.md)", strings.Join(low, "; "))
	}
	return nil
}

// ParseDF parses POSIX `df -Pk` output for one filesystem and returns the
// free percentage and the available 1K blocks.
func ParseDF(out string) (freePercent float64, availKB int64, err error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return 0, 0, fmt.Errorf("unexpected df output %q", shell.FirstLine(out))
	}
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 6 {
		return 0, 0, fmt.Errorf("unexpected df line %q", lines[len(lines)-1])
	}
	used, err1 := strconv.ParseInt(f[2], 10, 64)
	avail, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || used < 0 || avail < 0 || used+avail == 0 {
		return 0, 0, fmt.Errorf("unexpected df line %q", lines[len(lines)-1])
	}
	return float64(avail) / float64(used+avail) * 100, avail, nil
}

func listSnapshots(ctx context.Context, exec execFunc, h inventory.Host) ([]nodetool.Snapshot, error) {
	r, err := exec(ctx, h.Name, "nodetool listsnapshots")
	if err != nil {
		return nil, fmt.Errorf("nodetool listsnapshots on %s: %w", h.Short, err)
	}
	if r.ExitCode != 0 {
		return nil, fmt.Errorf("nodetool listsnapshots on %s exited %d: %s", h.Short, r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout))
	}
	s, err := nodetool.ParseListSnapshots(r.Stdout)
	if err != nil {
		return nil, fmt.Errorf("nodetool listsnapshots on %s: %w", h.Short, err)
	}
	return s, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// nodetoolRoutesCheck refuses the nodetool route where Cassy backs up this
// cluster: Cassy's next backup clears every local snapshot of its keyspaces
// on every node, this one included, and this route's snapshot is the only
// copy (hard links on each node).
func nodetoolRoutesCheck(inv *inventory.Inventory, ring []inventory.Host, opts Options) workflow.Check {
	desc := "this route keeps the snapshot only as hard links under /data on each Cassandra node: no off-host copy (copy " +
		"/data/<keyspace>/<table>/snapshots/" + opts.Tag + " off the hosts yourself); "
	if inv.Endpoints.Cassy == "" {
		return workflow.Check{Name: "backup-routes", Description: desc + "no Cassy host in the inventory, so no Cassy backup will clear it",
			Run: func(context.Context, *workflow.Env) error { return nil }}
	}
	cl := cassy.Client{Addr: inv.Endpoints.Cassy, Dial: cassy.Dialer(opts.Dial)}
	var ips []string
	for _, h := range ring {
		ips = append(ips, h.PrivateIP)
	}
	return workflow.Check{
		Name: "backup-routes",
		Description: desc + "Cassy (" + inv.Endpoints.Cassy + ") has no backup of this cluster: each Cassy backup first clears every snapshot of its keyspaces on every node, " +
			"which would delete this one (refused unless --allow-mixed-routes)",
		Run: func(ctx context.Context, env *workflow.Env) error {
			if opts.AllowMixedRoutes {
				env.Notice("--allow-mixed-routes: the next Cassy backup will delete snapshot " + opts.Tag + " on every node (Cassy clears every snapshot of its keyspaces first)")
				return nil
			}
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			used, err := cassyBacksUp(cctx, cl, ips)
			if err != nil {
				return fmt.Errorf("cannot ask Cassy on %s whether it backs up this cluster (%v); if it does, its next backup deletes this snapshot on every node; if it does not, pass --allow-mixed-routes", inv.Endpoints.Cassy, err)
			}
			if used != "" {
				return fmt.Errorf("Cassy backs up this cluster (%s): its next backup clears every snapshot of its keyspaces on every node, so this snapshot, the only copy, would be deleted; use --via cassy, or pass --allow-mixed-routes and copy the snapshot off the hosts before Cassy runs", used)
			}
			return nil
		},
	}
}

// cassyBacksUp returns a description of the Cassy backups of any registered
// cluster that shares a node with ips, or "" when there are none.
func cassyBacksUp(ctx context.Context, cl cassy.Client, ips []string) (string, error) {
	clusters, err := cl.ListClusters(ctx, &cassy.ClusterListingRequest{})
	if err != nil {
		return "", err
	}
	mine := map[string]bool{}
	for _, ip := range ips {
		mine[ip] = true
	}
	for _, c := range clusters {
		shared := false
		for _, ip := range c.GetTargetIps() {
			shared = shared || mine[ip]
		}
		if !shared {
			continue
		}
		b, err := cl.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: c.GetClusterId(), Limit: 1})
		if err != nil {
			return "", err
		}
		if len(b) > 0 {
			return fmt.Sprintf("cluster %s, latest snapshot %s taken %s", c.GetClusterId(), b[0].GetSnapshotId(),
				time.UnixMilli(int64(b[0].GetCreatedAt())).UTC().Format(time.RFC3339)), nil
		}
	}
	return "", nil
}
