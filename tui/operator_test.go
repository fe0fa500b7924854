package tui

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/vm"
)

// Tests of issue 11 §4: the operator always sees what happened.

// flat joins a view's lines without the wrapping, to look for a whole message.
func flat(v string) string {
	var b strings.Builder
	for _, l := range strings.Split(v, "\n") {
		b.WriteString(strings.TrimSpace(l))
		b.WriteByte(' ')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// footerOf is the last line of a view.
func footerOf(v string) string {
	lines := strings.Split(v, "\n")
	return lines[len(lines)-1]
}

func TestMultiRuneKeysAllCount(t *testing.T) {
	m := newTest(t, newFake(), false)
	// "jjj" over a slow link arrives as one message with three runes.
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjj")})
	settle(t, m, cmd)
	if got, want := m.overview.selected, "cassandra-3."+domain; got != want {
		t.Errorf("after jjj in one read the selection is %q, want %q (three rows down)", got, want)
	}
	_, cmd = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("kk")})
	settle(t, m, cmd)
	if got, want := m.overview.selected, "cassandra-1."+domain; got != want {
		t.Errorf("after kk the selection is %q, want %q", got, want)
	}
	// A paste is text, never a run of commands.
	_, cmd = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("RRR"), Paste: true})
	settle(t, m, cmd)
	if m.screen != common.ScreenOverview || len(m.common.Backend.(*fakeBackend).planned) != 0 {
		t.Errorf("a pasted RRR planned a repair (screen %v)", m.screen)
	}
	// Typed ahead into the filter, the runes all land in it.
	press(t, m, "/")
	_, cmd = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("cass")})
	settle(t, m, cmd)
	if got := m.overview.filter.Value(); got != "cass" {
		t.Errorf("filter = %q, want cass", got)
	}
}

func TestPreflightShownBeforeConfirm(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, "R")
	v := m.View()
	for _, want := range []string{"✓ 3/3-nodes: 3/3 nodes UN", "✓ no-repair: no repair running", "Preflight (checked now"} {
		if !strings.Contains(v, want) {
			t.Errorf("plan lacks %q:\n%s", want, v)
		}
	}
	if !strings.Contains(footerOf(v), "enter run plan") {
		t.Errorf("footer of a plan that passed preflight lacks enter: %q", footerOf(v))
	}
	press(t, m, "enter")
	if m.workflow.dialog == nil {
		t.Fatal("a plan whose preflight passed must be confirmable")
	}
}

func TestFailedPreflightCannotBeConfirmed(t *testing.T) {
	fb := newFake()
	fb.failCheck = "no repair running (reaper-1)"
	fb.failReason = "Reaper reports repair run 7f3a RUNNING on cluster ScalarDL; wait for it or abort it in Reaper"
	m := newTest(t, fb, false)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(t, m, "R")
	v := m.View()
	if !strings.Contains(v, "✗ no-repair: no repair running") || !strings.Contains(flat(v), fb.failReason) {
		t.Errorf("the failed check and its whole reason must show:\n%s", v)
	}
	if strings.Contains(footerOf(v), "enter") {
		t.Errorf("footer offers enter on a plan that cannot run: %q", footerOf(v))
	}
	press(t, m, "enter")
	if m.workflow.dialog != nil || len(fb.startedPlans()) != 0 {
		t.Fatal("a plan whose preflight failed was confirmable")
	}
	if !strings.Contains(m.status, "preflight "+fb.failCheck+" failed") {
		t.Errorf("status %q", m.status)
	}
	// Preflight that cannot run at all also blocks.
	fb2 := newFake()
	fb2.preflightErr = errors.New("dial bastion: connection refused")
	m2 := newTest(t, fb2, false)
	press(t, m2, "R", "enter")
	if m2.workflow.dialog != nil || !strings.Contains(m2.View(), "preflight could not run: dial bastion") {
		t.Errorf("preflight error: dialog %v\n%s", m2.workflow.dialog != nil, m2.View())
	}
}

