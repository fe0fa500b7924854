package repair

// What repair is already running on the cluster (issue 12, item 1). Killing
// a console, or Ctrl-C, stops only the nodetool client: Cassandra goes on
// repairing on the server side. So before a repair starts (and before a lock
// is broken) the cluster is asked what runs, from three points of view:
// scalar-tui's own detached commands (their pid files on each node),
// Cassandra's (Validation/Anticompaction compactions, Repair stream plans)
// and Reaper's (RUNNING repair runs).

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// Activity sources.
const (
	// SourceDetached is a scalar-tui detached `nodetool repair` whose
	// process is alive (its run directory has a pid and no rc).
	SourceDetached = "detached"
	// SourceCompaction is a Validation or Anticompaction compaction in
	// `nodetool compactionstats`.
	SourceCompaction = "compactionstats"
	// SourceStream is a "Repair" stream plan in `nodetool netstats`.
	SourceStream = "netstats"
	// SourceReaper is a RUNNING Reaper repair run.
	SourceReaper = "reaper"
)

// Activity is one sign of a repair in progress.
type Activity struct {
	// Host is the node's short name; empty for Reaper runs (cluster-wide).
	Host string `json:"host,omitempty"`
	// Source is one of the Source* constants.
	Source string `json:"source"`
	// Detail says what runs, for the operator.
	Detail string `json:"detail"`
	// Run is the scalar-tui run that started a detached command, or the
	// Reaper run's id.
	Run string `json:"run,omitempty"`
	// Cause is a Reaper run's cause (scalar-tui's runs carry their run ID).
	Cause string `json:"cause,omitempty"`
	// PID is a detached command's process group.
	PID int `json:"pid,omitempty"`
	// Keyspace is the keyspace being repaired, when known.
	Keyspace string `json:"keyspace,omitempty"`
	// Percent is the progress when known, else -1.
	Percent float64 `json:"percent"`
}

// String implements fmt.Stringer: "cassandra-1: <detail>".
func (a Activity) String() string {
	where := a.Host
	if where == "" {
		where = "Reaper"
	}
	return where + ": " + a.Detail
}

// Execer runs a command on a host and captures its output. *workflow.Env
// satisfies it (audited, inside a run); ExecVia adapts an SSH client.
type Execer interface {
	Exec(ctx context.Context, host, command string) (workflow.CommandResult, error)
}

// HostRunner is the part of workflow.Runner (and *sshx.Client) ExecVia needs.
type HostRunner interface {
	Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error)
}

// ExecVia adapts r to an Execer, for callers outside a workflow run (unlock,
// `repair status`).
func ExecVia(r HostRunner) Execer { return runnerExecer{r} }

type runnerExecer struct{ r HostRunner }

// maxProbeOutput bounds what one probe command may print (keeps the tail).
const maxProbeOutput = 1 << 20

