package restore_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sim"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restore"
)

// nothingLost checks that every file of before is still somewhere under its
// host's data directory (live, or kept in a run's directory) with the same
// content: the restore deletes nothing.
func (e *env) nothingLost(t *testing.T, before map[string]string) {
	t.Helper()
	have := map[string]bool{}
	for _, h := range e.d.Hosts {
		if h.Role != sim.RoleCassandra {
			continue
		}
		root := filepath.Join(h.Home, "data")
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.Contains(p, "/snapshots/") {
				return nil
			}
			b, _ := os.ReadFile(p)
			parts := strings.Split(p, "/")
			n := len(parts)
			have[h.Short+"/"+parts[n-3]+"/"+parts[n-2]+"/"+parts[n-1]+"\x00"+string(b)] = true
			return nil
		})
	}
	for k, v := range before {
		if !have[k+"\x00"+v] {
			t.Errorf("lost: %s", k)
		}
	}
}

// setup writes, backs up as tag on every node, writes more.
func setup(t *testing.T, e *env, tag string) (atBackup, before map[string]string) {
	t.Helper()
	e.write(t, 5)
	e.snapshot(t, tag, "cassandra-1", "cassandra-2", "cassandra-3")
	atBackup = e.files(t)
	e.write(t, 7)
	return atBackup, e.files(t)
}

func (e *env) fault(t *testing.T, host, kind string) {
	if err := sim.InjectFault(e.d.SimState, host, kind, ""); err != nil {
		t.Error(err)
	}
}

func (e *env) clear(t *testing.T, host, kind string) {
	if err := sim.ClearFault(e.d.SimState, host, kind); err != nil {
		t.Fatal(err)
	}
}

func (e *env) resume(t *testing.T, id string, o restore.Options) {
	t.Helper()
	p, err := restore.Plan(e.inv, o)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.engine().Resume(ctxT(t), id, p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("resume: %s %v\n%s", st, err, strings.Join(e.states(), "\n"))
	}
}

func stateOf(states []string, host string) string {
	for _, s := range states {
		if strings.HasPrefix(s, "state "+host+":") {
			return s
		}
	}
	return ""
}

func TestRestoreRefusesIncompleteTag(t *testing.T) {
	e := start(t)
	e.write(t, 5)
	e.snapshot(t, "half", "cassandra-1", "cassandra-2")
	before := e.files(t)
	p, err := restore.Plan(e.inv, e.options("half"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.engine().Run(ctxT(t), p)
	var re *workflow.RefusedError
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "tag-complete" || !strings.Contains(err.Error(), "cassandra-3") {
		t.Fatalf("run: %s %v, want refused by tag-complete naming cassandra-3", st, err)
	}
	sameFiles(t, "after the refusal", before, e.files(t))
	if !e.servingAll(t) {
		t.Error("Scalar DL was stopped by a refused restore")
	}
}

func TestRestoreRefusesWrongDeploymentName(t *testing.T) {
	e := start(t)
	setup(t, e, "b1")
	o := e.options("b1")
	o.ConfirmDeployment = "prod"
	p, err := restore.Plan(e.inv, o)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.engine().Run(ctxT(t), p)
	var re *workflow.RefusedError
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "confirm-deployment" {
		t.Fatalf("run: %s %v, want refused by confirm-deployment", st, err)
	}
}

func TestRestoreNodeUnreachableMidRunThenResume(t *testing.T) {
	e := start(t)
	atBackup, before := setup(t, e, "b1")
	o := e.options("b1")
	p, _ := restore.Plan(e.inv, o)
	e.after("cassandra-1/swap-data", func() { e.fault(t, "cassandra-2", sim.FaultNodeDown) })
	st, err := e.engine().Run(ctxT(t), p)
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "cassandra-2") {
		t.Fatalf("run: %s %v, want failed on cassandra-2", st, err)
	}
	states := e.states()
	if s := stateOf(states, "cassandra-1"); !strings.Contains(s, "restored") || !strings.Contains(s, "inactive") {
		t.Errorf("cassandra-1: %q", s)
	}
	if s := stateOf(states, "cassandra-2"); !strings.Contains(s, "unreachable") {
		t.Errorf("cassandra-2: %q", s)
	}
	if s := stateOf(states, "cassandra-3"); !strings.Contains(s, "data untouched") {
		t.Errorf("cassandra-3: %q", s)
	}
	e.nothingLost(t, before)
	e.clear(t, "cassandra-2", sim.FaultNodeDown)
	e.waitReachable(t, "cassandra-2")
	e.resume(t, p.ID, o)
	sameFiles(t, "after resume", atBackup, e.files(t))
	e.nothingLost(t, before)
}

func TestRestoreCassandraFailsToStartThenUndo(t *testing.T) {
	e := start(t)
	_, before := setup(t, e, "b1")
	e.fault(t, "cassandra-2", sim.FaultStartFails)
	p, _ := restore.Plan(e.inv, e.options("b1"))
	st, err := e.engine().Run(ctxT(t), p)
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "failed to start on cassandra-2") {
		t.Fatalf("run: %s %v, want failed to start on cassandra-2", st, err)
	}
	states := e.states()
	if s := stateOf(states, "cassandra-1"); !strings.Contains(s, "cassandra active") {
		t.Errorf("cassandra-1: %q", s)
	}
	if s := stateOf(states, "cassandra-2"); !strings.Contains(s, "cassandra failed") || !strings.Contains(s, "restored") {
		t.Errorf("cassandra-2: %q", s)
	}
	// Never started after the failure: one node at a time.
	if s := stateOf(states, "cassandra-3"); !strings.Contains(s, "cassandra inactive") {
		t.Errorf("cassandra-3: %q", s)
	}
	e.nothingLost(t, before)
	e.clear(t, "cassandra-2", sim.FaultStartFails)
	up := e.undo(t, p.ID)
	st, err = e.engine().Run(ctxT(t), up)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("undo: %s %v\n%s", st, err, strings.Join(e.states(), "\n"))
	}
	sameFiles(t, "after undo", before, e.files(t))
	if !e.servingAll(t) {
		t.Error("Scalar DL does not serve after the undo")
	}
}

