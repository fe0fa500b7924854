package main

// End-to-end tests of `repair`, `resume`, `runs` and `unlock` against the
// in-process demo deployment (internal/demo): real SSH through a bastion,
// real shells, the simulator's nodetool. Every case checks the simulator's
// final state as well as the CLI's output, journal and audit log.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
)

// repairEnv is a demo deployment plus the console's state and lock paths.
type repairEnv struct {
	t        *testing.T
	d        *demo.Demo
	state    string // XDG_STATE_HOME
	lockPath string // the cluster lock on the (in-process) bastion
}

// startRepairEnv starts a demo with 3 Cassandra nodes whose repairs take
// repairDur per nodetool command, with fault ("" for none) injected.
func startRepairEnv(t *testing.T, fault string, repairDur time.Duration) *repairEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Fault: fault,
		Config: func(c *sim.Config) { c.RepairDuration = sim.Duration(repairDur) }})
	if err != nil {
		t.Fatalf("start demo: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Logf("close demo: %v", err)
		}
	})
	// Whatever stdin `go test` was given, the CLI must see no terminal.
	oldTTY := stdinIsTerminal
	stdinIsTerminal = func(io.Reader) bool { return false }
	t.Cleanup(func() { stdinIsTerminal = oldTTY })
	e := &repairEnv{t: t, d: d, state: t.TempDir(), lockPath: filepath.Join(t.TempDir(), "scalar-tui.lock")}
	t.Setenv("XDG_STATE_HOME", e.state)
	return e
}

// global returns the flags that point the console at the demo.
func (e *repairEnv) global() []string {
	return []string{"--tf-root", e.d.TFRoot, "--known-hosts", e.d.KnownHosts, "--identity", e.d.Identity}
}

// args builds a command line: global flags, the subcommand words, then
// --lock-path for the commands that take the lock.
func (e *repairEnv) args(words ...string) []string {
	a := append(e.global(), words...)
	switch words[0] {
	case "repair", "resume", "unlock", "backup":
		a = append(a, "--lock-path", e.lockPath)
	}
	return a
}

// fastRepair are the repair flags every test uses: short gates, and no
// Alertmanager silence so the step counts are the repair's own
// (TestRepairSilencedByDefault covers the silence).
var fastRepair = []string{"repair", "--yes", "--json", "--gate-interval", "200ms", "--gate-deadline", "30s", "--no-silence"}

// By default a repair silences the Cassandra nodes' alerts in the demo's
// Alertmanager for the run and expires the silence at its end.
func TestRepairSilencedByDefault(t *testing.T) {
	e := startRepairEnv(t, "", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code := e.cli(ctx, "repair", "--yes", "--json", "--gate-interval", "200ms", "--gate-deadline", "30s", "--health-gate", "scrape")
	run, status := finished(t, out)
	if code != 0 || status != "done" {
		t.Fatalf("repair: exit %d %s\n%s\n%s", code, status, out, errOut)
	}
	for _, want := range []string{`"step":"silence-alerts"`, `"step":"expire-silence"`, "alerts of cassandra-1, cassandra-2, cassandra-3 silenced", "expired"} {
		if !strings.Contains(out, want) {
			t.Errorf("repair output lacks %q:\n%s", want, out)
		}
	}
	st, err := workflow.LoadRun(e.stateDir(), run)
	if err != nil {
		t.Fatal(err)
	}
	if _, held := st.Markers[silence.Marker]; held {
		t.Errorf("the silence marker is still set after the run: %v", st.Markers)
	}
}

// cli runs the command in process and returns stdout, stderr and the exit code.
func (e *repairEnv) cli(ctx context.Context, words ...string) (string, string, int) {
	e.t.Helper()
	out, errOut, err := runCLI(ctx, e.args(words...)...)
	return out, errOut, exitCodeOf(err)
}

// exitCodeOf maps an error as main's run does.
func exitCodeOf(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return exitCanceled
	}
	return exitBadInput
}

func (e *repairEnv) simState() *sim.State {
	e.t.Helper()
	st, err := sim.Load(e.d.SimState)
	if err != nil {
		e.t.Fatalf("sim state: %v", err)
	}
	return st
}