func (x runnerExecer) Exec(ctx context.Context, host, command string) (workflow.CommandResult, error) {
	var mu sync.Mutex
	var out, errb strings.Builder
	add := func(b *strings.Builder, l string) {
		mu.Lock()
		defer mu.Unlock()
		if b.Len() < maxProbeOutput {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	res, err := x.r.Run(ctx, host, command, sshx.RunOptions{
		Stdout: func(l string) { add(&out, l) },
		Stderr: func(l string) { add(&errb, l) },
	})
	mu.Lock()
	defer mu.Unlock()
	return workflow.CommandResult{Stdout: out.String(), Stderr: errb.String(), ExitCode: res.ExitCode}, err
}

// ProbeOptions say where InProgress looks.
type ProbeOptions struct {
	// Hosts are the nodes to ask (default every Cassandra node of the
	// inventory: a repair coordinated anywhere validates on every replica).
	Hosts []inventory.Host
	// RemoteDir is where detached commands live on the nodes (default
	// workflow.DefaultRemoteDir, relative to the login's home).
	RemoteDir string
	// Reaper, when set, is asked for its RUNNING repair runs of its cluster.
	// It is optional: when it cannot be asked, Warn is told and the nodes'
	// answers stand.
	Reaper *ReaperOptions
	// Warn receives what could not be checked (may be nil).
	Warn func(msg string)
}

// InProgress reports every repair running on the cluster: live detached
// `nodetool repair` commands of any scalar-tui run, Validation and
// Anticompaction compactions and Repair stream plans on each node, and
// Reaper's RUNNING runs. A node that cannot be asked is an error (fail
// closed: not knowing is not "idle"); Reaper that cannot be asked is only a
// warning, because it is optional in the nodetool route.
func InProgress(ctx context.Context, x Execer, inv *inventory.Inventory, o ProbeOptions) ([]Activity, error) {
	hosts := o.Hosts
	if len(hosts) == 0 && inv != nil {
		hosts = inv.ByRole(inventory.RoleCassandra)
	}
	dir := o.RemoteDir
	if dir == "" {
		dir = workflow.DefaultRemoteDir
	}
	var acts []Activity
	for _, h := range hosts {
		a, err := probeNode(ctx, x, h, dir)
		if err != nil {
			return acts, err
		}
		acts = append(acts, a...)
	}
	if o.Reaper != nil {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		a, err := probeReaper(rctx, *o.Reaper)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return acts, ctx.Err()
		case err != nil:
			if o.Warn != nil {
				o.Warn(fmt.Sprintf("could not ask Reaper (%s) whether it is repairing: %v; checked the nodes only", o.Reaper.URL, err))
			}
		default:
			acts = append(acts, a...)
		}
	}
	return acts, nil
}

// detachedScan lists the live detached commands under dir: one line
// "<run dir>\t<pid>\t<first line of cmd.sh>" each. rc written means ended;
// a pid that is gone, or a zombie nobody reaped (PID 1 of a container may
// not), means killed.
func detachedScan(dir string) string {
	return `for d in ` + shell.Quote(strings.TrimRight(dir, "/")) + `/*/*/; do
[ -f "${d}pid" ] || continue
[ -f "${d}rc" ] && continue
p=$(cat "${d}pid" 2>/dev/null)
[ -n "$p" ] && kill -0 "$p" 2>/dev/null || continue
case "$(ps -o stat= -p "$p" 2>/dev/null)" in Z*) continue ;; esac
printf '%s\t%s\t%s\n' "$d" "$p" "$(head -n 1 "${d}cmd.sh" 2>/dev/null)"
done
exit 0`
}

func probeNode(ctx context.Context, x Execer, h inventory.Host, dir string) ([]Activity, error) {
	var acts []Activity
	r, err := x.Exec(ctx, h.Name, detachedScan(dir))
	if err != nil {
		return nil, fmt.Errorf("%s: list detached commands: %w", h.Short, err)
	}
	if r.ExitCode != 0 {
		return nil, fmt.Errorf("%s: list detached commands: exit %d: %s", h.Short, r.ExitCode, strings.TrimSpace(r.Stderr))
	}
	acts = append(acts, parseDetached(h.Short, dir, r.Stdout)...)

	r, err = x.Exec(ctx, h.Name, "nodetool compactionstats")
	if err != nil {
		return nil, fmt.Errorf("%s: nodetool compactionstats: %w", h.Short, err)
	}
	cs, perr := nodetool.ParseCompactionStats(r.Stdout + r.Stderr)
	if r.ExitCode != 0 || perr != nil {
		return nil, fmt.Errorf("%s: nodetool compactionstats exited %d: %v", h.Short, r.ExitCode, perr)
	}
	for _, c := range cs.Repairs() {
		what := "validating " + c.Keyspace + "." + c.Table + " for a repair (Merkle trees)"
		if c.Type != nodetool.TypeValidation {
			what = "running \"" + c.Type + "\" on " + c.Keyspace + "." + c.Table
		}
		acts = append(acts, Activity{Host: h.Short, Source: SourceCompaction, Keyspace: c.Keyspace, Percent: c.Percent,
			Detail: fmt.Sprintf("Cassandra is %s, %s done (nodetool compactionstats)", what, percent(c.Percent))})
	}

	r, err = x.Exec(ctx, h.Name, "nodetool netstats")
	if err != nil {
		return nil, fmt.Errorf("%s: nodetool netstats: %w", h.Short, err)
	}
	ns, perr := nodetool.ParseNetStats(r.Stdout + r.Stderr)
	if r.ExitCode != 0 || perr != nil {
		return nil, fmt.Errorf("%s: nodetool netstats exited %d: %v", h.Short, r.ExitCode, perr)
	}
	for _, p := range ns.RepairStreams() {
		var peers []string
		var done, total int64
		for _, s := range p.Sessions {
			peers = append(peers, s.Peer)
			done += s.BytesReceived + s.BytesSent
			total += s.BytesToReceive + s.BytesToSend
		}
		pct := -1.0
		if total > 0 {
			pct = 100 * float64(done) / float64(total)
		}
		acts = append(acts, Activity{Host: h.Short, Source: SourceStream, Run: p.PlanID, Percent: pct,
			Detail: fmt.Sprintf("Cassandra streams repair data (plan %s) with %s, %s done (nodetool netstats)", p.PlanID, strings.Join(peers, ", "), percent(pct))})
	}
	return acts, nil
}

func percent(p float64) string {
	if p < 0 {
		return "an unknown share"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// parseDetached reads detachedScan's lines, keeping `nodetool repair`
// commands only.
func parseDetached(host, dir, out string) []Activity {
	var acts []Activity
	prefix := strings.TrimRight(dir, "/") + "/"
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(strings.TrimRight(line, "\r"), "\t", 3)
		if len(f) != 3 {
			continue
		}
		cmd := strings.TrimSpace(f[2])
		fields := strings.Fields(cmd)
		isRepair := false
		for i := 0; i+1 < len(fields); i++ {
			if strings.HasSuffix(fields[i], "nodetool") && fields[i+1] == "repair" {
				isRepair = true
			}
		}
		if !isRepair {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(f[1]))
		rel := strings.TrimSuffix(strings.TrimPrefix(f[0], prefix), "/")
		run, stepDir, _ := strings.Cut(rel, "/")
		ks := ""
		if n := len(fields); n > 0 && !strings.HasPrefix(fields[n-1], "-") && fields[n-1] != "repair" {
			ks = fields[n-1]
		}
		acts = append(acts, Activity{Host: host, Source: SourceDetached, Run: run, PID: pid, Keyspace: ks, Percent: -1,
			Detail: fmt.Sprintf("`%s` of scalar-tui run %s is still running (pid %d, in ~/%s%s/%s)", cmd, run, pid, prefix, run, stepDir)})
	}
	return acts
}

// probeReaper lists Reaper's RUNNING runs of o's cluster.
func probeReaper(ctx context.Context, o ReaperOptions) ([]Activity, error) {
	c := newReaperClient(o)
	defer c.close()
	if err := c.login(ctx); err != nil {
		return nil, err
	}
	var runs []reaperRun
	if _, err := c.do(ctx, http.MethodGet, "/repair_run?state="+reaperRunning, nil, &runs); err != nil {
		return nil, err
	}
	var acts []Activity
	for _, r := range runs {
		if r.State != reaperRunning || (o.Cluster != "" && !strings.EqualFold(r.Cluster, o.Cluster)) {
			continue
		}
		pct := -1.0
		if r.TotalSegments > 0 {
			pct = 100 * float64(r.SegmentsRepaired) / float64(r.TotalSegments)
		}
		acts = append(acts, Activity{Source: SourceReaper, Run: r.ID, Cause: r.Cause, Keyspace: r.Keyspace, Percent: pct,
			Detail: fmt.Sprintf("repair run %s of keyspace %s (cluster %s) is RUNNING, %d/%d segments, owner %q, cause %q",
				r.ID, r.Keyspace, r.Cluster, r.SegmentsRepaired, r.TotalSegments, r.Owner, r.Cause)})
	}
	return acts, nil
}

// Foreign drops what belongs to run itself: its own detached commands, its
// own Reaper runs (by cause), and, while one of its detached repairs is
// still alive (or its Reaper run is RUNNING), Cassandra's view too, which
// cannot tell whose repair it sees (resume re-attaches to that command). After a Ctrl-C the run has no live
// command left, so the server-side repair it leaves behind counts.
func Foreign(acts []Activity, run string) []Activity {
	if run == "" {
		return acts
	}
	ownAlive := false
	for _, a := range acts {
		if (a.Source == SourceDetached && a.Run == run) || (a.Source == SourceReaper && a.Cause == reaperCause(run)) {
			ownAlive = true
		}
	}
	var out []Activity
	for _, a := range acts {
		switch {
		case a.Source == SourceDetached && a.Run == run:
		case a.Source == SourceReaper && a.Cause == reaperCause(run):
		case ownAlive && (a.Source == SourceCompaction || a.Source == SourceStream):
		default:
			out = append(out, a)
		}
	}
	return out
}

// BusyError refuses a repair because another one runs.
type BusyError struct {
	Activities []Activity
}

// Error implements error.
func (e *BusyError) Error() string {
	var b strings.Builder
	b.WriteString("a repair is already running on the cluster; a second one would overlap it:")
	for _, a := range e.Activities {
		b.WriteString("\n  - ")
		b.WriteString(a.String())
	}
	b.WriteString("\n(a killed console or Ctrl-C stops only the nodetool client: Cassandra goes on repairing on the server side)")
	b.WriteString("\nwait until it has ended with `scalar-tui repair status --wait`, then start again")
	return b.String()
}

// Describe renders activities as indented lines for the operator ("" when none).
func Describe(acts []Activity) string {
	var b strings.Builder
	for _, a := range acts {
		b.WriteString("  - ")
		b.WriteString(a.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// idleCheck is the preflight that refuses to start (or resume) while another
// repair runs anywhere on the ring.
func idleCheck(ring []inventory.Host, reaper *ReaperOptions) workflow.Check {
	desc := "no other repair in progress: no live detached `nodetool repair` of another run, no Validation/Anticompaction in `nodetool compactionstats` and no Repair streams in `nodetool netstats` on any node"
	if reaper != nil {
		desc += ", no RUNNING Reaper run"
	}
	return workflow.Check{
		Name:        "no-repair-running",
		Description: desc,
		Run: func(ctx context.Context, env *workflow.Env) error {
			acts, err := InProgress(ctx, env, nil, ProbeOptions{Hosts: ring, Reaper: reaper, Warn: env.Notice})
			if err != nil {
				return fmt.Errorf("cannot tell whether a repair is already running: %w", err)
			}
			if acts = Foreign(acts, env.RunID()); len(acts) > 0 {
				return &BusyError{Activities: acts}
			}
			return nil
		},
	}
}
