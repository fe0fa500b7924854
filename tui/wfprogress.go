package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// progressModel follows one run: its state, the event stream and the
// control it was started with, each host's status, the current step and
// gate, the timing, and the run's error or last notice.
type progressModel struct {
	common common.Common
	// state is wfIdle before any run, then wfStarting, wfRunning,
	// wfPaused, wfDone or wfFailed.
	state   wfState
	plan    vm.PlanView
	events  <-chan vm.WorkflowEvent
	control vm.WorkflowControl
	cancel  context.CancelFunc
	hosts   []string
	status  map[string]render.RunState
	lastFor map[string]int // last step index per host
	percent map[string]float64

	step      int
	stepTitle string
	stepHost  string
	stepAt    time.Time
	gate      string
	gateAt    time.Time
	gateWait  bool
	started   time.Time
	ended     time.Time
	// endStatus is the journal's word for how the run ended.
	endStatus string
	runErr    error
	canary    bool
	pauseReq  bool
	// notice is the last output line not tied to a host (the engine's
	// notices, e.g. a resume unpausing Scalar DL first).
	notice string
	width  int
	height int
}

func newProgressModel(c common.Common) *progressModel { return &progressModel{common: c} }

// Running reports whether the run is in progress (including paused).
func (p *progressModel) Running() bool {
	return p.state == wfStarting || p.state == wfRunning || p.state == wfPaused
}

// follow resets the progress for plan, fresh or resumed: the progress map
// starts with the plan's DoneSteps done.
func (p *progressModel) follow(plan vm.PlanView) {
	p.plan = plan
	p.hosts = plan.HostOrder()
	p.status = map[string]render.RunState{}
	p.lastFor = map[string]int{}
	for i, s := range plan.Steps {
		if s.Host != "" {
			p.lastFor[s.Host] = i
		}
	}
	p.percent = map[string]float64{}
	p.step, p.stepTitle, p.stepHost = 0, "", ""
	for _, i := range plan.DoneSteps {
		if i < 0 || i >= len(plan.Steps) {
			continue
		}
		if h := plan.Steps[i].Host; h != "" && p.lastFor[h] <= i {
			p.status[h] = render.RunDone
		}
		p.step = max(p.step, min(i+1, len(plan.Steps)-1))
	}
	p.gate, p.gateWait, p.runErr, p.canary, p.pauseReq, p.notice = "", false, nil, false, false, ""
	p.started, p.ended, p.endStatus = p.common.Now(), time.Time{}, ""
	p.control, p.events = nil, nil
}

// starting marks the run asked for; cancel cancels its context.
func (p *progressModel) starting(cancel context.CancelFunc) {
	p.state, p.cancel = wfStarting, cancel
}

// running follows the stream the backend started the run with.
func (p *progressModel) running(events <-chan vm.WorkflowEvent, control vm.WorkflowControl) {
	p.events, p.control, p.state = events, control, wfRunning
}

// fail ends the run without a Finished event: status is the word shown.
func (p *progressModel) fail(status string, err error) {
	p.state, p.runErr, p.ended, p.endStatus = wfFailed, err, p.common.Now(), status
	p.stopped()
}

// Update follows the run's events (runEventMsg, of this run: the
// coordinator checked its seq).
func (p *progressModel) Update(msg tea.Msg) {
	if ev, ok := msg.(runEventMsg); ok {
		p.apply(ev.ev)
	}
}

