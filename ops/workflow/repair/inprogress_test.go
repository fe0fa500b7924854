package repair

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"scalar-tui/ops/workflow"
)

func nodetoolFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "nodetool", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// liveProcess starts a process this test owns and returns its pid; it is
// killed (by that pid) when the test ends.
func liveProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// leaveDetached writes the run directory a detached command leaves on host
// (as workflow.ShellDetacher does): cmd.sh, pid and, when ended, rc.
func leaveDetached(t *testing.T, l *lab, host, run, step, command string, pid int, rc string) {
	t.Helper()
	dir := filepath.Join(l.lr.Dir(host), workflow.DefaultRemoteDir, run, step)
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "cmd.sh"), []byte(command+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "pid"), []byte(fmt.Sprintf("%d\n", pid)), 0o644))
	if rc != "" {
		must(t, os.WriteFile(filepath.Join(dir, "rc"), []byte(rc+"\n"), 0o644))
	}
}

func TestInProgressSources(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	c1, c2 := "cassandra-1.internal.scalar-labs.com", "cassandra-2.internal.scalar-labs.com"
	pid := liveProcess(t)
	leaveDetached(t, l, c1, "20261124-2200-repair-dead01", "cassandra-1_repair-scalar-0-1", "nodetool repair -full -pr scalar", pid, "")
	leaveDetached(t, l, c1, "20261124-2100-repair-old002", "cassandra-1_repair-scalar-0-1", "nodetool repair -full -pr scalar", pid, "0") // ended
	leaveDetached(t, l, c1, "20261124-2200-backup-0c0c0c", "cassandra-1_snapshot-0-1", "nodetool snapshot -t x", pid, "")                 // not a repair
	must(t, os.WriteFile(filepath.Join(l.lr.Dir(c2), "compactionstats.txt"), nodetoolFixture(t, "compactionstats-3.11-validation.txt"), 0o644))
	must(t, os.WriteFile(filepath.Join(l.lr.Dir(c2), "netstats.txt"), nodetoolFixture(t, "netstats-3.11-repair.txt"), 0o644))

	reaperJSON, err := os.ReadFile(filepath.Join("testdata", "reaper-1.4.8-repair_run-running.json"))
	must(t, err)
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.RequestURI())
		switch r.URL.Path {
		case "/ping", "/login":
		case "/jwt":
			fmt.Fprint(w, "tok")
		case "/repair_run":
			w.Write(reaperJSON)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	r, err := ReaperOptions{URL: srv.URL}.withDefaults(testInventory())
	must(t, err)

	acts, err := InProgress(context.Background(), ExecVia(l.lr), testInventory(), ProbeOptions{Reaper: &r})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range acts {
		got = append(got, fmt.Sprintf("%s %s run=%s ks=%s pct=%.1f", a.Host, a.Source, a.Run, a.Keyspace, a.Percent))
	}
	want := []string{
		fmt.Sprintf(" %s run=20261124-2200-repair-dead01 ks=scalar pct=-1.0", SourceDetached),
		" compactionstats run= ks=scalar pct=41.8",
		" compactionstats run= ks=scalar pct=12.5",
		" netstats run=2a9c7d40-c0a5-11ef-8f5c-6f0e2b1a0d11 ks= pct=35.7",
		" reaper run=5e0a8d30-2aa6-11ef-9a3c-3b5e0b6e2a11 ks=scalar pct=18.5",
		" reaper run=6f1b9e40-2aa6-11ef-9a3c-3b5e0b6e2a11 ks=coordinator pct=0.0",
	}
	want[0] = "cassandra-1" + want[0]
	for i := 1; i <= 3; i++ {
		want[i] = "cassandra-2" + want[i]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("activities:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(strings.Join(paths, " "), "/repair_run?state=RUNNING") {
		t.Errorf("Reaper was not asked for its RUNNING runs: %v", paths)
	}
	if s := acts[0].String(); !strings.Contains(s, "`nodetool repair -full -pr scalar` of scalar-tui run 20261124-2200-repair-dead01 is still running") || !strings.Contains(s, fmt.Sprintf("pid %d", pid)) {
		t.Errorf("detached activity reads %q", s)
	}

	// Its own run's activity is not in its way (while its own command or
	// Reaper run is alive, Cassandra's view is its own too); a dead run's is.
	if f := Foreign(acts, "20261124-2200-repair-dead01"); len(f) != 2 || f[0].Source != SourceReaper {
		t.Errorf("own live command: foreign = %v", f)
	}
	if f := Foreign(acts, "20261124-2200-repair-0a1b2c"); len(f) != 2 || f[0].Source != SourceDetached {
		t.Errorf("own Reaper run: foreign = %v", f)
	}
	if f := Foreign(acts[1:], "20261124-2200-repair-dead01"); len(f) != 5 {
		t.Errorf("own command gone (Ctrl-C): the server-side repair must count: %v", f)
	}
}

func TestInProgressFailsClosedAndReaperIsOptional(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	// Reaper down: a warning, the nodes' answer stands.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var warned []string
	acts, err := InProgress(context.Background(), ExecVia(l.lr), testInventory(), ProbeOptions{
		Reaper: &ReaperOptions{URL: url, Cluster: "scalardl"}, Warn: func(s string) { warned = append(warned, s) }})
	if err != nil || len(acts) != 0 || len(warned) != 1 || !strings.Contains(warned[0], "could not ask Reaper") {
		t.Errorf("Reaper down: %v %v %q", acts, err, warned)
	}
	// A node whose nodetool cannot answer: an error, never "idle".
	c3 := filepath.Join(l.lr.Dir("cassandra-3.internal.scalar-labs.com"), "compactionstats.txt")
	must(t, os.WriteFile(c3, nodetoolFixture(t, "status-connection-refused.txt"), 0o644))
	_, err = InProgress(context.Background(), ExecVia(l.lr), testInventory(), ProbeOptions{})
	if err == nil || !strings.Contains(err.Error(), "cassandra-3") || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("unreadable compactionstats: %v", err)
	}
}

