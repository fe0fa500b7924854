package backend

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/ops/workflow"
	"scalar-tui/tui/vm"
)

// TestShutdownWaitsForCleanup: the console's exit path. Shutdown during a
// repair cancels it and returns only once the engine has journalled the
// final status and released the lock; then the run is offered, discard
// stops offering it, and the lock actions see a free lock.
func TestShutdownWaitsForCleanup(t *testing.T) {
	b, d := newDemoBackend(t, demo.PromOptions{})
	ctx := context.Background()
	pv, err := b.PlanWorkflow(ctx, vm.KindRepair, repairParams)
	if err != nil {
		t.Fatal(err)
	}
	ch, _, err := b.StartWorkflow(ctx, pv)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the first repair runs (its output arrives).
	for started := false; !started; {
		select {
		case e := <-ch:
			if o, ok := e.(*workflow.OutputLine); ok && strings.Contains(o.Line, "progress") {
				started = true
			}
		case <-time.After(time.Minute):
			t.Fatal("the repair never started")
		}
	}
	holder, err := b.LockHolder(ctx)
	if err != nil || holder == nil || holder.Run != pv.ID || holder.Host == "" || holder.PID != os.Getpid() {
		t.Fatalf("lock holder during the run: %+v, %v", holder, err)
	}
	if n := b.RunningWorkflows(); n != 1 {
		t.Fatalf("running workflows %d", n)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	// Right after Shutdown returns, with no further wait: final.
	st, err := workflow.LoadRun(b.cfg.StateDir, pv.ID)
	if err != nil || st.Status != workflow.StatusCanceled {
		t.Fatalf("journal after Shutdown: %+v, %v", st, err)
	}
	if holder, err := b.LockHolder(ctx); err != nil || holder != nil {
		t.Fatalf("lock after Shutdown: %+v, %v", holder, err)
	}
	if len(d.Processes()) != 0 {
		t.Errorf("remote repair still running: %v", d.Processes())
	}
	runs, err := b.Runs(ctx, 10)
	if err != nil || len(runs) != 1 || runs[0].State != "canceled" {
		t.Fatalf("runs %+v %v", runs, err)
	}
	if _, err := b.ForceUnlock(ctx); !errors.Is(err, workflow.ErrNotLocked) {
		t.Errorf("ForceUnlock of a free lock = %v", err)
	}
	if err := b.DiscardRun(ctx, pv.ID, "stale"); err != nil {
		t.Fatal(err)
	}
	if runs, _ := b.Runs(ctx, 10); len(runs) != 0 {
		t.Errorf("a discarded run is still offered: %+v", runs)
	}
}

// TestRunsShowsCrashedPaused: a journal left "running" by a dead process
// while Scalar DL was paused is shown crashed, with the command that fixes it.
func TestRunsShowsCrashedPaused(t *testing.T) {
	state := t.TempDir()
	b := &Backend{cfg: Config{StateDir: state}}
	host, _ := os.Hostname()
	st := &workflow.RunState{ID: "20261124-2231-backup-1a2b3c", Workflow: "backup", Status: workflow.StatusRunning,
		Hostname: host, PID: 999999999, Created: time.Date(2026, 11, 24, 22, 31, 0, 0, time.UTC),
		Markers: map[string]workflow.Marker{workflow.MarkerScalarDLPaused: {Value: "all", Step: "pause"}}}
	if err := os.MkdirAll(workflow.RunsDir(state), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeJournal(st, state); err != nil {
		t.Fatal(err)
	}
	runs, err := b.Runs(context.Background(), 10)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	if runs[0].State != "crashed" || !strings.Contains(runs[0].Warning, "`scalar-tui resume "+st.ID+"`") {
		t.Errorf("run view %+v", runs[0])
	}
}

func writeJournal(st *workflow.RunState, state string) error {
	// MarkStep-free way to write a journal: Discard refuses (marker), so
	// write the JSON as the engine does.
	b, err := jsonIndent(st)
	if err != nil {
		return err
	}
	return os.WriteFile(workflow.JournalPath(state, st.ID), b, 0o600)
}

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// TestForceUnlockRefusesPausedHolder: as `unlock --force`, the console's
// unlock leaves alone a lock whose run left Scalar DL paused (journal
// mirrored on the bastion) and says to take the run over; a holder without
// such a marker is broken and named.
func TestForceUnlockRefusesPausedHolder(t *testing.T) {
	b, _ := newDemoBackend(t, demo.PromOptions{})
	ctx := context.Background()
	eng, err := b.lockEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, client, err := b.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lock := workflow.ClusterLock{R: client, Path: eng.LockPath()}
	at := time.Date(2026, 11, 24, 22, 31, 0, 0, time.UTC)
	const id = "20261124-2231-backup-1a2b3c"
	if err := lock.Acquire(ctx, "bob", id, at); err != nil {
		t.Fatal(err)
	}
	st := &workflow.RunState{ID: id, Workflow: "backup", Status: workflow.StatusRunning, Created: at,
		Markers: map[string]workflow.Marker{workflow.MarkerScalarDLPaused: {Value: "all", Step: "pause"}}}
	if err := lock.WriteJournal(ctx, st); err != nil {
		t.Fatal(err)
	}
	_, err = b.ForceUnlock(ctx)
	if err == nil || !strings.Contains(err.Error(), "`scalar-tui resume "+id+" --takeover`") {
		t.Fatalf("ForceUnlock of a paused holder = %v", err)
	}
	if h, err := b.LockHolder(ctx); err != nil || h == nil || h.Run != id || h.Operator != "bob" || !h.Since.Equal(at) {
		t.Fatalf("the lock should still be held: %+v, %v", h, err)
	}
	st.Markers = nil
	if err := lock.WriteJournal(ctx, st); err != nil {
		t.Fatal(err)
	}
	was, err := b.ForceUnlock(ctx)
	if err != nil || was.Run != id || was.Operator != "bob" {
		t.Fatalf("ForceUnlock = %+v, %v", was, err)
	}
	if h, err := b.LockHolder(ctx); err != nil || h != nil {
		t.Fatalf("lock after ForceUnlock: %+v, %v", h, err)
	}
}
