package main

// Headless tests of the runbook commands against the demo deployment, whose
// monitor runs the real alert rules in a PromQL engine and an Alertmanager.

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/demoenv"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/health"
	"scalar-tui/ops/runbook"
	"scalar-tui/ops/sshx"
)

// runbookEnv is a demo plus the console's state and lock paths.
type runbookEnv struct {
	*demoenv.Env
	t        *testing.T
	lockPath string
}

func startRunbookEnv(t *testing.T, o demo.Options) *runbookEnv {
	t.Helper()
	e := &runbookEnv{Env: demoenv.Start(t, o), t: t, lockPath: filepath.Join(t.TempDir(), "scalar-tui.lock")}
	oldTTY := stdinIsTerminal
	stdinIsTerminal = func(io.Reader) bool { return false }
	t.Cleanup(func() { stdinIsTerminal = oldTTY })
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	return e
}

// cli runs a runbook command (global flags and --lock-path added).
func (e *runbookEnv) cli(words ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--tf-root", e.D.TFRoot, "--known-hosts", e.D.KnownHosts, "--identity", e.D.Identity}, words...)
	if words[0] != "reachability" {
		args = append(args, "--lock-path", e.lockPath)
	}
	out, errOut, err := runCLI(ctx, args...)
	return out, errOut, exitCodeOf(err)
}

