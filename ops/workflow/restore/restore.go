// Package restore brings a Cassandra cluster back to a backup: the most
// dangerous workflow of the console, built so that nothing is ever deleted
// and every step can be resumed or undone.
//
// The nodetool route (the console's own backups, `nodetool snapshot -t TAG`)
// follows issue 17's steps:
//
//  1. preflight: the tag is complete on every Cassandra node (from its
//     files where Cassandra is down: a restore is for outages too), every
//     host answers, each data volume has room for keeping the current data aside,
//     the operator typed the deployment's name (Options.ConfirmDeployment);
//  2. silence the alerts (ops/workflow/silence), stop the Scalar DL
//     containers (a pause is not enough: nothing may write);
//  3. `nodetool drain`, stop Cassandra, node by node;
//  4. on every node, move the current SSTables and the commit log into the
//     run's directory (DataDir/scalar-tui-restore/RUN, kept: the restore
//     never deletes it), then hard-link (or copy) the snapshot's files into
//     each live table directory;
//  5. start Cassandra one node at a time, each gated on UN seen from a node
//     already up; then start Scalar DL node by node, gated on SERVING and
//     healthy in every Envoy; expire the silence;
//  6. verify per node and table that the live files are the snapshot's.
//
// Every step is idempotent (the swap keeps its progress in files in the
// run's directory on the node), so `scalar-tui resume RUN` continues after a
// crash at any point; a last cleanup step always reports the state of every
// node. UndoPlan (restore --undo RUN) puts the kept data back.
//
// --via cassy (cassy.go) replaces step 4's linking with Cassy's
// RestoreBackup (restore_type CLUSTER) and polls ListRestoreStatuses, with
// the same stop and start gates around it: Cassy does none of them.
//
// It must not import tui, cmd or internal.
package restore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"scalar-tui/inventory"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
	"scalar-tui/ops/workflow/gates"
	"scalar-tui/ops/workflow/silence"
)

// Workflow names in plans, journals and run IDs.
const (
	Workflow     = "restore"
	UndoWorkflow = "restore-undo"
)

// Via values.
const (
	ViaNodetool = "nodetool"
	ViaCassy    = "cassy"
)

// RunDirName is the directory under DataDir that holds each run's kept data.
const RunDirName = "scalar-tui-restore"

// MarkerStarted is journalled by the first step that changes the cluster.
// From then on the preflight checks pass on resume: Cassandra is down by
// design, so the checks that need it would refuse the run that must finish.
const MarkerStarted = "restore-started"

// Container is the Scalar DL ledger container (docker-compose v1 name).
const Container = "provision_scalar_1"

// Options selects what to restore. Tag (or, via cassy, BackupID) and
// ConfirmDeployment are required.
type Options struct {
	// Tag is the nodetool snapshot to restore.
	Tag string `json:"tag,omitempty"`
	// Keyspaces restored (default scalar, coordinator).
	Keyspaces []string `json:"keyspaces,omitempty"`
	// Via is ViaNodetool (default) or ViaCassy.
	Via string `json:"via,omitempty"`
	// BackupID is Cassy's snapshot_id (ViaCassy).
	BackupID string `json:"backup_id,omitempty"`
	// Cassy tunes ViaCassy.
	Cassy CassyOptions `json:"cassy,omitempty"`
	// ConfirmDeployment must equal the inventory's network name; the
	// preflight refuses otherwise (the operator typed it, or passed
	// --confirm-deployment headless).
	ConfirmDeployment string `json:"confirm_deployment,omitempty"`
	// DataDir and CommitlogDir are cassandra.yaml's data_file_directories
	// and commitlog_directory (default /data and /commitlog, as
	// scalar-terraform sets them). A path starting with "~/" is taken in
	// the SSH user's home (the demo and the lab).
	DataDir      string `json:"data_dir,omitempty"`
	CommitlogDir string `json:"commitlog_dir,omitempty"`
	// MinFreePercent is the free space the data volume must keep after the
	// commit log was moved onto it (default 5).
	MinFreePercent float64 `json:"min_free_percent,omitempty"`
	// GateDeadline bounds each start gate (default 10 minutes);
	// GateInterval is the polling interval (default 5 s).
	GateDeadline time.Duration `json:"gate_deadline,omitempty"`
	GateInterval time.Duration `json:"gate_interval,omitempty"`
	// Silence wraps the run in an Alertmanager silence. Not journalled.
	Silence silence.Options `json:"-"`
	// Dial reaches Cassy (ViaCassy). Not journalled.
	Dial Dialer `json:"-"`

	undoOf string // the restore run an undo plan reverts
}

var keyspaceRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,48}$`)

// ValidTag accepts any snapshot name Cassandra can hold as a directory: not
// empty, at most 200 bytes, no '/', no control characters, not "." or "..".
// Shell metacharacters are allowed: every remote use is quoted.
func ValidTag(tag string) error {
	if tag == "" || tag == "." || tag == ".." || len(tag) > 200 || strings.ContainsRune(tag, '/') ||
		strings.IndexFunc(tag, unicode.IsControl) >= 0 {
		return fmt.Errorf("bad snapshot tag %q: want the name of a snapshot (`scalar-tui backups` lists them): no '/', no control characters", tag)
	}
	return nil
}

// validDir accepts an absolute path or one in the home ("~/x").
func validDir(p string) error { return shell.CheckDir(p) }

// rpath quotes p for the remote shell; "~/x" becomes "$HOME"/'x'.
func rpath(p string) string { return shell.QuotePath(p) }

func (o *Options) normalize(undo bool) error {
	switch o.Via {
	case "", ViaNodetool:
		o.Via = ViaNodetool
		if !undo {
			if err := ValidTag(o.Tag); err != nil {
				return err
			}
		}
	case ViaCassy:
		if !undo {
			if o.BackupID == "" {
				return errors.New("--via cassy needs --backup ID (Cassy's snapshot_id; `scalar-tui backups` or rpc.Cassy/ListBackups)")
			}
			if err := ValidTag(o.BackupID); err != nil {
				return fmt.Errorf("--backup: %w", err)
			}
		}
	default:
		return fmt.Errorf("unknown --via %q (want nodetool or cassy)", o.Via)
	}
	if len(o.Keyspaces) == 0 {
		o.Keyspaces = append([]string(nil), backup.DefaultKeyspaces...)
	}
	for _, ks := range o.Keyspaces {
		if !keyspaceRE.MatchString(ks) || strings.HasPrefix(ks, "system") {
			return fmt.Errorf("bad keyspace %q (an application keyspace: letters, digits, '_'; not a system keyspace)", ks)
		}
	}
	if o.DataDir == "" {
		o.DataDir = "/data"
	}
	if o.CommitlogDir == "" {
		o.CommitlogDir = "/commitlog"
	}
	for _, d := range []string{o.DataDir, o.CommitlogDir} {
		if err := validDir(d); err != nil {
			return err
		}
	}
	if o.MinFreePercent == 0 {
		o.MinFreePercent = 5
	}
	if o.MinFreePercent > 100 || o.MinFreePercent != o.MinFreePercent {
		return fmt.Errorf("MinFreePercent %v: want at most 100", o.MinFreePercent)
	}
	if o.GateDeadline <= 0 {
		o.GateDeadline = 10 * time.Minute
	}
	if o.GateInterval <= 0 {
		o.GateInterval = 5 * time.Second
	}
	return nil
}

// hosts of the deployment the restore touches.
type cluster struct {
	ring   []inventory.Host
	sdl    []inventory.Host
	envoys []inventory.Host
}

func clusterOf(inv *inventory.Inventory) (cluster, error) {
	c := cluster{ring: inv.ByRole(inventory.RoleCassandra), envoys: inv.ByRole(inventory.RoleEnvoy)}
	c.sdl = append(inv.ByRole(inventory.RoleScalarDLBlue), inv.ByRole(inventory.RoleScalarDLGreen)...)
	if len(c.ring) == 0 {
		return c, errors.New("the inventory has no Cassandra nodes (is the cassandra root loaded?)")
	}
	if len(c.sdl) == 0 {
		return c, errors.New("the inventory has no Scalar DL nodes (is the scalardl root loaded?): the restore must stop them so that nothing writes")
	}
	return c, nil
}

func (c cluster) all() []inventory.Host {
	return append(append(append([]inventory.Host(nil), c.ring...), c.sdl...), c.envoys...)
}

// restorer holds what the steps share.
type restorer struct {
	inv  *inventory.Inventory
	opts Options
	c    cluster
	// source names what is restored, for texts.
	source string
}

// runDir is the remote (quoted) directory of run id's kept data.
func (r *restorer) runDir(id string) string {
	return rpath(r.opts.DataDir) + "/" + shell.Quote(RunDirName+"/"+id)
}

// RunDir is where run id keeps the data it moved aside, on every node.
func RunDir(dataDir, id string) string {
	if dataDir == "" {
		dataDir = "/data"
	}
	return dataDir + "/" + RunDirName + "/" + id
}

// Plan builds the restore plan for inv.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock.
func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("restore: no inventory")
	}
	if err := opts.normalize(false); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	c, err := clusterOf(inv)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	r := &restorer{inv: inv, opts: opts, c: c, source: "snapshot " + opts.Tag}
	if opts.Via == ViaCassy {
		r.source = "Cassy backup " + opts.BackupID
	}
	p := workflow.NewPlan(Workflow, inv, now)
	p.Params = opts
	p.Notes = append(p.Notes,
		fmt.Sprintf("This replaces the data of keyspaces %s on every Cassandra node with %s. Everything written after it is moved into %s on each node (kept, never deleted); `scalar-tui restore --undo RUN` puts it back.",
			strings.Join(opts.Keyspaces, ", "), r.source, RunDir(opts.DataDir, "<run>")),
		"Scalar DL is stopped on every node for the whole run: the deployment serves nothing until the last step.")

	p.Preflight = r.preflight()
	p.Steps = append(p.Steps, r.beginStep())
	p.Steps = append(p.Steps, r.stopSteps()...)
	if opts.Via == ViaCassy {
		cs, err := r.cassySteps()
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		p.Steps = append(p.Steps, cs...)
	} else {
		for _, h := range c.ring {
			p.Steps = append(p.Steps, r.swapStep(h))
		}
	}
	p.Steps = append(p.Steps, r.startSteps()...)
	silence.Wrap(p, opts.Silence)
	p.Steps = append(p.Steps, r.verifyStep(), r.reportStep(false))
	return p, nil
}

// passOnceStarted makes every check pass once the run changed the cluster.
func passOnceStarted(checks []workflow.Check) []workflow.Check {
	for i := range checks {
		check := checks[i].Run
		checks[i].Run = func(ctx context.Context, env *workflow.Env) error {
			if _, ok := env.Markers()[MarkerStarted]; ok {
				return nil
			}
			return check(ctx, env)
		}
	}
	return checks
}

func (r *restorer) preflight() []workflow.Check {
	o := r.opts
	checks := []workflow.Check{
		{
			Name:        "confirm-deployment",
			Description: fmt.Sprintf("the operator typed the deployment's name %q (headless: --yes --confirm-deployment %s)", r.inv.NetworkName, r.inv.NetworkName),
			Run: func(ctx context.Context, env *workflow.Env) error {
				if r.inv.NetworkName == "" {
					return errors.New("the inventory has no network name to confirm against")
				}
				if o.ConfirmDeployment != r.inv.NetworkName {
					return fmt.Errorf("the deployment name given (%q) is not this deployment's (%q): a restore replaces the data of every node; pass --confirm-deployment %s", o.ConfirmDeployment, r.inv.NetworkName, r.inv.NetworkName)
				}
				return nil
			},
		},
		{
			Name:        "reachable",
			Description: fmt.Sprintf("every Cassandra, Scalar DL and Envoy host (%d) answers over SSH", len(r.c.all())),
			Run: func(ctx context.Context, env *workflow.Env) error {
				var bad []string
				for _, h := range r.c.all() {
					cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					res, err := env.Exec(cctx, h.Name, "true")
					cancel()
					if err != nil {
						bad = append(bad, fmt.Sprintf("%s (%v)", h.Short, err))
					} else if res.ExitCode != 0 {
						bad = append(bad, fmt.Sprintf("%s (exit %d)", h.Short, res.ExitCode))
					}
				}
				if len(bad) > 0 {
					return fmt.Errorf("not reachable: %s; a restore must stop and start every node", strings.Join(bad, ", "))
				}
				return nil
			},
		},
	}
	if o.Via == ViaNodetool {
		checks = append(checks, workflow.Check{
			Name: "tag-complete",
			Description: fmt.Sprintf("snapshot %s of %s is on every Cassandra node (`nodetool listsnapshots`) with the same tables, each with its manifest.json under %s",
				o.Tag, strings.Join(o.Keyspaces, ", "), o.DataDir),
			Run: func(ctx context.Context, env *workflow.Env) error { return r.checkComplete(ctx, env) },
		})
	}
	checks = append(checks, workflow.Check{
		Name:        "free-space",
		Description: fmt.Sprintf("the data volume (%s) of every Cassandra node keeps %.0f%% free after the commit log (%s) is moved onto it", o.DataDir, o.MinFreePercent, o.CommitlogDir),
		Run: func(ctx context.Context, env *workflow.Env) error {
			for _, h := range r.c.ring {
				if err := r.checkSpace(ctx, env, h); err != nil {
					return err
				}
			}
			return nil
		},
	})
	if o.Via == ViaCassy {
		checks = append(checks, r.cassyPreflight())
	}
	return passOnceStarted(checks)
}

// tables lists "ks/table-id" directories that hold snapshot tag on h, from
// the manifest files (one per table).
func (r *restorer) snapshotTables(ctx context.Context, env *workflow.Env, h inventory.Host, tag string) ([]string, error) {
	var ksq []string
	for _, ks := range r.opts.Keyspaces {
		ksq = append(ksq, shell.Quote(ks))
	}
	cmd := vars("D", rpath(r.opts.DataDir), "T", shell.Quote(tag)) + "; for ks in " + strings.Join(ksq, " ") +
		`; do for m in "$D/$ks"/*/snapshots/"$T"/manifest.json; do [ -f "$m" ] && { m=${m%/snapshots/*}; printf '%s\n' "$ks/${m##*/}"; }; done; done; true`
	res, err := env.Exec(ctx, h.Name, cmd)
	if err != nil {
		return nil, fmt.Errorf("list snapshot %s on %s: %w", tag, h.Short, err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("list snapshot %s on %s: exit %d: %s", tag, h.Short, res.ExitCode, shell.FirstLine(res.Stderr))
	}
	var out []string
	for _, l := range strings.Split(res.Stdout, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (r *restorer) checkComplete(ctx context.Context, env *workflow.Env) error {
	tag := r.opts.Tag
	var missing []string
	var ref []string
	refHost := ""
	for _, h := range r.c.ring {
		have := map[string]bool{}
		res, err := env.Exec(ctx, h.Name, "nodetool listsnapshots")
		if err != nil {
			return fmt.Errorf("nodetool listsnapshots on %s: %w", h.Short, err)
		}
		switch st := cassandraState(ctx, env, h); {
		case res.ExitCode == 0:
			snaps, err := nodetool.ParseListSnapshots(res.Stdout)
			if err != nil {
				return fmt.Errorf("nodetool listsnapshots on %s: %w", h.Short, err)
			}
			for _, s := range snaps {
				if s.Name == tag {
					have[s.Keyspace] = true
				}
			}
		case st != "active":
			// In an outage Cassandra may be down: the snapshot's files tell.
			tables, err := r.snapshotTables(ctx, env, h, tag)
			if err != nil {
				return err
			}
			for _, t := range tables {
				ks, _, _ := strings.Cut(t, "/")
				have[ks] = true
			}
			env.Notice(fmt.Sprintf("%s: Cassandra is %s; snapshot %s checked from its files under %s", h.Short, st, tag, r.opts.DataDir))
		default:
			return fmt.Errorf("nodetool listsnapshots on %s exited %d: %s", h.Short, res.ExitCode, shell.FirstLine(res.Stderr+res.Stdout))
		}
		var lack []string
		for _, ks := range r.opts.Keyspaces {
			if !have[ks] {
				lack = append(lack, ks)
			}
		}
		if len(lack) > 0 {
			missing = append(missing, fmt.Sprintf("%s has no snapshot %s of %s", h.Short, tag, strings.Join(lack, ", ")))
			continue
		}
		tables, err := r.snapshotTables(ctx, env, h, tag)
		if err != nil {
			return err
		}
		if len(tables) == 0 {
			missing = append(missing, fmt.Sprintf("%s lists snapshot %s but has no manifest.json of it under %s (is --data-dir right?)", h.Short, tag, r.opts.DataDir))
			continue
		}
		if ref == nil {
			ref, refHost = tables, h.Short
		} else if strings.Join(ref, ",") != strings.Join(tables, ",") {
			missing = append(missing, fmt.Sprintf("%s holds snapshot %s of tables %s, %s of %s", h.Short, tag, strings.Join(tables, " "), refHost, strings.Join(ref, " ")))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("snapshot %s is incomplete: %s; restore only a backup that `scalar-tui backups` shows complete on every node", tag, strings.Join(missing, "; "))
	}
	return nil
}

// checkSpace refuses when h's data volume would keep less than
// MinFreePercent free after the commit log is moved onto it.
func (r *restorer) checkSpace(ctx context.Context, env *workflow.Env, h inventory.Host) error {
	res, err := env.Exec(ctx, h.Name, "df -Pk "+rpath(r.opts.DataDir)+" && du -sk "+rpath(r.opts.CommitlogDir))
	if err != nil {
		return fmt.Errorf("df on %s: %w", h.Short, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("`df -Pk %s; du -sk %s` on %s exited %d: %s", r.opts.DataDir, r.opts.CommitlogDir, h.Short, res.ExitCode, shell.FirstLine(res.Stderr+res.Stdout))
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) < 3 {
		return fmt.Errorf("df/du on %s: unexpected output %q", h.Short, res.Stdout)
	}
	_, avail, err := backup.ParseDF(strings.Join(lines[:len(lines)-1], "\n"))
	if err != nil {
		return fmt.Errorf("df on %s: %w", h.Short, err)
	}
	f := strings.Fields(lines[len(lines)-1])
	clKB, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return fmt.Errorf("du on %s: unexpected %q", h.Short, lines[len(lines)-1])
	}
	df := strings.Fields(lines[len(lines)-2])
	size, _ := strconv.ParseInt(df[1], 10, 64)
	if size <= 0 {
		return fmt.Errorf("df on %s: unexpected %q", h.Short, lines[len(lines)-2])
	}
	left := float64(avail-clKB) / float64(size) * 100
	if left < r.opts.MinFreePercent {
		return fmt.Errorf("%s: the data volume has %s free; after keeping the commit log (%s) aside %.1f%% would be left, below %.0f%%: free space first (nothing was moved on %s)",
			h.Short, nodetool.FormatSize(float64(avail)*1024), nodetool.FormatSize(float64(clKB)*1024), left, r.opts.MinFreePercent, h.Short)
	}
	return nil
}

func (r *restorer) beginStep() workflow.Step {
	return workflow.Step{
		ID:         "begin",
		Title:      fmt.Sprintf("record in the journal that the restore of %s starts (journal marker %s: from here a resume skips the preflight)", r.source, MarkerStarted),
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			if _, ok := env.Markers()[MarkerStarted]; ok {
				return nil
			}
			return env.SetMarker(MarkerStarted, r.source)
		},
	}
}

// stopSteps stop Scalar DL everywhere, then drain and stop Cassandra node by node.
func (r *restorer) stopSteps() []workflow.Step {
	var steps []workflow.Step
	stop := "docker stop " + Container
	for _, h := range r.c.sdl {
		h := h
		steps = append(steps, workflow.Step{
			ID:         h.Short + "/stop-scalardl",
			Title:      "stop the Scalar DL container (nothing may write during the restore; a pause is lost when a container restarts)",
			Host:       h.Name,
			Commands:   []string{stop},
			Timeout:    2 * time.Minute,
			Idempotent: true,
			Run: func(ctx context.Context, env *workflow.Env) error {
				if err := env.Run(ctx, h.Name, stop); err != nil {
					return err
				}
				st, err := containerState(ctx, env, h)
				if err != nil {
					return err
				}
				if st == "running" {
					return fmt.Errorf("%s: %s still runs after docker stop", h.Short, Container)
				}
				return nil
			},
		})
	}
	drain := "if systemctl is-active --quiet cassandra; then nodetool drain && sudo systemctl stop cassandra; fi"
	for _, h := range r.c.ring {
		h := h
		steps = append(steps, workflow.Step{
			ID:         h.Short + "/stop-cassandra",
			Title:      "nodetool drain, then stop Cassandra (skipped when already stopped)",
			Host:       h.Name,
			Commands:   []string{drain},
			Timeout:    10 * time.Minute,
			Idempotent: true,
			Run: func(ctx context.Context, env *workflow.Env) error {
				if err := env.Run(ctx, h.Name, drain); err != nil {
					return err
				}
				if st := cassandraState(ctx, env, h); st == "active" {
					return fmt.Errorf("%s: Cassandra still active after stop", h.Short)
				}
				return nil
			},
		})
	}
	return steps
}

// moveScript moves the live SSTables of the keyspaces and the commit log
// into the run's directory, once (the marker file .moved), and lists what it
// kept in kept.cksum. It can be run again at any point.
func (r *restorer) moveScript(runDir string) string {
	var ksq []string
	for _, ks := range r.opts.Keyspaces {
		ksq = append(ksq, shell.Quote(ks))
	}
	return strings.Join([]string{
		"set -e",
		vars("D", rpath(r.opts.DataDir), "C", rpath(r.opts.CommitlogDir), "A", runDir),
		`mkdir -p "$A/data" "$A/commitlog"`,
		`if [ ! -e "$A/.moved" ]; then`,
		"  for ks in " + strings.Join(ksq, " ") + `; do for t in "$D/$ks"/*/; do [ -d "$t" ] || continue; t=${t%/}; n=${t##*/}; mkdir -p "$A/data/$ks/$n"`,
		`    for f in "$t"/*; do if [ -f "$f" ]; then mv "$f" "$A/data/$ks/$n/"; fi; done; done; done`,
		`  for f in "$C"/*; do if [ -f "$f" ]; then mv "$f" "$A/commitlog/"; fi; done`,
		`  (cd "$A/data" && find . -type f -exec cksum {} + | sort -k 3) > "$A/kept.cksum"`,
		`  : > "$A/.moved"`,
		"fi",
	}, "\n")
}

// linkScript hard-links (or copies) snapshot tag's files into each live
// table directory, skipping files already there.
func (r *restorer) linkScript(runDir string) string {
	var ksq []string
	for _, ks := range r.opts.Keyspaces {
		ksq = append(ksq, shell.Quote(ks))
	}
	return strings.Join([]string{
		"set -e",
		vars("D", rpath(r.opts.DataDir), "A", runDir, "T", shell.Quote(r.opts.Tag)),
		`[ -e "$A/.moved" ] || { echo "the current data was not moved aside yet" >&2; exit 3; }`,
		"for ks in " + strings.Join(ksq, " ") + `; do for t in "$D/$ks"/*/; do [ -d "$t" ] || continue; t=${t%/}; s="$t/snapshots/$T"; [ -d "$s" ] || continue`,
		`  for f in "$s"/*; do b=${f##*/}; case $b in manifest.json|schema.cql) continue;; esac`,
		`    [ -e "$t/$b" ] || ln "$f" "$t/$b" 2>/dev/null || cp -p "$f" "$t/$b"; done; done; done`,
		`: > "$A/.linked"`,
	}, "\n")
}

func (r *restorer) swapStep(h inventory.Host) workflow.Step {
	shownDir := RunDir(r.opts.DataDir, "<run>")
	return workflow.Step{
		ID: h.Short + "/swap-data",
		Title: fmt.Sprintf("move the current SSTables of %s and the commit log into %s (kept), then hard-link snapshot %s's files into the live table directories",
			strings.Join(r.opts.Keyspaces, ", "), shownDir, r.opts.Tag),
		Host:       h.Name,
		Commands:   []string{r.moveScript(r.runDir("<run>")), r.linkScript(r.runDir("<run>"))},
		Timeout:    30 * time.Minute,
		Idempotent: true, // progress is kept in files in the run's directory
		Run: func(ctx context.Context, env *workflow.Env) error {
			if st := cassandraState(ctx, env, h); st == "active" {
				return fmt.Errorf("%s: Cassandra is running; its files are not touched while it runs", h.Short)
			}
			dir := r.runDir(env.RunID())
			if moved, _ := remoteExists(ctx, env, h, dir+"/.moved"); !moved {
				if err := r.checkSpace(ctx, env, h); err != nil {
					return err
				}
			}
			if err := env.Run(ctx, h.Name, r.moveScript(dir)); err != nil {
				return fmt.Errorf("moving %s's data aside into %s stopped: %w; what was moved is in that directory (nothing was deleted); fix the cause, then `scalar-tui resume %s --confirm-deployment %s` continues or `scalar-tui restore --undo %s` puts it back",
					h.Short, RunDir(r.opts.DataDir, env.RunID()), err, env.RunID(), r.inv.NetworkName, env.RunID())
			}
			if err := env.Run(ctx, h.Name, r.linkScript(dir)); err != nil {
				return fmt.Errorf("linking snapshot %s into %s's table directories: %w", r.opts.Tag, h.Short, err)
			}
			want, err := r.snapshotList(ctx, env, h, r.opts.Tag)
			if err != nil {
				return err
			}
			got, err := execOut(ctx, env, h, r.listCommand(""))
			if err != nil {
				return err
			}
			if d := diffLists(want, parseList(got)); d != "" {
				return fmt.Errorf("%s: after linking, the live tables differ from snapshot %s: %s", h.Short, r.opts.Tag, d)
			}
			return nil
		},
	}
}

// startSteps start Cassandra one node at a time, then Scalar DL.
func (r *restorer) startSteps() []workflow.Step {
	var steps []workflow.Step
	start := "sudo systemctl start cassandra"
	for i, h := range r.c.ring {
		h := h
		observer := h
		if i > 0 {
			observer = r.c.ring[i-1]
		}
		upTo := append([]inventory.Host(nil), r.c.ring[:i+1]...)
		steps = append(steps, workflow.Step{
			ID:         h.Short + "/start-cassandra",
			Title:      fmt.Sprintf("start Cassandra and wait until %s shows it UN (one node at a time)", observer.Short),
			Host:       h.Name,
			Commands:   []string{start},
			Timeout:    r.opts.GateDeadline + time.Minute,
			Idempotent: true,
			Run: func(ctx context.Context, env *workflow.Env) error {
				if err := env.Run(ctx, h.Name, start); err != nil {
					return err
				}
				return r.wait(ctx, env, h, func(ctx context.Context) (bool, string, error) {
					if st := cassandraState(ctx, env, h); st == "failed" {
						return false, "", fmt.Errorf("Cassandra failed to start on %s (systemctl: failed); see its system.log. Its restored files are in place and the data it had is in %s: fix the cause and `scalar-tui resume %s --confirm-deployment %s`, or `scalar-tui restore --undo %s`",
							h.Short, RunDir(r.opts.DataDir, env.RunID()), env.RunID(), r.inv.NetworkName, env.RunID())
					}
					return nodesUN(ctx, env, upTo, observer)
				})
			},
		})
	}
	startSDL := "docker start " + Container
	for _, h := range r.c.sdl {
		h := h
		steps = append(steps, workflow.Step{
			ID:         h.Short + "/start-scalardl",
			Title:      "start the Scalar DL container and wait until it answers SERVING and every Envoy has it healthy",
			Host:       h.Name,
			Commands:   []string{startSDL, ProbeCommand, EnvoyCommand + "   # on every Envoy"},
			Timeout:    r.opts.GateDeadline + time.Minute,
			Idempotent: true,
			Run: func(ctx context.Context, env *workflow.Env) error {
				if err := env.Run(ctx, h.Name, startSDL); err != nil {
					return err
				}
				return r.wait(ctx, env, h, func(ctx context.Context) (bool, string, error) {
					ok, why := serving(ctx, env, h)
					if !ok {
						return false, why, nil
					}
					ok, why = inEnvoy(ctx, env, r.c.envoys, h)
					return ok, why, nil
				})
			},
		})
	}
	return steps
}

// wait polls check until it passes, fails, or the gate deadline expires.
func (r *restorer) wait(ctx context.Context, env *workflow.Env, h inventory.Host, check func(context.Context) (bool, string, error)) error {
	gctx, cancel := context.WithTimeout(ctx, r.opts.GateDeadline)
	defer cancel()
	last := "not checked yet"
	for {
		ok, why, err := check(gctx)
		if err != nil && gctx.Err() == nil {
			return err
		}
		if ok {
			return nil
		}
		if why != "" {
			last = why
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while waiting for %s (%s): %w", h.Short, last, ctx.Err())
		case <-gctx.Done():
			return fmt.Errorf("%s not ready within %s: %s", h.Short, r.opts.GateDeadline, last)
		case <-time.After(r.opts.GateInterval):
		}
	}
}

// Commands of the Scalar DL gates (as ops/workflow/upgrade runs them).
const (
	ProbeCommand = "docker exec " + Container + " /bin/grpc_health_probe -addr=:50051"
	EnvoyCommand = "curl -s localhost:9001/clusters"
)

func serving(ctx context.Context, env *workflow.Env, h inventory.Host) (bool, string) {
	res, err := env.Exec(ctx, h.Name, ProbeCommand)
	if err != nil {
		return false, err.Error()
	}
	out := strings.TrimSpace(res.Stdout)
	if res.ExitCode == 0 && strings.HasSuffix(out, "SERVING") && !strings.HasSuffix(out, "NOT_SERVING") {
		return true, ""
	}
	return false, fmt.Sprintf("%s: health probe exited %d: %s", h.Short, res.ExitCode, shell.FirstLine(res.Stderr+res.Stdout))
}

func inEnvoy(ctx context.Context, env *workflow.Env, envoys []inventory.Host, h inventory.Host) (bool, string) {
	want := "scalar-service::" + h.PrivateIP + ":50051::health_flags::"
	for _, e := range envoys {
		res, err := env.Exec(ctx, e.Name, EnvoyCommand)
		if err != nil {
			return false, fmt.Sprintf("envoy %s: %v", e.Short, err)
		}
		if res.ExitCode != 0 {
			return false, fmt.Sprintf("envoy %s admin: curl exited %d", e.Short, res.ExitCode)
		}
		flags, found := "", false
		for _, l := range strings.Split(res.Stdout, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), want); ok {
				flags, found = v, true
				break
			}
		}
		switch {
		case !found:
			return false, fmt.Sprintf("envoy %s does not list %s (%s)", e.Short, h.Short, h.PrivateIP)
		case flags != "healthy":
			return false, fmt.Sprintf("envoy %s has %s as %s", e.Short, h.Short, flags)
		}
	}
	return true, ""
}

