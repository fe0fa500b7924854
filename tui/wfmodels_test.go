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
	l.apply(&opsworkflow.Notice{Message: "preflight ring: ok"})
	// Before a host's step starts, the run's own log is shown: the
	// notices (a preflight verdict, the lock, a reachability result, the
	// commands to run next) that the CLI prints and the console showed
	// only the last of.
	if v := l.View(); l.selected() != "" || !strings.Contains(v, "note: preflight ring: ok") || !strings.Contains(v, "the run's notices and local steps (1 lines)") || strings.Contains(v, "from b") {
		t.Fatalf("the run's log comes first, with its notices:\n%s", v)
	}
	l.apply(&opsworkflow.StepStarted{Index: 1, Host: "b", Header: opsworkflow.Header{Time: time.Now()}})
	if l.selected() != "b" || !strings.Contains(l.View(), "from b") || !strings.Contains(l.View(), "output of b (1 lines)") {
		t.Fatalf("the step's host is followed:\n%s", l.View())
	}
	if !l.Update(keyMsgs("tab")[0]) || l.selected() != "" || !strings.Contains(l.View(), "preflight ring: ok") {
		t.Fatalf("tab after the last host shows the run's log:\n%s", l.View())
	}
	if !l.Update(keyMsgs("tab")[0]) || l.selected() != "a" || strings.Contains(l.View(), "from b") || strings.Contains(l.View(), "preflight") {
		t.Fatalf("tab should show a's output:\n%s", l.View())
	}
	// A step on no host (a Cassy call, the silence's expiry) writes to the
	// run's log and leaves the host shown in view.
	l.apply(&opsworkflow.StepStarted{Index: 2, Header: opsworkflow.Header{Time: time.Now()}})
	l.apply(&opsworkflow.OutputLine{Line: "cassy: backup requested"})
	if v := l.View(); l.selected() != "a" || strings.Contains(v, "cassy") {
		t.Fatalf("a step on no host switched the log:\n%s", v)
	}
	if !l.Update(keyMsgs("left")[0]) || l.selected() != "" || !strings.Contains(l.View(), "cassy: backup requested") || !strings.Contains(l.View(), "(2 lines)") {
		t.Fatalf("the run's log lacks the output of a step on no host:\n%s", l.View())
	}
	// The run's notices are wrapped, not cut: the end of a long one shows.
	l.apply(&opsworkflow.Notice{Message: "next: " + strings.Repeat("aws ec2 describe-instances ", 6) + "--the-end"})
	if v := l.View(); !strings.Contains(v, "--the-end") {
		t.Fatalf("a long notice is cut:\n%s", v)
	}
	for i := 0; i < maxLogLines+10; i++ {
		l.addLine("a", "x")
	}
	if n := len(l.logs["a"]); n != maxLogLines || len(l.logs[""]) != 3 {
		t.Errorf("kept %d lines of a, %d of the run", n, len(l.logs[""]))
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