// apply updates the progress with one event of the run.
func (p *progressModel) apply(ev vm.WorkflowEvent) {
	switch e := ev.(type) {
	case *wf.StepStarted:
		p.step, p.stepTitle, p.stepHost, p.stepAt = e.Index, e.Title, e.Host, e.Time
		p.gate, p.gateWait = "", false
		if e.Host != "" {
			p.status[e.Host] = render.RunRunning
			// The bar is the current step's: an earlier step's figure
			// (a copy that ended at 0% because the image was there) is
			// not this one's.
			delete(p.percent, e.Host)
		}
		if p.state == wfPaused {
			p.state = wfRunning
		}
	case *wf.Notice:
		p.notice = e.Message
	case *wf.GateWaiting:
		p.gate, p.gateAt, p.gateWait = e.Gate+": "+e.LastReason, e.Time, true
	case *wf.GatePassed:
		p.gate, p.gateAt, p.gateWait = e.Gate, e.Time, false
	case *wf.StepDone:
		if e.Host != "" {
			if _, ok := p.percent[e.Host]; ok {
				p.percent[e.Host] = 100 // the step that reported progress is done
			}
			if p.lastFor[e.Host] <= e.Index {
				p.status[e.Host] = render.RunDone
			} else {
				p.status[e.Host] = render.RunWaiting
			}
		}
	case *wf.StepFailed:
		if e.Host != "" {
			p.status[e.Host] = render.RunFailed
		}
		p.runErr = errors.New(e.Err)
	case *wf.Progress:
		p.percent[e.Host] = e.Percent
	case *wf.Paused:
		p.state, p.canary, p.pauseReq = wfPaused, e.Canary, false
	case *wf.Finished:
		// Elapsed stops here, whether or not the backend said when.
		p.ended = e.Time
		if p.ended.IsZero() {
			p.ended = p.common.Now()
		}
		if e.Err != "" {
			p.runErr = errors.New(e.Err)
		}
		p.endStatus = string(e.Status)
		if p.endStatus == "" {
			p.endStatus = "done"
			if p.runErr != nil {
				p.endStatus = "failed"
			}
		}
		p.state = wfFailed
		if p.endStatus == "done" {
			p.state, p.runErr = wfDone, nil
		}
		p.stopped()
	}
}

// stopped releases the run's context once the run is over.
func (p *progressModel) stopped() {
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
}

// cancelCmd cancels the run: through its control, and its context.
func (p *progressModel) cancelCmd() tea.Cmd {
	ctl, cancel := p.control, p.cancel
	return func() tea.Msg {
		if ctl != nil {
			ctl.Cancel()
		}
		if cancel != nil {
			cancel()
		}
		return common.Envelope{To: common.WorkflowID, Msg: controlDoneMsg{what: "cancel"}}
	}
}

// pauseCmd asks the run to pause after the current step.
func (p *progressModel) pauseCmd() tea.Cmd {
	p.pauseReq = true
	return p.controlCmd("pause", vm.WorkflowControl.Pause)
}

func (p *progressModel) controlCmd(what string, f func(vm.WorkflowControl, context.Context) error) tea.Cmd {
	ctl, ctx := p.control, p.common.Ctx
	if ctl == nil {
		return common.Status(what+": the run has not started yet", true)
	}
	return common.Wrap(common.WorkflowID, func() tea.Msg {
		return controlDoneMsg{what: what, err: f(ctl, ctx)}
	})
}

// Describe summarises the run for the quit dialog.
func (p *progressModel) Describe() string {
	return fmt.Sprintf("%s is %s (step %d/%d on %s)", p.plan.Title, p.state, p.step+1, len(p.plan.Steps), render.ShortHost(p.stepHost))
}

// remainingLines are the steps after the current one (the continue dialog).
func (p *progressModel) remainingLines() []string {
	var out []string
	for i := p.step + 1; i < len(p.plan.Steps); i++ {
		s := p.plan.Steps[i]
		out = append(out, fmt.Sprintf("%2d. %s %s", i+1, render.ShortHost(s.Host), s.Title))
	}
	if len(out) == 0 {
		out = []string{"no steps left"}
	}
	return out
}

// SetSize sets the run view's area.
func (p *progressModel) SetSize(w, h int) { p.width, p.height = w, h }