// The "Done when", headless: cassandra-2 stopped, the alert fires,
// `restart-cassandra --yes --json` starts it inside a silence, the node is
// UN and the alert clears; the silence is expired at the end.
func TestRestartCassandraHeadlessClearsAlert(t *testing.T) {
	e := startRunbookEnv(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Fault: "cassandra-2:cassandra-stopped"})
	e.WaitFiring(t, "CassandraProcessStopped", "cassandra-2", 30*time.Second)

	out, errOut, code := e.cli("restart-cassandra", "--host", "cassandra-2", "--yes", "--json", "--gate-interval", "200ms", "--gate-deadline", "30s")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, status := finished(t, out); status != "done" {
		t.Fatalf("finished %q\n%s", status, out)
	}
	if !e.Sim(t).Host("cassandra-2").Cassandra.Active {
		t.Error("cassandra-2 not active")
	}
	if firing, err := e.Firing(context.Background(), "CassandraProcessStopped", "cassandra-2"); firing || err != nil {
		t.Errorf("alert still firing: %v %v", firing, err)
	}
	for _, want := range []string{`"step":"cassandra-2/start-cassandra"`, `"step":"cassandra-2/alert-clear"`, "expired"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestRestartCassandraDryRunAndBadInput(t *testing.T) {
	e := startRunbookEnv(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Fault: "cassandra-2:cassandra-stopped"})
	out, errOut, code := e.cli("restart-cassandra", "--host", "cassandra-2", "--dry-run")
	if code != exitOK {
		t.Fatalf("dry run: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"$ sudo systemctl start cassandra", "others-UN", "silence-alerts", "alert-clear", "dry run: nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if e.Sim(t).Host("cassandra-2").Cassandra.Active {
		t.Error("dry run started cassandra-2")
	}
	for _, args := range [][]string{
		{"restart-cassandra", "--yes"},
		{"restart-cassandra", "--host", "envoy-1", "--yes"},
		{"restart-cassandra", "--host", "cassandra-2", "--health-gate", "nope"},
		{"restart-cassandra", "--host", "cassandra-2", "--gate-interval", "0s"},
	} {
		if _, errOut, code := e.cli(args...); code != exitBadInput {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, exitBadInput)
		}
	}
	// Without --yes and without a terminal: refused, nothing done.
	if _, _, code := e.cli("restart-cassandra", "--host", "cassandra-2"); code != exitBadInput {
		t.Errorf("no --yes, no terminal: exit %d", code)
	}
	if e.Sim(t).Host("cassandra-2").Cassandra.Active {
		t.Error("cassandra-2 started without confirmation")
	}
}

// restart-container from the CLI: the stopped Envoy container is started
// inside a silence and the run ends done.
func TestRestartContainerHeadless(t *testing.T) {
	e := startRunbookEnv(t, demo.Options{Cassandra: 1, Blue: 1, Envoy: 1})
	out, errOut, code := e.cli("restart-container", "--host", "envoy-1", "--dry-run")
	if code != exitOK || !strings.Contains(out, "$ cd ~/provision && docker-compose up -d envoy") {
		t.Fatalf("dry run: exit %d %s\n%s", code, errOut, out)
	}
	if r, err := e.Cl.Run(context.Background(), e.Host(t, "envoy-1").Name, "docker stop provision_envoy_1", sshx.RunOptions{}); err != nil || r.ExitCode != 0 {
		t.Fatalf("docker stop: %v %d", err, r.ExitCode)
	}
	out, errOut, code = e.cli("restart-container", "--host", "envoy-1", "--yes", "--json", "--gate-interval", "200ms", "--gate-deadline", "30s")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if _, status := finished(t, out); status != "done" || !strings.Contains(out, "silence-alerts") {
		t.Fatalf("finished %q\n%s", status, out)
	}
	if !e.Sim(t).Host("envoy-1").Containers[0].Running {
		t.Error("envoy container not running")
	}
	if _, errOut, code := e.cli("restart-container", "--host", "cassandra-1", "--yes"); code != exitBadInput {
		t.Errorf("cassandra host: exit %d %s", code, errOut)
	}
}

// free-disk lists without a selection, clears with one; reachability and
// rolling-restart run headless too.
func TestFreeDiskReachabilityRollingHeadless(t *testing.T) {
	e := startRunbookEnv(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1,
		Config: func(c *sim.Config) { c.CassandraStartDelay = sim.Duration(300 * time.Millisecond) }})
	if err := sim.Update(e.D.SimState, func(st *sim.State) error {
		h := st.Host("cassandra-2")
		h.Cassandra.Snapshots = append(h.Cassandra.Snapshots, sim.SnapshotRec{Tag: "old-one", Keyspace: "scalar", Table: "asset", Bytes: 7 << 30})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.cli("free-disk", "--host", "cassandra-2")
	if code != exitOK || !strings.Contains(out, "old-one") || !strings.Contains(out, "7.00 GiB") || !strings.Contains(out, "1/3 nodes") {
		t.Fatalf("list: exit %d %s\n%s", code, errOut, out)
	}
	out, errOut, code = e.cli("free-disk", "--host", "cassandra-2", "--snapshot", "old-one", "--yes", "--json", "--gate-interval", "200ms", "--gate-deadline", "20s")
	if _, status := finished(t, out); code != exitOK || status != "done" {
		t.Fatalf("clear: exit %d %s\n%s", code, errOut, out)
	}
	if n := len(e.Sim(t).Host("cassandra-2").Cassandra.Snapshots); n != 0 {
		t.Errorf("%d snapshots left", n)
	}
	if _, _, code := e.cli("free-disk", "--host", "envoy-1"); code != exitBadInput {
		t.Errorf("free-disk on envoy: exit %d", code)
	}

	out, errOut, code = e.cli("reachability", "--host", "envoy-1")
	if code != exitOK || !strings.Contains(out, "verdict: envoy-1 is reachable now") {
		t.Fatalf("reachability: exit %d %s\n%s", code, errOut, out)
	}

	// The silence is a note, not a cluster state: a canary stop still happens
	// while it is held, and resume finishes the run (and expires the silence).
	out, errOut, code = e.cli("rolling-restart", "--canary", "--yes", "--json", "--gate-interval", "200ms", "--gate-deadline", "30s")
	run, status := finished(t, out)
	if code != exitOK || status != "canary-wait" {
		t.Fatalf("rolling-restart --canary: exit %d, %s %s\n%s", code, status, errOut, out)
	}
	out, errOut, code = e.cli("resume", run, "--yes", "--json")
	if _, status := finished(t, out); code != exitOK || status != "done" || !strings.Contains(out, `"step":"expire-silence"`) {
		t.Fatalf("resume after the canary: exit %d %s %s\n%s", code, status, errOut, out)
	}
	out, errOut, code = e.cli("rolling-restart", "--yes", "--json", "--host", "cassandra-3", "--gate-interval", "200ms", "--gate-deadline", "30s")
	if _, status := finished(t, out); code != exitOK || status != "done" || !strings.Contains(out, `"step":"cassandra-3/drain"`) {
		t.Fatalf("rolling-restart: exit %d %s\n%s", code, errOut, out)
	}
}

// What the console will run for each alert parses and plans on the demo:
// runbook.For's Args with --dry-run exit 0 and print the plan.
func TestRunbookActionsDryRun(t *testing.T) {
	e := startRunbookEnv(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1})
	host := func(short string) string { return e.Host(t, short).Name }
	for _, a := range []health.Alert{
		{Name: "CassandraProcessStopped", Instance: host("cassandra-2") + ":9100"},
		{Name: "CassandraDriveSpaceLow", Instance: host("cassandra-1") + ":9100"},
		{Name: "InstanceDown", Instance: host("envoy-1") + ":9100"},
		{Name: "ScalarDLContainerDown", Instance: host("scalardl-blue-1") + ":18080"},
		{Name: "ReaperContainerDown", Instance: host("reaper-1") + ":18080"},
		{Name: "AlertmanagerContainerDown", Instance: host("monitor-1") + ":18080"},
	} {
		act, ok := runbook.For(a)
		if !ok || !act.Runnable() {
			t.Fatalf("%s: no action", a.Name)
		}
		out, errOut, code := e.cli(append(act.Args(), "--dry-run")...)
		if code != exitOK || !(strings.Contains(out, "Plan ") || strings.Contains(out, "SNAPSHOT")) {
			t.Errorf("%s: %v: exit %d %s\n%s", a.Name, act.Args(), code, errOut, out)
		}
	}
}