// repairs returns the repairs node short coordinated, for keyspace ks ("" = all).
func (e *repairEnv) repairs(short, ks string) []sim.Repair {
	e.t.Helper()
	h := e.simState().Host(short)
	if h == nil || h.Cassandra == nil {
		e.t.Fatalf("no cassandra host %s in the sim", short)
	}
	var out []sim.Repair
	for _, r := range h.Cassandra.Repairs {
		if ks == "" || (len(r.Keyspaces) == 1 && r.Keyspaces[0] == ks) {
			out = append(out, r)
		}
	}
	return out
}

// wantRepairs checks the count and outcomes of a node's repairs of ks.
func (e *repairEnv) wantRepairs(short, ks string, outcomes ...string) {
	e.t.Helper()
	got := e.repairs(short, ks)
	var gotOut []string
	for _, r := range got {
		if !r.Full || !r.PR {
			e.t.Errorf("%s: repair #%d of %v is not -full -pr", short, r.Command, r.Keyspaces)
		}
		gotOut = append(gotOut, r.Outcome)
	}
	if fmt.Sprint(gotOut) != fmt.Sprint(outcomes) {
		e.t.Errorf("%s keyspace %q: sim repair outcomes %q, want %q", short, ks, gotOut, outcomes)
	}
}

// stateDir is the demo deployment's own state directory (journal, audit)
// under $XDG_STATE_HOME/scalar-tui.
func (e *repairEnv) stateDir() string {
	return workflow.DeploymentDir(filepath.Join(e.state, "scalar-tui"), "scalar-tui-demo", e.d.BastionAddr)
}

func (e *repairEnv) lockHeld() bool {
	_, err := os.Stat(e.lockPath)
	return err == nil
}

// events parses --json output.
func events(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %q: %v", line, err)
		}
		evs = append(evs, m)
	}
	return evs
}

// finished returns the run ID and the status of the last finished event.
func finished(t *testing.T, out string) (run, status string) {
	t.Helper()
	for _, ev := range events(t, out) {
		if ev["type"] == "finished" {
			run, _ = ev["run"].(string)
			status, _ = ev["status"].(string)
		}
	}
	return run, status
}

// stepStatuses returns the journal's step statuses by ID.
func (e *repairEnv) stepStatuses(id string) (workflow.Status, map[string]workflow.Status) {
	e.t.Helper()
	st, err := workflow.LoadRun(e.stateDir(), id)
	if err != nil {
		e.t.Fatalf("journal: %v", err)
	}
	m := map[string]workflow.Status{}
	for _, s := range st.Steps {
		m[s.ID] = s.Status
	}
	return st.Status, m
}

// repairStarts counts the audited detached starts of `nodetool repair ... ks`
// on host (FQDN) in run.
func (e *repairEnv) repairStarts(run, host, ks string) int {
	e.t.Helper()
	ents, err := workflow.ReadAudit(e.stateDir(), workflow.AuditFilter{Run: run, Host: host})
	if err != nil {
		e.t.Fatalf("audit: %v", err)
	}
	n := 0
	for _, a := range ents {
		if strings.Contains(a.Command, "setsid nohup") && strings.Contains(a.Command, "nodetool repair -full -pr "+ks+"'") {
			n++
		}
	}
	return n
}

func fqdn(short string) string { return short + "." + demo.Domain }

var cassandras = []string{"cassandra-1", "cassandra-2", "cassandra-3"}

