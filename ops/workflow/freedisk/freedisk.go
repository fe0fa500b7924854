// Package freedisk is the runbook of the CassandraDriveSpaceLow alert
// (scalar-terraform docs/CassandraDriveSpaceLow.md): List shows what takes
// space on a Cassandra node's data volume that an operator may delete —
// snapshots by tag and age, incremental backups under
// /data/<keyspace>/<table>/backups — and Plan clears the selected ones after
// the usual confirmation. It never clears a snapshot of the newest backup
// that is complete on every node unless forced.
//
// It builds a workflow.Plan and knows nothing of the UI. It must not import
// tui or cmd.
package freedisk

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
	"scalar-tui/ops/workflow/gates"
)

// Workflow is the workflow's name in plans, journals and run IDs.
const Workflow = "free-disk"

// Alert is the alert this runbook clears.
const Alert = "CassandraDriveSpaceLow"

// DataMount is Cassandra's data volume on scalar-terraform nodes (the
// mount point of the CassandraDriveSpaceLow rule).
const DataMount = "/data"

// DefaultDataDir is Cassandra's data_file_directories on scalar-terraform
// nodes: the data volume's mount point.
const DefaultDataDir = DataMount

// SnapshotsCommand lists the node's snapshots.
const SnapshotsCommand = "nodetool listsnapshots"

// Remote commands on the data directory dir ("/data", or "~/x" in the SSH
// user's home), exactly as run; dir is quoted by shell.QuotePath.

// DFCommand measures the volume that holds dir.
func DFCommand(dir string) string { return "df -P -k " + shell.QuotePath(dir) }

// AgesCommand prints "<mtime epoch> <tag>" per snapshot directory; the
// oldest directory of a tag is when it was taken.
func AgesCommand(dir string) string {
	return "D=" + shell.QuotePath(dir) + `; sudo find "$D" -mindepth 4 -maxdepth 4 -type d -path "$D/*/*/snapshots/*" -printf '%T@ %f\n' 2>/dev/null; true`
}

// BackupsCommand prints "<KiB>\t<dir>/<keyspace>/<table>/backups" per
// table's incremental backups.
func BackupsCommand(dir string) string {
	return "D=" + shell.QuotePath(dir) + `; sudo du -sk "$D"/*/*/backups 2>/dev/null; true`
}

// ClearBackupsCommand deletes the incremental backup files of keyspace.
func ClearBackupsCommand(dir, keyspace string) string {
	return "D=" + shell.QuotePath(dir) + `; sudo find "$D"/` + shell.Quote(keyspace) + "/*/backups -mindepth 1 -maxdepth 1 -type f -delete"
}

// Exec runs a command on a host; workflow.Env.Exec fits, ExecOf adapts an
// SSH client.
type Exec func(ctx context.Context, host, command string) (workflow.CommandResult, error)

// ExecOf adapts r (an *sshx.Client) to Exec, capturing each stream's tail.
func ExecOf(r backup.Runner) Exec {
	return func(ctx context.Context, host, command string) (workflow.CommandResult, error) {
		var out, errb sshx.Tail
		rr, err := r.Run(ctx, host, command, sshx.RunOptions{Stdout: out.Line, Stderr: errb.Line})
		return workflow.CommandResult{Stdout: out.String(), Stderr: errb.String(), ExitCode: rr.ExitCode}, err
	}
}

// Snapshot is one snapshot tag on the node.
type Snapshot struct {
	Tag       string   `json:"tag"`
	Keyspaces []string `json:"keyspaces"`
	// Bytes is its "Size on disk" on this node.
	Bytes float64 `json:"bytes"`
	// Taken is when it was taken (oldest directory, else the tag's own
	// timestamp); zero when unknown.
	Taken time.Time `json:"taken,omitempty"`
	// Complete is true when every Cassandra node has the tag (a usable
	// backup); Completeness says how many.
	Complete     bool   `json:"complete"`
	Completeness string `json:"completeness"`
	// MayBeComplete is true when it is on every node that answered and
	// some did not (Usage.Unanswered): it may be a complete backup, and is
	// protected as one.
	MayBeComplete bool `json:"may_be_complete,omitempty"`
	// Protected is true for the newest complete backup (and complete ones
	// whose age is unknown, which may be it): clearing needs Force.
	Protected bool `json:"protected,omitempty"`
}