// The defect of issue 12 item 1: a repair started while another runs on
// the ring (a killed console's orphan, someone's Reaper run) overlapped it.
func TestRepairRefusedWhileAnotherRuns(t *testing.T) {
	c1, c3 := "cassandra-1.internal.scalar-labs.com", "cassandra-3.internal.scalar-labs.com"
	t.Run("orphaned detached nodetool repair", func(t *testing.T) {
		l := newLab(t, ring("UN", "UN", "UN"))
		leaveDetached(t, l, c1, "20261124-2200-repair-dead01", "cassandra-1_repair-scalar-0-1", "nodetool repair -full -pr scalar", liveProcess(t), "")
		p, err := PlanAt(testInventory(), fastOpts(), fixedTime)
		must(t, err)
		st, err := l.e.Run(context.Background(), p)
		var busy *BusyError
		if st != workflow.StatusRefused || !errors.As(err, &busy) || len(busy.Activities) != 1 || busy.Activities[0].Run != "20261124-2200-repair-dead01" {
			t.Fatalf("Run = %s, %v", st, err)
		}
		if !strings.Contains(err.Error(), "scalar-tui repair status --wait") || !strings.Contains(err.Error(), "stops only the nodetool client") {
			t.Errorf("the refusal does not say what to do: %v", err)
		}
		if got := l.repairs(t); got != "" {
			t.Errorf("repairs were started: %q", got)
		}
	})
	t.Run("server-side validation after the client was killed", func(t *testing.T) {
		l := newLab(t, ring("UN", "UN", "UN"))
		must(t, os.WriteFile(filepath.Join(l.lr.Dir(c3), "compactionstats.txt"), nodetoolFixture(t, "compactionstats-3.11-anticompaction.txt"), 0o644))
		p, err := PlanAt(testInventory(), fastOpts(), fixedTime)
		must(t, err)
		st, err := l.e.Run(context.Background(), p)
		if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "cassandra-3: Cassandra is running \"Anticompaction after repair\" on coordinator.state") {
			t.Fatalf("Run = %s, %v", st, err)
		}
		if got := l.repairs(t); got != "" {
			t.Errorf("repairs were started: %q", got)
		}
	})
	t.Run("Reaper run of another operator", func(t *testing.T) {
		l := newLab(t, ring("UN", "UN", "UN"))
		f, srv := newFakeReaper(t)
		f.runs = append(f.runs, &reaperRun{ID: "run-0", Cluster: "scalardl", Keyspace: "scalar", State: reaperRunning, Cause: "manual", Owner: "alice", TotalSegments: 4})
		o := fastOpts()
		o.Reaper = ReaperOptions{URL: srv.URL, Password: "s3cret"}
		p, err := PlanAt(testInventory(), o, fixedTime)
		must(t, err)
		st, err := l.e.Run(context.Background(), p)
		if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "Reaper: repair run run-0 of keyspace scalar (cluster scalardl) is RUNNING") {
			t.Fatalf("Run = %s, %v", st, err)
		}
	})
}