func TestRepairDryRunAndBadInput(t *testing.T) {
	e := startRepairEnv(t, "", time.Second)
	ctx := context.Background()
	out, errOut, code := e.cli(ctx, "repair", "--dry-run", "--health-gate", "scrape")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Plan ", "workflow repair", "ring-UN", "cassandra-active", "health-scrape",
		"[cassandra-1/repair-scalar]", "[cassandra-3/repair-coordinator]", "$ nodetool repair -full -pr scalar",
		"$ nodetool repair -full -pr coordinator", "gate ring-UN", "dry run: nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "$ nodetool repair"); n != 6 {
		t.Errorf("dry run shows %d repair commands, want 6", n)
	}
	out, _, code = e.cli(ctx, "repair", "--dry-run", "--keyspace", "scalar", "--host", "cassandra-2", "--host", "10.42.2.10")
	if code != 0 || strings.Count(out, "$ nodetool repair") != 2 || strings.Index(out, "[cassandra-2/repair-scalar]") > strings.Index(out, "[cassandra-1/repair-scalar]") {
		t.Errorf("dry run with --host: exit %d, want cassandra-2 then cassandra-1:\n%s", code, out)
	}
	out, _, code = e.cli(ctx, "repair", "--dry-run", "--via", "reaper", "--health-gate", "off")
	if code != 0 || !strings.Contains(out, "[reaper/repair-scalar]") || !strings.Contains(out, "reaper-api") ||
		!strings.Contains(out, "reaper POST http://reaper-1.internal.scalar-labs.com:8080/repair_run?clusterName=scalardl&keyspace=coordinator") {
		t.Errorf("dry run --via reaper: exit %d:\n%s", code, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"reaper with --host", []string{"repair", "--dry-run", "--via", "reaper", "--host", "cassandra-1"}, "--via nodetool only"},
		{"reaper flags without reaper", []string{"repair", "--dry-run", "--reaper-url", "http://x:8080"}, "--via reaper only"},
		{"reaper password file", []string{"repair", "--dry-run", "--via", "reaper", "--reaper-password-file", "/nonexistent"}, "--reaper-password-file"},
		{"unknown via", []string{"repair", "--dry-run", "--via", "ssh"}, "unknown --via"},
		{"not cassandra", []string{"repair", "--dry-run", "--host", "scalardl-blue-1"}, "not a Cassandra node"},
		{"unknown host", []string{"repair", "--dry-run", "--host", "cassandra-9"}, "unknown host"},
		{"bad keyspace", []string{"repair", "--dry-run", "--keyspace", "x;rm"}, "bad keyspace"},
		{"health gate", []string{"repair", "--dry-run", "--health-gate", "maybe"}, "--health-gate"},
		{"no --yes", []string{"repair", "--health-gate", "off"}, "--yes"},
		{"resume unknown", []string{"resume", "20200101-0000-repair"}, "no run"},
		{"show unknown", []string{"runs", "show", "nope"}, "no run"},
	} {
		out, errOut, rerr := runCLI(ctx, e.args(tc.args...)...)
		code := exitCodeOf(rerr)
		if code != exitBadInput || rerr == nil || !strings.Contains(rerr.Error(), tc.want) {
			t.Errorf("%s: exit %d, err %v; want 2 and %q\n%s%s", tc.name, code, rerr, tc.want, out, errOut)
		}
	}
	// Nothing ran: no lock, no journal, no remote command, no repair.
	if e.lockHeld() {
		t.Error("a dry run left the cluster lock")
	}
	if runs, _ := workflow.List(e.stateDir()); len(runs) != 0 {
		t.Errorf("dry run journalled %d runs", len(runs))
	}
	if ents, _ := workflow.ReadAudit(e.stateDir(), workflow.AuditFilter{}); len(ents) != 0 {
		t.Errorf("dry run ran %d remote commands, first %q", len(ents), ents[0].Command)
	}
	for _, h := range cassandras {
		e.wantRepairs(h, "")
	}
	out, _, code = e.cli(ctx, "runs")
	if code != 0 || !strings.Contains(out, "no runs") {
		t.Errorf("runs: exit %d:\n%s", code, out)
	}
}

