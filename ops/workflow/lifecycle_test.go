package workflow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow/workflowtest"
)

// TestCancelRecordsWhatIsLeft: a run canceled while a cluster-state marker
// is set and no cleanup undoes it ends canceled, and its journal and its
// Finished event say what it left in the cluster.
func TestCancelRecordsWhatIsLeft(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, state, rec := newTestEngine(t, lr)
	p := &Plan{ID: "20261124-2231-left", Workflow: "backup", Fingerprint: "fp1"}
	p.Steps = []Step{
		{ID: "pause", Host: "h1", Run: func(ctx context.Context, env *Env) error {
			if err := env.SetMarker(MarkerScalarDLPaused, "h1"); err != nil {
				return err
			}
			cancel()
			return env.Run(ctx, "h1", "sleep 5")
		}},
		{ID: "snapshot", Host: "h1", Commands: []string{"true"}},
	}
	status, err := e.Run(ctx, p)
	if status != StatusCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %s, %v", status, err)
	}
	st, err := LoadRun(state, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusCanceled || len(st.Left) != 1 || !strings.Contains(st.Left[0].What, "Scalar DL may still be paused") {
		t.Fatalf("journal: status %s, left %+v", st.Status, st.Left)
	}
	if st.PID != os.Getpid() || st.Hostname == "" {
		t.Errorf("journal pid %d host %q", st.PID, st.Hostname)
	}
	var fin *Finished
	for _, ev := range rec.events() {
		if f, ok := ev.(*Finished); ok {
			fin = f
		}
	}
	if fin == nil || !strings.Contains(fin.Err, "left in the cluster: Scalar DL may still be paused") {
		t.Errorf("finished event %+v", fin)
	}
	if lockExists(lr) {
		t.Error("the canceled run kept the lock")
	}
}

// detachPlan is one detached step that runs until the file "go" exists in
// h1's directory, then a second step.
func detachPlan(lr *workflowtest.LocalRunner) *Plan {
	p := &Plan{ID: "20261124-2231-long", Workflow: "repair", Fingerprint: "fp1"}
	p.Steps = []Step{
		{ID: "h1/repair", Host: "h1", Detached: true, Commands: []string{
			"echo $$ > " + filepath.Join(lr.Dir("h1"), "long.pid") + "; echo working; while [ ! -e " + filepath.Join(lr.Dir("h1"), "go") + " ]; do sleep 0.05; done; echo finished"}},
		{ID: "h2/repair", Host: "h2", Commands: []string{"echo ran >> ran.txt"}},
	}
	return p
}

func alive(t *testing.T, lr *workflowtest.LocalRunner) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(lr.Dir("h1"), "long.pid"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat")
	return err == nil && !strings.Contains(string(st), ") Z ")
}

