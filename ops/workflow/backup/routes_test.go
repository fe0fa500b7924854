package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
)

// Cassy clears every snapshot of its keyspaces on every node before it
// snapshots: a Cassy backup after a nodetool one deletes it. Each route
// refuses to run where the other is used, unless --allow-mixed-routes.
func TestBackupRoutesRefuseToMix(t *testing.T) {
	l := newCassyLab(t, true, 200*time.Millisecond)

	// 1. nodetool route first: Cassy has no backup of this cluster yet.
	p := planFor(t, l.lab, backup.Options{Tag: "before-upgrade"})
	var b strings.Builder
	_ = p.Render(&b)
	if !strings.Contains(b.String(), "no off-host copy") {
		t.Errorf("the nodetool plan does not say it gives no off-host copy:\n%s", b.String())
	}
	if st, err := l.engine().Run(testCtx(t, 60*time.Second), p); err != nil || st != workflow.StatusDone {
		t.Fatalf("nodetool backup: %s %v", st, err)
	}

	// 2. Cassy would delete it: refused, nothing sent.
	st, err := l.engine().Run(testCtx(t, 60*time.Second), cassyPlan(t, l, cassyOptions(l)))
	var re *workflow.RefusedError
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "backup-routes" || !strings.Contains(err.Error(), "before-upgrade on cassandra-1, cassandra-2, cassandra-3") || !strings.Contains(err.Error(), "--allow-mixed-routes") {
		t.Fatalf("cassy backup after a nodetool one: %s %v, want refused by backup-routes", st, err)
	}
	if n := l.takes.Load(); n != 0 {
		t.Fatalf("TakeBackup sent %d times", n)
	}
	if got := l.snapshots("before-upgrade"); len(got) != 3 {
		t.Fatalf("the nodetool snapshot is gone: %v", got)
	}

	// 3. With the flag it runs, says what it deletes, and Cassy deletes it.
	o := cassyOptions(l)
	o.AllowMixedRoutes = true
	if st, err := l.engine().Run(testCtx(t, 60*time.Second), cassyPlan(t, l, o)); err != nil || st != workflow.StatusDone {
		t.Fatalf("cassy backup with --allow-mixed-routes: %s %v", st, err)
	}
	if !l.sawNotice("it would delete before-upgrade") {
		t.Errorf("notices: %q", l.notices())
	}
	if got := l.snapshots("before-upgrade"); len(got) != 0 {
		t.Errorf("Cassy kept the nodetool snapshot on %v (the simulator does not clear like Cassy)", got)
	}

	// 4. Now Cassy backs this cluster up: the nodetool route is refused.
	st, err = l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l.lab, backup.Options{Tag: "bk2"}))
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "backup-routes" || !strings.Contains(err.Error(), "Cassy backs up this cluster") {
		t.Fatalf("nodetool backup after a Cassy one: %s %v, want refused by backup-routes", st, err)
	}
	if got := l.snapshots("bk2"); len(got) != 0 {
		t.Errorf("snapshot taken although refused: %v", got)
	}
	st, err = l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l.lab, backup.Options{Tag: "bk2", AllowMixedRoutes: true}))
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("nodetool backup with --allow-mixed-routes: %s %v", st, err)
	}
}

// A Scalar DL container that restarts during the pause comes back unpaused
// (restart: always): the snapshot is inconsistent. The run must fail with
// that reason, clear the snapshot and journal it.
func TestBackupContainerRestartDuringPauseIsInconsistent(t *testing.T) {
	l := newLab(t, nil)
	l.fault("scalardl-blue-2", sim.FaultContainerRestart, "")
	p := planFor(t, l, backup.Options{})
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil {
		t.Fatalf("run: %s %v, want failed", st, err)
	}
	for _, want := range []string{"snapshot bk1 is inconsistent", "scalardl-blue-2", "restarted during the pause", "cleared on every Cassandra node"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, backup.ErrNotResumable) {
		t.Errorf("not marked as not resumable: %v", err)
	}
	if got := l.snapshots("bk1"); len(got) != 0 {
		t.Errorf("the inconsistent snapshot is still on %v", got)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("still paused: %v", got)
	}
	js := journal(t, l, p.ID)
	if m, ok := js.Markers[backup.MarkerInconsistent]; !ok || !strings.Contains(m.Value, "bk1") {
		t.Errorf("marker %s: %+v", backup.MarkerInconsistent, js.Markers)
	}
	if _, ok := js.Markers[backup.MarkerContainers]; !ok {
		t.Error("container start times not journalled")
	}
}

// The same restart while Cassy has Scalar DL paused: Cassy cannot tell, the
// console does.
func TestCassyBackupContainerRestartIsInconsistent(t *testing.T) {
	l := newCassyLab(t, true, 200*time.Millisecond)
	// A quick restart: the ledger is back before Cassy unpauses it.
	if err := sim.SetConfig(l.simDir, func(c *sim.Config) { c.ServingDelay = 0 }); err != nil {
		t.Fatal(err)
	}
	l.fault("scalardl-blue-3", sim.FaultContainerRestart, "")
	p := cassyPlan(t, l, cassyOptions(l))
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "is inconsistent") || !strings.Contains(err.Error(), "scalardl-blue-3") {
		t.Fatalf("run: %s %v, want failed as inconsistent", st, err)
	}
	if !errors.Is(err, backup.ErrNotResumable) {
		t.Errorf("not marked as not resumable: %v", err)
	}
	if _, ok := journal(t, l.lab, p.ID).Markers[backup.MarkerInconsistent]; !ok {
		t.Error("no inconsistency marker")
	}
}