func TestRepairFullRunAudited(t *testing.T) {
	e := startRepairEnv(t, "", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	out, errOut, code := e.cli(ctx, append(fastRepair, "--health-gate", "scrape")...)
	t.Logf("full repair of 3 nodes x 2 keyspaces: %s", time.Since(begin).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("repair: exit %d\n%s\n%s", code, out, errOut)
	}
	run, status := finished(t, out)
	if status != "done" || !runIDPattern.MatchString(run) {
		t.Fatalf("finished %s %s\n%s", run, status, out)
	}
	kinds := map[string]int{}
	for _, ev := range events(t, out) {
		kinds[ev["type"].(string)]++
	}
	if kinds["plan"] != 1 || kinds["step_done"] != 6 || kinds["gate_passed"] != 3 || kinds["progress"] == 0 || kinds["output"] == 0 {
		t.Errorf("event counts %v", kinds)
	}
	rs, steps := e.stepStatuses(run)
	if rs != workflow.StatusDone || len(steps) != 6 {
		t.Errorf("journal: %s %v", rs, steps)
	}
	for id, s := range steps {
		if s != workflow.StatusDone {
			t.Errorf("step %s is %s", id, s)
		}
	}
	// The audit log has every remote command: the lock, preflight, each
	// detached start, follow and status, the gates, the release.
	ents, err := workflow.ReadAudit(e.stateDir(), workflow.AuditFilter{Run: run})
	if err != nil {
		t.Fatal(err)
	}
	var joined strings.Builder
	for _, a := range ents {
		if a.Operator == "" || a.Time.IsZero() || a.Host == "" {
			t.Errorf("incomplete audit entry %+v", a)
		}
		joined.WriteString(a.Host + " $ " + a.Command + "\n")
	}
	all := joined.String()
	for _, want := range []string{"bastion $ if mkdir_err=$(mkdir " + e.lockPath, "nodetool status", "systemctl is-active cassandra",
		"bastion $ if grep -qxF 'run=" + run + "' " + e.lockPath + "/owner 2>/dev/null; then rm -rf"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
	for _, h := range cassandras {
		for _, ks := range []string{"scalar", "coordinator"} {
			if n := e.repairStarts(run, fqdn(h), ks); n != 1 {
				t.Errorf("audit: %d starts of the %s repair on %s, want 1", n, ks, h)
			}
			e.wantRepairs(h, ks, "completed")
		}
		if log := workflow.HostLogPath(e.stateDir(), run, fqdn(h)); !fileContains(t, log, "Repair completed successfully") {
			t.Errorf("host log %s lacks the repair output", log)
		}
	}
	if e.lockHeld() {
		t.Error("the cluster lock is still held after the run")
	}
	out, _, code = e.cli(ctx, "runs")
	if code != 0 || !strings.Contains(out, run) || !strings.Contains(out, "6/6") {
		t.Errorf("runs: exit %d:\n%s", code, out)
	}
	out, _, code = e.cli(ctx, "runs", "--json")
	var list []workflow.RunState
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].ID != run {
		t.Errorf("runs --json: exit %d:\n%s", code, out)
	}
	_, _, code = e.cli(ctx, "resume", run, "--yes")
	if code != exitBadInput {
		t.Errorf("resume of a done run: exit %d, want 2", code)
	}
}

func fileContains(t *testing.T, path, s string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

func TestRepairRefusedWhenNodeDown(t *testing.T) {
	e := startRepairEnv(t, "cassandra-2:cassandra-stopped", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, rerr := runCLI(ctx, e.args(append(fastRepair, "--health-gate", "off")...)...)
	if code := exitCodeOf(rerr); code != exitFailed {
		t.Fatalf("repair with cassandra-2 down: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if rerr == nil || !strings.Contains(rerr.Error(), "cassandra-2 (10.42.2.11) is DN") || !strings.Contains(rerr.Error(), "preflight ring-UN") {
		t.Errorf("refusal does not name the node: %v", rerr)
	}
	run, status := finished(t, out)
	if status != "refused" {
		t.Errorf("finished %s %s", run, status)
	}
	rs, steps := e.stepStatuses(run)
	if rs != workflow.StatusRefused {
		t.Errorf("journal status %s", rs)
	}
	for id, s := range steps {
		if s != workflow.StatusPending {
			t.Errorf("step %s is %s, want pending", id, s)
		}
	}
	for _, h := range cassandras {
		e.wantRepairs(h, "")
	}
	if e.lockHeld() {
		t.Error("a refused run left the cluster lock")
	}
	if h := e.simState().Host("cassandra-2"); h.Cassandra.Active {
		t.Error("cassandra-2 was started by the console")
	}
}

func TestRepairFailsOnNode2ThenResumes(t *testing.T) {
	e := startRepairEnv(t, "cassandra-2:repair-fails", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code := e.cli(ctx, append(fastRepair, "--health-gate", "scrape")...)
	if code != exitFailed {
		t.Fatalf("repair: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	run, status := finished(t, out)
	if status != "failed" {
		t.Fatalf("finished %s %s", run, status)
	}
	rs, steps := e.stepStatuses(run)
	want := map[string]workflow.Status{
		"cassandra-1/repair-scalar": workflow.StatusDone, "cassandra-1/repair-coordinator": workflow.StatusDone,
		"cassandra-2/repair-scalar": workflow.StatusFailed, "cassandra-2/repair-coordinator": workflow.StatusSkipped,
		"cassandra-3/repair-scalar": workflow.StatusSkipped, "cassandra-3/repair-coordinator": workflow.StatusSkipped,
	}
	if rs != workflow.StatusFailed || fmt.Sprint(steps) != fmt.Sprint(want) {
		t.Errorf("journal %s %v, want failed %v", rs, steps, want)
	}
	e.wantRepairs("cassandra-1", "scalar", "completed")
	e.wantRepairs("cassandra-2", "scalar", "failed")
	e.wantRepairs("cassandra-2", "coordinator")
	e.wantRepairs("cassandra-3", "")
	if e.lockHeld() {
		t.Error("a failed run left the cluster lock")
	}

	listOut, _, _ := e.cli(ctx, "runs")
	showOut, _, _ := e.cli(ctx, "runs", "show", run)
	for _, want := range []string{run, "failed", "2/6", "cassandra-2/repair-scalar"} {
		if !strings.Contains(listOut, want) {
			t.Errorf("runs lacks %q:\n%s", want, listOut)
		}
	}
	if !regexp.MustCompile(`cassandra-2/repair-scalar +failed`).MatchString(showOut) {
		t.Errorf("runs show does not show the failed step:\n%s", showOut)
	}
	for _, want := range []string{"Validation failed", "scalar-tui resume " + run, `"health_gate": "scrape"`, "Notes (the last 10):\n", "  preflight "} {
		if !strings.Contains(showOut, want) {
			t.Errorf("runs show lacks %q:\n%s", want, showOut)
		}
	}
	// Skip cassandra-3's coordinator by hand: resume must leave it alone.
	if _, _, code := e.cli(ctx, "runs", "mark", run, "cassandra-3/repair-coordinator", "running"); code != exitBadInput {
		t.Errorf("runs mark ... running: exit %d, want 2", code)
	}
	if o, _, code := e.cli(ctx, "runs", "mark", run, "cassandra-3/repair-coordinator", "skipped"); code != 0 || !strings.Contains(o, "marked skipped") {
		t.Errorf("runs mark: exit %d: %s", code, o)
	}

	if err := sim.ClearFault(e.d.SimState, "cassandra-2", sim.FaultRepairFails); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = e.cli(ctx, "resume", run, "--yes", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if r, s := finished(t, out); r != run || s != "done" {
		t.Errorf("resume finished %s %s", r, s)
	}
	for _, ev := range events(t, out) {
		if ev["type"] == "step_started" && strings.HasPrefix(ev["step"].(string), "cassandra-1/") {
			t.Errorf("resume ran %s again", ev["step"])
		}
	}
	rs, steps = e.stepStatuses(run)
	if rs != workflow.StatusDone || steps["cassandra-3/repair-coordinator"] != workflow.StatusSkipped {
		t.Errorf("after resume: %s %v", rs, steps)
	}
	// Node 1 was repaired once per keyspace; node 2's scalar repair once
	// more after the failure; cassandra-3's coordinator not at all.
	e.wantRepairs("cassandra-1", "scalar", "completed")
	e.wantRepairs("cassandra-1", "coordinator", "completed")
	e.wantRepairs("cassandra-2", "scalar", "failed", "completed")
	e.wantRepairs("cassandra-2", "coordinator", "completed")
	e.wantRepairs("cassandra-3", "scalar", "completed")
	e.wantRepairs("cassandra-3", "coordinator")
	if n := e.repairStarts(run, fqdn("cassandra-1"), "scalar"); n != 1 {
		t.Errorf("audit: cassandra-1's scalar repair started %d times, want 1", n)
	}
	if n := e.repairStarts(run, fqdn("cassandra-2"), "scalar"); n != 2 {
		t.Errorf("audit: cassandra-2's scalar repair started %d times, want 2", n)
	}
	if e.lockHeld() {
		t.Error("resume left the cluster lock")
	}
}

func TestRepairResumeRefusedWhenInventoryChanged(t *testing.T) {
	e := startRepairEnv(t, "cassandra-3:repair-fails", 500*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, code := e.cli(ctx, append(fastRepair, "--health-gate", "off", "--keyspace", "scalar")...)
	run, status := finished(t, out)
	if code != exitFailed || status != "failed" {
		t.Fatalf("repair: exit %d, %s", code, status)
	}
	// A node replaced: its private IP changes in the Terraform state.
	p := filepath.Join(e.d.TFRoot, "cassandra", "terraform.tfstate")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "10.42.2.12") {
		t.Fatal("cannot find cassandra-3's IP (10.42.2.12) in the generated state")
	}
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "10.42.2.12", "10.42.2.99")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, rerr := runCLI(ctx, e.args("resume", run, "--yes", "--json")...)
	if code := exitCodeOf(rerr); code != exitFailed || rerr == nil || !strings.Contains(rerr.Error(), "inventory changed") {
		t.Errorf("resume after a node change: exit %d, %v\n%s%s", code, rerr, out, errOut)
	}
	if rs, _ := e.stepStatuses(run); rs != workflow.StatusFailed {
		t.Errorf("journal status %s after a refused resume, want failed (still resumable)", rs)
	}
	e.wantRepairs("cassandra-1", "scalar", "completed")
	e.wantRepairs("cassandra-2", "scalar", "completed")
	e.wantRepairs("cassandra-3", "scalar", "failed")
}

func TestRepairSSHDropReattaches(t *testing.T) {
	e := startRepairEnv(t, "", 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetOut(&out)
		root.SetErr(io.Discard)
		root.SetArgs(e.args(append(fastRepair, "--health-gate", "off", "--keyspace", "scalar")...))
		done <- root.ExecuteContext(ctx)
	}()
	waitFor(t, 30*time.Second, "cassandra-1's repair at 20%", func() bool {
		return strings.Contains(out.String(), `"step":"cassandra-1/repair-scalar"`) && strings.Contains(out.String(), "progress: 20%")
	})
	e.d.Bastion().KillConnections()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatal("repair did not finish")
	}
	if err != nil {
		t.Fatalf("repair after an SSH drop: %v\n%s", err, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "lost the output stream") {
		t.Errorf("no re-attach notice:\n%s", text)
	}
	if _, s := finished(t, text); s != "done" {
		t.Errorf("finished %s", s)
	}
	// The remote repair went on: one repair per node, all completed, and
	// every output line once.
	for _, h := range cassandras {
		e.wantRepairs(h, "scalar", "completed")
	}
	if n := strings.Count(text, "finished (progress: 20%)"); n != 3 {
		t.Errorf("progress 20%% line seen %d times, want 3 (once per node)", n)
	}
	if e.lockHeld() {
		t.Error("the cluster lock is still held")
	}
}

func TestRepairLockConcurrentAndStale(t *testing.T) {
	e := startRepairEnv(t, "", 4*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetOut(&out)
		root.SetErr(io.Discard)
		root.SetArgs(e.args(append(fastRepair, "--health-gate", "off", "--keyspace", "scalar")...))
		done <- root.ExecuteContext(runCtx)
	}()
	waitFor(t, 30*time.Second, "the first run's repair", func() bool { return strings.Contains(out.String(), "progress: 10%") })
	first := ""
	for _, ev := range events(t, out.String()) {
		if ev["type"] == "plan" {
			first = ev["run"].(string)
		}
	}

	// A second repair is refused by the lock, naming the owner.
	out2, _, code := e.cli(ctx, append(fastRepair, "--health-gate", "off")...)
	if code != exitFailed {
		t.Errorf("second repair: exit %d, want 1", code)
	}
	second, status := finished(t, out2)
	if status != "refused" || !strings.Contains(out2, "cluster is locked by "+workflow.Operator()+", run "+first) {
		t.Errorf("second repair %s: %s\n%s", second, status, out2)
	}
	o, _, code := e.cli(ctx, "unlock")
	if code != 0 || !strings.Contains(o, "locked by "+workflow.Operator()+", run "+first) {
		t.Errorf("unlock: exit %d: %s", code, o)
	}

	// Cancel the first run (what Ctrl-C does): it stops the remote repair
	// and releases the lock.
	stopRun()
	select {
	case err := <-done:
		if exitCodeOf(err) != exitCanceled {
			t.Errorf("canceled run: %v (exit %d), want 130", err, exitCodeOf(err))
		}
	case <-ctx.Done():
		t.Fatal("the canceled run did not return")
	}
	if _, s := finished(t, out.String()); s != "canceled" {
		t.Errorf("canceled run finished %s", s)
	}
	if e.lockHeld() {
		t.Error("the canceled run left the lock")
	}
	waitFor(t, 10*time.Second, "the remote repair to be stopped", func() bool { return len(e.d.Processes()) == 0 })
	if rs := e.repairs("cassandra-1", "scalar"); len(rs) != 1 || rs[0].Outcome == "completed" {
		t.Errorf("cassandra-1 repairs after cancel: %+v", rs)
	}
	e.wantRepairs("cassandra-2", "")

	// A stale lock left by a dead console: refused, shown, broken by --force.
	if err := os.MkdirAll(e.lockPath, 0o755); err != nil {
		t.Fatal(err)
	}
	owner := "operator=ghost@old-laptop\nrun=20200101-0000-repair\nsince=2020-01-01T00:00:00Z\n"
	if err := os.WriteFile(filepath.Join(e.lockPath, "owner"), []byte(owner), 0o644); err != nil {
		t.Fatal(err)
	}
	out3, _, code := e.cli(ctx, append(fastRepair, "--health-gate", "off")...)
	if code != exitFailed || !strings.Contains(out3, "ghost@old-laptop, run 20200101-0000-repair") {
		t.Errorf("repair under a stale lock: exit %d\n%s", code, out3)
	}
	o, _, code = e.cli(ctx, "unlock", "--force")
	if code != 0 || !strings.Contains(o, "broke the cluster lock held by ghost@old-laptop, run 20200101-0000-repair, since 2020-01-01 00:00") {
		t.Errorf("unlock --force: exit %d: %s", code, o)
	}
	if e.lockHeld() {
		t.Error("unlock --force left the lock")
	}
	o, _, code = e.cli(ctx, "unlock", "--force")
	if code != 0 || !strings.Contains(o, "not locked") {
		t.Errorf("second unlock --force: exit %d: %s", code, o)
	}
	e.wantRepairs("cassandra-2", "")
	e.wantRepairs("cassandra-3", "")
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cliBinary builds scalar-tui for the subprocess tests.
func cliBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "scalar-tui")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return bin
}

// subprocess is the CLI running as its own process.
type subprocess struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func (e *repairEnv) start(bin string, words ...string) *subprocess {
	e.t.Helper()
	return e.startArgs(bin, e.args(words...)...)
}

// startArgs runs the binary with exactly args, with e's XDG_STATE_HOME.
func (e *repairEnv) startArgs(bin string, args ...string) *subprocess {
	e.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+e.state)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &subprocess{cmd: cmd, done: make(chan struct{})}
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *subprocess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// wait returns the exit code, or fails after d.
func (p *subprocess) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("the CLI did not exit within %s:\n%s", d, p.output())
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestRepairSubprocess runs the CLI as its own process, to kill it.
func TestRepairSubprocess(t *testing.T) {
	bin := cliBinary(t)
	t.Run("SIGKILL then resume re-attaches", func(t *testing.T) { testRepairKilledThenResume(t, bin) })
	t.Run("SIGINT stops cleanly", func(t *testing.T) { testRepairSIGINT(t, bin) })
	t.Run("SIGKILL, unlock --force shows the orphan, a new repair is refused", func(t *testing.T) { testRepairKilledUnlockForce(t, bin) })
}

func testRepairKilledThenResume(t *testing.T, bin string) {
	e := startRepairEnv(t, "", 4*time.Second)
	p := e.start(bin, append(fastRepair, "--health-gate", "off")...)
	waitFor(t, 60*time.Second, "cassandra-2's repair at 20%", func() bool {
		o := p.output()
		i := strings.Index(o, `"step":"cassandra-2/repair-scalar"`)
		return i >= 0 && strings.Contains(o[i:], "progress: 20%")
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %d after SIGKILL", code)
	}
	run := ""
	for _, ev := range events(t, p.output()) {
		if ev["type"] == "plan" {
			run = ev["run"].(string)
		}
	}
	rs, steps := e.stepStatuses(run)
	if rs != workflow.StatusRunning || steps["cassandra-2/repair-scalar"] != workflow.StatusRunning {
		t.Fatalf("journal after SIGKILL: %s %v", rs, steps)
	}
	if !e.lockHeld() {
		t.Fatal("the killed run's lock is gone")
	}
	// The detached repair outlives the console.
	if rs := e.repairs("cassandra-2", "scalar"); len(rs) != 1 || rs[0].Outcome != "" {
		t.Fatalf("cassandra-2 repairs right after SIGKILL: %+v", rs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code := e.cli(ctx, "resume", run, "--yes", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	reattached := false
	for _, ev := range events(t, out) {
		if ev["type"] == "step_started" && ev["step"] == "cassandra-2/repair-scalar" && ev["reattach"] == true {
			reattached = true
		}
		if ev["type"] == "step_started" && strings.HasPrefix(ev["step"].(string), "cassandra-1/") {
			t.Errorf("resume ran %s again", ev["step"])
		}
	}
	if !reattached {
		t.Errorf("resume did not re-attach to cassandra-2's repair:\n%s", out)
	}
	for _, h := range cassandras {
		for _, ks := range []string{"scalar", "coordinator"} {
			e.wantRepairs(h, ks, "completed")
			if n := e.repairStarts(run, fqdn(h), ks); n != 1 {
				t.Errorf("audit: %s's %s repair started %d times, want 1", h, ks, n)
			}
		}
	}
	if rs, _ := e.stepStatuses(run); rs != workflow.StatusDone {
		t.Errorf("journal after resume: %s", rs)
	}
	if e.lockHeld() {
		t.Error("resume left the lock")
	}
}

func testRepairSIGINT(t *testing.T, bin string) {
	e := startRepairEnv(t, "", 4*time.Second)
	p := e.start(bin, append(fastRepair, "--health-gate", "off")...)
	waitFor(t, 60*time.Second, "cassandra-1's repair at 20%", func() bool { return strings.Contains(p.output(), "progress: 20%") })
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 60*time.Second); code != exitCanceled {
		t.Fatalf("exit %d after SIGINT, want 130:\n%s", code, p.output())
	}
	run, status := finished(t, p.output())
	if status != "canceled" {
		t.Errorf("finished %s %s", run, status)
	}
	rs, steps := e.stepStatuses(run)
	if rs != workflow.StatusCanceled || steps["cassandra-1/repair-scalar"] != workflow.StatusCanceled || steps["cassandra-2/repair-scalar"] != workflow.StatusSkipped {
		t.Errorf("journal %s %v", rs, steps)
	}
	if e.lockHeld() {
		t.Error("SIGINT left the cluster lock")
	}
	waitFor(t, 10*time.Second, "the remote repair to be stopped", func() bool { return len(e.d.Processes()) == 0 })
	if rs := e.repairs("cassandra-1", "scalar"); len(rs) != 1 || rs[0].Outcome == "completed" {
		t.Errorf("cassandra-1's repair after SIGINT: %+v", rs)
	}
	e.wantRepairs("cassandra-2", "")
	e.wantRepairs("cassandra-3", "")
}

// runIDPattern is a run ID's shape (UTC minute, workflow, random suffix),
// checked by shape so that no test depends on today's date.
var runIDPattern = regexp.MustCompile(`^\d{8}-\d{4}-[a-z-]+-[0-9a-f]+$`)
