package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"scalar-tui/tui/common"
	"scalar-tui/tui/components/confirm"
	"scalar-tui/tui/vm"
)

// staleLock is a lock left by a repair whose console died 2h15m ago.
func staleLock() *vm.LockView {
	return &vm.LockView{Operator: "alice", Host: "jump-1", PID: 4242, Run: "20261124-0945-repair-1a2b3c",
		Since: testNow.Add(-135 * time.Minute)}
}

// TestUnlockShowsHolderAndAsks: :unlock shows who holds the lock, Enter
// alone does not break it, and only an explicit confirm does.
func TestUnlockShowsHolderAndAsks(t *testing.T) {
	fb := newFake()
	fb.lock = staleLock()
	m := newTest(t, fb, false)
	press(t, m, ":", "unlock", "enter")
	if m.dialog == nil || m.dialog.Label != "unlock" || m.dialog.Focus() != confirm.Cancel {
		t.Fatalf(":unlock should open the unlock dialog focused on Cancel, dialog %+v status %q", m.dialog, m.status)
	}
	v := m.View()
	for _, want := range []string{"alice", "jump-1 (pid 4242)", "20261124-0945-repair-1a2b3c", "2026-11-24 09:45 UTC", "Age:      2h15m", "[ Unlock ]"} {
		if !strings.Contains(v, want) {
			t.Errorf("unlock dialog lacks %q:\n%s", want, v)
		}
	}
	press(t, m, "enter")
	if fb.unlocks != 0 || fb.lock == nil || m.dialog != nil {
		t.Fatalf("Enter alone broke the lock (unlocks %d)", fb.unlocks)
	}
	press(t, m, ":", "unlock", "enter", "tab", "enter")
	if fb.unlocks != 1 || !strings.Contains(m.status, "cluster lock broken: it was held by alice on jump-1, run 20261124-0945-repair-1a2b3c") {
		t.Fatalf("tab+enter: unlocks %d, status %q", fb.unlocks, m.status)
	}
	press(t, m, ":", "unlock", "enter")
	if m.dialog != nil || m.status != "the cluster is not locked" {
		t.Fatalf("free lock: dialog %v, status %q", m.dialog != nil, m.status)
	}
}

// TestUnlockChangedHands: the lock broken is not the one shown (another
// run took it while the dialog was open): the status says so.
func TestUnlockChangedHands(t *testing.T) {
	fb := newFake()
	fb.lock = staleLock()
	m := newTest(t, fb, false)
	press(t, m, ":", "runs", "enter", "u")
	if m.dialog == nil || m.dialog.Label != "unlock" {
		t.Fatalf("u on :runs should open the unlock dialog, status %q", m.status)
	}
	fb.mu.Lock()
	fb.lock = &vm.LockView{Operator: "bob", Host: "jump-2", Run: "20261124-1159-backup-9f9f9f", Since: testNow}
	fb.mu.Unlock()
	press(t, m, "y")
	if !strings.Contains(m.status, "changed hands") || !strings.Contains(m.status, "bob") || !m.statusEr {
		t.Fatalf("status %q", m.status)
	}
}

// TestDiscardFromRuns: d on a row asks (Cancel first), discards on
// confirm and reloads the list; a refusal is shown whole.
func TestDiscardFromRuns(t *testing.T) {
	fb := withUnfinished(newFake())
	m := newTest(t, fb, false)
	press(t, m, "esc", ":", "runs", "enter")
	if m.screen != common.ScreenRuns || len(m.runs.runs) != 3 {
		t.Fatalf("screen %v, %d runs", m.screen, len(m.runs.runs))
	}
	if !strings.Contains(m.View(), "d discard run !") {
		t.Errorf("runs footer lacks the discard key:\n%s", m.View())
	}
	press(t, m, "d")
	if m.dialog == nil || m.dialog.Label != "discard" || m.dialog.Focus() != confirm.Cancel || m.dialog.Msg().(discardRunMsg).run.ID != unfinishedRun().ID {
		t.Fatalf("d should ask about %s, dialog %+v", unfinishedRun().ID, m.dialog)
	}
	press(t, m, "enter")
	if len(fb.discarded) != 0 {
		t.Fatal("Enter alone discarded the run")
	}
	why := "run " + unfinishedRun().ID + " left Scalar DL paused (marker pause-window): resume it, which unpauses Scalar DL first, instead of discarding it; `scalar-tui resume " + unfinishedRun().ID + "`"
	fb.discardErr = errors.New(why)
	press(t, m, "d", "y")
	if !m.statusEr || !strings.Contains(m.status, why) {
		t.Fatalf("refusal not shown whole: %q", m.status)
	}
	if v := m.View(); !strings.Contains(strings.Join(strings.Fields(v), " "), "instead of discarding it;") {
		t.Errorf("the status area should show the refusal, wrapped:\n%s", v)
	}
	fb.discardErr = nil
	press(t, m, "d", "tab", "enter")
	if len(fb.discarded) != 1 || fb.discarded[0] != unfinishedRun().ID || !strings.Contains(m.status, "discarded") {
		t.Fatalf("discarded %v, status %q", fb.discarded, m.status)
	}
	if len(m.runs.runs) != 2 || m.runs.runs[0].ID == unfinishedRun().ID {
		t.Errorf("list not reloaded: %+v", m.runs.runs)
	}
}

// TestReadonlyHidesUnlockAndDiscard: neither key, command nor help.
func TestReadonlyHidesUnlockAndDiscard(t *testing.T) {
	fb := withUnfinished(newFake())
	fb.lock = staleLock()
	m := newTest(t, fb, true)
	press(t, m, ":", "unlock", "enter")
	if m.dialog != nil || !strings.Contains(m.status, "read-only") {
		t.Fatalf(":unlock in read-only: dialog %v, status %q", m.dialog != nil, m.status)
	}
	press(t, m, ":", "runs", "enter", "d", "u")
	if m.dialog != nil || len(fb.discarded) != 0 || fb.unlocks != 0 {
		t.Fatalf("read-only: d/u acted (dialog %v)", m.dialog != nil)
	}
	footer := m.View()
	press(t, m, "?")
	for _, gone := range []string{"discard run", "break cluster lock", ":unlock"} {
		if strings.Contains(m.View(), gone) || strings.Contains(footer, gone) {
			t.Errorf("read-only shows %q", gone)
		}
	}
	rw := newTest(t, newFake(), false)
	press(t, rw, "?")
	for _, want := range []string{"discard run !", "break cluster lock !"} {
		if !strings.Contains(rw.View(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestGoldenUnlockConfirm(t *testing.T) {
	fb := newFake()
	fb.lock = staleLock()
	goldenRun(t, fb, false, func(tm *teatest.TestModel) { keys(tm, ":", "unlock", "enter") }, "focus: Cancel")
}

func TestLockAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second: "30s",
		2*time.Hour + 15*time.Minute + 59*time.Second: "2h15m",
		47 * time.Hour: "47h0m",
		50 * time.Hour: "2d2h",
	} {
		if got := lockAge(d); got != want {
			t.Errorf("lockAge(%v) = %q, want %q", d, got, want)
		}
	}
}
