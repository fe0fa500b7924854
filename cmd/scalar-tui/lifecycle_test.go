package main

// Run lifecycle and per-deployment state: every run ends cleanly (signals,
// the console's quit), says what it left, and is kept with its own
// deployment.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow"
)

// TestRunsPerDeploymentAndDiscard: two demo deployments share one
// $XDG_STATE_HOME. A failed repair of the first is listed (and offered)
// only with the first's flags; `runs --all` lists it with its deployment;
// `runs discard` stops offering it, and resume refuses it.
func TestRunsPerDeploymentAndDiscard(t *testing.T) {
	a := startRepairEnv(t, "cassandra-2:repair-fails", 500*time.Millisecond)
	b := startRepairEnv(t, "", 500*time.Millisecond)
	b.state = a.state // one operator, one state root
	t.Setenv("XDG_STATE_HOME", a.state)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code := a.cli(ctx, append(fastRepair, "--health-gate", "off")...)
	if code != exitFailed {
		t.Fatalf("repair on A: exit %d\n%s\n%s", code, out, errOut)
	}
	run, status := finished(t, out)
	if status != "failed" {
		t.Fatalf("repair on A finished %s", status)
	}
	if _, err := os.Stat(workflow.JournalPath(a.stateDir(), run)); err != nil {
		t.Fatalf("journal not in A's deployment dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.state, "scalar-tui", "runs")); err == nil {
		t.Error("a journal was written to the shared runs/ of every deployment")
	}
	if ents, _ := workflow.ReadAudit(a.stateDir(), workflow.AuditFilter{Run: run}); len(ents) == 0 {
		t.Error("A's audit log has no entry of the run")
	}

	outA, _, code := a.cli(ctx, "runs")
	if code != 0 || !strings.Contains(outA, run) || !strings.Contains(outA, "failed") {
		t.Errorf("runs on A: exit %d\n%s", code, outA)
	}
	outB, _, code := b.cli(ctx, "runs")
	if code != 0 || strings.Contains(outB, run) {
		t.Errorf("runs on B shows A's run: exit %d\n%s", code, outB)
	}
	all, _, code := b.cli(ctx, "runs", "--all")
	if code != 0 || !strings.Contains(all, run) || !strings.Contains(all, "scalar-tui-demo via "+a.d.BastionAddr) {
		t.Errorf("runs --all: exit %d\n%s", code, all)
	}
	if _, _, err := runCLI(ctx, b.args("resume", run, "--yes")...); exitCodeOf(err) != exitBadInput ||
		!strings.Contains(err.Error(), "belongs to scalar-tui-demo via "+a.d.BastionAddr) {
		t.Errorf("resume of A's run on B: %v", err)
	}

	o, e, code := a.cli(ctx, "runs", "discard", run, "--note", "superseded")
	if code != 0 || !strings.Contains(o, "discarded") {
		t.Fatalf("runs discard: exit %d\n%s\n%s", code, o, e)
	}
	st, err := workflow.LoadRun(a.stateDir(), run)
	if err != nil || st.Status != workflow.StatusDiscarded || !strings.Contains(st.Discarded, "superseded") {
		t.Fatalf("journal after discard: %+v %v", st, err)
	}
	if _, _, code := a.cli(ctx, "resume", run, "--yes", "--json"); code == 0 {
		t.Error("a discarded run was resumed")
	}
	show, _, _ := a.cli(ctx, "runs", "show", run)
	if !strings.Contains(show, "discarded: by ") || strings.Contains(show, "Continue with") {
		t.Errorf("runs show of a discarded run:\n%s", show)
	}
}

// TestRepairSignalsEndCleanly: SIGINT, SIGTERM and SIGHUP during a repair
// (the binary as its own process, on the demo) each stop the remote repair,
// journal `canceled`, release the lock and exit 130.
func TestRepairSignalsEndCleanly(t *testing.T) {
	bin := cliBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			e := startRepairEnv(t, "", 4*time.Second)
			p := e.start(bin, append(fastRepair, "--health-gate", "off")...)
			waitFor(t, 60*time.Second, "cassandra-1's repair at 20%", func() bool { return strings.Contains(p.output(), "progress: 20%") })
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t, 60*time.Second); code != exitCanceled {
				t.Fatalf("exit %d after %s, want 130:\n%s", code, sig, p.output())
			}
			run, status := finished(t, p.output())
			if status != "canceled" {
				t.Errorf("finished %s %s", run, status)
			}
			if rs, _ := e.stepStatuses(run); rs != workflow.StatusCanceled {
				t.Errorf("journal %s", rs)
			}
			if e.lockHeld() {
				t.Errorf("%s left the cluster lock", sig)
			}
			waitFor(t, 10*time.Second, "the remote repair to be stopped", func() bool { return len(e.d.Processes()) == 0 })
		})
	}
}