// TestNoopUpgradeRefusedInPlan: an upgrade to the tag already running is
// refused by preflight while the plan is shown.
func TestNoopUpgradeRefusedInPlan(t *testing.T) {
	fb := newFake()
	fb.failCheck = "at least one node does not run the target tag yet"
	fb.failReason = "every blue node already runs ghcr.io/scalar-labs/scalar-ledger:2.1.0"
	m := newTest(t, fb, false)
	press(t, m, "U", "enter") // the prompt is prefilled with the running tag
	if len(fb.planned) != 1 || fb.planned[0].Options["to"] != "2.1.0" {
		t.Fatalf("planned %+v", fb.planned)
	}
	v := m.View()
	if !strings.Contains(v, "✗ at-least: at least one node does not run the target tag yet") || !strings.Contains(v, "already runs") || !strings.Contains(v, "cannot run") {
		t.Errorf("no-op upgrade plan:\n%s", v)
	}
	press(t, m, "enter", "y")
	if len(fb.startedPlans()) != 0 {
		t.Fatal("a no-op upgrade started")
	}
}

func TestCanaryOfferedOnlyWhereHonoured(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, "B")
	v := m.View()
	if strings.Contains(v, "canary") {
		t.Errorf("the backup plan offers canary, which a backup ignores:\n%s", v)
	}
	press(t, m, "C")
	if len(fb.planned) != 1 || fb.planned[0].Canary {
		t.Errorf("C on a backup re-planned with canary: %+v", fb.planned)
	}
	press(t, m, "enter")
	if strings.Contains(m.View(), "canary") {
		t.Errorf("the backup's confirm dialog mentions canary:\n%s", m.View())
	}
	press(t, m, "esc", "esc", "R")
	if f := footerOf(m.View()); !strings.Contains(f, "C canary on/off") {
		t.Errorf("the repair plan's footer lacks canary: %q", f)
	}
}

