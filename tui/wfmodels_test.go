package tui

import (
	"strings"
	"testing"
	"time"

	opsworkflow "scalar-tui/ops/workflow"
	"scalar-tui/tui/render"
)

func TestLogModelKeepsEachHostApart(t *testing.T) {
	m := newTest(t, newFake(), false)
	l := newLogModel(m.common)
	l.SetSize(80, 10)
	l.follow([]string{"a", "b"})
	l.apply(&opsworkflow.OutputLine{Host: "b", Line: "from b"})
	l.apply(&opsworkflow.Notice{Message: "engine note"})
	if l.selected() != "a" || strings.Contains(l.View(), "from b") {
		t.Fatalf("a is selected, b's line must not show:\n%s", l.View())
	}
	l.apply(&opsworkflow.StepStarted{Index: 1, Host: "b", Header: opsworkflow.Header{Time: time.Now()}})
	if l.selected() != "b" || !strings.Contains(l.View(), "from b") || !strings.Contains(l.View(), "output of b (1 lines)") {
		t.Fatalf("the step's host is followed:\n%s", l.View())
	}
	if !l.Update(keyMsgs("tab")[0]) || l.selected() != "a" || strings.Contains(l.View(), "from b") {
		t.Fatalf("tab should show a's output:\n%s", l.View())
	}
	for i := 0; i < maxLogLines+10; i++ {
		l.addLine("a", "x")
	}
	if n := len(l.logs["a"]); n != maxLogLines || len(l.logs[""]) != 1 {
		t.Errorf("kept %d lines of a, %d notices", n, len(l.logs[""]))
	}
}

func TestProgressModelStartsFromDoneSteps(t *testing.T) {
	m := newTest(t, newFake(), false)
	p := newProgressModel(m.common)
	plan := m.workflow.common.Backend.(*fakeBackend).plans["repair"]
	plan.DoneSteps = []int{0, 1}
	p.follow(plan)
	c1, c2 := plan.Steps[0].Host, plan.Steps[2].Host
	if p.step != 2 || p.status[c1] != render.RunDone || p.status[c2] != render.RunWaiting || len(p.hosts) != 3 {
		t.Fatalf("step %d status %v hosts %v", p.step, p.status, p.hosts)
	}
	p.starting(nil)
	if !p.Running() {
		t.Fatal("starting is running")
	}
	p.apply(&opsworkflow.Finished{Status: "canceled", Err: "canceled"})
	if p.Running() || p.state != wfFailed || p.endStatus != "canceled" || p.runErr == nil || p.ended.IsZero() {
		t.Errorf("after Finished canceled: state %v end %q err %v", p.state, p.endStatus, p.runErr)
	}
}

// The bar is the current step's progress: a step that reported 0% and ended
// (the image was already loaded, nothing to copy) shows 100% once done, and
// the host's next step starts without a figure until it reports one.
func TestProgressBarIsTheCurrentStepsProgress(t *testing.T) {
	m := newTest(t, newFake(), false)
	p := newProgressModel(m.common)
	plan := m.workflow.common.Backend.(*fakeBackend).plans["repair"]
	p.follow(plan)
	p.SetSize(100, 20)
	h := plan.Steps[0].Host
	now := time.Now()
	p.apply(&opsworkflow.StepStarted{Index: 0, Host: h, Header: opsworkflow.Header{Time: now}})
	p.apply(&opsworkflow.Progress{Index: 0, Host: h, Percent: 0})
	if v := p.View(h); !strings.Contains(v, "  0%") {
		t.Fatalf("running step at 0%%:\n%s", v)
	}
	p.apply(&opsworkflow.StepDone{Index: 0, Host: h})
	if v := p.View(h); !strings.Contains(v, "100%") {
		t.Errorf("a done step's bar says 100%%:\n%s", v)
	}
	p.apply(&opsworkflow.StepStarted{Index: 1, Host: h, Header: opsworkflow.Header{Time: now}})
	if v := p.View(h); strings.Contains(v, "100%") || !strings.Contains(v, "progress: -") {
		t.Errorf("the next step has no figure yet:\n%s", v)
	}
}