// listCommand prints "cksum size ks/table-dir/file" for every file directly
// in the live table directories (live) or in snapshot tag's (tag != "").
func (r *restorer) listCommand(tag string) string {
	var ksq []string
	for _, ks := range r.opts.Keyspaces {
		ksq = append(ksq, shell.Quote(ks))
	}
	sub := `"$t"`
	if tag != "" {
		sub = `"$t/snapshots/$T"`
	}
	return vars("D", rpath(r.opts.DataDir), "T", shell.Quote(tag)) + "; for ks in " + strings.Join(ksq, " ") +
		`; do for t in "$D/$ks"/*/; do t=${t%/}; n=${t##*/}; [ -d ` + sub + ` ] || continue; for f in ` + sub + `/*; do b=${f##*/}; case $b in manifest.json|schema.cql) continue;; esac; ` +
		`[ -f "$f" ] && printf '%s %s\n' "$(cksum < "$f" | tr -s ' ' ' ')" "$ks/$n/$b"; done; done; done; true`
}

// parseList turns listCommand output into file → "cksum size".
func parseList(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 {
			m[f[2]] = f[0] + " " + f[1]
		}
	}
	return m
}

// diffLists describes how got differs from want ("" when equal).
func diffLists(want, got map[string]string) string {
	var missing, extra, changed []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case g != v:
			changed = append(changed, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(changed)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "extra "+strings.Join(extra, ", "))
	}
	if len(changed) > 0 {
		parts = append(parts, "different "+strings.Join(changed, ", "))
	}
	return strings.Join(parts, "; ")
}

