package tui

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"

	"scalar-tui/inventory"
	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/vm"
)

func TestResumeOfferedAtStart(t *testing.T) {
	fb := withUnfinished(newFake())
	fb.events = runningEvents()[7:] // cassandra-2 onwards: what is left after the resume
	m := newTest(t, fb, false)
	if m.offer == nil {
		t.Fatal("unfinished runs in the journal should be offered at start")
	}
	v := m.View()
	for _, want := range []string{"Unfinished workflow runs (2)", "repair-20261124-1100", "failed", "upgrade-20261124-0900", "canary-wait",
		"! Scalar DL may be paused: resume unpauses it first", "r resume (asks to confirm)", "esc dismiss"} {
		if !strings.Contains(v, want) {
			t.Errorf("offer lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "repair-1 ") {
		t.Error("a done run is offered for resume")
	}

	press(t, m, "r")
	if m.dialog == nil || m.dialog.Label != "resume" || m.dialog.Msg().(resumeRunMsg).run.ID != "repair-20261124-1100" {
		t.Fatalf("r should ask to resume the selected run, dialog %+v", m.dialog)
	}
	if v := m.View(); !strings.Contains(v, "Resume repair run repair-20261124-1100 on scalar-prod-tokyo?") || !strings.Contains(v, "! Scalar DL may be paused") {
		t.Errorf("resume dialog:\n%s", v)
	}
	press(t, m, "enter") // Enter alone sits on Cancel
	if len(fb.resumedIDs()) != 0 {
		t.Fatal("Enter alone resumed the run")
	}
	if m.dialog != nil || m.offer == nil || m.workflow.Running() {
		t.Fatal("Enter on Cancel should close the dialog and keep the offer")
	}

	press(t, m, "r", "y")
	if got := fb.resumedIDs(); len(got) != 1 || got[0] != "repair-20261124-1100" {
		t.Fatalf("y: resumed %v", got)
	}
	if m.offer != nil || m.screen != common.ScreenWorkflow || m.workflow.State() != wfRunning {
		t.Fatalf("after resuming: offer %v screen %v state %v", m.offer != nil, m.screen, m.workflow.State())
	}
	v = m.View()
	for _, want := range []string{"Repair Cassandra", "✓ cassandra-1", "[▶ cassandra-2]", "· cassandra-3", "step 4/6: repair primary ranges on cassandra-2", "progress: 45%", "Starting repair command #1"} {
		if !strings.Contains(v, want) {
			t.Errorf("resumed run view lacks %q:\n%s", want, v)
		}
	}
	press(t, m, "p")
	if fb.ctl.pauses != 1 {
		t.Error("the resumed run's control is not wired to p")
	}
}

func TestResumeShowsEngineNotice(t *testing.T) {
	fb := withUnfinished(newFake())
	fb.events = append([]vm.WorkflowEvent{&wf.Notice{Message: "marker scalardl-paused set: unpausing Scalar DL before resuming"}}, runningEvents()[7:]...)
	m := newTest(t, fb, false)
	press(t, m, "r", "y")
	if v := m.View(); !strings.Contains(v, "note: marker scalardl-paused set: unpausing Scalar DL") {
		t.Errorf("a host-less output line (engine notice) is not shown:\n%s", v)
	}
}

func TestNilInventoryIsAnError(t *testing.T) {
	fb := newFake()
	fb.inv = nil
	m := newTest(t, fb, false)
	if v := m.View(); !strings.Contains(v, "the backend returned no inventory") || strings.Contains(v, "loading inventory") {
		t.Errorf("nil inventory without error:\n%s", v)
	}
}

func TestResumeOfferDismissAndRunsScreen(t *testing.T) {
	fb := withUnfinished(newFake())
	m := newTest(t, fb, false)
	press(t, m, "esc")
	if m.offer != nil || !strings.Contains(m.status, ":runs") {
		t.Fatalf("esc should dismiss the offer and say where to find the runs; status %q", m.status)
	}
	press(t, m, "r") // on the overview r refreshes
	if m.dialog != nil {
		t.Fatal("r on the overview opened a dialog")
	}
	press(t, m, ":", "runs", "enter")
	// The keys are in the footer, derived from the bindings, not typed into the title.
	if v := m.View(); strings.Contains(v, "r resume the selected unfinished run") || !strings.Contains(v, "r resume run !") {
		t.Errorf("runs screen:\n%s", v)
	}
	press(t, m, "down") // repair-1, done
	press(t, m, "r")
	if m.dialog != nil || !strings.Contains(m.status, "nothing to resume") {
		t.Fatalf("r on a done run: dialog %v status %q", m.dialog != nil, m.status)
	}
	press(t, m, "down", "r")
	if m.dialog == nil || m.dialog.Msg().(resumeRunMsg).run.ID != "upgrade-20261124-0900" {
		t.Fatalf("r on the canary-wait run should ask, dialog %+v", m.dialog)
	}
	press(t, m, "enter")
	if len(fb.resumedIDs()) != 0 {
		t.Fatal("Enter alone resumed from the runs screen")
	}
	press(t, m, "r", "tab", "enter")
	if got := fb.resumedIDs(); len(got) != 1 || got[0] != "upgrade-20261124-0900" || m.screen != common.ScreenWorkflow {
		t.Fatalf("tab+enter: resumed %v, screen %v", got, m.screen)
	}
	healthN := fb.healthN
	press(t, m, "esc", "ctrl+r")
	if m.screen != common.ScreenRuns || fb.healthN != healthN {
		t.Errorf("esc from the workflow should return to the runs screen (screen %v)", m.screen)
	}
}

func TestResumeCommand(t *testing.T) {
	fb := withUnfinished(newFake())
	m := newTest(t, fb, false)
	press(t, m, ":", "resume nope", "enter")
	if m.dialog != nil || !strings.Contains(m.status, "no run nope") {
		t.Fatalf(":resume of an unknown ID: status %q", m.status)
	}
	press(t, m, ":", "resume", "enter")
	if !strings.Contains(m.status, "usage: :resume ID") {
		t.Errorf(":resume without ID: status %q", m.status)
	}
	press(t, m, ":", "resume repair-1", "enter")
	if m.dialog != nil || !strings.Contains(m.status, "nothing to resume") {
		t.Errorf(":resume of a done run: status %q", m.status)
	}
	press(t, m, ":", "resume upgrade-20261124-0900", "enter")
	if m.dialog == nil || m.dialog.Label != "resume" {
		t.Fatal(":resume ID should ask to confirm")
	}
	press(t, m, "enter")
	if len(fb.resumedIDs()) != 0 {
		t.Fatal("Enter alone resumed")
	}
	press(t, m, ":", "resume upgrade-20261124-0900", "enter", "y")
	if got := fb.resumedIDs(); len(got) != 1 || got[0] != "upgrade-20261124-0900" {
		t.Fatalf("resumed %v", got)
	}
}

func TestReadonlyHidesResume(t *testing.T) {
	fb := withUnfinished(newFake())
	m := newTest(t, fb, true)
	if m.offer != nil || m.dialog != nil {
		t.Fatal("read-only must not offer resume")
	}
	if !strings.Contains(m.status, "2 unfinished workflow run(s)") || !strings.Contains(m.status, "read-only") || !strings.Contains(m.status, "Scalar DL may be paused") {
		t.Errorf("read-only should still say the journal holds unfinished runs: %q", m.status)
	}
	press(t, m, ":", "resume repair-20261124-1100", "enter")
	if m.dialog != nil || !strings.Contains(m.status, "read-only") {
		t.Fatalf(":resume in read-only: status %q", m.status)
	}
	press(t, m, ":", "runs", "enter", "r")
	if m.dialog != nil || strings.Contains(m.View(), "r resume") {
		t.Fatalf("read-only runs screen offers resume:\n%s", m.View())
	}
	m.Update(common.ResumeMsg{Run: unfinishedRun()}) // even if a message slipped through
	if m.dialog != nil {
		t.Fatal("ResumeMsg opened a dialog in read-only mode")
	}
	press(t, m, "?")
	if v := m.View(); strings.Contains(v, "resume") {
		t.Errorf("read-only help lists resume:\n%s", v)
	}
	if len(fb.resumedIDs()) != 0 {
		t.Fatal("read-only resumed a run")
	}
}

func TestResumeWithoutResumer(t *testing.T) {
	fb := withUnfinished(newFake())
	m, err := New(Options{Backend: plainBackend{fb}, Clock: testClock})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, m, m.Init())
	if m.offer != nil || !strings.Contains(m.status, "cannot resume") {
		t.Fatalf("a backend without Resumer: offer %v status %q", m.offer != nil, m.status)
	}
	press(t, m, ":", "resume repair-20261124-1100", "enter")
	if m.dialog != nil || !strings.Contains(m.status, "not supported") {
		t.Errorf(":resume without Resumer: status %q", m.status)
	}
}

func TestResumeFailsCleanly(t *testing.T) {
	fb := withUnfinished(newFake())
	fb.resumeErr = errors.New("inventory changed since the run was planned: start a new run")
	m := newTest(t, fb, false)
	press(t, m, "r", "y")
	if m.workflow.State() != wfFailed || m.workflow.Running() {
		t.Fatalf("state %v", m.workflow.State())
	}
	if v := m.View(); !strings.Contains(v, "inventory changed since the run was planned") || !strings.Contains(m.status, "resume repair-20261124-1100") {
		t.Errorf("resume error not shown (status %q):\n%s", m.status, v)
	}
	fb.resumeErr = nil
	press(t, m, ":", "resume repair-20261124-1100", "enter", "y")
	if m.workflow.State() != wfRunning {
		t.Errorf("a second resume after a failed one: state %v", m.workflow.State())
	}
}

func TestNoOfferWhenJournalFails(t *testing.T) {
	fb := newFake()
	fb.runsErr = errors.New("read journal: permission denied")
	m := newTest(t, fb, false)
	if m.offer != nil || !strings.Contains(m.status, "permission denied") || !m.statusEr {
		t.Errorf("journal error: status %q", m.status)
	}
	if newTest(t, newFake(), false).offer != nil {
		t.Error("a journal with only done runs should offer nothing")
	}
}

func TestRunUnfinished(t *testing.T) {
	for state, want := range map[string]bool{"done": false, "refused": false, "failed": true, "canceled": true, "paused": true, "canary-wait": true, "running": true} {
		if got := (vm.RunView{State: state}).Unfinished(); got != want {
			t.Errorf("%s: Unfinished %v", state, got)
		}
	}
}

func TestCanaryToggleInPlan(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, "R")
	if !strings.Contains(m.View(), "canary: off") {
		t.Fatalf("the plan should say canary is off:\n%s", m.View())
	}
	press(t, m, "C")
	if n := len(fb.planned); n != 2 || !fb.planned[1].Canary || m.workflow.State() != wfPlan {
		t.Fatalf("C should re-plan with Canary set: planned %+v state %v", fb.planned, m.workflow.State())
	}
	if v := m.View(); !strings.Contains(v, "canary: ON — stops after cassandra-1") {
		t.Errorf("plan view:\n%s", v)
	}
	press(t, m, "enter")
	if !strings.Contains(m.View(), "canary: ON") {
		t.Errorf("the confirm dialog should say canary is on:\n%s", m.View())
	}
	press(t, m, "y")
	if got := fb.startedPlans(); len(got) != 1 || !got[0].Params.Canary {
		t.Fatalf("started %+v, want Params.Canary", got)
	}

	fb2 := newFake()
	m2 := newTest(t, fb2, false)
	press(t, m2, "R", "C", "C", "enter", "y")
	if got := fb2.startedPlans(); len(got) != 1 || got[0].Params.Canary {
		t.Fatalf("C twice should turn canary off again: %+v", got)
	}
}

