package main

// Issue 12, item 1: operators must not collide on one node. A repair's
// nodetool client can die (Ctrl-C, a SIGKILLed console) while Cassandra goes
// on repairing on the server side; a new repair, a resume and unlock --force
// must see that. Against the in-process demo (real SSH, the simulator's
// nodetool, whose server-side repair outlives its client).

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"scalar-tui/internal/sim"
)

// status runs `repair status ARGS...` (which takes no --lock-path).
func (e *repairEnv) status(ctx context.Context, args ...string) (string, string, int) {
	e.t.Helper()
	out, errOut, err := runCLI(ctx, append(append(e.global(), "repair", "status"), args...)...)
	return out, errOut, exitCodeOf(err)
}

// runStarted returns the run ID of the plan event in out.
func runStarted(t *testing.T, out string) string {
	t.Helper()
	for _, ev := range events(t, out) {
		if ev["type"] == "plan" {
			return ev["run"].(string)
		}
	}
	t.Fatalf("no plan event in:\n%s", out)
	return ""
}

func TestRepairCtrlCSaysTheServerSideRepairGoesOn(t *testing.T) {
	e := startRepairEnv(t, "", 15*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var out, errOut lockedBuffer
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(e.args(append(fastRepair, "--health-gate", "off", "--keyspace", "scalar", "--host", "cassandra-1")...))
		done <- root.ExecuteContext(runCtx)
	}()
	waitFor(t, 60*time.Second, "cassandra-1's repair at 10%", func() bool { return strings.Contains(out.String(), "progress: 10%") })
	run := runStarted(t, out.String())
	stopRun() // what Ctrl-C does
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatal("the canceled run did not return")
	}
	if exitCodeOf(err) != exitCanceled {
		t.Fatalf("canceled run: %v (exit %d), want 130", err, exitCodeOf(err))
	}
	msg := err.Error()
	for _, want := range []string{"stopped only the nodetool client", "Cassandra goes on repairing on the server side",
		"cassandra-1: Cassandra is validating scalar.asset", "`scalar-tui repair status --wait`", "`scalar-tui resume " + run + "`"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the cancel message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "the remote command was stopped") {
		t.Errorf("the cancel message claims the remote repair stopped:\n%s", msg)
	}
	if !strings.Contains(errOut.String(), "stopping the nodetool client (this does not stop Cassandra's server-side repair)") {
		t.Errorf("stderr at cancel: %s", errOut.String())
	}
	if e.lockHeld() {
		t.Error("the canceled run left the lock")
	}

	// Resuming now would start a second repair on top of the running one.
	o, _, code := e.cli(ctx, "resume", run, "--yes", "--json")
	if code != exitFailed {
		t.Fatalf("resume while the server-side repair runs: exit %d, want 1\n%s", code, o)
	}
	if _, status := finished(t, o); status != "refused" || !strings.Contains(o, "a repair is already running") || !strings.Contains(o, "cassandra-1: Cassandra is validating scalar.asset") {
		t.Errorf("resume while the server-side repair runs: %s\n%s", status, o)
	}
	if rs := e.repairs("cassandra-1", "scalar"); len(rs) != 1 {
		t.Fatalf("cassandra-1 coordinated %d repairs, want only the first: %+v", len(rs), rs)
	}

	// `repair status` shows it; --wait returns once Cassandra is done.
	o, _, code = e.status(ctx)
	if code != 0 || !strings.Contains(o, "running on the cluster:") || !strings.Contains(o, "cassandra-2: Cassandra is validating scalar.asset") {
		t.Errorf("repair status: exit %d\n%s", code, o)
	}
	o, _, code = e.status(ctx, "--wait", "--interval", "200ms", "--timeout", "2m")
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(o), "no repair is running on the cluster") {
		t.Fatalf("repair status --wait: exit %d\n%s", code, o)
	}

	// Then resume runs the repair again, once.
	o, errS, code := e.cli(ctx, "resume", run, "--yes", "--json")
	if code != 0 {
		t.Fatalf("resume after the wait: exit %d\n%s\n%s", code, o, errS)
	}
	e.wantRepairs("cassandra-1", "scalar", "", "completed")
	e.wantRepairs("cassandra-2", "")
}