func (r *restorer) verifyStep() workflow.Step {
	tag := r.opts.Tag
	if r.opts.Via == ViaCassy {
		tag = r.opts.BackupID
	}
	return workflow.Step{
		ID: "verify",
		Title: fmt.Sprintf("verify: on every node each table of %s holds exactly %s's files (name, size, cksum); the ring is UN; every Scalar DL node serves",
			strings.Join(r.opts.Keyspaces, ", "), r.source),
		Commands:   []string{r.listCommand(tag) + "   # live vs. the snapshot, on every node", "nodetool status"},
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			var bad []string
			for _, h := range r.c.ring {
				want, err := r.snapshotList(ctx, env, h, tag)
				if err != nil {
					return err
				}
				if want == nil {
					continue // said so in a notice
				}
				got, err := execOut(ctx, env, h, r.listCommand(""))
				if err != nil {
					return err
				}
				if d := diffLists(want, parseList(got)); d != "" {
					bad = append(bad, h.Short+": "+d)
				} else {
					env.Notice(fmt.Sprintf("%s: %d files of %s in place", h.Short, len(want), r.source))
				}
			}
			if ok, why, err := gates.RingUN(ctx, env, r.c.ring, r.c.ring[0]); err != nil || !ok {
				bad = append(bad, fmt.Sprintf("ring: %s%v", why, errOrEmpty(err)))
			}
			for _, h := range r.c.sdl {
				if ok, why := serving(ctx, env, h); !ok {
					bad = append(bad, why)
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("verification failed: %s", strings.Join(bad, "; "))
			}
			return nil
		},
	}
}