func TestEnvSwitchResetsHeaderAndSelection(t *testing.T) {
	fb := &envFake{fakeBackend: newFake()}
	m, err := New(Options{Backend: fb, Clock: testClock})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
	settle(t, m, m.Init())
	press(t, m, "down", "down", "R") // select cassandra-2, then plan a repair
	if m.workflow.State() != wfPlan {
		t.Fatal("no plan")
	}
	press(t, m, "esc")
	// A health result of the old environment still on its way.
	stale := m.overview.loadHealth()

	press(t, m, ":", "env nowhere", "enter")
	if !strings.Contains(m.status, `no environment "nowhere"`) || !strings.Contains(m.View(), "scalar-prod-tokyo") {
		t.Fatalf("a failed switch should keep the old environment; status %q", m.status)
	}

	_, cmd := m.Update(keyMsgs(":")[0])
	settle(t, m, cmd)
	press(t, m, "env staging-1")
	_, cmd = m.Update(keyMsgs("enter")[0])
	msg := cmd() // SwitchEnv
	_, load := m.Update(msg)
	// Before the new environment's data arrives the header must already
	// name it, and nothing of the old one may remain.
	v := m.View()
	if !strings.Contains(v, "staging-1") || strings.Contains(v, "scalar-prod-tokyo") || strings.Contains(v, "degraded") || !strings.Contains(v, "health pending") {
		t.Errorf("right after the switch:\n%s", v)
	}
	if m.overview.selected != "" || m.workflow.State() != wfIdle || m.workflow.plan.shown.ID != "" {
		t.Errorf("selection %q, workflow %v plan %q: the old environment's state survived", m.overview.selected, m.workflow.State(), m.workflow.plan.shown.ID)
	}
	settle(t, m, load)
	settle(t, m, stale)
	v = m.View()
	for _, want := range []string{"scalar-staging-1", "healthy", "via prometheus staging:9090", "cassandra-7", "bastion 34.1.2.3:22"} {
		if !strings.Contains(v, want) {
			t.Errorf("after the switch the view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "prometheus monitor:9090") || strings.Contains(v, "ScalarDLContainerDown") {
		t.Errorf("a late result of the old environment leaked into the new one:\n%s", v)
	}
	if m.overview.selected != "cassandra-7."+domain {
		t.Errorf("selection %q, want the new environment's first host", m.overview.selected)
	}
}

func TestEnvSwitchRefusedWhileRunning(t *testing.T) {
	fb := &envFake{fakeBackend: newFake()}
	fb.events = runningEvents()
	m, err := New(Options{Backend: fb, Clock: testClock})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, m, m.Init())
	press(t, m, "R", "enter", "y", ":", "env staging-1", "enter")
	if len(fb.switched) != 0 || !strings.Contains(m.status, "workflow is running") {
		t.Fatalf("switched %v while a run was in progress; status %q", fb.switched, m.status)
	}
}

// Error paths: none may panic, each must say what happened.

func TestEmptyInventory(t *testing.T) {
	fb := newFake()
	fb.inv = &inventory.Inventory{NetworkName: "empty-env"}
	fb.health = vm.HealthView{At: testNow}
	fb.plans = map[vm.WorkflowKind]vm.PlanView{vm.KindRepair: {ID: "repair-empty", Kind: vm.KindRepair, Title: "Repair Cassandra"}}
	m := newTest(t, fb, false)
	press(t, m, "down", "up", "G", "g", "enter", "s", "/", "x", "enter", "esc")
	if m.screen != common.ScreenOverview || m.dialog != nil {
		t.Fatalf("keys on an empty overview: screen %v dialog %v", m.screen, m.dialog != nil)
	}
	if v := m.View(); !strings.Contains(v, "no hosts") || !strings.Contains(v, "empty-env") {
		t.Errorf("empty overview:\n%s", v)
	}
	press(t, m, "R", "enter")
	if m.workflow.dialog != nil || !strings.Contains(m.status, "nothing to run") {
		t.Errorf("a plan without steps must not be offered to run; status %q", m.status)
	}
	press(t, m, "esc", "B") // no backup plan: the error shows in the plan view
	if v := m.View(); !strings.Contains(v, "plan backup: no backup plan") {
		t.Errorf("plan error:\n%s", v)
	}
	// A run whose plan has no host steps at all.
	m.workflow.Reset()
	settle(t, m, m.workflow.begin(vm.PlanView{ID: "p", Title: "local only", Steps: []vm.StepView{{Title: "local"}}}))
	press(t, m, "tab", "left", "down")
	_ = m.View()
}

func TestHealthErrorBeforeInventory(t *testing.T) {
	fb := newFake()
	m, err := New(Options{Backend: fb, Clock: testClock})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(common.Envelope{To: common.OverviewID, Msg: healthLoadedMsg{err: errors.New("prometheus monitor:9090: connection refused")}})
	v := m.View()
	if !strings.Contains(v, "health unavailable: prometheus monitor:9090: connection refused") || !strings.Contains(v, "loading inventory") {
		t.Errorf("health error before inventory:\n%s", v)
	}
	press(t, m, "down", "enter", "s", "R", "esc")
	if m.screen != common.ScreenOverview {
		t.Fatalf("screen %v", m.screen)
	}
	m.Update(common.Envelope{To: common.OverviewID, Msg: inventoryLoadedMsg{err: errors.New("terraform state: no such file")}})
	if v := m.View(); !strings.Contains(v, "inventory: terraform state: no such file") {
		t.Errorf("inventory error:\n%s", v)
	}
	// Both failing through the backend.
	fb2 := newFake()
	fb2.invErr, fb2.healthErr = errors.New("state locked"), errors.New("timeout")
	m2 := newTest(t, fb2, false)
	press(t, m2, "w") // the header says so on every screen
	if v := m2.View(); !strings.Contains(v, "(no inventory)  health unavailable") {
		t.Errorf("header after a health error:\n%s", v)
	}
	press(t, m2, "esc")
	if v := m2.View(); !strings.Contains(v, "health unavailable: timeout") || !strings.Contains(v, "(no inventory)") {
		t.Errorf("both failing:\n%s", v)
	}
}

func TestClosedStreamWithoutFinished(t *testing.T) {
	fb := newFake()
	fb.events = runningEvents()
	fb.closeCh = true
	m := newTest(t, fb, false)
	press(t, m, "R", "enter", "y")
	if m.workflow.State() != wfFailed || m.workflow.Running() {
		t.Fatalf("state %v after the stream closed without Finished", m.workflow.State())
	}
	if v := m.View(); !strings.Contains(v, "event stream closed before the run finished") {
		t.Errorf("view:\n%s", v)
	}
	if m.workflow.run.cancel != nil {
		t.Error("the run's context was not released")
	}
	press(t, m, "c", "p", "ctrl+c")
	if m.workflow.dialog != nil {
		t.Error("run keys act on a run that is over")
	}
	// A backend that returns neither stream nor error.
	fb2 := newFake()
	m2 := newTest(t, fb2, false)
	fb2.mu.Lock()
	fb2.plans[vm.KindBackup] = vm.PlanView{ID: "b", Kind: vm.KindBackup, Title: "backup", Steps: []vm.StepView{{Title: "x", Host: "cassy-1." + domain}}}
	fb2.mu.Unlock()
	press(t, m2, "B", "enter", "y")
	m2.workflow.Update(runStartedMsg{seq: m2.workflow.seq})
	if m2.workflow.State() != wfFailed {
		t.Errorf("nil stream: state %v", m2.workflow.State())
	}
}

// TestTinyTerminals draws every screen at small sizes: nothing may panic,
// and from 40x10 up the frame must fit.
func TestTinyTerminals(t *testing.T) {
	fb := withUnfinished(newFake())
	fb.events = runningEvents()
	screens := map[string][]string{
		"offer":    nil,
		"resume":   {"r"},
		"overview": {"esc"},
		"detail":   {"esc", "down", "enter"},
		"plan":     {"esc", "R"},
		"confirm":  {"esc", "R", "enter"},
		"running":  {"esc", "R", "enter", "y"},
		"runs":     {"esc", ":", "runs", "enter", "G"},
		"audit":    {"esc", ":", "audit", "enter"},
		"run":      {"esc", ":", "runs", "enter", "enter", "G"},
		"help":     {"esc", "?", "down", "down"},
		"command":  {"esc", ":", "resume"},
		"filter":   {"esc", "/", "cass"},
	}
	for name, ks := range screens {
		for _, sz := range [][2]int{{0, 0}, {1, 1}, {12, 3}, {20, 5}, {40, 10}, {80, 24}} {
			t.Run(fmt.Sprintf("%s-%dx%d", name, sz[0], sz[1]), func(t *testing.T) {
				fb := withUnfinished(newFake())
				fb.events = runningEvents()
				d := failedBackupDetail()
				d.Run.ID = fb.runs[0].ID
				fb.details[d.Run.ID] = d
				m := newTest(t, fb, false)
				m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
				press(t, m, ks...)
				v := m.View()
				m.Update(tea.WindowSizeMsg{Width: sz[0] + 1, Height: sz[1] + 1})
				_ = m.View()
				if sz[0] < 40 {
					return
				}
				lines := strings.Split(v, "\n")
				if len(lines) != sz[1] {
					t.Errorf("%d lines, want %d:\n%s", len(lines), sz[1], v)
				}
				for i, l := range lines {
					if w := lipgloss.Width(l); w > sz[0] {
						t.Errorf("line %d is %d wide: %q", i, w, l)
					}
				}
			})
		}
	}
}

// loadedWithOffer waits for the offer over a loaded overview (header: bastion and health).
var loadedWithOffer = []string{"Unfinished workflow runs", "bastion 54.65.10.20:22", "refreshed 5s ago"}

func TestGoldenResumeOffer(t *testing.T) {
	goldenRunAfter(t, withUnfinished(newFake()), false, loadedWithOffer, nil, "")
}

func TestGoldenResumeConfirm(t *testing.T) {
	goldenRunAfter(t, withUnfinished(newFake()), false, loadedWithOffer, func(tm *teatest.TestModel) { keys(tm, "r") }, "focus: Cancel")
}

// TestUnfinishedPutsCrashedPausedFirst: a crashed run that left Scalar DL
// paused heads the resume offer, whatever its age.
func TestUnfinishedPutsCrashedPausedFirst(t *testing.T) {
	runs := []vm.RunView{
		{ID: "new-failed", State: "failed"},
		{ID: "done", State: "done"},
		{ID: "old-crashed", State: "crashed", Warning: "CRASHED while Scalar DL was paused: `scalar-tui resume old-crashed` unpauses it"},
		{ID: "crashed-harmless", State: "crashed"},
	}
	got := unfinished(runs)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "old-crashed,new-failed,crashed-harmless" {
		t.Errorf("offer order %v", ids)
	}
}
