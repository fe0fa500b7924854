package main

// End-to-end tests of `backup`, `backups` and `backups clear`
// against the in-process demo (real SSH through the bastion, rpc.Admin
// through the bastion, the simulator's tools). Each checks the simulator's
// final state, not only the exit code.

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
)

// startOpsEnv starts a demo with 3 Cassandra, 3 blue and 1 Envoy hosts.
func startOpsEnv(t *testing.T, fault string) *repairEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{Cassandra: 3, Blue: 3, Envoy: 1, Fault: fault,
		Config: func(c *sim.Config) {
			c.ServingDelay = sim.Duration(500 * time.Millisecond)
			c.PauseDrain = sim.Duration(100 * time.Millisecond)
		}})
	if err != nil {
		t.Fatalf("start demo: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	e := &repairEnv{t: t, d: d, state: t.TempDir(), lockPath: filepath.Join(t.TempDir(), "scalar-tui.lock")}
	t.Setenv("XDG_STATE_HOME", e.state)
	return e
}

func (e *repairEnv) opsCLI(ctx context.Context, words ...string) (string, string, int) {
	e.t.Helper()
	a := append(e.global(), words...)
	if words[0] != "backups" || (len(words) > 1 && words[1] == "clear") {
		a = append(a, "--lock-path", e.lockPath)
	}
	out, errOut, err := runCLI(ctx, a...)
	return out, errOut, exitCodeOf(err)
}

func (e *repairEnv) pausedHosts() []string {
	var out []string
	for _, h := range e.simState().HostsByRole("scalardl") {
		if h.Paused {
			out = append(out, h.Short)
		}
	}
	return out
}

func (e *repairEnv) snapshotHosts(tag string) []string {
	var out []string
	for _, h := range e.simState().HostsByRole(sim.RoleCassandra) {
		for _, s := range h.Cassandra.Snapshots {
			if s.Tag == tag {
				out = append(out, h.Short)
				break
			}
		}
	}
	return out
}

func TestBackupCLIEndToEnd(t *testing.T) {
	e := startOpsEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	out, errOut, code := e.opsCLI(ctx, "backup", "--dry-run", "--tag", "t1")
	if code != 0 || !strings.Contains(out, "$ nodetool snapshot -t t1 scalar coordinator") || !strings.Contains(out, "rpc.Admin/Pause") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = e.opsCLI(ctx, "backup", "--yes", "--json", "--tag", "t1", "--min-free-percent=-1")
	if code != 0 {
		t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
	}
	if run, st := finished(t, out); st != "done" || run == "" {
		t.Fatalf("finished %s %s", run, st)
	}
	if !strings.Contains(errOut, "Scalar DL was paused for") {
		t.Errorf("pause window not reported: %s", errOut)
	}
	if p := e.pausedHosts(); len(p) != 0 {
		t.Errorf("paused: %v", p)
	}
	if s := e.snapshotHosts("t1"); len(s) != 3 {
		t.Errorf("snapshot on %v", s)
	}

	out, errOut, code = e.opsCLI(ctx, "backups", "--json")
	if code != 0 {
		t.Fatalf("backups: %d %s %s", code, out, errOut)
	}
	var l backup.Listing
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Backups) != 1 || !l.Backups[0].Complete() {
		t.Fatalf("listing %v: %s", err, out)
	}
	out, _, _ = e.opsCLI(ctx, "backups")
	if !strings.Contains(out, "complete on 3/3") {
		t.Errorf("table: %s", out)
	}

	out, errOut, code = e.opsCLI(ctx, "backups", "clear", "t1", "--yes", "--json")
	if code != 0 {
		t.Fatalf("clear: %d\n%s\n%s", code, out, errOut)
	}
	if s := e.snapshotHosts("t1"); len(s) != 0 {
		t.Errorf("left on %v", s)
	}
}

func TestBackupCLIPauseRefusedUnpauses(t *testing.T) {
	e := startOpsEnv(t, "scalardl-blue-3:pause-refused")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code := e.opsCLI(ctx, "backup", "--yes", "--json", "--tag", "t2", "--min-free-percent=-1")
	if code != exitFailed || !strings.Contains(out+errOut, "scalardl-blue-3") {
		t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
	}
	if p := e.pausedHosts(); len(p) != 0 {
		t.Errorf("paused: %v", p)
	}
	if s := e.snapshotHosts("t2"); len(s) != 0 {
		t.Errorf("snapshots although not paused: %v", s)
	}
}

// TestBackupSIGKILLWhilePausedThenResumeUnpauses kills the console while
// Scalar DL is paused (a slow node keeps the pause step busy), then checks
// that `resume` unpauses first and refuses to pause a second time.
func TestBackupSIGKILLWhilePausedThenResumeUnpauses(t *testing.T) {
	bin := cliBinary(t)
	e := startOpsEnv(t, "")
	if err := sim.InjectFault(e.d.SimState, "scalardl-blue-2", sim.FaultSlow, "60"); err != nil {
		t.Fatal(err)
	}
	p := e.start(bin, "backup", "--yes", "--json", "--tag", "k1", "--min-free-percent=-1", "--lock-path", e.lockPath)
	waitFor(t, 60*time.Second, "Scalar DL paused", func() bool { return len(e.pausedHosts()) == 3 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %d after SIGKILL", code)
	}
	if n := len(e.pausedHosts()); n != 3 {
		t.Fatalf("after SIGKILL %d nodes paused, want 3 (the test must kill while paused)", n)
	}
	run := ""
	for _, ev := range events(t, p.output()) {
		if ev["type"] == "plan" {
			run = ev["run"].(string)
		}
	}
	st, err := workflow.LoadRun(e.stateDir(), run)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Markers[workflow.MarkerScalarDLPaused]; !ok {
		t.Fatalf("journal after SIGKILL has no paused marker: %+v", st.Markers)
	}
	if err := sim.ClearFault(e.d.SimState, "scalardl-blue-2", sim.FaultSlow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code := e.cli(ctx, "resume", run, "--yes", "--json")
	if code != exitFailed || !strings.Contains(out, "compensate-unpause") || !strings.Contains(out+errOut, "already paused Scalar DL once") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if p := e.pausedHosts(); len(p) != 0 {
		t.Errorf("still paused after resume: %v", p)
	}
	if s := e.snapshotHosts("k1"); len(s) != 0 {
		t.Errorf("snapshots taken outside a pause: %v", s)
	}
}

// TestBackupCLISSHDropWhilePausingUnpauses drops every SSH connection of the
// bastion while one node's Pause is still draining: the run must fail and
// leave nothing paused (the unpause goes through a new bastion connection).
func TestBackupCLISSHDropWhilePausingUnpauses(t *testing.T) {
	e := startOpsEnv(t, "")
	if err := sim.InjectFault(e.d.SimState, "scalardl-blue-2", sim.FaultSlow, "60"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := e.opsCLI(ctx, "backup", "--yes", "--json", "--tag", "d1", "--min-free-percent=-1")
		done <- result{out, errOut, code}
	}()
	waitFor(t, 60*time.Second, "Scalar DL paused", func() bool { return len(e.pausedHosts()) == 3 })
	e.d.Bastion().KillConnections()
	var r result
	select {
	case r = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("backup did not finish after the drop")
	}
	if r.code != exitFailed || !strings.Contains(r.out+r.errOut, "unpaused again") {
		t.Fatalf("backup: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if p := e.pausedHosts(); len(p) != 0 {
		t.Errorf("still paused after the drop: %v", p)
	}
	if s := e.snapshotHosts("d1"); len(s) != 0 {
		t.Errorf("snapshots although the pause failed: %v", s)
	}
}