// Backups are one keyspace's incremental backups on the node.
type Backups struct {
	Keyspace string  `json:"keyspace"`
	Tables   int     `json:"tables"`
	Bytes    float64 `json:"bytes"`
}

// Usage is what List found on one node.
type Usage struct {
	Host inventory.Host `json:"host"`
	// DataDir is the data directory listed.
	DataDir string `json:"data_dir"`
	// FreePercent of the data volume, and the alert's threshold (CassandraDriveSpaceLow).
	FreePercent      float64    `json:"free_percent"`
	AvailBytes       float64    `json:"avail_bytes"`
	ThresholdPercent float64    `json:"threshold_percent"`
	Snapshots        []Snapshot `json:"snapshots"`
	// Unanswered are the other Cassandra nodes that could not say which
	// snapshots they have: completeness is unknown for their share.
	Unanswered []string  `json:"unanswered,omitempty"`
	Backups    []Backups `json:"backups"`
}

// ListTimeout bounds a whole List, as the CLI and the console call it: a
// node whose SSH or nodetool hangs ends the listing with an error instead of
// a listing that never comes.
const ListTimeout = 2 * time.Minute

// otherNodeTimeout bounds asking each other node for its snapshots (to tell
// a complete backup): one that does not answer in time is listed as
// unanswered (Usage.Unanswered), so one hung node does not use up
// ListTimeout. Tests shorten it.
var otherNodeTimeout = 20 * time.Second

// List reads the usage of the node's data directory dataDir ("" is
// DefaultDataDir), its snapshots (with their cluster-wide completeness, from
// `nodetool listsnapshots` on every node) and incremental backups.
func List(ctx context.Context, exec Exec, inv *inventory.Inventory, host, dataDir string) (*Usage, error) {
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	if err := shell.CheckDir(dataDir); err != nil {
		return nil, fmt.Errorf("free-disk --data-dir: %w", err)
	}
	if inv == nil {
		return nil, errors.New("free-disk: no inventory")
	}
	h, ok := inv.Find(host)
	if !ok {
		return nil, fmt.Errorf("free-disk: unknown host %q", host)
	}
	if h.Role != inventory.RoleCassandra {
		return nil, fmt.Errorf("free-disk: %s is a %s host, not a Cassandra node (for other hosts see docs/InstanceDriveSpaceLow.md)", h.Name, h.Role)
	}
	u := &Usage{Host: h, DataDir: dataDir}
	if rule, ok := health.DiskRuleFor(h.Role, DataMount); ok {
		u.ThresholdPercent = rule.MinFreePercent
	}
	r, err := run(ctx, exec, h, DFCommand(dataDir))
	if err != nil {
		return nil, err
	}
	free, availKB, err := backup.ParseDF(r)
	if err != nil {
		return nil, fmt.Errorf("df on %s: %w", h.Short, err)
	}
	u.FreePercent, u.AvailBytes = free, float64(availKB)*1024

	out, err := run(ctx, exec, h, SnapshotsCommand)
	if err != nil {
		return nil, err
	}
	rows, err := nodetool.ParseListSnapshots(out)
	if err != nil {
		return nil, fmt.Errorf("nodetool listsnapshots on %s: %w", h.Short, err)
	}
	ages, err := run(ctx, exec, h, AgesCommand(dataDir))
	if err != nil {
		return nil, err
	}
	taken := ParseAges(ages)
	byTag := map[string]*Snapshot{}
	kss := map[string]map[string]bool{}
	for _, s := range rows {
		sn, ok := byTag[s.Name]
		if !ok {
			sn = &Snapshot{Tag: s.Name, Taken: taken[s.Name]}
			if sn.Taken.IsZero() {
				sn.Taken = TagTime(s.Name)
			}
			byTag[s.Name], kss[s.Name] = sn, map[string]bool{}
		}
		kss[s.Name][s.Keyspace] = true
		if n, err := nodetool.ParseSize(s.SizeOnDisk); err == nil {
			sn.Bytes += n
		}
	}
	ring := inv.ByRole(inventory.RoleCassandra)
	has := map[string]int{}
	for _, n := range ring {
		if n.Name == h.Name {
			for t := range byTag {
				has[t]++
			}
			continue
		}
		nctx, cancel := context.WithTimeout(ctx, otherNodeTimeout)
		o, err := run(nctx, exec, n, SnapshotsCommand)
		cancel()
		var rs []nodetool.Snapshot
		if err == nil {
			rs, err = nodetool.ParseListSnapshots(o)
		}
		if err != nil {
			// Not known to have it, nor known not to: a backup that may
			// be complete is protected as one (protect).
			u.Unanswered = append(u.Unanswered, n.Short)
			continue
		}
		seen := map[string]bool{}
		for _, s := range rs {
			if !seen[s.Name] {
				seen[s.Name] = true
				has[s.Name]++
			}
		}
	}
	for tag, sn := range byTag {
		for k := range kss[tag] {
			sn.Keyspaces = append(sn.Keyspaces, k)
		}
		sort.Strings(sn.Keyspaces)
		sn.Complete = has[tag] == len(ring)
		sn.Completeness = fmt.Sprintf("%d/%d nodes", has[tag], len(ring))
		if k := len(u.Unanswered); k > 0 && has[tag]+k == len(ring) {
			sn.MayBeComplete = true
			sn.Completeness += fmt.Sprintf(", %s did not answer", strings.Join(u.Unanswered, ", "))
		}
		u.Snapshots = append(u.Snapshots, *sn)
	}
	protect(u.Snapshots)
	sort.Slice(u.Snapshots, func(i, j int) bool {
		a, b := u.Snapshots[i], u.Snapshots[j]
		if !a.Taken.Equal(b.Taken) {
			return a.Taken.Before(b.Taken)
		}
		return a.Tag < b.Tag
	})

	du, err := run(ctx, exec, h, BackupsCommand(dataDir))
	if err != nil {
		return nil, err
	}
	u.Backups = ParseBackups(du)
	return u, nil
}