// TestFooterShowsOnlyKeysThatApply walks a run through its states.
func TestFooterShowsOnlyKeysThatApply(t *testing.T) {
	fb := newFake()
	fb.events = runningEvents()
	m := newTest(t, fb, false)
	press(t, m, "R", "enter", "y")
	f := footerOf(m.View())
	for _, want := range []string{"p pause", "ctrl+c cancel run", "tab/→ next host log", "? help", "q quit"} {
		if !strings.Contains(f, want) {
			t.Errorf("running footer lacks %q: %q", want, f)
		}
	}
	if strings.Contains(f, "continue") || strings.Contains(f, "enter") {
		t.Errorf("running footer offers keys that do not apply: %q", f)
	}
	m.workflow.Update(runEventMsg{seq: m.workflow.seq, ev: &wf.Paused{Index: 3, Canary: true}})
	if f := footerOf(m.View()); !strings.Contains(f, "c continue canary") || strings.Contains(f, "pause") {
		t.Errorf("paused footer: %q", f)
	}
	m.workflow.Update(runEventMsg{seq: m.workflow.seq, ev: &wf.Finished{Status: "done", Header: wf.Header{Time: testNow}}})
	if f := footerOf(m.View()); strings.Contains(f, "cancel") || strings.Contains(f, "pause") || strings.Contains(f, "continue") {
		t.Errorf("footer after the end: %q", f)
	}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestStatusWordsAndElapsedStop(t *testing.T) {
	for _, c := range []struct {
		fin  *wf.Finished
		want string
	}{
		{&wf.Finished{Status: "canceled", Err: "run x canceled: context canceled", Header: wf.Header{Time: testNow.Add(90 * time.Second)}}, "✗ canceled"},
		{&wf.Finished{Status: "refused", Err: "refused: preflight ring-UN: cassandra-2 is DN", Header: wf.Header{Time: testNow.Add(90 * time.Second)}}, "✗ refused"},
		{&wf.Finished{Status: "failed", Err: "step x failed", Header: wf.Header{Time: testNow.Add(90 * time.Second)}}, "✗ failed"},
		{&wf.Finished{Status: "done", Header: wf.Header{Time: testNow.Add(90 * time.Second)}}, "✓ done"},
		// Stopped, not failed: the journal keeps a canary stop resumable.
		{&wf.Finished{Status: "canary-wait", Err: "stopped while canary-wait", Header: wf.Header{Time: testNow.Add(90 * time.Second)}}, "‖ canary-wait"},
		// No At from the backend: elapsed stops when the console got it.
		{&wf.Finished{Status: "canceled", Err: "canceled"}, "✗ canceled"},
	} {
		t.Run(c.want, func(t *testing.T) {
			clk := &clock{now: testNow}
			fb := newFake()
			m, err := New(Options{Backend: fb, Clock: clk.Now, RefreshInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
			settle(t, m, m.Init())
			press(t, m, "R", "enter", "y")
			clk.add(90 * time.Second)
			m.workflow.Update(runEventMsg{seq: m.workflow.seq, ev: c.fin})
			v := m.View()
			if !strings.Contains(v, c.want+"  elapsed 1:30") {
				t.Errorf("want %q with elapsed 1:30:\n%s", c.want, v)
			}
			clk.add(time.Hour)
			if v := m.View(); !strings.Contains(v, "elapsed 1:30") {
				t.Errorf("elapsed still runs after the end:\n%s", v)
			}
		})
	}
}

// TestRunsTookStopsAtEnd: TOOK of an ended run does not grow with the clock.
func TestRunsTookStopsAtEnd(t *testing.T) {
	clk := &clock{now: testNow}
	fb := withUnfinished(newFake())
	fb.runs[0].Ended = fb.runs[0].Started.Add(3 * time.Minute) // the failed repair
	m, err := New(Options{Backend: fb, Clock: clk.Now, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
	settle(t, m, m.Init())
	press(t, m, "esc", ":", "runs", "enter")
	if !strings.Contains(m.View(), "failed      2026-11-24 11:00 3:00") {
		t.Fatalf("runs:\n%s", m.View())
	}
	clk.add(time.Hour)
	press(t, m, "ctrl+r")
	if !strings.Contains(m.View(), "failed      2026-11-24 11:00 3:00") {
		t.Errorf("TOOK grew after the end:\n%s", m.View())
	}
}

func TestLongErrorsAreNeverCutOff(t *testing.T) {
	long := "step cassandra-2/repair-scalar: cassandra-2.internal.scalar-labs.com: `nodetool repair -full -pr scalar` exited 2; " +
		"the repair coordinator lost its session with 10.42.2.12 (Connection reset by peer); check `nodetool netstats` on cassandra-3 and resume run 20261124-1200-repair-3fa2b1"
	fb := newFake()
	fb.events = append(runningEvents(), &wf.StepFailed{Index: 3, Host: "cassandra-2." + domain, Err: long}, &wf.Finished{Status: "failed", Err: long, Header: wf.Header{Time: testNow}})
	m := newTest(t, fb, false)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(t, m, "R", "enter", "y")
	v := m.View()
	if !strings.Contains(flat(v), "error: "+long) {
		t.Errorf("the run's error is cut:\n%s", v)
	}
	if n := len(strings.Split(v, "\n")); n != 24 {
		t.Errorf("%d lines, want 24", n)
	}
	// A long error in the status line wraps too, and the frame still fits.
	m.Update(common.StatusMsg{Text: "resume 20261124-1200-repair-3fa2b1: " + long, Err: true})
	v = m.View()
	if !strings.Contains(flat(v), long) {
		t.Errorf("the status error is cut:\n%s", v)
	}
	lines := strings.Split(v, "\n")
	if len(lines) != 24 {
		t.Errorf("%d lines with a wrapped status, want 24", len(lines))
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > 80 {
			t.Errorf("line %d is %d wide", i, w)
		}
	}
	// A partial health error on the overview wraps too.
	partial := `scrape host: Get "http://scalardl-blue-2.internal.scalar-labs.com:9100/metrics": dial tcp via bastion 54.65.10.20:22: ssh: rejected: connect failed (Connection refused)`
	fb2 := newFake()
	fb2.health.Errors = []string{partial}
	m2 := newTest(t, fb2, false)
	m2.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if !strings.Contains(flat(m2.View()), "partial: "+partial) {
		t.Errorf("the partial health error is cut:\n%s", m2.View())
	}
}

func TestRunDetailFromRunsAndAudit(t *testing.T) {
	fb := newFake()
	d := failedBackupDetail()
	fb.runs = append([]vm.RunView{d.Run}, fb.runs...)
	fb.audit = append([]vm.AuditEntry{{At: testNow.Add(-time.Hour), User: "alice", Host: "bastion", Action: "backup",
		Command: "mkdir /tmp/scalar-tui.lock", Result: "ok", Run: d.Run.ID}}, fb.audit...)
	m := newTest(t, fb, false)
	press(t, m, "esc", ":", "runs", "enter") // esc: the resume offer of the failed backup
	if f := footerOf(m.View()); !strings.Contains(f, "enter whole run") {
		t.Errorf("runs footer lacks enter: %q", f)
	}
	press(t, m, "enter")
	if m.screen != common.ScreenRun {
		t.Fatalf("enter on :runs: screen %v", m.screen)
	}
	v := flat(m.View())
	for _, want := range []string{
		"Run " + d.Run.ID, "✗ failed", "operator alice@jump-1", "took 1:30",
		"Error " + d.Error,
		"pause-window = 1.204s",
		"1. ✗ failed pause-scalardl", "2. - skipped cassandra-1/snapshot on cassandra-1." + domain, "skipped: an earlier step failed",
		"3. ✓ done unpause-scalardl [cleanup: always runs]",
		"Cleanup ✓ unpause-scalardl: done — unpause Scalar DL on every admin target",
		"output of cluster (3 lines)", "11:01:20 ! scalardl-blue-2: connection refused",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("run detail lacks %q:\n%s", want, m.View())
		}
	}
	// At 80x24 it scrolls and says how much is below.
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	v = m.View()
	if !strings.Contains(v, "more lines below") {
		t.Errorf("a clipped run detail must say what is below:\n%s", v)
	}
	press(t, m, "G")
	if v := m.View(); !strings.Contains(v, "11:00:00 $ mkdir /tmp/scalar-tui.lock") || strings.Contains(v, "more lines below") {
		t.Errorf("G shows the end:\n%s", v)
	}
	press(t, m, "esc")
	if m.screen != common.ScreenRuns {
		t.Fatalf("esc: screen %v", m.screen)
	}
	// The audit entry of the same run opens it too; one without a run says so.
	press(t, m, "esc", ":", "audit", "enter", "enter")
	if m.screen != common.ScreenRun || !strings.Contains(m.View(), "Run "+d.Run.ID) {
		t.Fatalf("enter on :audit: screen %v\n%s", m.screen, m.View())
	}
	press(t, m, "esc", "down", "enter")
	if m.screen != common.ScreenAudit || !strings.Contains(m.status, "no workflow run): sudo nodetool repair -pr -full ScalarDL → ok") {
		t.Errorf("an entry without a run: screen %v status %q", m.screen, m.status)
	}
	// A run the backend does not know: the error, whole.
	m.Update(common.OpenRunMsg{ID: "20261124-0000-repair-ffffff"})
	settle(t, m, m.run.load())
	if !strings.Contains(flat(m.View()), "no run 20261124-0000-repair-ffffff in the journal") {
		t.Errorf("unknown run:\n%s", m.View())
	}
}

func TestFailedShellShowsReason(t *testing.T) {
	fb := newFake()
	fb.shellArgv = []string{"sh", "-c", `echo "Connecting..." >&2; echo "scalar-tui: dial scalardl-blue-2.internal.scalar-labs.com:22 via bastion 54.65.10.20:22: connect: no route to host" >&2; exit 1`, "sh"}
	m := newTest(t, fb, false)
	c, done := m.prepareShell("scalardl-blue-2." + domain)
	if c == nil {
		t.Fatal("no shell command")
	}
	m.Update(done(c.Run()))
	v := m.View()
	if !strings.Contains(flat(v), "shell on scalardl-blue-2."+domain+" failed: scalar-tui: dial scalardl-blue-2.internal.scalar-labs.com:22 via bastion 54.65.10.20:22: connect: no route to host (exit status 1)") {
		t.Errorf("the SSH reason is not shown:\n%s", v)
	}
	// A shell that ends well says so, with no error.
	fb.shellArgv = nil
	c3, done3 := m.prepareShell("cassandra-1." + domain)
	m.Update(done3(c3.Run()))
	if m.statusEr || !strings.Contains(m.status, "closed") {
		t.Errorf("status %q err %v", m.status, m.statusEr)
	}
}

// TestFooterAt80x24KeepsHelpAndQuit visits every screen at 80x24.
func TestFooterAt80x24KeepsHelpAndQuit(t *testing.T) {
	fb := withUnfinished(newFake())
	fb.events = runningEvents()
	m := newTest(t, fb, false)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for _, ks := range [][]string{{"esc"}, {"down", "enter"}, {"esc", "R"}, {"enter", "y"}, {"esc", ":", "runs", "enter"}, {":", "audit", "enter"}} {
		press(t, m, ks...)
		f := footerOf(m.View())
		if !strings.Contains(f, "? help") || !strings.Contains(f, "q quit") || lipgloss.Width(f) > 80 {
			t.Errorf("after %v (screen %v) the footer is %q", ks, m.screen, f)
		}
	}
}

func TestClippedListsSayWhatIsBelow(t *testing.T) {
	fb := newFake()
	for i := 0; i < 40; i++ {
		fb.runs = append(fb.runs, vm.RunView{ID: fmt.Sprintf("r-%02d", i), Kind: vm.KindRepair, State: "done", Started: testNow, Ended: testNow})
	}
	m := newTest(t, fb, false)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	v := m.View()
	if !strings.Contains(v, "more hosts below") {
		t.Errorf("the clipped overview does not say how many hosts are below:\n%s", v)
	}
	press(t, m, "G")
	if v := m.View(); !strings.Contains(v, "above") || strings.Contains(v, "below") {
		t.Errorf("at the bottom:\n%s", v)
	}
	press(t, m, ":", "runs", "enter")
	v = m.View()
	if !strings.Contains(v, "↓ 24 more rows below") {
		t.Errorf("the clipped runs list does not say how many rows are below:\n%s", v)
	}
	if n := len(strings.Split(v, "\n")); n != 24 {
		t.Errorf("%d lines", n)
	}
}

func TestKeyCollisionRefusedAtStart(t *testing.T) {
	_, err := New(Options{Backend: newFake(), KeyOverrides: map[string]string{"repair": "ctrl+r"}})
	if err == nil || !strings.Contains(err.Error(), "refresh") {
		t.Fatalf("repair on ctrl+r (refresh's key): err %v", err)
	}
	m, err := New(Options{Backend: newFake(), KeyOverrides: map[string]string{"repair": "alt+r"}, Clock: testClock, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, m, m.Init())
	// The footer follows the binding.
	if f := footerOf(m.View()); !strings.Contains(f, "alt+r repair") {
		t.Errorf("footer %q does not show the rebound key", f)
	}
	press(t, m, "R")
	if m.screen != common.ScreenOverview {
		t.Error("R still plans a repair after rebinding")
	}
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("r"), Alt: true})
	settle(t, m, cmd)
	if m.screen != common.ScreenWorkflow {
		t.Errorf("alt+r: screen %v", m.screen)
	}
}

// TestEnterWhilePreflightRuns: Enter during the checks opens the confirm
// dialog only once they all passed, and never when one failed.
func TestEnterWhilePreflightRuns(t *testing.T) {
	for _, pass := range []bool{true, false} {
		m := newTest(t, newFake(), false)
		press(t, m, "R")
		w := m.workflow
		w.plan.checking, w.plan.checks = true, nil // a check still in flight
		press(t, m, "enter")
		if w.dialog != nil {
			t.Fatal("Enter opened the dialog before preflight finished")
		}
		checks := []vm.CheckView{{Name: "a", OK: true}, {Name: "b", OK: pass, Reason: "node down"}}
		_, cmd := m.Update(common.Envelope{To: common.WorkflowID, Msg: preflightDoneMsg{seq: w.seq, planID: w.plan.shown.ID, checks: checks}})
		settle(t, m, cmd)
		if (w.dialog != nil) != pass {
			t.Errorf("preflight pass=%v: dialog open %v", pass, w.dialog != nil)
		}
		if !pass && !strings.Contains(m.status, "preflight b failed: node down") {
			t.Errorf("status %q", m.status)
		}
	}
}