// snapshotList is what the live directories must hold after the restore.
func (r *restorer) snapshotList(ctx context.Context, env *workflow.Env, h inventory.Host, tag string) (map[string]string, error) {
	if r.opts.Via == ViaCassy {
		return r.cassyExpected(ctx, env, h)
	}
	out, err := execOut(ctx, env, h, r.listCommand(tag))
	if err != nil {
		return nil, err
	}
	return parseList(out), nil
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func execOut(ctx context.Context, env *workflow.Env, h inventory.Host, cmd string) (string, error) {
	res, err := env.Exec(ctx, h.Name, cmd)
	if err != nil {
		return "", fmt.Errorf("%s: %w", h.Short, err)
	}
	if res.ExitCode != 0 {
		return "", fmt.Errorf("%s: exit %d: %s", h.Short, res.ExitCode, shell.FirstLine(res.Stderr+res.Stdout))
	}
	return res.Stdout, nil
}

func remoteExists(ctx context.Context, env *workflow.Env, h inventory.Host, path string) (bool, error) {
	res, err := env.Exec(ctx, h.Name, "test -e "+path)
	if err != nil {
		return false, err
	}
	return res.ExitCode == 0, nil
}

// cassandraState is `systemctl is-active cassandra`: active, inactive,
// failed, or "unreachable (...)".
func cassandraState(ctx context.Context, env *workflow.Env, h inventory.Host) string {
	res, err := env.Exec(ctx, h.Name, "systemctl is-active cassandra")
	if err != nil {
		return "unreachable (" + err.Error() + ")"
	}
	if res.ExitCode == 255 {
		return "unreachable (" + shell.FirstLine(res.Stderr) + ")"
	}
	s := strings.TrimSpace(res.Stdout)
	if s == "" {
		s = fmt.Sprintf("unknown (exit %d)", res.ExitCode)
	}
	return s
}

func containerState(ctx context.Context, env *workflow.Env, h inventory.Host) (string, error) {
	res, err := env.Exec(ctx, h.Name, "docker inspect -f '{{.State.Status}}' "+Container)
	if err != nil {
		return "", fmt.Errorf("%s: %w", h.Short, err)
	}
	if res.ExitCode != 0 {
		return "", fmt.Errorf("%s: docker inspect exited %d: %s", h.Short, res.ExitCode, shell.FirstLine(res.Stderr))
	}
	return strings.TrimSpace(res.Stdout), nil
}

// NodeState is one host's state as the report step saw it.
type NodeState struct {
	Host  string `json:"host"`
	State string `json:"state"`
}

// dataState describes where h's data is for run id.
func (r *restorer) dataState(ctx context.Context, env *workflow.Env, h inventory.Host, id string, undo string) string {
	dir := r.runDir(id)
	cmd := vars("A", dir) + `; for f in .moved .linked .cassy-placed; do [ -e "$A/$f" ] && printf '%s ' "$f"; done; [ -d "$A" ] && printf 'dir'; true`
	if undo != "" {
		u := dir + "/" + shell.Quote("undo-"+undo)
		cmd = vars("A", dir, "U", u) + `; for f in "$U/.moved-out" "$U/.moved-back"; do [ -e "$f" ] && printf '%s ' "${f##*/}"; done; [ -d "$U" ] && printf 'dir'; true`
	}
	res, err := env.Exec(ctx, h.Name, cmd)
	if err == nil && res.ExitCode == 255 {
		err = errors.New(shell.FirstLine(res.Stderr))
	}
	if err != nil {
		return "data state unknown: unreachable (" + err.Error() + ")"
	}
	s := res.Stdout
	shown := RunDir(r.opts.DataDir, id)
	if undo != "" {
		switch {
		case strings.Contains(s, ".moved-back"):
			return "the data kept in " + shown + " is back in place (the restored files are in " + shown + "/undo-" + undo + ")"
		case strings.Contains(s, ".moved-out"):
			return "restored files moved into " + shown + "/undo-" + undo + "; kept data not yet (fully) moved back"
		case strings.Contains(s, "dir"):
			return "moving the restored files out (partial; nothing deleted)"
		}
		return "undo not started on this node"
	}
	switch {
	case strings.Contains(s, ".linked"):
		return "restored: " + r.source + "'s files in place; the previous data is kept in " + shown
	case strings.Contains(s, ".cassy-placed"):
		return "restored by Cassy; the previous data is kept in " + shown
	case strings.Contains(s, ".moved"):
		return "previous data moved into " + shown + "; the backup's files not (fully) in place yet"
	case strings.Contains(s, "dir"):
		return "moving the data aside into " + shown + " (partial: some files there, the rest still live; nothing deleted)"
	}
	return "data untouched"
}

// reportStep always runs last and tells the state of every node.
func (r *restorer) reportStep(undo bool) workflow.Step {
	return workflow.Step{
		ID:       "report",
		Title:    "report the state of every node (always runs; reads only)",
		Commands: []string{"systemctl is-active cassandra; ls the run's directory   # on every Cassandra node", "docker inspect -f '{{.State.Status}}' " + Container + "   # on every Scalar DL node"},
		Cleanup:  true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			id, undoID := env.RunID(), ""
			if undo {
				id, undoID = r.opts.undoOf, env.RunID()
			}
			for _, h := range r.c.ring {
				env.Notice(fmt.Sprintf("state %s: cassandra %s; %s", h.Short, cassandraState(ctx, env, h), r.dataState(ctx, env, h, id, undoID)))
			}
			for _, h := range r.c.sdl {
				st, err := containerState(ctx, env, h)
				if err != nil {
					st = "unknown (" + err.Error() + ")"
				}
				env.Notice(fmt.Sprintf("state %s: scalar dl container %s", h.Short, st))
			}
			return nil
		},
	}
}

