package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/ops/workflow/workflowtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedTime = time.Date(2026, 11, 24, 22, 31, 0, 0, time.UTC)

type recorder struct {
	mu  sync.Mutex
	evs []Event
	on  func(Event) // optional hook, called outside the lock
}

func (r *recorder) add(e Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	on := r.on
	r.mu.Unlock()
	if on != nil {
		on(e)
	}
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

func (r *recorder) lines() []string {
	var out []string
	for _, e := range r.events() {
		if o, ok := e.(*OutputLine); ok {
			out = append(out, o.Host+": "+o.Line)
		}
	}
	return out
}

func newTestEngine(t *testing.T, lr *workflowtest.LocalRunner, opts ...Option) (*Engine, string, *recorder) {
	t.Helper()
	state := t.TempDir()
	rec := &recorder{}
	base := []Option{
		WithOperator("ops@test"),
		WithEvents(rec.add),
		WithLockPath(filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")),
	}
	return New(lr, state, append(base, opts...)...), state, rec
}

const workCmd = `echo ran >> ran.txt && echo "hello from $HOST" && test ! -e fail`

func hostPlan(hosts ...string) *Plan {
	p := &Plan{ID: "20261124-2231-test", Workflow: "test", Created: fixedTime, Operator: "ops@test", Fingerprint: "fp1"}
	for _, h := range hosts {
		p.Steps = append(p.Steps, Step{ID: h + "/work", Title: "work on " + h, Host: h, Commands: []string{workCmd}})
	}
	return p
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func stepStatuses(t *testing.T, state, id string) map[string]Status {
	t.Helper()
	st, err := LoadRun(state, id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Status{}
	for _, s := range st.Steps {
		out[s.ID] = s.Status
	}
	return out
}

func lockExists(lr *workflowtest.LocalRunner) bool {
	_, err := os.Stat(filepath.Join(lr.Dir("bastion"), "scalar-tui.lock"))
	return err == nil
}

func TestRenderGolden(t *testing.T) {
	p := hostPlan("cassandra-1", "cassandra-2")
	p.Preflight = []Check{{Name: "ring-UN", Description: "every Cassandra node is UN"}}
	p.Steps[0].Detached = true
	p.Steps[0].Gate = &Gate{Name: "ring-UN", Description: "every node UN", Deadline: 15 * time.Minute, Interval: 10 * time.Second}
	p.Steps[1].Idempotent = true
	p.Steps = append(p.Steps, Step{ID: "unpause", Title: "unpause Scalar DL", Commands: []string{"scalar-admin -c unpause"}, Cleanup: true, Timeout: time.Minute})
	var b strings.Builder
	if err := p.Render(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.golden", b.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestRunSuccessJournalsAndAudits(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, rec := newTestEngine(t, lr)
	p := hostPlan("h1", "h2", "h3")
	status, err := e.Run(context.Background(), p)
	if err != nil || status != StatusDone {
		t.Fatalf("Run = %s, %v", status, err)
	}
	st, err := LoadRun(state, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusDone || st.Operator != "ops@test" || st.Fingerprint != "fp1" {
		t.Errorf("journal = %+v", st)
	}
	for _, s := range st.Steps {
		if s.Status != StatusDone || s.Attempts != 1 || s.CommandsDone != 1 {
			t.Errorf("step %s = %+v", s.ID, s)
		}
	}
	runs, err := List(state)
	if err != nil || len(runs) != 1 || runs[0].ID != p.ID {
		t.Errorf("List = %v, %v", runs, err)
	}
	// Every remote command is in the audit log, lock commands included.
	audit, err := ReadAudit(state, AuditFilter{Run: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	ran := lr.Commands()
	if len(audit) != len(ran) {
		t.Fatalf("audit has %d entries, %d commands ran", len(audit), len(ran))
	}
	for i, a := range audit {
		host, cmd, _ := strings.Cut(ran[i], "\x00")
		if a.Host != host || a.Command != cmd || a.Operator != "ops@test" || a.ExitCode != 0 {
			t.Errorf("audit[%d] = %+v, ran %s %q", i, a, host, cmd)
		}
	}
	if n := len(ReadAuditHosts(audit, "h1")); n != 1 {
		t.Errorf("h1 has %d audit entries", n)
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		if n := countLines(t, filepath.Join(lr.Dir(h), "ran.txt")); n != 1 {
			t.Errorf("%s ran %d times", h, n)
		}
		b, err := os.ReadFile(HostLogPath(state, p.ID, h))
		if err != nil || !strings.Contains(string(b), "hello from "+h) {
			t.Errorf("host log of %s = %q, %v", h, b, err)
		}
	}
	if got := strings.Join(rec.lines(), "\n"); got != "h1: hello from h1\nh2: hello from h2\nh3: hello from h3" {
		t.Errorf("output events = %q", got)
	}
	evs := rec.events()
	if f, ok := evs[len(evs)-1].(*Finished); !ok || f.Status != StatusDone {
		t.Errorf("last event = %#v", evs[len(evs)-1])
	}
	if lockExists(lr) {
		t.Error("lock not released")
	}
}

// ReadAuditHosts filters entries by host (test helper).
func ReadAuditHosts(in []AuditEntry, host string) []AuditEntry {
	var out []AuditEntry
	for _, a := range in {
		if a.Host == host {
			out = append(out, a)
		}
	}
	return out
}

func TestPreflightRefusal(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	p := hostPlan("h1", "h2")
	p.Preflight = []Check{{
		Name: "ring-UN", Description: "every node UN",
		Run: func(ctx context.Context, env *Env) error {
			r, err := env.Exec(ctx, "h1", "echo 'DN  10.42.2.11'")
			if err != nil {
				return err
			}
			if strings.HasPrefix(r.Stdout, "DN") {
				return errors.New("10.42.2.11 is DN: bring it back before repairing")
			}
			return nil
		},
	}}
	status, err := e.Run(context.Background(), p)
	var re *RefusedError
	if status != StatusRefused || !errors.As(err, &re) || re.Check != "ring-UN" || !strings.Contains(err.Error(), "10.42.2.11 is DN") {
		t.Fatalf("Run = %s, %v", status, err)
	}
	if n := countLines(t, filepath.Join(lr.Dir("h1"), "ran.txt")); n != 0 {
		t.Error("a step ran after a refused preflight")
	}
	st, _ := LoadRun(state, p.ID)
	if st.Status != StatusRefused || st.Steps[0].Status != StatusPending {
		t.Errorf("journal = %+v", st)
	}
	if lockExists(lr) {
		t.Error("lock not released")
	}
}

func TestFailureStopsThenResumeContinues(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	if err := os.WriteFile(filepath.Join(lr.Dir("h2"), "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := hostPlan("h1", "h2", "h3")
	status, err := e.Run(context.Background(), p)
	var ee *ExitError
	if status != StatusFailed || !errors.As(err, &ee) || ee.Host != "h2" || ee.Code != 1 {
		t.Fatalf("Run = %s, %v", status, err)
	}
	want := map[string]Status{"h1/work": StatusDone, "h2/work": StatusFailed, "h3/work": StatusSkipped}
	if got := stepStatuses(t, state, p.ID); !equalStatuses(got, want) {
		t.Errorf("after failure: %v, want %v", got, want)
	}
	if lockExists(lr) {
		t.Error("lock not released after failure")
	}

	if err := os.Remove(filepath.Join(lr.Dir("h2"), "fail")); err != nil {
		t.Fatal(err)
	}
	status, err = e.Resume(context.Background(), p.ID, hostPlan("h1", "h2", "h3"))
	if err != nil || status != StatusDone {
		t.Fatalf("Resume = %s, %v", status, err)
	}
	for h, n := range map[string]int{"h1": 1, "h2": 2, "h3": 1} {
		if got := countLines(t, filepath.Join(lr.Dir(h), "ran.txt")); got != n {
			t.Errorf("%s ran %d times, want %d", h, got, n)
		}
	}
}

func equalStatuses(a, b map[string]Status) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestResumeRefusals(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	os.WriteFile(filepath.Join(lr.Dir("h2"), "fail"), nil, 0o644)
	p := hostPlan("h1", "h2")
	if status, _ := e.Run(context.Background(), p); status != StatusFailed {
		t.Fatalf("status %s", status)
	}
	changed := hostPlan("h1", "h2")
	changed.Fingerprint = "fp2"
	if _, err := e.Resume(context.Background(), p.ID, changed); err == nil || !strings.Contains(err.Error(), "inventory changed") {
		t.Errorf("fingerprint change: %v", err)
	}
	if _, err := e.Resume(context.Background(), p.ID, hostPlan("h1", "h3")); err == nil || !strings.Contains(err.Error(), "start a new run") {
		t.Errorf("step change: %v", err)
	}
	// A non-idempotent, non-detached step left running by a crash.
	st, _ := LoadRun(state, p.ID)
	st.Steps[1].Status = StatusRunning
	saveRun(state, st)
	_, err := e.Resume(context.Background(), p.ID, hostPlan("h1", "h2"))
	if err == nil || !strings.Contains(err.Error(), "not safe to run again") || !strings.Contains(err.Error(), "check h2 by hand") {
		t.Errorf("running step: %v", err)
	}
	// The operator checked h2 and marks it done.
	if err := MarkStep(state, p.ID, "h2/work", StatusDone, "checked by hand"); err != nil {
		t.Fatal(err)
	}
	if status, err := e.Resume(context.Background(), p.ID, hostPlan("h1", "h2")); status != StatusDone || err != nil {
		t.Errorf("Resume after MarkStep = %s, %v", status, err)
	}
	if n := countLines(t, filepath.Join(lr.Dir("h2"), "ran.txt")); n != 1 {
		t.Errorf("h2 ran %d times", n)
	}
}

func TestIdempotentRunningStepIsRerun(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	p := hostPlan("h1")
	p.Steps[0].Idempotent = true
	os.WriteFile(filepath.Join(lr.Dir("h1"), "fail"), nil, 0o644)
	e.Run(context.Background(), p)
	st, _ := LoadRun(state, p.ID)
	st.Steps[0].Status = StatusRunning
	saveRun(state, st)
	os.Remove(filepath.Join(lr.Dir("h1"), "fail"))
	p2 := hostPlan("h1")
	p2.Steps[0].Idempotent = true
	if status, err := e.Resume(context.Background(), p.ID, p2); status != StatusDone || err != nil {
		t.Fatalf("Resume = %s, %v", status, err)
	}
}

func TestLockContentionAndForceUnlock(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	lock := ClusterLock{R: lr, Path: filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")}
	if err := lock.Acquire(context.Background(), "ops@laptop-3", "20261124-2231-repair", fixedTime); err != nil {
		t.Fatal(err)
	}
	p := hostPlan("h1")
	status, err := e.Run(context.Background(), p)
	var le *LockedError
	if status != StatusRefused || !errors.As(err, &le) {
		t.Fatalf("Run = %s, %v", status, err)
	}
	if !strings.Contains(err.Error(), "locked by ops@laptop-3, run 20261124-2231-repair, since 2026-11-24 22:31 UTC") {
		t.Errorf("error = %q", err)
	}
	if n := countLines(t, filepath.Join(lr.Dir("h1"), "ran.txt")); n != 0 {
		t.Error("ran while locked")
	}
	if st, _ := LoadRun(state, p.ID); st.Status != StatusRefused {
		t.Errorf("journal status %s", st.Status)
	}
	owner, err := lock.Owner(context.Background())
	if err != nil || owner == nil || owner.Run != "20261124-2231-repair" {
		t.Fatalf("Owner = %v, %v", owner, err)
	}
	// Release by another run leaves the lock alone.
	if err := lock.Release(context.Background(), "someone-else"); err != nil || !lockExists(lr) {
		t.Fatalf("Release by non-owner: %v, exists %v", err, lockExists(lr))
	}
	if o, err := e.LockOwner(context.Background()); err != nil || o == nil || o.Operator != "ops@laptop-3" {
		t.Fatalf("Engine.LockOwner = %v, %v", o, err)
	}
	was, err := e.ForceUnlock(context.Background())
	if err != nil || was.Operator != "ops@laptop-3" || was.Run != "20261124-2231-repair" || !was.Since.Equal(fixedTime) {
		t.Fatalf("ForceUnlock = %+v, %v", was, err)
	}
	if _, err := lock.ForceUnlock(context.Background()); !errors.Is(err, ErrNotLocked) {
		t.Errorf("second ForceUnlock = %v", err)
	}
	if audit, _ := ReadAudit(state, AuditFilter{Host: "bastion"}); len(audit) == 0 || !strings.Contains(audit[len(audit)-1].Command, "rm -rf") {
		t.Errorf("ForceUnlock not audited: %+v", audit)
	}
	if owner, err := lock.Owner(context.Background()); owner != nil || err != nil {
		t.Errorf("Owner after unlock = %v, %v", owner, err)
	}
	p2 := hostPlan("h1")
	p2.ID = "20261124-2240-test"
	if status, err := e.Run(context.Background(), p2); status != StatusDone || err != nil {
		t.Fatalf("Run after unlock = %s, %v", status, err)
	}
}

func TestReadOnlyPlanTakesNoLock(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, _, _ := newTestEngine(t, lr)
	lock := ClusterLock{R: lr, Path: filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")}
	lock.Acquire(context.Background(), "ops@laptop-3", "other", fixedTime)
	p := hostPlan("h1")
	p.ReadOnly = true
	if status, err := e.Run(context.Background(), p); status != StatusDone || err != nil {
		t.Fatalf("Run = %s, %v", status, err)
	}
}

func TestCancelRunsCleanupAndReleasesLock(t *testing.T) {
	for _, detached := range []bool{false, true} {
		t.Run(map[bool]string{false: "attached", true: "detached"}[detached], func(t *testing.T) {
			lr := &workflowtest.LocalRunner{Root: t.TempDir()}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e, state, rec := newTestEngine(t, lr)
			rec.on = func(ev Event) {
				if o, ok := ev.(*OutputLine); ok && o.Line == "working" {
					cancel()
				}
			}
			p := &Plan{ID: "20261124-2231-cancel", Workflow: "test", Fingerprint: "fp1"}
			p.Steps = []Step{
				{ID: "long", Host: "h1", Detached: detached, Commands: []string{"echo $$ > " + filepath.Join(lr.Dir("h1"), "long.pid") + "; echo working; while :; do sleep 0.05; done"}},
				{ID: "after", Host: "h1", Commands: []string{"touch after"}},
				{ID: "unpause", Host: "h1", Cleanup: true, Commands: []string{"touch cleaned"}},
			}
			status, err := e.Run(ctx, p)
			if status != StatusCanceled || !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %s, %v", status, err)
			}
			if _, err := os.Stat(filepath.Join(lr.Dir("h1"), "cleaned")); err != nil {
				t.Error("cleanup step did not run")
			}
			if _, err := os.Stat(filepath.Join(lr.Dir("h1"), "after")); err == nil {
				t.Error("step after the canceled one ran")
			}
			want := map[string]Status{"long": StatusCanceled, "after": StatusSkipped, "unpause": StatusDone}
			if got := stepStatuses(t, state, p.ID); !equalStatuses(got, want) {
				t.Errorf("steps %v, want %v", got, want)
			}
			if st, _ := LoadRun(state, p.ID); st.Status != StatusCanceled {
				t.Errorf("run status %s", st.Status)
			}
			if lockExists(lr) {
				t.Error("lock not released")
			}
			// The remote process is gone (killed with its process group).
			pidb, _ := os.ReadFile(filepath.Join(lr.Dir("h1"), "long.pid"))
			waitGone(t, strings.TrimSpace(string(pidb)))
		})
	}
}

// waitGone polls until the process has exited; the test fails by timing out
// if it never does, never by a timed assertion.
func waitGone(t *testing.T, pid string) {
	t.Helper()
	if pid == "" {
		t.Fatal("no pid recorded")
	}
	for {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuditRedaction(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	red := NewRedactor("s3cr3t-token")
	e, state, rec := newTestEngine(t, lr, WithRedactor(red))
	p := hostPlan("h1")
	p.Steps[0].Commands = []string{"echo password=s3cr3t-token"}
	if status, err := e.Run(context.Background(), p); status != StatusDone {
		t.Fatal(status, err)
	}
	audit, _ := ReadAudit(state, AuditFilter{Host: "h1"})
	if len(audit) != 1 || audit[0].Command != "echo password=***" {
		t.Errorf("audit = %+v", audit)
	}
	for _, f := range []string{AuditPath(state), JournalPath(state, p.ID), HostLogPath(state, p.ID, "h1")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "s3cr3t") {
			t.Errorf("%s contains the secret:\n%s", f, b)
		}
	}
	for _, l := range rec.lines() {
		if strings.Contains(l, "s3cr3t") {
			t.Errorf("event contains the secret: %q", l)
		}
	}
}

func TestReadAuditFilter(t *testing.T) {
	state := t.TempDir()
	a := &auditLog{path: AuditPath(state)}
	for i, h := range []string{"h1", "h2", "h1"} {
		a.append(AuditEntry{Time: fixedTime.Add(time.Duration(i) * time.Minute), Run: "r" + h, Host: h, Command: "true"})
	}
	// A torn last line (crash mid-write) is skipped.
	f, _ := os.OpenFile(AuditPath(state), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026`)
	f.Close()
	got, err := ReadAudit(state, AuditFilter{Host: "h1", Since: fixedTime.Add(time.Minute)})
	if err != nil || len(got) != 1 || !got[0].Time.Equal(fixedTime.Add(2*time.Minute)) {
		t.Errorf("ReadAudit = %+v, %v", got, err)
	}
	if got, _ := ReadAudit(t.TempDir(), AuditFilter{}); got != nil {
		t.Errorf("missing log = %v", got)
	}
}

func TestGateFailsClosed(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, rec := newTestEngine(t, lr)
	p := hostPlan("h1", "h2")
	polls := 0
	p.Steps[0].Gate = &Gate{
		Name: "ring-UN", Description: "every node UN", Deadline: 200 * time.Millisecond, Interval: 10 * time.Millisecond,
		Check: func(ctx context.Context, env *Env) (bool, string, error) {
			polls++
			if polls == 1 {
				return false, "10.42.2.11 is DN", nil
			}
			return true, "", errors.New("prometheus unreachable") // ok with an error is not passed
		},
	}
	status, err := e.Run(context.Background(), p)
	if status != StatusFailed || err == nil || !strings.Contains(err.Error(), "not passed within") || !strings.Contains(err.Error(), "prometheus unreachable") {
		t.Fatalf("Run = %s, %v", status, err)
	}
	want := map[string]Status{"h1/work": StatusFailed, "h2/work": StatusSkipped}
	if got := stepStatuses(t, state, p.ID); !equalStatuses(got, want) {
		t.Errorf("steps %v", got)
	}
	var waiting int
	for _, ev := range rec.events() {
		if _, ok := ev.(*GateWaiting); ok {
			waiting++
		}
	}
	if waiting < 2 {
		t.Errorf("%d GateWaiting events", waiting)
	}
}

func TestGatePasses(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, _, rec := newTestEngine(t, lr)
	p := hostPlan("h1")
	p.Steps[0].Gate = &Gate{
		Name: "file", Interval: time.Millisecond,
		Check: func(ctx context.Context, env *Env) (bool, string, error) {
			r, err := env.Exec(ctx, "h1", "cat ran.txt")
			return err == nil && r.ExitCode == 0 && r.Stdout == "ran\n", "ran.txt not written", err
		},
	}
	if status, err := e.Run(context.Background(), p); status != StatusDone {
		t.Fatal(status, err)
	}
	var passed bool
	for _, ev := range rec.events() {
		if _, ok := ev.(*GatePassed); ok {
			passed = true
		}
	}
	if !passed {
		t.Error("no GatePassed event")
	}
}

func TestCanaryWaitsThenResumes(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr, WithCanary(true))
	p := hostPlan("h1", "h2", "h3")
	p.Steps = append(p.Steps[:1], append([]Step{{ID: "h1/check", Host: "h1", Commands: []string{"true"}}}, p.Steps[1:]...)...)
	status, err := e.Run(context.Background(), p)
	if status != StatusCanaryWait || err == nil || !strings.Contains(err.Error(), "canary host h1 done") {
		t.Fatalf("Run = %s, %v", status, err)
	}
	want := map[string]Status{"h1/work": StatusDone, "h1/check": StatusDone, "h2/work": StatusPending, "h3/work": StatusPending}
	if got := stepStatuses(t, state, p.ID); !equalStatuses(got, want) {
		t.Errorf("steps %v", got)
	}
	if lockExists(lr) {
		t.Error("lock held during canary-wait")
	}
	p2 := hostPlan("h1", "h2", "h3")
	p2.Steps = append(p2.Steps[:1], append([]Step{{ID: "h1/check", Host: "h1", Commands: []string{"true"}}}, p2.Steps[1:]...)...)
	if status, err := e.Resume(context.Background(), p.ID, p2); status != StatusDone || err != nil {
		t.Fatalf("Resume = %s, %v", status, err)
	}
	if n := countLines(t, filepath.Join(lr.Dir("h1"), "ran.txt")); n != 1 {
		t.Errorf("h1 ran %d times", n)
	}
}

func TestPauseAfterCurrentStep(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	var e *Engine
	e, state, rec := newTestEngine(t, lr)
	rec.on = func(ev Event) {
		if s, ok := ev.(*StepStarted); ok && s.Step == "h1/work" {
			e.RequestPause()
		}
	}
	p := hostPlan("h1", "h2")
	status, err := e.Run(context.Background(), p)
	if status != StatusPaused || err == nil {
		t.Fatalf("Run = %s, %v", status, err)
	}
	want := map[string]Status{"h1/work": StatusDone, "h2/work": StatusPending}
	if got := stepStatuses(t, state, p.ID); !equalStatuses(got, want) {
		t.Errorf("steps %v", got)
	}
	rec.on = nil
	if status, err := e.Resume(context.Background(), p.ID, hostPlan("h1", "h2")); status != StatusDone || err != nil {
		t.Fatalf("Resume = %s, %v", status, err)
	}
}

// A marker set before pausing the cluster makes Resume run the compensation
// (unpause) before anything else, and defers operator pauses.
func TestMarkerCompensationOnResume(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	var e *Engine
	e, state, rec := newTestEngine(t, lr)
	build := func() *Plan {
		p := &Plan{ID: "20261124-2231-backup", Workflow: "backup", Fingerprint: "fp1"}
		p.Steps = []Step{
			{ID: "pause", Host: "h1", Run: func(ctx context.Context, env *Env) error {
				if err := env.SetMarker(MarkerScalarDLPaused, "h1"); err != nil {
					return err
				}
				return env.Run(ctx, "h1", "echo paused >> state.txt")
			}},
			{ID: "snapshot", Host: "h1", Commands: []string{"test ! -e fail && echo snap >> state.txt"}},
			{ID: "unpause", Host: "h1", Run: func(ctx context.Context, env *Env) error {
				if err := env.Run(ctx, "h1", "echo unpaused >> state.txt"); err != nil {
					return err
				}
				return env.ClearMarker(MarkerScalarDLPaused)
			}},
		}
		p.Compensations = map[string]Step{MarkerScalarDLPaused: p.Steps[2]}
		return p
	}
	os.WriteFile(filepath.Join(lr.Dir("h1"), "fail"), nil, 0o644)
	rec.on = func(ev Event) {
		if s, ok := ev.(*StepStarted); ok && s.Step == "pause" {
			e.RequestPause() // deferred: the marker is set after this step
		}
	}
	p := build()
	status, _ := e.Run(context.Background(), p)
	if status != StatusFailed {
		t.Fatalf("status %s", status)
	}
	st, _ := LoadRun(state, p.ID)
	if _, ok := st.Markers[MarkerScalarDLPaused]; !ok || st.Steps[1].Status != StatusFailed {
		t.Fatalf("journal %+v", st)
	}
	rec.on = nil
	os.Remove(filepath.Join(lr.Dir("h1"), "fail"))
	if status, err := e.Resume(context.Background(), p.ID, build()); status != StatusDone || err != nil {
		t.Fatalf("Resume = %s, %v", status, err)
	}
	b, _ := os.ReadFile(filepath.Join(lr.Dir("h1"), "state.txt"))
	if got := string(b); got != "paused\nunpaused\nsnap\nunpaused\n" {
		t.Errorf("state.txt = %q", got)
	}
	if st, _ := LoadRun(state, p.ID); len(st.Markers) != 0 {
		t.Errorf("markers left: %v", st.Markers)
	}
}

func TestParallelGroup(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	p := hostPlan("h1", "h2", "h3")
	p.Steps[0].Parallel, p.Steps[1].Parallel = "g", "g"
	// h1 waits until h2 has run: only possible if they run concurrently.
	p.Steps[0].Commands = []string{"while [ ! -e ../h2/ran.txt ]; do sleep 0.01; done; echo ran >> ran.txt"}
	if status, err := e.Run(context.Background(), p); status != StatusDone {
		t.Fatal(status, err)
	}
	for _, s := range stepStatuses(t, state, p.ID) {
		if s != StatusDone {
			t.Error(s)
		}
	}
}

func TestUniqueRunID(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, _, _ := newTestEngine(t, lr)
	p1, p2 := hostPlan("h1"), hostPlan("h1")
	e.Run(context.Background(), p1)
	e.Run(context.Background(), p2)
	if p1.ID == p2.ID || !strings.HasPrefix(p2.ID, p1.ID+"-") {
		t.Errorf("IDs %s %s", p1.ID, p2.ID)
	}
	if got := NewRunID(fixedTime, "repair"); got != "20261124-2231-repair" {
		t.Errorf("NewRunID = %s", got)
	}
}

func TestEventJSONAndText(t *testing.T) {
	ev := &OutputLine{Header: Header{Run: "r1", Time: fixedTime}, Step: "s", Index: 2, Host: "h1", Stream: "stdout", Line: "x"}
	b, err := MarshalEventJSON(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"output","run":"r1","time":"2026-11-24T22:31:00Z","step":"s","index":2,"host":"h1","stream":"stdout","line":"x"}`
	if string(b) != want {
		t.Errorf("json = %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if got := FormatEvent(&Finished{Header: Header{Run: "r1", Time: fixedTime}, Status: StatusDone}); got != "22:31:00 run r1 done" {
		t.Errorf("text = %q", got)
	}
}

func TestSecondLocalProcessRefused(t *testing.T) {
	state := t.TempDir()
	unlock, err := lockLocal(state, "20261124-2231-test")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e := New(lr, state, WithoutLock())
	p := hostPlan("h1")
	p.ID = "20261124-2231-test"
	// The journal does not exist yet, so Run keeps the ID and hits the flock.
	status, err := e.Run(context.Background(), p)
	if status != StatusRefused || err == nil || !strings.Contains(err.Error(), "another scalar-tui process") {
		t.Fatalf("Run = %s, %v", status, err)
	}
}

func TestHostLogHasEachLineOnce(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	p := &Plan{ID: "20261124-2231-log", Workflow: "test"}
	p.Steps = []Step{{ID: "d", Host: "h1", Detached: true, Commands: []string{"echo unique-line"}}}
	if status, err := e.Run(context.Background(), p); status != StatusDone {
		t.Fatal(status, err)
	}
	b, err := os.ReadFile(HostLogPath(state, p.ID, "h1"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "stdout unique-line"); n != 1 {
		t.Errorf("line logged %d times:\n%s", n, b)
	}
}

// TestLockReentrantOnlyForSameOperator: the lock is re-entrant for Resume of
// the same run by the same operator, never for another operator whose run
// happens to carry the same ID.
func TestLockReentrantOnlyForSameOperator(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	lock := ClusterLock{R: lr, Path: filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")}
	ctx := context.Background()
	if err := lock.Acquire(ctx, "ops@laptop-3", "20261124-2231-repair", fixedTime); err != nil {
		t.Fatal(err)
	}
	if err := lock.Acquire(ctx, "ops@laptop-3", "20261124-2231-repair", fixedTime); err != nil {
		t.Fatalf("same operator, same run: %v", err)
	}
	var le *LockedError
	if err := lock.Acquire(ctx, "dev@laptop-9", "20261124-2231-repair", fixedTime); !errors.As(err, &le) || le.Owner.Operator != "ops@laptop-3" {
		t.Fatalf("other operator, same run ID: %v", err)
	}
	if id := UniqueRunID("20261124-2231-repair"); !strings.HasPrefix(id, "20261124-2231-repair-") || id == UniqueRunID("20261124-2231-repair") {
		t.Errorf("UniqueRunID = %s", id)
	}
}

// TestCompensationBeforePreflight: on Resume the compensation for a marker
// runs before preflight, so a check such as "Scalar DL is not paused" cannot
// refuse the very run that is about to unpause it.
func TestCompensationBeforePreflight(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr)
	build := func() *Plan {
		p := &Plan{ID: "20261124-2231-backup", Workflow: "backup", Fingerprint: "fp1"}
		p.Preflight = []Check{{Name: "not-paused", Run: func(ctx context.Context, env *Env) error {
			return env.Run(ctx, "h1", `test "$(tail -n1 state.txt 2>/dev/null)" != paused`)
		}}}
		p.Steps = []Step{
			{ID: "pause", Host: "h1", Run: func(ctx context.Context, env *Env) error {
				if err := env.SetMarker(MarkerScalarDLPaused, "h1"); err != nil {
					return err
				}
				return env.Run(ctx, "h1", "echo paused >> state.txt")
			}},
			{ID: "snapshot", Host: "h1", Commands: []string{"test ! -e fail && echo snap >> state.txt"}},
			{ID: "unpause", Host: "h1", Run: func(ctx context.Context, env *Env) error {
				if err := env.Run(ctx, "h1", "echo unpaused >> state.txt"); err != nil {
					return err
				}
				return env.ClearMarker(MarkerScalarDLPaused)
			}},
		}
		p.Compensations = map[string]Step{MarkerScalarDLPaused: p.Steps[2]}
		return p
	}
	os.WriteFile(filepath.Join(lr.Dir("h1"), "fail"), nil, 0o644)
	p := build()
	if status, _ := e.Run(context.Background(), p); status != StatusFailed {
		t.Fatalf("status %s", status)
	}
	os.Remove(filepath.Join(lr.Dir("h1"), "fail"))
	if status, err := e.Resume(context.Background(), p.ID, build()); status != StatusDone || err != nil {
		t.Fatalf("Resume = %s, %v (preflight ran before the compensation?)", status, err)
	}
	if st, _ := LoadRun(state, p.ID); len(st.Markers) != 0 {
		t.Errorf("markers left: %v", st.Markers)
	}
}

// An engine that holds at stops waits at a pause (and at the canary stop)
// with the cluster lock released, says Paused with the last step done, and
// goes on in the same engine on Continue; cancelled while held, the run ends
// with its stop's status and stays resumable.
func TestHoldAtStopsPauseThenContinue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		canary bool
		cancel bool
	}{{"pause-continue", false, false}, {"canary-continue", true, false}, {"pause-cancel", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			lr := &workflowtest.LocalRunner{Root: t.TempDir()}
			var e *Engine
			e, state, rec := newTestEngine(t, lr, WithCanary(tc.canary))
			e.HoldAtStops(true)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := hostPlan("h1", "h2", "h3")
			var heldLock []bool
			var heldStatus []Status
			rec.on = func(ev Event) {
				switch ev := ev.(type) {
				case *StepStarted:
					if ev.Step == "h1/work" && !tc.canary {
						e.RequestPause()
					}
				case *Paused:
					heldLock = append(heldLock, lockExists(lr))
					if st, err := LoadRun(state, p.ID); err == nil {
						heldStatus = append(heldStatus, st.Status)
					}
					if tc.cancel {
						cancel()
					} else {
						e.Continue()
					}
				}
			}
			status, err := e.Run(ctx, p)
			evs := rec.events()
			var paused []*Paused
			finished := 0
			for _, ev := range evs {
				switch ev := ev.(type) {
				case *Paused:
					paused = append(paused, ev)
				case *Finished:
					finished++
				}
			}
			if len(paused) != 1 || paused[0].Index != 0 || paused[0].Canary != tc.canary {
				t.Fatalf("Paused events %+v, want one after step 0 (canary %t)", paused, tc.canary)
			}
			if len(heldLock) != 1 || heldLock[0] {
				t.Errorf("cluster lock held while the run waited: %v", heldLock)
			}
			stop := StatusPaused
			if tc.canary {
				stop = StatusCanaryWait
			}
			if len(heldStatus) != 1 || heldStatus[0] != stop {
				t.Errorf("journal while held: %v, want %s", heldStatus, stop)
			}
			if f, ok := evs[len(evs)-1].(*Finished); !ok || finished != 1 {
				t.Fatalf("last event %T, %d Finished events: want exactly one, last", evs[len(evs)-1], finished)
			} else if tc.cancel && (f.Status != StatusPaused || !strings.Contains(f.Err, "stays paused")) {
				t.Errorf("Finished after a cancel while held: %+v", f)
			}
			if tc.cancel {
				if status != StatusPaused || !errors.Is(err, context.Canceled) {
					t.Fatalf("Run = %s, %v; want paused, canceled", status, err)
				}
				want := map[string]Status{"h1/work": StatusDone, "h2/work": StatusPending, "h3/work": StatusPending}
				if got := stepStatuses(t, state, p.ID); !equalStatuses(got, want) {
					t.Errorf("steps %v", got)
				}
				return
			}
			if status != StatusDone || err != nil {
				t.Fatalf("Run = %s, %v", status, err)
			}
			for _, h := range []string{"h1", "h2", "h3"} {
				if n := countLines(t, filepath.Join(lr.Dir(h), "ran.txt")); n != 1 {
					t.Errorf("%s ran %d times", h, n)
				}
			}
			if lockExists(lr) {
				t.Error("lock left after the run")
			}
		})
	}
}

// A run's notices (the engine's and its steps') are kept in its cluster log,
// a line each, so `runs show` and the console's run detail can show them
// after the run; secrets in them are redacted like output.
func TestNoticesAreKeptInTheRunsLog(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, _ := newTestEngine(t, lr, WithRedactor(NewRedactor("hunter2")))
	p := hostPlan("h1")
	p.Steps = append(p.Steps, Step{ID: "verdict", Title: "say", Run: func(ctx context.Context, env *Env) error {
		env.Notice("reachability: h1 answers\nnext: aws ec2 describe-instances --password hunter2")
		return nil
	}})
	if status, err := e.Run(context.Background(), p); err != nil || status != StatusDone {
		t.Fatalf("Run = %s, %v", status, err)
	}
	b, err := os.ReadFile(HostLogPath(state, p.ID, ""))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{" note cluster lock taken", " note reachability: h1 answers\n", " note next: aws ec2 describe-instances --password "} {
		if !strings.Contains(log, want) {
			t.Errorf("cluster log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "hunter2") {
		t.Errorf("a secret reached the run's log:\n%s", log)
	}
}