// A killed wrapper nobody reaped (PID 1 of a container may not) still
// answers `kill -0`: it must not count as a live repair, or resume after a
// Ctrl-C would take the server-side repair for its own and start a second.
func TestInProgressIgnoresZombies(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	cmd := exec.Command("true")
	must(t, cmd.Start())
	pid := cmd.Process.Pid
	defer cmd.Wait()
	for i := 0; ; i++ { // not waited for: it becomes a zombie
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Skipf("no /proc: %v", err)
		}
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			break
		}
		if i > 10000 {
			t.Fatalf("pid %d never became a zombie: %s", pid, b)
		}
		exec.Command("true").Run() // yield without a timer
	}
	leaveDetached(t, l, "cassandra-1.internal.scalar-labs.com", "20261124-2200-repair-dead01", "cassandra-1_repair-scalar-0-1", "nodetool repair -full -pr scalar", pid, "")
	acts, err := InProgress(context.Background(), ExecVia(l.lr), testInventory(), ProbeOptions{})
	if err != nil || len(acts) != 0 {
		t.Errorf("a zombie counted as a running repair: %v %v", acts, err)
	}
}

// A repair that starts during the run (a scheduled Reaper run, another
// console on another bastion) is waited for before the next node.
func TestGateWaitsForAnotherRepair(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	c2 := filepath.Join(l.lr.Dir("cassandra-2.internal.scalar-labs.com"), "compactionstats.txt")
	validation := nodetoolFixture(t, "compactionstats-3.11-validation.txt")
	var waited []string
	l.e = workflow.New(l.lr, l.state, workflow.WithOperator("ops@test"),
		workflow.WithLockPath(filepath.Join(l.lr.Dir("bastion"), "scalar-tui.lock")),
		workflow.WithEvents(func(ev workflow.Event) {
			switch ev := ev.(type) {
			case *workflow.Notice:
				if ev.Message == "preflight no-repair-running: ok" {
					must(t, os.WriteFile(c2, validation, 0o644)) // someone starts a repair
				}
			case *workflow.GateWaiting:
				waited = append(waited, ev.LastReason)
				must(t, os.Remove(c2)) // ... and it ends
			}
		}))
	o := fastOpts()
	o.Keyspaces, o.Hosts = []string{"scalar"}, []string{"cassandra-1", "cassandra-3"}
	p, err := PlanAt(testInventory(), o, fixedTime)
	must(t, err)
	if st, err := l.e.Run(context.Background(), p); st != workflow.StatusDone {
		t.Fatalf("Run = %s, %v", st, err)
	}
	if len(waited) != 1 || !strings.Contains(waited[0], "another repair is in progress: cassandra-2: Cassandra is validating scalar.asset") {
		t.Errorf("gate waits: %q", waited)
	}
	if got := l.repairs(t); got != "cassandra-1.internal.scalar-labs.com scalar\ncassandra-3.internal.scalar-labs.com scalar\n" {
		t.Errorf("repairs: %q", got)
	}
}