// ProtectedAs says why clearing the snapshot needs Force, as listings show
// it: "newest complete backup", "may be the newest complete backup" (a node
// did not answer), or "" when it is not protected.
func (s Snapshot) ProtectedAs() string {
	switch {
	case !s.Protected:
		return ""
	case !s.Complete:
		return "may be the newest complete backup"
	default:
		return "newest complete backup"
	}
}

// protect marks the newest complete snapshot, every complete one whose age
// is unknown (it may be the newest), and every one that may be complete
// (some node did not answer) and is newer than that or of unknown age: if it
// is complete, it is the newest backup.
func protect(snaps []Snapshot) {
	newest := -1
	for i, s := range snaps {
		if !s.Complete {
			continue
		}
		if s.Taken.IsZero() {
			snaps[i].Protected = true
			continue
		}
		if newest < 0 || s.Taken.After(snaps[newest].Taken) {
			newest = i
		}
	}
	if newest >= 0 {
		snaps[newest].Protected = true
	}
	for i, s := range snaps {
		if s.MayBeComplete && (s.Taken.IsZero() || newest < 0 || s.Taken.After(snaps[newest].Taken)) {
			snaps[i].Protected = true
		}
	}
}

func run(ctx context.Context, exec Exec, h inventory.Host, cmd string) (string, error) {
	r, err := exec(ctx, h.Name, cmd)
	if err != nil {
		return "", fmt.Errorf("%s on %s: %w", strings.Fields(cmd)[0], h.Short, err)
	}
	if r.ExitCode != 0 {
		return "", fmt.Errorf("`%s` on %s exited %d: %s", cmd, h.Short, r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout))
	}
	return r.Stdout, nil
}

// ParseAges reads AgesCommand's output: the oldest mtime per tag.
func ParseAges(out string) map[string]time.Time {
	m := map[string]time.Time{}
	for _, l := range strings.Split(out, "\n") {
		ts, tag, ok := strings.Cut(strings.TrimSpace(l), " ")
		if !ok || tag == "" {
			continue
		}
		f, err := strconv.ParseFloat(ts, 64)
		if err != nil || f <= 0 {
			continue
		}
		t := time.Unix(int64(f), 0).UTC()
		if old, ok := m[tag]; !ok || t.Before(old) {
			m[tag] = t
		}
	}
	return m
}

var (
	tuiTag   = regexp.MustCompile(`(\d{8}-\d{6})$`)
	epochTag = regexp.MustCompile(`^\d{13}$`)
)

