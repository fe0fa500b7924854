package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
)

func planFor(t *testing.T, l *lab, o backup.Options) *workflow.Plan {
	t.Helper()
	if o.Tag == "" {
		o.Tag = "bk1"
	}
	o.Dial = l.Dial
	if o.UnpauseBudget == 0 {
		o.UnpauseBudget = 20 * time.Second
	}
	p, err := backup.Plan(l.inv, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func journal(t *testing.T, l *lab, id string) *workflow.RunState {
	t.Helper()
	st, err := workflow.LoadRun(l.stateDir, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestBackupSuccessReportsPauseWindow(t *testing.T) {
	l := newLab(t, nil)
	var windows []backup.PauseWindow
	var mu sync.Mutex
	var pausedAtSnapshot atomic.Int32
	l.setHook(func(host, command string) error {
		if strings.Contains(command, "nodetool snapshot") {
			if len(l.paused()) == 3 {
				pausedAtSnapshot.Add(1)
			}
		}
		return nil
	})
	p := planFor(t, l, backup.Options{OnPauseWindow: func(w backup.PauseWindow) { mu.Lock(); windows = append(windows, w); mu.Unlock() }})
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("run: %s %v", st, err)
	}
	if n := pausedAtSnapshot.Load(); n != 3 {
		t.Errorf("snapshots taken while all 3 Scalar DL nodes were paused: %d, want 3", n)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("still paused: %v", got)
	}
	snaps := l.snapshots("bk1")
	if len(snaps) != 3 {
		t.Errorf("snapshot bk1 on %v, want 3 nodes", snaps)
	}
	if len(windows) != 1 || windows[0].Duration <= 0 || len(windows[0].Targets) != 3 {
		t.Fatalf("pause window: %+v", windows)
	}
	js := journal(t, l, p.ID)
	if _, ok := js.Markers[workflow.MarkerScalarDLPaused]; ok {
		t.Error("paused marker still set in the journal")
	}
	if m, ok := js.Markers[backup.MarkerPauseWindow]; !ok || !strings.Contains(m.Value, "paused") {
		t.Errorf("pause window not journalled: %+v", js.Markers)
	}
	t.Logf("%s", windows[0])

	lst, err := backup.List(testCtx(t, 30*time.Second), l, l.inv, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lst.Backups) != 1 || lst.Backups[0].Completeness() != "complete on 3/3" {
		t.Fatalf("list: %+v", lst)
	}
}

func TestBackupDiskFullUnpausesAndNamesNode(t *testing.T) {
	l := newLab(t, nil)
	l.fault("cassandra-2", sim.FaultDiskFull, "")
	p := planFor(t, l, backup.Options{})
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil {
		t.Fatalf("run: %s %v, want failed", st, err)
	}
	if !strings.Contains(err.Error(), "cassandra-2") {
		t.Errorf("error does not name cassandra-2: %v", err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("still paused: %v", got)
	}
	js := journal(t, l, p.ID)
	if _, ok := js.Markers[workflow.MarkerScalarDLPaused]; ok {
		t.Error("paused marker still set")
	}
	if s := js.Step("unpause-scalardl"); s == nil || s.Status != workflow.StatusDone {
		t.Errorf("unpause step: %+v", s)
	}
	lst, err := backup.List(testCtx(t, 30*time.Second), l, l.inv, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lst.Backups) != 1 || lst.Backups[0].Completeness() != "partial: 2/3 (missing cassandra-2)" {
		t.Fatalf("list: %+v", lst.Backups)
	}
}

func TestBackupPauseRefusedUnpausesOthers(t *testing.T) {
	l := newLab(t, nil)
	l.fault("scalardl-blue-2", sim.FaultPauseRefused, "")
	p := planFor(t, l, backup.Options{})
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil {
		t.Fatalf("run: %s %v, want failed", st, err)
	}
	if !strings.Contains(err.Error(), "scalardl-blue-2") || !strings.Contains(err.Error(), "unpaused again") {
		t.Errorf("error: %v", err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("still paused: %v", got)
	}
	if s := l.snapshots("bk1"); len(s) != 0 {
		t.Errorf("snapshots taken although the pause failed: %v", s)
	}
	js := journal(t, l, p.ID)
	if _, ok := js.Markers[workflow.MarkerScalarDLPaused]; ok {
		t.Error("paused marker still set")
	}
}

func TestBackupSSHDropDuringSnapshotUnpauses(t *testing.T) {
	l := newLab(t, nil)
	var once sync.Once
	l.setHook(func(host, command string) error {
		if strings.Contains(command, "nodetool snapshot") && strings.HasPrefix(host, "cassandra-3") {
			var err error
			once.Do(func() {
				// The bastion connection drops: commands and admin dials fail
				// for a second, then the connection comes back.
				l.dropped.Store(true)
				time.AfterFunc(time.Second, func() { l.dropped.Store(false) })
				err = errors.New("ssh: connection to bastion lost")
			})
			return err
		}
		return nil
	})
	p := planFor(t, l, backup.Options{})
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil {
		t.Fatalf("run: %s %v, want failed", st, err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("still paused after the drop: %v", got)
	}
	js := journal(t, l, p.ID)
	if _, ok := js.Markers[workflow.MarkerScalarDLPaused]; ok {
		t.Error("paused marker still set")
	}
}

func TestBackupCtrlCDuringSnapshotUnpauses(t *testing.T) {
	l := newLab(t, nil)
	ctx, cancel := context.WithCancel(testCtx(t, 60*time.Second))
	l.setHook(func(host, command string) error {
		if strings.Contains(command, "nodetool snapshot") {
			cancel()
			return context.Canceled
		}
		return nil
	})
	p := planFor(t, l, backup.Options{})
	st, err := l.engine().Run(ctx, p)
	if st != workflow.StatusCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %s %v, want canceled", st, err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("still paused after Ctrl-C: %v", got)
	}
}

// TestBackupResumeAfterCrashUnpausesFirst builds what a SIGKILL while paused
// leaves: Scalar DL paused in the cluster, a journal with the marker set and
// a snapshot step running. Resume must unpause before anything else and must
// not take the remaining snapshots unpaused.
func TestBackupResumeAfterCrashUnpausesFirst(t *testing.T) {
	l := newLab(t, nil)
	p := planFor(t, l, backup.Options{})
	if err := sim.Update(l.simDir, func(st *sim.State) error {
		for _, h := range st.HostsByRole("scalardl") {
			h.Paused = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rs := workflow.RunState{ID: p.ID, Workflow: p.Workflow, Operator: "test", Created: now, Updated: now,
		Status: workflow.StatusRunning, Fingerprint: p.Fingerprint,
		Markers: map[string]workflow.Marker{workflow.MarkerScalarDLPaused: {Value: `{"targets":` + mustJSON(t, l.inv.Endpoints.ScalarDLAdmin) + `,"paused_at":"` + now.Format(time.RFC3339Nano) + `"}`, Set: now}}}
	for _, s := range p.Steps {
		ss := workflow.StepState{ID: s.ID, Title: s.Title, Host: s.Host, Status: workflow.StatusPending, Idempotent: s.Idempotent, Cleanup: s.Cleanup}
		switch {
		case s.ID == "record-containers" || s.ID == "pause-scalardl":
			ss.Status = workflow.StatusDone
		case s.ID == "cassandra-1/snapshot":
			ss.Status = workflow.StatusDone
		case s.ID == "cassandra-2/snapshot":
			ss.Status = workflow.StatusRunning
		}
		rs.Steps = append(rs.Steps, ss)
	}
	if err := os.MkdirAll(workflow.RunsDir(l.stateDir), 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rs)
	if err := os.WriteFile(workflow.JournalPath(l.stateDir, p.ID), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var order []string
	var mu sync.Mutex
	l.setHook(func(host, command string) error {
		if strings.Contains(command, "nodetool snapshot") {
			mu.Lock()
			order = append(order, "snapshot on "+host+" paused="+strings.Join(l.paused(), ","))
			mu.Unlock()
		}
		return nil
	})
	p2 := planFor(t, l, backup.Options{})
	st, err := l.engine().Resume(testCtx(t, 60*time.Second), p.ID, p2)
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "not paused by this run") {
		t.Fatalf("resume: %s %v, want failed by the consistency guard", st, err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("still paused after resume: %v", got)
	}
	if len(order) != 0 {
		t.Errorf("snapshots were taken after the crash without a pause: %v", order)
	}
	js := journal(t, l, p.ID)
	if _, ok := js.Markers[workflow.MarkerScalarDLPaused]; ok {
		t.Error("paused marker still set")
	}
	var sawComp bool
	l.evMu.Lock()
	for _, e := range l.events {
		if n, ok := e.(*workflow.Notice); ok && strings.Contains(n.Message, "compensate-unpause") {
			sawComp = true
		}
	}
	l.evMu.Unlock()
	if !sawComp {
		t.Error("no notice of the compensation")
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBackupPreflightRefusals(t *testing.T) {
	t.Run("cassandra down", func(t *testing.T) {
		l := newLab(t, nil)
		l.fault("cassandra-3", sim.FaultCassandraStopped, "")
		st, err := l.engine().Run(testCtx(t, 30*time.Second), planFor(t, l, backup.Options{}))
		var re *workflow.RefusedError
		if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "ring-UN" {
			t.Fatalf("run: %s %v", st, err)
		}
		if len(l.paused()) != 0 {
			t.Error("paused")
		}
	})
	t.Run("disk low", func(t *testing.T) {
		l := newLab(t, nil)
		l.setDF("cassandra-1.internal.scalar-labs.com", 4)
		st, err := l.engine().Run(testCtx(t, 30*time.Second), planFor(t, l, backup.Options{}))
		if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "cassandra-1 has 4.0% free") {
			t.Fatalf("run: %s %v", st, err)
		}
	})
	// 20% free passes a 10% check but is below the deployment's own
	// CassandraDriveSpaceLow rule (25%): the default check is the rule's.
	t.Run("disk below the alert rule", func(t *testing.T) {
		l := newLab(t, nil)
		l.setDF("cassandra-2.internal.scalar-labs.com", 20)
		st, err := l.engine().Run(testCtx(t, 30*time.Second), planFor(t, l, backup.Options{}))
		if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "cassandra-2 has 20.0% free") {
			t.Fatalf("run: %s %v", st, err)
		}
		if len(l.paused()) != 0 {
			t.Error("paused")
		}
	})
	t.Run("admin unreachable", func(t *testing.T) {
		l := newLab(t, nil)
		l.fault("scalardl-blue-3", sim.FaultNodeDown, "")
		st, err := l.engine().Run(testCtx(t, 30*time.Second), planFor(t, l, backup.Options{}))
		if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "scalardl-blue-3") {
			t.Fatalf("run: %s %v", st, err)
		}
	})
	t.Run("tag exists", func(t *testing.T) {
		l := newLab(t, nil)
		if _, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, backup.Options{})); err != nil {
			t.Fatal(err)
		}
		st, err := l.engine().Run(testCtx(t, 30*time.Second), planFor(t, l, backup.Options{}))
		if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("run: %s %v", st, err)
		}
	})
}

func TestPlanInputs(t *testing.T) {
	l := newLab(t, nil)
	for _, o := range []backup.Options{
		{Via: "cassy"}, {Via: "reaper"}, {Tag: "-rf"}, {Tag: "a b"}, {Tag: "x;rm"}, {Keyspaces: []string{"scalar;x"}},
	} {
		if _, err := backup.Plan(l.inv, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	p, err := backup.Plan(l.inv, backup.Options{Tag: "t1", Keyspaces: []string{"scalar"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := p.Render(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"$ nodetool snapshot -t t1 scalar", "rpc.Admin/Pause {wait_outstanding: true} scalardl-blue-1.internal.scalar-labs.com:50053", "cleanup: always runs", "parallel group snapshot"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, b.String())
		}
	}
	if _, ok := p.Compensations[workflow.MarkerScalarDLPaused]; !ok {
		t.Error("no compensation for the paused marker")
	}
}

func TestClearPlan(t *testing.T) {
	l := newLab(t, nil)
	if _, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, backup.Options{})); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.ClearPlan(l.inv, backup.ClearOptions{}); err == nil {
		t.Error("empty tag accepted")
	}
	cp, err := backup.ClearPlan(l.inv, backup.ClearOptions{Tag: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := l.engine().Run(testCtx(t, 30*time.Second), cp); st != workflow.StatusRefused {
		t.Errorf("clearing an unknown tag: %s, want refused", st)
	}
	cp, err = backup.ClearPlan(l.inv, backup.ClearOptions{Tag: "bk1"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := l.engine().Run(testCtx(t, 30*time.Second), cp); st != workflow.StatusDone {
		t.Fatalf("clear: %s %v", st, err)
	}
	if s := l.snapshots("bk1"); len(s) != 0 {
		t.Errorf("left: %v", s)
	}
}

func TestParseDF(t *testing.T) {
	free, avail, err := backup.ParseDF("Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/nvme1n1      103081248 9234188  88587796      10% /data\n")
	if err != nil || avail != 88587796 || free < 90 || free > 91 {
		t.Fatalf("%v %v %v", free, avail, err)
	}
	for _, bad := range []string{"", "x", "Filesystem\n/dev/x a b c d e"} {
		if _, _, err := backup.ParseDF(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