// A slow restart: the ledger is not back when Cassy unpauses it, so Cassy
// fails (and answers STARTED); the console names the restarted container and
// unpauses everything itself.
func TestCassyBackupSlowContainerRestartFails(t *testing.T) {
	l := newCassyLab(t, true, 200*time.Millisecond)
	l.fault("scalardl-blue-1", sim.FaultContainerRestart, "")
	p := cassyPlan(t, l, cassyOptions(l))
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "FAILED") || !strings.Contains(err.Error(), "scalardl-blue-1 (container") {
		t.Fatalf("run: %s %v, want FAILED naming the restarted container", st, err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("left paused: %v", got)
	}
}

// A Pause that times out on this side may still pause the node: the console
// sends it an explicit Unpause, checks, and says so.
func TestBackupPauseTimeoutUnpausesThatNode(t *testing.T) {
	l := newLab(t, func(c *sim.Config) { c.PauseDrain = sim.Duration(3 * time.Second) })
	p := planFor(t, l, backup.Options{PauseTimeout: 500 * time.Millisecond})
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil {
		t.Fatalf("run: %s %v, want failed", st, err)
	}
	if !strings.Contains(err.Error(), "timed out on this side") || !strings.Contains(err.Error(), "explicit Unpause was sent") {
		t.Errorf("error: %v", err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("still paused: %v", got)
	}
	if s := l.snapshots("bk1"); len(s) != 0 {
		t.Errorf("snapshots taken: %v", s)
	}
}

// Resume after a lost TakeBackup answer adopts the backup Cassy created after
// the request, not an older one, and never sends TakeBackup twice.
func TestCassyBackupResumeFindsItsOwnBackup(t *testing.T) {
	l := newCassyLab(t, true, 300*time.Millisecond)
	o := cassyOptions(l)
	first := cassyPlan(t, l, o)
	if st, err := l.engine().Run(testCtx(t, 60*time.Second), first); err != nil || st != workflow.StatusDone {
		t.Fatalf("first backup: %s %v", st, err)
	}
	older := snapshotOf(t, l.lab, first.ID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l.mu.Lock()
	l.afterTake = func() { cancel(); time.Sleep(300 * time.Millisecond) }
	l.mu.Unlock()
	o.AllowMixedRoutes = true // the first Cassy snapshot is on the nodes
	p := cassyPlan(t, l, o)
	if st, err := l.engine().Run(ctx, p); st != workflow.StatusCanceled || err == nil {
		t.Fatalf("run: %s %v, want canceled", st, err)
	}
	l.mu.Lock()
	l.afterTake = nil
	l.mu.Unlock()
	raw, _ := json.Marshal(p.Params)
	var o2 backup.Options
	if err := json.Unmarshal(raw, &o2); err != nil {
		t.Fatal(err)
	}
	o2.Dial = l.Dial
	st, err := l.engine().Resume(testCtx(t, 60*time.Second), p.ID, cassyPlan(t, l, o2))
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("resume: %s %v", st, err)
	}
	got := snapshotOf(t, l.lab, p.ID)
	if got == "" || got == older {
		t.Errorf("resume adopted %q (the first run's was %q)", got, older)
	}
	if n := l.takes.Load(); n != 2 {
		t.Errorf("TakeBackup sent %d times over two runs, want 2", n)
	}
	if len(l.snapshots(got)) != 3 {
		t.Errorf("snapshot %s not on the 3 nodes", got)
	}
}

func TestResumeAdvice(t *testing.T) {
	for _, tc := range []struct {
		markers map[string]string
		ok      bool
		want    string
	}{
		{nil, true, "nothing was paused"},
		{map[string]string{backup.MarkerPauseAttempted: "x"}, false, "pauses only once"},
		{map[string]string{backup.MarkerPauseAttempted: "x", workflow.MarkerScalarDLPaused: "{}"}, false, "unpauses it"},
		{map[string]string{backup.MarkerCassySnapshot: `{"cluster_id":"c","snapshot_id":"s","taken":true}`}, true, "never sends a second TakeBackup"},
		{map[string]string{backup.MarkerCassySnapshot: `{"cluster_id":"c","snapshot_id":"s","failed":"FAILED on x"}`}, false, "FAILED"},
		{map[string]string{backup.MarkerPauseAttempted: "x", backup.MarkerInconsistent: "restarted"}, false, "inconsistent"},
	} {
		ok, advice := backup.ResumeAdvice(tc.markers)
		if ok != tc.ok || !strings.Contains(advice, tc.want) {
			t.Errorf("%v: %v %q, want %v and %q", tc.markers, ok, advice, tc.ok, tc.want)
		}
	}
}