// errorLines is the run's error (or note) wrapped to the width: never cut.
func (p *progressModel) errorLines() []string {
	text := ""
	switch {
	case p.runErr != nil:
		text = "error: " + p.runErr.Error()
	case p.notice != "":
		text = "note: " + p.notice
	default:
		return []string{""}
	}
	lines := wrapText(text, max(p.width, 10))
	if n := max(p.height/3, 1); len(lines) > n {
		lines = append(lines[:n-1], render.Fit(strings.Join(lines[n-1:], " "), p.width))
	}
	return lines
}

// View renders the run's head, step, gate, host map, progress bar and
// error lines, each ending in a newline; sel is the host whose output the
// log shows.
func (p *progressModel) View(sel string) string {
	st := p.common.Styles
	now := p.common.Now()
	var b strings.Builder
	state := p.state.String()
	switch p.state {
	case wfDone:
		state = st.Healthy.Render("✓ done")
	case wfFailed:
		state = st.Down.Render("✗ " + p.endStatus)
		if p.endStatus == "paused" || p.endStatus == "canary-wait" {
			// Stopped, not failed: the journal keeps it resumable.
			state = st.Warning.Render("‖ " + p.endStatus)
		}
	case wfPaused:
		state = st.Warning.Render("paused")
		if p.canary {
			state = st.Warning.Render("paused after canary — " + p.common.Keys.Key(keymap.Continue) + " continue")
		}
	}
	total := now.Sub(p.started)
	if !p.ended.IsZero() {
		total = p.ended.Sub(p.started)
	}
	b.WriteString(st.Title.Render(p.plan.Title) + "  " + state + st.Muted.Render("  elapsed "+render.Elapsed(total)))
	if p.pauseReq {
		b.WriteString(st.Warning.Render("  (pausing after this step)"))
	}
	if p.plan.Params.Canary && p.state == wfRunning && !p.canary {
		b.WriteString(st.Warning.Render("  canary: stops after the first host"))
	}
	b.WriteByte('\n')
	step := fmt.Sprintf("step %d/%d: %s", p.step+1, len(p.plan.Steps), p.stepTitle)
	if p.stepHost != "" {
		step += " on " + render.ShortHost(p.stepHost)
	}
	if !p.stepAt.IsZero() && p.state == wfRunning {
		step += st.Muted.Render(" · " + render.Elapsed(now.Sub(p.stepAt)))
	}
	b.WriteString(render.Fit(step, p.width))
	b.WriteByte('\n')
	switch {
	case p.gate != "" && p.gateWait && p.Running():
		b.WriteString(st.Warning.Render(render.Fit("gate: waiting for "+p.gate+" · "+render.Elapsed(now.Sub(p.gateAt)), p.width)))
	case p.gate != "" && p.gateWait:
		b.WriteString(st.Warning.Render(render.Fit("gate: not passed "+p.gate, p.width)))
	case p.gate != "":
		b.WriteString(st.Healthy.Render(render.Fit("gate: passed "+p.gate, p.width)))
	default:
		b.WriteString(st.Muted.Render("gate: -"))
	}
	b.WriteByte('\n')
	b.WriteString(render.HostMap(p.hosts, p.status, sel, p.width, st))
	b.WriteByte('\n')
	if pc, ok := p.percent[sel]; ok {
		b.WriteString(render.Fit(render.ShortHost(sel), 16) + render.Bar(pc, min(p.width-16, 60), st))
	} else if pc, ok := p.percent[p.stepHost]; ok {
		b.WriteString(render.Fit(render.ShortHost(p.stepHost), 16) + render.Bar(pc, min(p.width-16, 60), st))
	} else {
		b.WriteString(st.Muted.Render("progress: -"))
	}
	b.WriteByte('\n')
	errStyle := st.Warning
	if p.runErr != nil {
		errStyle = st.Error
	}
	for _, l := range p.errorLines() {
		b.WriteString(errStyle.Render(render.Fit(l, p.width)))
		b.WriteByte('\n')
	}
	return b.String()
}