// testRepairKilledUnlockForce: a console SIGKILLed mid-repair leaves its lock
// and its detached repair; `unlock --force` (which the lock message tells the
// next operator to run) shows that repair before breaking the lock, and the
// next repair is refused instead of starting a second one on the node.
func testRepairKilledUnlockForce(t *testing.T, bin string) {
	e := startRepairEnv(t, "", 15*time.Second)
	p := e.start(bin, append(fastRepair, "--health-gate", "off", "--keyspace", "scalar", "--host", "cassandra-1")...)
	waitFor(t, 60*time.Second, "cassandra-1's repair at 10%", func() bool { return strings.Contains(p.output(), "progress: 10%") })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %d after SIGKILL", code)
	}
	run := runStarted(t, p.output())

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o, _, code := e.cli(ctx, "unlock", "--force")
	if code != 0 {
		t.Fatalf("unlock --force: exit %d\n%s", code, o)
	}
	shown := strings.Index(o, "cassandra-1: `nodetool repair -full -pr scalar` of scalar-tui run "+run+" is still running")
	broke := strings.Index(o, "broke the cluster lock held by")
	if shown < 0 || broke < 0 || shown > broke || !strings.Contains(o, "still running on the cluster") {
		t.Errorf("unlock --force does not show the orphaned repair before breaking the lock:\n%s", o)
	}
	if e.lockHeld() {
		t.Error("unlock --force left the lock")
	}

	o, _, code = e.cli(ctx, append(fastRepair, "--health-gate", "off", "--keyspace", "scalar")...)
	if code != exitFailed {
		t.Fatalf("a second repair next to the orphan: exit %d, want 1\n%s", code, o)
	}
	if _, status := finished(t, o); status != "refused" || !strings.Contains(o, "of scalar-tui run "+run+" is still running") {
		t.Errorf("a second repair next to the orphan: %s\n%s", status, o)
	}
	if rs := e.repairs("cassandra-1", "scalar"); len(rs) != 1 {
		t.Errorf("cassandra-1 coordinated %d repairs, want 1: %+v", len(rs), rs)
	}
	e.wantRepairs("cassandra-2", "")

	// Once the orphan has ended, its run resumes: re-attached, not repeated.
	if o, _, code := e.status(ctx, "--wait", "--interval", "200ms", "--timeout", "2m"); code != 0 {
		t.Fatalf("repair status --wait: exit %d\n%s", code, o)
	}
	o, errS, code := e.cli(ctx, "resume", run, "--yes", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, o, errS)
	}
	e.wantRepairs("cassandra-1", "scalar", "completed")
}

// Someone's Reaper run repairs the cluster: a nodetool repair would overlap
// it. The demo's reaper-1 serves Reaper's REST API (internal/sim/reaper.go).
func TestRepairRefusedWhileReaperRuns(t *testing.T) {
	e := startRepairEnv(t, "", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o, _, code := e.status(ctx)
	if code != 0 || strings.TrimSpace(o) != "no repair is running on the cluster" {
		t.Fatalf("repair status on an idle demo: exit %d\n%s", code, o)
	}
	run, err := sim.StartReaperRun(e.d.SimState, "scalar", "alice", "weekly repair", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := "Reaper: repair run " + run.ID + " of keyspace scalar (cluster scalardl) is RUNNING"
	o, _, code = e.cli(ctx, append(fastRepair, "--health-gate", "off")...)
	if _, status := finished(t, o); code != exitFailed || status != "refused" || !strings.Contains(o, want) {
		t.Errorf("repair while Reaper repairs: exit %d, %s\n%s", code, status, o)
	}
	for _, h := range cassandras {
		e.wantRepairs(h, "")
	}
	if o, _, code = e.status(ctx, "--json"); code != 0 || !strings.Contains(o, `"running":true`) || !strings.Contains(o, `"source":"reaper"`) {
		t.Errorf("repair status --json: exit %d\n%s", code, o)
	}
}