func TestRestoreKilledBetweenStepsThenResume(t *testing.T) {
	e := start(t)
	atBackup, before := setup(t, e, "b1")
	o := e.options("b1")
	p, _ := restore.Plan(e.inv, o)
	ctx, cancel := context.WithCancel(ctxT(t))
	e.after("cassandra-1/swap-data", cancel)
	st, err := e.engine().Run(ctx, p)
	if st != workflow.StatusCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %s %v, want canceled", st, err)
	}
	js, err := workflow.LoadRun(e.stateDir, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := js.Step("cassandra-1/swap-data"); s.Status != workflow.StatusDone {
		t.Fatalf("swap on cassandra-1: %s", s.Status)
	}
	if s := js.Step("cassandra-1/start-cassandra"); s.Status == workflow.StatusDone {
		t.Fatal("started Cassandra after the cancel")
	}
	e.nothingLost(t, before)
	// The preflight would refuse now (Cassandra is down): the started
	// marker lets the resume through.
	e.resume(t, p.ID, o)
	sameFiles(t, "after resume", atBackup, e.files(t))
	e.nothingLost(t, before)
}

func TestRestoreDiskFullWhileMovingAsideThenResume(t *testing.T) {
	e := start(t)
	atBackup, before := setup(t, e, "b1")
	o := e.options("b1")
	p, _ := restore.Plan(e.inv, o)
	e.after("cassandra-1/swap-data", func() { e.fault(t, "cassandra-2", sim.FaultDiskFull) })
	st, err := e.engine().Run(ctxT(t), p)
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "nothing was moved on cassandra-2") {
		t.Fatalf("run: %s %v, want failed: nothing moved on cassandra-2", st, err)
	}
	states := e.states()
	if s := stateOf(states, "cassandra-2"); !strings.Contains(s, "data untouched") {
		t.Errorf("cassandra-2: %q", s)
	}
	e.nothingLost(t, before)
	e.clear(t, "cassandra-2", sim.FaultDiskFull)
	e.resume(t, p.ID, o)
	sameFiles(t, "after resume", atBackup, e.files(t))
	e.nothingLost(t, before)
}

func TestRestoreTagWithShellMetacharacters(t *testing.T) {
	e := start(t)
	tag := `b1'; touch PWNED; $(touch PWNED2) "x` + "`touch PWNED3`"
	atBackup, before := setup(t, e, tag)
	p, err := restore.Plan(e.inv, e.options(tag))
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.engine().Run(ctxT(t), p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("restore: %s %v\n%s", st, err, strings.Join(e.states(), "\n"))
	}
	sameFiles(t, "after restore", atBackup, e.files(t))
	e.nothingLost(t, before)
	_ = filepath.WalkDir(e.d.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "PWNED") {
			t.Errorf("the tag ran a command: %s", p)
		}
		return nil
	})
	if _, err := restore.Plan(e.inv, e.options("a/b")); err == nil {
		t.Error("a tag with '/' was accepted")
	}
}

func TestStartStepsAreSequential(t *testing.T) {
	e := start(t)
	p, err := restore.Plan(e.inv, e.options("b1"))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range p.Steps {
		if strings.HasSuffix(s.ID, "/start-cassandra") {
			if s.Parallel != "" {
				t.Errorf("%s runs in parallel group %s", s.ID, s.Parallel)
			}
			order = append(order, s.ID)
		}
	}
	if strings.Join(order, ",") != "cassandra-1/start-cassandra,cassandra-2/start-cassandra,cassandra-3/start-cassandra" {
		t.Errorf("start order: %v", order)
	}
}

// waitReachable waits until host answers over SSH again (the demo's bastion
// takes the node back shortly after node-down is cleared).
func (e *env) waitReachable(t *testing.T, short string) {
	t.Helper()
	h, _ := e.d.Host(short)
	ctx := ctxT(t)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := e.cl.Run(cctx, h.Name, "true", sshx.RunOptions{})
		cancel()
		if err == nil && res.ExitCode == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never came back: %v", short, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestRestoreWithCassandraDownOnOneNode: the outage case. Cassandra is
// stopped on one node before the restore; the preflight reads that node's
// snapshot from its files and the restore completes.
func TestRestoreWithCassandraDownOnOneNode(t *testing.T) {
	e := start(t)
	atBackup, before := setup(t, e, "b1")
	e.fault(t, "cassandra-3", sim.FaultCassandraStopped)
	p, _ := restore.Plan(e.inv, e.options("b1"))
	st, err := e.engine().Run(ctxT(t), p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("restore: %s %v\n%s", st, err, strings.Join(e.states(), "\n"))
	}
	sameFiles(t, "after restore", atBackup, e.files(t))
	e.nothingLost(t, before)
}