// TestDetachOnPurposeThenResume covers both ways to leave a long remote
// command running on purpose (cancel with WithDetachOnCancel, and
// RequestDetach): the run ends detached, the command still runs, the
// journal and the lock say so, and Resume re-attaches and finishes it.
func TestDetachOnPurposeThenResume(t *testing.T) {
	for _, how := range []string{"cancel", "request"} {
		t.Run(how, func(t *testing.T) {
			lr := &workflowtest.LocalRunner{Root: t.TempDir()}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var e *Engine
			e, state, rec := newTestEngine(t, lr, WithDetachOnCancel(how == "cancel"))
			rec.on = func(ev Event) {
				if o, ok := ev.(*OutputLine); ok && o.Line == "working" {
					if how == "cancel" {
						cancel()
					} else {
						e.RequestDetach()
					}
				}
			}
			p := detachPlan(lr)
			status, err := e.Run(ctx, p)
			if status != StatusDetached || err == nil || !strings.Contains(err.Error(), "resume "+p.ID) {
				t.Fatalf("Run = %s, %v", status, err)
			}
			if !alive(t, lr) {
				t.Fatal("the detached command was stopped")
			}
			st, _ := LoadRun(state, p.ID)
			if st.Status != StatusDetached || st.Steps[0].Status != StatusRunning || st.Steps[0].Detached == nil ||
				st.Steps[1].Status != StatusSkipped {
				t.Fatalf("journal %s %+v", st.Status, st.Steps)
			}
			if len(st.Left) != 1 || !st.Left[0].OnPurpose || st.Left[0].Host != "h1" || !strings.Contains(st.Left[0].What, "still running") {
				t.Errorf("left %+v", st.Left)
			}
			if !lockExists(lr) {
				t.Fatal("the detached run released the lock")
			}
			owner, err := e.LockOwner(context.Background())
			if err != nil || owner == nil || owner.Run != p.ID || owner.State != LockStateDetached ||
				!strings.Contains(owner.String(), "left detached on purpose (h1/repair on h1)") {
				t.Fatalf("lock owner %+v, %v", owner, err)
			}
			// Another run is refused, naming the detached run.
			other := hostPlan("h3")
			other.ID = "20261124-2240-other"
			if s, err := e.Run(context.Background(), other); s != StatusRefused || !strings.Contains(fmtErr(err), "left detached on purpose") {
				t.Errorf("other run = %s, %v", s, err)
			}

			rec.on = nil
			if err := os.WriteFile(filepath.Join(lr.Dir("h1"), "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			status, err = e.Resume(context.Background(), p.ID, detachPlan(lr))
			if status != StatusDone || err != nil {
				t.Fatalf("Resume = %s, %v", status, err)
			}
			reattached := false
			for _, ev := range rec.events() {
				if s, ok := ev.(*StepStarted); ok && s.Step == "h1/repair" && s.Reattach {
					reattached = true
				}
			}
			if !reattached {
				t.Error("resume did not re-attach")
			}
			if st, _ := LoadRun(state, p.ID); st.Status != StatusDone || len(st.Left) != 0 {
				t.Errorf("after resume: %s, left %+v", st.Status, st.Left)
			}
			if lockExists(lr) {
				t.Error("lock not released after the resumed run")
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestDiscard(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	os.WriteFile(filepath.Join(lr.Dir("h2"), "fail"), nil, 0o644)
	p := hostPlan("h1", "h2")
	if s, _ := e.Run(context.Background(), p); s != StatusFailed {
		t.Fatalf("status %s", s)
	}
	if err := Discard(state, p.ID, "ops@test", "stale", fixedTime); err != nil {
		t.Fatal(err)
	}
	st, _ := LoadRun(state, p.ID)
	if st.Status != StatusDiscarded || st.Status.Resumable() || !strings.Contains(st.Discarded, "by ops@test at 2026-11-24T22:31:00Z: stale") {
		t.Errorf("journal %s %q", st.Status, st.Discarded)
	}
	if s, err := e.Resume(context.Background(), p.ID, hostPlan("h1", "h2")); s != StatusRefused || !strings.Contains(fmtErr(err), "discarded") {
		t.Errorf("Resume of a discarded run = %s, %v", s, err)
	}
	// A done run and a run holding a marker are refused.
	p2 := hostPlan("h1")
	p2.ID = "20261124-2232-test"
	if s, _ := e.Run(context.Background(), p2); s != StatusDone {
		t.Fatal(s)
	}
	if err := Discard(state, p2.ID, "ops@test", "", fixedTime); err == nil {
		t.Error("discarded a done run")
	}
	st.ID, st.Status, st.Discarded = "20261124-2233-test", StatusFailed, ""
	st.Markers = map[string]Marker{MarkerScalarDLPaused: {Value: "x", Step: "pause"}}
	if err := saveRun(state, st); err != nil {
		t.Fatal(err)
	}
	if err := Discard(state, st.ID, "ops@test", "", fixedTime); err == nil || !strings.Contains(err.Error(), "resume "+st.ID) {
		t.Errorf("Discard of a paused run = %v", err)
	}
}

func TestDisplayStatusCrashed(t *testing.T) {
	state := t.TempDir()
	host, _ := os.Hostname()
	st := &RunState{ID: "20261124-2231-x", Workflow: "backup", Status: StatusRunning, PID: 999999999, Hostname: host}
	if err := saveRun(state, st); err != nil {
		t.Fatal(err)
	}
	if got := DisplayStatus(state, st); got != StatusCrashed {
		t.Errorf("dead run shows %s", got)
	}
	unlock, err := lockLocal(state, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := DisplayStatus(state, st); got != StatusRunning {
		t.Errorf("live run shows %s", got)
	}
	unlock()
	st.Hostname = "another-machine"
	if got := DisplayStatus(state, st); got != StatusRunning {
		t.Errorf("run of another machine shows %s", got)
	}
	if !StatusCrashed.Resumable() {
		t.Error("a crashed run is not resumable")
	}
}

func TestDeploymentKeyAndLockPath(t *testing.T) {
	a := DeploymentKey("example-aws-0j5y83k", "13.231.179.116:22")
	if a != DeploymentKey("example-aws-0j5y83k", "13.231.179.116:22") || !strings.HasPrefix(a, "example-aws-0j5y83k-") {
		t.Errorf("key %q", a)
	}
	if a == DeploymentKey("example-aws-0j5y83k", "13.231.179.117:22") {
		t.Error("two bastions share a key")
	}
	if k := DeploymentKey("../../etc", "x"); strings.Contains(k, "/") || strings.HasPrefix(k, ".") {
		t.Errorf("unsafe key %q", k)
	}
	if got := DeploymentLockPath("example-aws-0j5y83k"); got != "/tmp/scalar-tui-example-aws-0j5y83k.lock" {
		t.Errorf("lock path %q", got)
	}
	if got := DeploymentLockPath("a;rm -rf /"); strings.ContainsAny(got, "; ") {
		t.Errorf("lock path %q", got)
	}
	if got := DeploymentLockPath(""); got != DefaultLockPath {
		t.Errorf("lock path for no network %q", got)
	}
	root := t.TempDir()
	for i, d := range []string{DeploymentDir(root, "a", "b"), DeploymentDir(root, "c", "d"), root} {
		st := &RunState{ID: "20261124-223" + string(rune('1'+i)) + "-x", Status: StatusFailed}
		if err := saveRun(d, st); err != nil {
			t.Fatal(err)
		}
	}
	all, err := ListAll(root)
	if err != nil || len(all) != 3 {
		t.Errorf("ListAll = %d runs, %v", len(all), err)
	}
}

// TestJournalMirrorAndTakeover: each run's journal is copied to the bastion
// beside the lock at every transition. When operator A's machine dies while
// Scalar DL is paused, operator B sees the run and its marker there, is
// refused the lock, and after an explicit takeover resumes A's run: the
// compensation (unpause) runs first and the lock is released at the end.
func TestJournalMirrorAndTakeover(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	lockPath := filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")
	build := func() *Plan {
		p := &Plan{ID: "20261124-2231-backup", Workflow: "backup", Fingerprint: "fp1"}
		p.Steps = []Step{
			{ID: "pause", Host: "h1", Run: func(ctx context.Context, env *Env) error {
				if err := env.SetMarker(MarkerScalarDLPaused, "h1"); err != nil {
					return err
				}
				return env.Run(ctx, "h1", "echo paused >> state.txt")
			}},
			{ID: "unpause", Host: "h1", Cleanup: true, Run: func(ctx context.Context, env *Env) error {
				if err := env.Run(ctx, "h1", "echo unpaused >> state.txt"); err != nil {
					return err
				}
				return env.ClearMarker(MarkerScalarDLPaused)
			}},
		}
		p.Compensations = map[string]Step{MarkerScalarDLPaused: p.Steps[1]}
		return p
	}
	// A's run, mirrored: done normally, the mirror holds its final state.
	a := New(lr, t.TempDir(), WithOperator("ops@a"), WithLockPath(lockPath))
	pa := build()
	pa.ID = "20261124-2230-backup"
	if s, err := a.Run(context.Background(), pa); s != StatusDone {
		t.Fatal(s, err)
	}
	lock := ClusterLock{R: lr, Path: lockPath}
	m, err := lock.ReadJournal(context.Background(), pa.ID)
	if err != nil || m == nil || m.Status != StatusDone || len(m.Steps) != 2 || m.Steps[1].Status != StatusDone {
		t.Fatalf("mirrored journal of a finished run: %+v, %v", m, err)
	}

	// A dies while paused: the lock is A's, the mirror says paused.
	dead := build()
	if err := lock.Acquire(context.Background(), "ops@a", dead.ID, fixedTime); err != nil {
		t.Fatal(err)
	}
	st := &RunState{ID: dead.ID, Workflow: "backup", Operator: "ops@a", Status: StatusRunning, Fingerprint: "fp1",
		Hostname: "laptop-a", PID: 4242,
		Markers: map[string]Marker{MarkerScalarDLPaused: {Value: "h1", Step: "pause"}},
		Steps:   []StepState{{ID: "pause", Status: StatusDone}, {ID: "unpause", Status: StatusPending, Cleanup: true}}}
	if err := lock.WriteJournal(context.Background(), st); err != nil {
		t.Fatal(err)
	}

	bState := t.TempDir()
	b := New(lr, bState, WithOperator("ops@b"), WithLockPath(lockPath))
	got, err := b.MirroredRun(context.Background(), dead.ID)
	if err != nil || got == nil || len(CompensatingMarkers(got)) != 1 {
		t.Fatalf("B reads the dead run: %+v, %v", got, err)
	}
	if _, err := b.Resume(context.Background(), dead.ID, build()); err == nil {
		t.Fatal("B resumed a run it does not have without taking it over")
	}
	if _, err := b.TakeOver(context.Background(), dead.ID); err != nil {
		t.Fatal(err)
	}
	// Without WithTakeover the lock stays A's.
	if s, err := b.Resume(context.Background(), dead.ID, build()); s != StatusRefused || !strings.Contains(fmtErr(err), "locked by ops@a") {
		t.Fatalf("resume without takeover = %s, %v", s, err)
	}
	bt := New(lr, bState, WithOperator("ops@b"), WithLockPath(lockPath), WithTakeover(dead.ID))
	if s, err := bt.Resume(context.Background(), dead.ID, build()); s != StatusDone {
		t.Fatalf("takeover resume = %s, %v", s, err)
	}
	out, _ := os.ReadFile(filepath.Join(lr.Dir("h1"), "state.txt"))
	if !strings.HasSuffix(string(out), "unpaused\n") {
		t.Errorf("state.txt = %q", out)
	}
	if lockExists(lr) {
		t.Error("lock left after the takeover run")
	}
	if m, _ := lock.ReadJournal(context.Background(), dead.ID); m == nil || m.Status != StatusDone || len(m.Markers) != 0 {
		t.Errorf("mirror after takeover: %+v", m)
	}
	all, err := b.MirroredRuns(context.Background())
	if err != nil || len(all) != 2 {
		t.Fatalf("MirroredRuns = %d runs, %v", len(all), err)
	}
	ops := map[string]string{}
	for _, r := range all {
		ops[r.ID] = r.Operator
	}
	if ops[pa.ID] != "ops@a" || ops[dead.ID] != "ops@a" {
		t.Errorf("operators of the mirrored runs: %v", ops)
	}
}

// lostAnswerRunner runs the lock's acquire script on the bastion to the end
// (the lock is taken there), then loses the answer: the operator's signal
// arrived while the command ran, as it does when a console is terminated
// right after it starts a run.
type lostAnswerRunner struct {
	*workflowtest.LocalRunner
	cancel context.CancelFunc
	cut    bool // when false, the answer is lost to an SSH drop instead
}

func (r *lostAnswerRunner) RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error) {
	res, err := r.LocalRunner.RunBastion(ctx, command, opts)
	if err != nil || !strings.Contains(command, "mkdir") {
		return res, err
	}
	if r.cut {
		r.cancel()
		return sshx.Result{ExitCode: -1}, errors.New("stopped the remote command: terminated signal received")
	}
	return sshx.Result{ExitCode: -1}, errors.New("ssh: connection lost")
}

// TestSignalWhileTakingTheLock: a run whose lock command was cut after the
// bastion took the lock ends canceled (not refused), before any step, and
// leaves no lock behind; an SSH drop at the same moment is refused with the
// lock released the same way.
func TestSignalWhileTakingTheLock(t *testing.T) {
	for _, cut := range []bool{true, false} {
		lr := &workflowtest.LocalRunner{Root: t.TempDir()}
		ctx, cancel := context.WithCancel(context.Background())
		r := &lostAnswerRunner{LocalRunner: lr, cancel: cancel, cut: cut}
		state := t.TempDir()
		e := New(r, state, WithOperator("ops@test"), WithLockPath(filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")))
		p := hostPlan("h1")
		status, err := e.Run(ctx, p)
		cancel()
		want := StatusRefused
		if cut {
			want = StatusCanceled
		}
		if status != want || err == nil || !strings.Contains(err.Error(), "the lock was released again") {
			t.Errorf("cut=%v: Run = %s, %v; want %s with the lock released", cut, status, err, want)
		}
		if lockExists(lr) {
			t.Errorf("cut=%v: the lock taken by the lost command is still held", cut)
		}
		if countLines(t, filepath.Join(lr.Dir("h1"), "ran.txt")) != 0 {
			t.Errorf("cut=%v: a step ran", cut)
		}
		st, lerr := LoadRun(state, p.ID)
		if lerr != nil || st.Status != want {
			t.Errorf("cut=%v: journal %+v, %v", cut, st, lerr)
		}
	}
}

// cancelDuringLockRunner cancels the run when the lock command starts and
// records whether that command's own context was canceled with it.
type cancelDuringLockRunner struct {
	*workflowtest.LocalRunner
	cancel   context.CancelFunc
	cutShort bool
}

func (r *cancelDuringLockRunner) RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error) {
	if strings.Contains(command, "mkdir") {
		r.cancel()
		r.cutShort = ctx.Err() != nil
	}
	return r.LocalRunner.RunBastion(ctx, command, opts)
}

// TestCancelDoesNotCutTakingTheLock: a signal while the bastion takes the
// lock (mkdir, then the owner file) does not cut that script in the middle,
// which left a lock without an owner that no release removes (the console
// signalled right after a run started); the lock is taken, then released by
// the canceled run, and no step runs.
func TestCancelDoesNotCutTakingTheLock(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancelDuringLockRunner{LocalRunner: lr, cancel: cancel}
	state := t.TempDir()
	e := New(r, state, WithOperator("ops@test"), WithLockPath(filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")))
	p := hostPlan("h1")
	status, err := e.Run(ctx, p)
	if r.cutShort {
		t.Error("the lock command's context was canceled with the run")
	}
	if status != StatusCanceled || err == nil {
		t.Errorf("Run = %s, %v; want canceled", status, err)
	}
	if lockExists(lr) {
		t.Error("the canceled run left the lock")
	}
	if countLines(t, filepath.Join(lr.Dir("h1"), "ran.txt")) != 0 {
		t.Error("a step ran")
	}
	if st, lerr := LoadRun(state, p.ID); lerr != nil || st.Status != StatusCanceled {
		t.Errorf("journal %+v, %v", st, lerr)
	}
}