// TestBackupSIGHUPDuringPauseUnpauses: the terminal closing while Scalar DL
// is paused for a backup unpauses every node, journals `canceled` and
// releases the lock.
func TestBackupSIGHUPDuringPauseUnpauses(t *testing.T) {
	bin := cliBinary(t)
	// blue-3 drains slowly, so the signal lands while the others are paused.
	d, err := demo.Start(context.Background(), demo.Options{Cassandra: 3, Blue: 3, Envoy: 1, Fault: "scalardl-blue-3:slow:20",
		Config: func(c *sim.Config) { c.PauseDrain = sim.Duration(time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	e := &repairEnv{t: t, d: d, state: t.TempDir(), lockPath: filepath.Join(t.TempDir(), "scalar-tui.lock")}
	t.Setenv("XDG_STATE_HOME", e.state)
	p := e.start(bin, "backup", "--yes", "--json", "--min-free-percent=-1", "--tag", "sighup")
	waitFor(t, 60*time.Second, "Scalar DL paused", func() bool { return len(e.pausedHosts()) > 0 })
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, 60*time.Second)
	run, status := finished(t, p.output())
	if code != exitCanceled || status != "canceled" {
		t.Fatalf("exit %d (%s) after SIGHUP:\n%s", code, status, p.output())
	}
	if ph := e.pausedHosts(); len(ph) != 0 {
		t.Errorf("still paused after SIGHUP: %v", ph)
	}
	if e.lockHeld() {
		t.Error("SIGHUP left the cluster lock")
	}
	st, err := workflow.LoadRun(e.stateDir(), run)
	if err != nil {
		t.Fatal(err)
	}
	if _, paused := st.Markers[workflow.MarkerScalarDLPaused]; paused || st.Status == workflow.StatusRunning {
		t.Errorf("journal: %s, markers %v", st.Status, st.Markers)
	}
}

// consoleDemo is `scalar-tui demo --state DIR` in a private tmux server.
type consoleDemo struct {
	*tmuxSession
	bin, dir, xdg, marker string
}

func startConsoleDemo(t *testing.T, bin, dir, xdg, name string) *consoleDemo {
	t.Helper()
	c := &consoleDemo{tmuxSession: &tmuxSession{t: t, socket: fmt.Sprintf("stui-life-%d-%s", os.Getpid(), name)},
		bin: bin, dir: dir, xdg: xdg, marker: filepath.Join(t.TempDir(), "exited")}
	cmd := fmt.Sprintf("XDG_STATE_HOME=%s %s demo --state %s; echo $? > %s; sleep 60", xdg, bin, dir, c.marker)
	c.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "35", cmd)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", c.socket, "kill-server").Run() })
	return c
}

// waitScreen polls the screen for want, with no failure words (a canceled
// run is what these tests expect to see).
func (c *consoleDemo) waitScreen(want string, timeout time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := c.screen()
		if strings.Contains(scr, want) {
			return scr
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("screen never showed %q within %s; last screen:\n%s", want, timeout, scr)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// exitCode waits for the demo's exit code.
func (c *consoleDemo) exitCode(timeout time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(c.marker); err == nil {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the console did not exit; screen:\n%s", c.screen())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startRepair presses R and confirms; it returns once the run is going.
func (c *consoleDemo) startRepair() {
	c.t.Helper()
	c.waitScreen("Cassandra 3/3 active", 60*time.Second)
	c.keys("R")
	c.waitScreen("nodetool repair -full -pr coordinator", 30*time.Second)
	c.keys("Enter")
	c.waitScreen("[ Cancel ]", 10*time.Second)
	c.keys("y")
	c.waitScreen("running", 30*time.Second)
}

// waitRepairing waits until the first repair's output is on screen.
func (c *consoleDemo) waitRepairing() { c.t.Helper(); c.waitScreen("Repair session", 60*time.Second) }

// pid is the scalar-tui process in the pane (the shell's child).
func (c *consoleDemo) pid() int {
	c.t.Helper()
	sh := strings.TrimSpace(c.tmux("display", "-p", "-t", "t", "#{pane_pid}"))
	b, err := os.ReadFile("/proc/" + sh + "/task/" + sh + "/children")
	if err != nil {
		c.t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		c.t.Fatalf("no child of the pane's shell %s", sh)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		c.t.Fatal(err)
	}
	return pid
}

// demoRuns returns the runs journalled in the demo's own state.
func demoRuns(t *testing.T, dir string) ([]workflow.RunState, string) {
	t.Helper()
	deps, _ := filepath.Glob(filepath.Join(dir, "state", "deployments", "*"))
	if len(deps) != 1 {
		t.Fatalf("demo deployment dirs %v, want one", deps)
	}
	runs, err := workflow.List(deps[0])
	if err != nil {
		t.Fatal(err)
	}
	return runs, deps[0]
}

// checkEndedCleanly: one repair run, canceled, its lock released, nothing
// under $XDG_STATE_HOME, and the machine-wide lock path never used.
func checkEndedCleanly(t *testing.T, c *consoleDemo) workflow.RunState {
	t.Helper()
	runs, depDir := demoRuns(t, c.dir)
	if len(runs) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	r := runs[0]
	if r.Status != workflow.StatusCanceled || workflow.DisplayStatus(depDir, &r) != workflow.StatusCanceled {
		t.Errorf("run %s is %s (%s), want canceled", r.ID, r.Status, r.Error)
	}
	if locks, _ := filepath.Glob(filepath.Join(c.dir, "locks", "*.lock")); len(locks) != 0 {
		t.Errorf("the cluster lock is still held: %v", locks)
	}
	if ents, _ := os.ReadDir(c.xdg); len(ents) != 0 {
		t.Errorf("the demo wrote into $XDG_STATE_HOME: %v", ents)
	}
	audit, err := os.ReadFile(filepath.Join(depDir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(audit), workflow.DefaultLockPath) {
		t.Error("the demo used the machine-wide lock path")
	}
	if !strings.Contains(string(audit), filepath.Join(c.dir, "locks")) {
		t.Error("the audit log shows no lock under the demo's directory")
	}
	return r
}

// TestConsoleQuitDuringRunInTmux: as a new operator would: R → y, then q →
// y during the run. The console shows "canceling…", waits for the cleanup
// and exits; the run is canceled with its lock released, everything in the
// demo's directory. Started again on the same --state, the console offers
// the canceled run and resuming it finishes it (nothing is held).
func TestConsoleQuitDuringRunInTmux(t *testing.T) {
	requireTmux(t)
	bin := cliBinary(t)
	dir, xdg := t.TempDir(), t.TempDir()
	c := startConsoleDemo(t, bin, dir, xdg, "quit")
	c.startRepair()
	c.waitRepairing()
	c.keys("q")
	c.waitScreen("Quit and cancel the running workflow?", 10*time.Second)
	c.keys("y")
	if code := c.exitCode(2 * time.Minute); code != "0" {
		t.Fatalf("exit %s after quit; screen:\n%s", code, c.screen())
	}
	if scr := c.screen(); !strings.Contains(scr, "files kept in "+dir) {
		t.Errorf("demo did not report keeping its files:\n%s", scr)
	}
	r := checkEndedCleanly(t, c)
	waitServerSideRepairsEnd(t, filepath.Join(dir, "sim"), 2*time.Minute)

	// Start again on the same directory: the run is offered and resumes.
	c2 := startConsoleDemo(t, bin, dir, xdg, "again")
	c2.waitScreen(r.ID, 60*time.Second)
	c2.keys("r")
	c2.waitScreen("[ Cancel ]", 10*time.Second)
	c2.keys("y")
	c2.waitScreen("✓ done", 3*time.Minute)
	runs, _ := demoRuns(t, dir)
	if len(runs) != 1 || runs[0].ID != r.ID || runs[0].Status != workflow.StatusDone {
		t.Errorf("after resume: %+v", runs)
	}
	c2.keys("Escape")
	// Sent together, Escape and q read as alt+q: wait for the overview.
	c2.waitScreen("[overview]", 30*time.Second)
	c2.keys("q")
	if code := c2.exitCode(time.Minute); code != "0" {
		t.Fatalf("second console exit %s", code)
	}
}

// TestConsoleSignalsDuringRunInTmux: SIGINT, SIGTERM and SIGHUP to the
// console during a run end it like quit: cleanup, canceled, lock released,
// exit 130.
func TestConsoleSignalsDuringRunInTmux(t *testing.T) {
	requireTmux(t)
	bin := cliBinary(t)
	for _, tc := range []struct {
		sig   syscall.Signal
		early bool // right after the run starts (lock, preflight), not mid-repair
	}{{syscall.SIGINT, false}, {syscall.SIGTERM, false}, {syscall.SIGHUP, false}, {syscall.SIGTERM, true}, {syscall.SIGHUP, true}} {
		sig := tc.sig
		name := sig.String()
		if tc.early {
			name += " early"
		}
		t.Run(name, func(t *testing.T) {
			dir, xdg := t.TempDir(), t.TempDir()
			c := startConsoleDemo(t, bin, dir, xdg, strings.ReplaceAll(name, " ", "-"))
			c.startRepair()
			if !tc.early {
				c.waitRepairing()
			}
			if err := syscall.Kill(c.pid(), sig); err != nil {
				t.Fatal(err)
			}
			if code := c.exitCode(2 * time.Minute); code != "130" {
				t.Fatalf("exit %s after %s; screen:\n%s", code, sig, c.screen())
			}
			checkEndedCleanly(t, c)
		})
	}
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			t.Fatalf("tmux is required (SCALAR_TUI_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skip("tmux not installed")
	}
}

// TestBackupSIGKILLWhilePausedShowsCrashed: a console killed between Pause
// and Unpause leaves a journal that says "running". `runs` shows it as
// crashed, first, with the one command that unpauses, and that command does.
func TestBackupSIGKILLWhilePausedShowsCrashed(t *testing.T) {
	e, run := backupKilledWhilePaused(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _, code := e.cli(ctx, "runs")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 2 || !strings.HasPrefix(lines[0], "!! run "+run) ||
		!strings.Contains(lines[0], "PAUSED: run `scalar-tui resume "+run+"`") {
		t.Fatalf("runs after SIGKILL while paused: exit %d\n%s", code, out)
	}
	if !regexp.MustCompile(regexp.QuoteMeta(run) + `\s+backup\s+crashed\s`).MatchString(out) {
		t.Errorf("run not shown crashed:\n%s", out)
	}
	if len(e.pausedHosts()) == 0 {
		t.Fatal("nothing paused: the kill did not land while paused")
	}
	// The resume unpauses first; the backup itself then refuses to pause a
	// second time (exit 1), which is the backup's own rule.
	o, errOut, code := e.cli(ctx, "resume", run, "--yes", "--json")
	if !strings.Contains(o, "marker scalardl-paused is set: running") {
		t.Fatalf("resume did not compensate first: exit %d\n%s\n%s", code, o, errOut)
	}
	if ph := e.pausedHosts(); len(ph) != 0 {
		t.Errorf("still paused after the resume: %v", ph)
	}
}

// TestRepairLeftDetachedOnPurpose: with --leave-running-on-cancel, SIGTERM
// during a repair leaves the remote repair running on purpose: the run is
// `detached` in the journal and in `runs`, the lock stays and says which run
// holds it and why, and `resume` re-attaches and finishes without starting
// the repair again.
func TestRepairLeftDetachedOnPurpose(t *testing.T) {
	bin := cliBinary(t)
	e := startRepairEnv(t, "", 4*time.Second)
	p := e.start(bin, append(fastRepair, "--health-gate", "off", "--leave-running-on-cancel")...)
	waitFor(t, 60*time.Second, "cassandra-1's repair at 20%", func() bool { return strings.Contains(p.output(), "progress: 20%") })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 60*time.Second); code != exitCanceled {
		t.Fatalf("exit %d, want 130:\n%s", code, p.output())
	}
	run, status := finished(t, p.output())
	if status != "detached" {
		t.Fatalf("finished %s %s", run, status)
	}
	if len(e.d.Processes()) == 0 {
		t.Fatal("the remote repair was stopped")
	}
	if !e.lockHeld() {
		t.Fatal("the detached run released the lock")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _, _ := e.cli(ctx, "runs")
	if !strings.Contains(out, "detached") || !strings.Contains(out, "left running on purpose") {
		t.Errorf("runs:\n%s", out)
	}
	out, _, _ = e.cli(ctx, "unlock")
	if !strings.Contains(out, "run "+run) || !strings.Contains(out, "left detached on purpose") {
		t.Errorf("unlock:\n%s", out)
	}
	out, errOut, code := e.cli(ctx, "resume", run, "--yes", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, `"step":"cassandra-1/repair-scalar"`) || !strings.Contains(out, `"reattach":true`) {
		t.Errorf("resume did not re-attach:\n%s", out)
	}
	if n := e.repairStarts(run, fqdn("cassandra-1"), "scalar"); n != 1 {
		t.Errorf("cassandra-1's scalar repair started %d times, want 1", n)
	}
	e.wantRepairs("cassandra-1", "scalar", "completed")
	if e.lockHeld() {
		t.Error("lock left after the resumed run")
	}
}

// backupKilledWhilePaused starts a backup as its own process and SIGKILLs
// it while Scalar DL is paused; it returns the env and the run ID.
func backupKilledWhilePaused(t *testing.T) (*repairEnv, string) {
	t.Helper()
	bin := cliBinary(t)
	d, err := demo.Start(context.Background(), demo.Options{Cassandra: 3, Blue: 3, Envoy: 1, Fault: "scalardl-blue-3:slow:20",
		Config: func(c *sim.Config) { c.PauseDrain = sim.Duration(time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	e := &repairEnv{t: t, d: d, state: t.TempDir(), lockPath: filepath.Join(t.TempDir(), "scalar-tui.lock")}
	t.Setenv("XDG_STATE_HOME", e.state)
	p := e.start(bin, "backup", "--yes", "--json", "--min-free-percent=-1", "--tag", "killed")
	waitFor(t, 60*time.Second, "Scalar DL paused", func() bool { return len(e.pausedHosts()) > 0 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 30*time.Second)
	run := ""
	for _, ev := range events(t, p.output()) {
		if ev["type"] == "plan" {
			run = ev["run"].(string)
		}
	}
	if len(e.pausedHosts()) == 0 {
		t.Fatal("nothing paused: the kill did not land while paused")
	}
	return e, run
}

// TestTakeOverDeadRunFromAnotherMachine: the laptop that ran a backup died
// while Scalar DL was paused. A second operator (another machine: another
// local state) is refused `unlock --force`, told to take the run over, and
// `resume ID --takeover` (the journal comes from the bastion) unpauses.
func TestTakeOverDeadRunFromAnotherMachine(t *testing.T) {
	e, run := backupKilledWhilePaused(t)
	// The second operator's machine: empty local state.
	e.state = t.TempDir()
	t.Setenv("XDG_STATE_HOME", e.state)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mirrored, _ := filepath.Glob(e.lockPath + ".runs/*")
	t.Logf("mirrored journals: %v", mirrored)
	_, _, err := runCLI(ctx, e.args("unlock", "--force")...)
	if exitCodeOf(err) != exitFailed || !strings.Contains(err.Error(), "scalar-tui resume "+run+" --takeover") {
		t.Fatalf("unlock --force while a dead run left Scalar DL paused: %v", err)
	}
	if !e.lockHeld() {
		t.Fatal("unlock --force broke the lock of a run that left Scalar DL paused")
	}
	// The dead run is not in this machine's journal, but on the bastion.
	if out, _, _ := e.cli(ctx, "runs"); strings.Contains(out, run) {
		t.Errorf("runs on the second machine shows the first one's run from its own journal:\n%s", out)
	}
	if out, errOut, code := e.cli(ctx, "runs", "--bastion", "--lock-path", e.lockPath); code != 0 || !strings.Contains(out, run) {
		t.Errorf("runs --bastion: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, _, code := e.cli(ctx, "resume", run, "--yes", "--json"); code != exitBadInput {
		t.Errorf("resume without --takeover on another machine: exit %d", code)
	}
	out, errOut, _ := e.cli(ctx, "resume", run, "--yes", "--json", "--takeover")
	if !strings.Contains(errOut, "took over run "+run) || !strings.Contains(out, "marker scalardl-paused is set: running") {
		t.Fatalf("resume --takeover:\n%s\n%s", out, errOut)
	}
	if ph := e.pausedHosts(); len(ph) != 0 {
		t.Errorf("still paused after the takeover: %v", ph)
	}
	if e.lockHeld() {
		t.Error("lock left after the takeover run")
	}
}

// waitServerSideRepairsEnd waits until no simulated Cassandra node in the
// simulator state simDir is still repairing: a canceled repair stops only
// the nodetool client, and a new or resumed repair is refused while
// Cassandra's own repair goes on (issue 12 item 1).
func waitServerSideRepairsEnd(t *testing.T, simDir string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(250 * time.Millisecond) {
		st, err := sim.Load(simDir)
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, h := range st.HostsByRole(sim.RoleCassandra) {
			active += len(st.ActiveRepairs(h, time.Now()))
		}
		if active == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server-side repairs still running after %s", active, within)
		}
	}
}