// TagTime reads the time a tag encodes: scalar-tui's "…-YYYYMMDD-HHMMSS"
// (UTC), or nodetool's default tag (epoch milliseconds). Zero otherwise.
func TagTime(tag string) time.Time {
	if m := tuiTag.FindStringSubmatch(tag); m != nil {
		if t, err := time.Parse("20060102-150405", m[1]); err == nil {
			return t
		}
	}
	if epochTag.MatchString(tag) {
		ms, _ := strconv.ParseInt(tag, 10, 64)
		return time.UnixMilli(ms).UTC()
	}
	return time.Time{}
}

// ParseBackups reads BackupsCommand's output ("KiB\t<dir>/ks/table/backups",
// whatever the data directory).
func ParseBackups(out string) []Backups {
	by := map[string]*Backups{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		// The data directory may hold spaces: the path is the rest of the
		// line after the size and a tab.
		_, path, _ := strings.Cut(l, "\t")
		parts := strings.Split(path, "/")
		if err != nil || len(parts) < 4 || parts[len(parts)-1] != "backups" {
			continue
		}
		parts = parts[len(parts)-3:]
		b, ok := by[parts[0]]
		if !ok {
			b = &Backups{Keyspace: parts[0]}
			by[parts[0]] = b
		}
		b.Tables++
		b.Bytes += float64(kb) * 1024
	}
	out2 := make([]Backups, 0, len(by))
	for _, b := range by {
		out2 = append(out2, *b)
	}
	sort.Slice(out2, func(i, j int) bool { return out2[i].Keyspace < out2[j].Keyspace })
	return out2
}

// Options selects what to clear on one node. Host is required, and at
// least one of Snapshots and Backups.
type Options struct {
	Host string `json:"host"`
	// Snapshots are the tags to clear on the node.
	Snapshots []string `json:"snapshots,omitempty"`
	// Backups are the keyspaces whose incremental backups to delete.
	Backups []string `json:"backups,omitempty"`
	// Force clears the newest complete backup's snapshot too.
	Force bool `json:"force,omitempty"`
	// DataDir is Cassandra's data directory on the node ("" is
	// DefaultDataDir; "~/x" in the SSH user's home).
	DataDir string `json:"data_dir,omitempty"`
	// GateDeadline and GateInterval bound the alert-clear wait.
	GateDeadline time.Duration `json:"gate_deadline,omitempty"`
	GateInterval time.Duration `json:"gate_interval,omitempty"`
	// Health, when set, adds the last gate: the alert no longer fires.
	Health health.Source `json:"-"`
}

var keyspaceRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,48}$`)

// Plan builds the plan for inv.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock.
func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("free-disk: no inventory")
	}
	if opts.Host == "" {
		return nil, errors.New("free-disk: --host is required")
	}
	h, ok := inv.Find(opts.Host)
	if !ok {
		return nil, fmt.Errorf("free-disk: unknown host %q", opts.Host)
	}
	if h.Role != inventory.RoleCassandra {
		return nil, fmt.Errorf("free-disk: %s is a %s host, not a Cassandra node", h.Name, h.Role)
	}
	if opts.DataDir == "" {
		opts.DataDir = DefaultDataDir
	}
	if err := shell.CheckDir(opts.DataDir); err != nil {
		return nil, fmt.Errorf("free-disk --data-dir: %w", err)
	}
	dir := opts.DataDir
	if len(opts.Snapshots) == 0 && len(opts.Backups) == 0 {
		return nil, errors.New("free-disk: nothing selected: name snapshots (--snapshot TAG) or keyspaces' incremental backups (--backups KS); list them first without a selection")
	}
	for _, t := range opts.Snapshots {
		if err := backup.ValidTag(t); err != nil {
			return nil, fmt.Errorf("free-disk: %w", err)
		}
	}
	for _, ks := range opts.Backups {
		if !keyspaceRE.MatchString(ks) {
			return nil, fmt.Errorf("free-disk: bad keyspace name %q", ks)
		}
	}
	deadline, interval := opts.GateDeadline, opts.GateInterval
	if deadline <= 0 {
		deadline = 5 * time.Minute
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	opts.Host = h.Name
	p := workflow.NewPlan(Workflow, inv, now)
	p.Params = opts
	p.Preflight = []workflow.Check{{
		Name:        "selection",
		Description: fmt.Sprintf("every selected snapshot exists on %s; none is the newest complete backup (unless --force)", h.Short),
		Run: func(ctx context.Context, env *workflow.Env) error {
			if len(opts.Snapshots) == 0 {
				return nil
			}
			u, err := List(ctx, env.Exec, inv, h.Name, dir)
			if err != nil {
				return err
			}
			by := map[string]Snapshot{}
			for _, s := range u.Snapshots {
				by[s.Tag] = s
			}
			for _, t := range opts.Snapshots {
				s, ok := by[t]
				switch {
				case !ok:
					return fmt.Errorf("%s has no snapshot %s (list them with `scalar-tui free-disk --host %s`)", h.Short, t, h.Short)
				case s.Protected && !opts.Force:
					return fmt.Errorf("snapshot %s is the newest backup complete on every node (or may be: its age is unknown, or a node did not answer); clearing it on %s leaves no complete backup; pass --force to clear it anyway", t, h.Short)
				}
			}
			return nil
		},
	}}
	if len(opts.Snapshots) > 0 {
		p.Notes = append(p.Notes, "A snapshot cleared on "+h.Short+" only is no longer a complete backup: its copies on the other nodes remain (`scalar-tui backups clear --tag TAG` clears them everywhere).")
	}
	if len(opts.Backups) > 0 {
		p.Notes = append(p.Notes, "Incremental backups not yet uploaded (Cassy NODE_INCREMENTAL) are lost when deleted.")
	}
	if opts.Force {
		p.Notes = append(p.Notes, "--force: the newest complete backup may be cleared.")
	}
	for _, t := range opts.Snapshots {
		p.Steps = append(p.Steps, workflow.Step{
			ID: h.Short + "/clearsnapshot-" + t, Title: "delete snapshot " + t, Host: h.Name,
			Commands: []string{shell.Join("nodetool", "clearsnapshot", "-t", t)}, Timeout: 10 * time.Minute, Idempotent: true,
		})
	}
	for _, ks := range opts.Backups {
		p.Steps = append(p.Steps, workflow.Step{
			ID: h.Short + "/clear-backups-" + ks, Title: "delete the incremental backups of keyspace " + ks, Host: h.Name,
			Commands: []string{ClearBackupsCommand(dir, ks)}, Timeout: 10 * time.Minute, Idempotent: true,
		})
	}
	threshold := 0.0
	if rule, ok := health.DiskRuleFor(h.Role, DataMount); ok {
		threshold = rule.MinFreePercent
	}
	p.Steps = append(p.Steps, workflow.Step{
		ID: h.Short + "/measure", Title: fmt.Sprintf("measure %s (the alert needs at least %.0f%% free)", dir, threshold), Host: h.Name,
		Commands: []string{DFCommand(dir)}, Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			out, err := run(ctx, env.Exec, h, DFCommand(dir))
			if err != nil {
				return err
			}
			free, avail, err := backup.ParseDF(out)
			if err != nil {
				return err
			}
			env.Notice(fmt.Sprintf("%s %s: %.1f%% free (%s available)", h.Short, dir, free, nodetool.FormatSize(float64(avail)*1024)))
			if free < threshold {
				return fmt.Errorf("%s %s is still %.1f%% free, below the %.0f%% of %s: clear more (list with `scalar-tui free-disk --host %s`) or grow the volume", h.Short, dir, free, threshold, Alert, h.Short)
			}
			return nil
		},
	})
	if src := opts.Health; src != nil {
		p.Steps = append(p.Steps, workflow.Step{
			ID: h.Short + "/alert-clear", Title: "wait for " + Alert + " to clear", Host: h.Name, Idempotent: true,
			Run: func(context.Context, *workflow.Env) error { return nil },
			Gate: &workflow.Gate{
				Name: "alert-clear", Description: fmt.Sprintf("monitoring shows %s not firing for %s", Alert, h.Short),
				Deadline: deadline, Interval: interval,
				Check: func(ctx context.Context, _ *workflow.Env) (bool, string, error) {
					return gates.AlertClear(ctx, src, h, []string{Alert}, nil)
				},
			},
		})
	}
	return p, nil
}