// nodesUN reports whether `nodetool status` on observer shows every node of
// want UN; the others (not started yet) may be down.
func nodesUN(ctx context.Context, env *workflow.Env, want []inventory.Host, observer inventory.Host) (bool, string, error) {
	res, err := env.Exec(ctx, observer.Name, "nodetool status")
	if err != nil {
		return false, fmt.Sprintf("nodetool status on %s: %v", observer.Short, err), nil
	}
	if res.ExitCode != 0 {
		return false, fmt.Sprintf("nodetool status on %s exited %d: %s", observer.Short, res.ExitCode, shell.FirstLine(res.Stderr+res.Stdout)), nil
	}
	nodes, err := nodetool.ParseStatus(res.Stdout)
	if err != nil {
		return false, fmt.Sprintf("nodetool status on %s: %v", observer.Short, err), nil
	}
	byIP := map[string]nodetool.Node{}
	for _, n := range nodes {
		byIP[n.Address] = n
	}
	var bad []string
	for _, h := range want {
		n, ok := byIP[h.PrivateIP]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s (%s) is not in the ring", h.Short, h.PrivateIP))
		case !n.UN():
			bad = append(bad, fmt.Sprintf("%s is %s%s", h.Short, n.Status, n.State))
		}
	}
	if len(bad) > 0 {
		return false, "seen from " + observer.Short + ": " + strings.Join(bad, "; "), nil
	}
	return true, "", nil
}

// vars assigns shell variables from already-quoted words through the
// positional parameters ("set -- W1 W2; N1=$1; N2=$2"): a quoted word is
// expanded as an argument, the most common path of every shell (the demo's
// interpreter mis-expands '\” in an assignment's own word).
func vars(nameWords ...string) string {
	var words, assigns []string
	for i := 0; i+1 < len(nameWords); i += 2 {
		words = append(words, nameWords[i+1])
		assigns = append(assigns, fmt.Sprintf("%s=$%d", nameWords[i], i/2+1))
	}
	return "set -- " + strings.Join(words, " ") + "; " + strings.Join(assigns, "; ")
}
