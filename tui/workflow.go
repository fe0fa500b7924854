package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/components/confirm"
	"scalar-tui/tui/components/input"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// wfState is the workflow screen's state (glow's state enum).
type wfState int

const (
	wfIdle wfState = iota
	wfAskTag
	wfPlanning
	wfPlan
	wfStarting
	wfRunning
	wfPaused
	wfDone
	// wfFailed is every end but done; workflow.endStatus holds the
	// journal's word for it (failed, canceled, refused...).
	wfFailed
)

// String names the state for the status line.
func (s wfState) String() string {
	return [...]string{"idle", "tag", "planning", "plan", "starting", "running", "paused", "done", "failed"}[s]
}

// maxLogLines caps each host's kept output.
const maxLogLines = 5000

// Messages of the workflow screen; they arrive wrapped in common.Envelope.
// seq ties results to the plan or run they belong to, so late results of
// an abandoned plan are dropped.
type (
	planLoadedMsg struct {
		seq  int
		plan vm.PlanView
		err  error
	}
	runStartedMsg struct {
		seq     int
		events  <-chan vm.WorkflowEvent
		control vm.WorkflowControl
		err     error
		// resumed is set for a Resumer.ResumeWorkflow result, which
		// brings the run's plan with it.
		resumed bool
		plan    vm.PlanView
	}
	runEventMsg struct {
		seq int
		ev  vm.WorkflowEvent
	}
	runClosedMsg   struct{ seq int }
	controlDoneMsg struct {
		what string
		err  error
	}
	wfTickMsg        struct{ seq int }
	preflightDoneMsg struct {
		seq    int
		planID string
		checks []vm.CheckView
		err    error
	}
)

// workflow plans, confirms and follows one workflow run.
type workflow struct {
	common  common.Common
	env     func() string // environment name for dialogs
	state   wfState
	seq     int
	kind    vm.WorkflowKind
	params  vm.WorkflowParams
	tag     input.Model
	pick    tagPicker
	plan    vm.PlanView
	planErr error
	scroll  int
	dialog  *confirm.Model
	// Preflight of the plan shown: checking while it runs, then checks
	// (or checkErr when it could not run). Without a vm.Preflighter the
	// checks are only listed; the run checks them.
	checking bool
	checks   []vm.CheckView
	checkErr error
	// confirmAfterCheck is set by Enter while preflight runs: the confirm
	// dialog opens when every check passed (and never otherwise).
	confirmAfterCheck bool

	events  <-chan vm.WorkflowEvent
	control vm.WorkflowControl
	cancel  context.CancelFunc
	hosts   []string
	status  map[string]render.RunState
	lastFor map[string]int // last step index per host
	selHost int
	logs    map[string][]string
	vp      viewport.Model
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

func newWorkflow(c common.Common, env func() string) *workflow {
	t := input.New("")
	return &workflow{common: c, env: env, tag: t, vp: viewport.New(80, 10)}
}

// Running reports whether a run is in progress (including paused).
func (m *workflow) Running() bool {
	return m.state == wfStarting || m.state == wfRunning || m.state == wfPaused
}

// Capturing reports whether the screen takes all keys (tag input or dialog).
func (m *workflow) Capturing() bool { return m.state == wfAskTag || m.dialog != nil }

// Describe summarises the run for the quit dialog.
func (m *workflow) Describe() string {
	return fmt.Sprintf("%s is %s (step %d/%d on %s)", m.plan.Title, m.state, m.step+1, len(m.plan.Steps), render.ShortHost(m.stepHost))
}

// Start begins a new plan; it refuses while a run is in progress.
func (m *workflow) Start(p common.PlanMsg) tea.Cmd {
	if m.Running() {
		return common.Status("a workflow is already running; wait for it or cancel it ("+m.common.Keys.Key(keymap.CancelRun)+" on the workflow screen)", true)
	}
	m.kind, m.params = p.Kind, p.Params
	m.plan, m.planErr, m.dialog, m.scroll = vm.PlanView{}, nil, nil, 0
	m.checking, m.checks, m.checkErr, m.confirmAfterCheck = false, nil, nil, false
	if p.AskTag {
		m.state = wfAskTag
		m.tag.SetValue(p.Params.Tag)
		return m.startTagPick()
	}
	return m.requestPlan()
}

func (m *workflow) requestPlan() tea.Cmd {
	m.state = wfPlanning
	m.checking, m.checks, m.checkErr, m.confirmAfterCheck = false, nil, nil, false
	m.seq++
	seq, kind, params, c := m.seq, m.kind, m.params, m.common
	return common.Wrap(common.WorkflowID, func() tea.Msg {
		p, err := c.Backend.PlanWorkflow(c.Ctx, kind, params)
		return planLoadedMsg{seq: seq, plan: p, err: err}
	})
}

// Init does nothing; Start begins the work.
func (m *workflow) Init() tea.Cmd { return nil }

// SetSize sets the body area.
func (m *workflow) SetSize(w, h int) {
	m.width, m.height = w, h
	m.vp.Width = w
	m.layoutLog()
	if m.dialog != nil {
		m.dialog.SetSize(w, h)
	}
}

// layoutLog gives the host log what the run view's other lines leave,
// keeping it at the bottom if it was: the error area above it wraps over
// as many lines as the error needs.
func (m *workflow) layoutLog() {
	bottom := m.vp.AtBottom()
	m.vp.Height = max(m.height-7-len(m.errorLines()), 3)
	if bottom {
		m.vp.GotoBottom()
	}
}

// errorLines is the run's error (or note) wrapped to the width: never cut.
func (m *workflow) errorLines() []string {
	text := ""
	switch {
	case m.runErr != nil:
		text = "error: " + m.runErr.Error()
	case m.notice != "":
		text = "note: " + m.notice
	default:
		return []string{""}
	}
	lines := wrapText(text, max(m.width, 10))
	if n := max(m.height/3, 1); len(lines) > n {
		lines = append(lines[:n-1], render.Fit(strings.Join(lines[n-1:], " "), m.width))
	}
	return lines
}

// preflight runs the plan's checks now, if the backend can, so the plan
// view shows each one's result before the operator confirms.
func (m *workflow) preflight() tea.Cmd {
	pf, ok := m.common.Backend.(vm.Preflighter)
	if !ok || m.planErr != nil || len(m.plan.Checks) == 0 {
		return nil
	}
	m.checking = true
	seq, id, c := m.seq, m.plan.ID, m.common
	return common.Wrap(common.WorkflowID, func() tea.Msg {
		checks, err := pf.Preflight(c.Ctx, id)
		return preflightDoneMsg{seq: seq, planID: id, checks: checks, err: err}
	})
}

// refusal says why the plan shown cannot be confirmed, or "" when it can.
func (m *workflow) refusal() string {
	switch {
	case m.planErr != nil || len(m.plan.Steps) == 0:
		return "nothing to run"
	case m.checking:
		return "preflight is still running: wait for every check's ✓ or ✗"
	case m.checkErr != nil:
		return "preflight could not run (" + m.checkErr.Error() + "); the plan cannot be confirmed"
	}
	for _, c := range m.checks {
		if !c.OK {
			return "preflight " + c.Name + " failed: " + c.Reason + "; the plan cannot be confirmed"
		}
	}
	return ""
}

// Update handles plans, run events and keys.
func (m *workflow) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tagsLoadedMsg:
		m.tagsLoaded(msg)
		return m, nil
	case planLoadedMsg:
		if msg.seq != m.seq || m.state != wfPlanning {
			return m, nil
		}
		// What the operator chose is what runs, whatever the backend
		// echoed; canary only where the workflow honours it.
		if !msg.plan.CanaryOK {
			m.params.Canary = false
		}
		msg.plan.Params.Canary = m.params.Canary
		m.plan, m.planErr, m.state = msg.plan, msg.err, wfPlan
		return m, m.preflight()
	case preflightDoneMsg:
		if msg.seq != m.seq || m.state != wfPlan || msg.planID != m.plan.ID {
			return m, nil
		}
		m.checking, m.checks, m.checkErr = false, msg.checks, msg.err
		if m.confirmAfterCheck {
			m.confirmAfterCheck = false
			return m, m.confirmRun()
		}
		return m, nil
	case runStartedMsg:
		if msg.seq != m.seq {
			return m, nil
		}
		if msg.err == nil && msg.events == nil {
			msg.err = errors.New("backend returned no event stream")
		}
		what := "start"
		if msg.resumed {
			what = "resume " + m.plan.ID
		}
		if msg.err != nil {
			m.state, m.runErr, m.ended, m.endStatus = wfFailed, msg.err, m.common.Now(), "not started"
			m.stopped()
			m.layoutLog()
			return m, common.Status(what+": "+msg.err.Error(), true)
		}
		if msg.resumed {
			placeholder := m.plan.Title
			m.follow(msg.plan)
			if m.plan.Title == "" {
				m.plan.Title = placeholder
			}
		}
		m.events, m.control, m.state = msg.events, msg.control, wfRunning
		return m, tea.Batch(waitForEvent(m.seq, m.events), m.tickCmd())
	case runEventMsg:
		if msg.seq != m.seq {
			return m, nil
		}
		m.apply(msg.ev)
		m.layoutLog()
		return m, waitForEvent(m.seq, m.events)
	case runClosedMsg:
		if msg.seq == m.seq && m.Running() {
			m.state, m.ended, m.endStatus = wfFailed, m.common.Now(), "unknown"
			m.runErr = errors.New("event stream closed before the run finished; check :runs and resume it if it is unfinished")
			m.stopped()
			m.layoutLog()
			return m, common.Status("workflow: the backend's event stream closed before the run finished", true)
		}
		return m, nil
	case controlDoneMsg:
		if msg.err != nil {
			return m, common.Status(msg.what+": "+msg.err.Error(), true)
		}
		return m, common.Status(msg.what+" requested", false)
	case wfTickMsg:
		if msg.seq == m.seq && m.Running() {
			return m, m.tickCmd()
		}
	case tea.KeyMsg:
		return m, m.handleKey(msg)
	}
	return m, nil
}

// waitForEvent reads one event per message and is re-armed by Update
// (glow / bubbletea examples/realtime).
func waitForEvent(seq int, ch <-chan vm.WorkflowEvent) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return common.Envelope{To: common.WorkflowID, Msg: runClosedMsg{seq: seq}}
		}
		return common.Envelope{To: common.WorkflowID, Msg: runEventMsg{seq: seq, ev: ev}}
	}
}

// tickCmd re-renders elapsed times once a second while running.
func (m *workflow) tickCmd() tea.Cmd {
	seq := m.seq
	return tea.Tick(time.Second, func(time.Time) tea.Msg {
		return common.Envelope{To: common.WorkflowID, Msg: wfTickMsg{seq: seq}}
	})
}

func (m *workflow) apply(ev vm.WorkflowEvent) {
	switch e := ev.(type) {
	case *wf.StepStarted:
		m.step, m.stepTitle, m.stepHost, m.stepAt = e.Index, e.Title, e.Host, e.Time
		m.gate, m.gateWait = "", false
		if e.Host != "" {
			m.status[e.Host] = render.RunRunning
			m.selectHost(e.Host)
		}
		if m.state == wfPaused {
			m.state = wfRunning
		}
	case *wf.OutputLine:
		m.addLine(e.Host, e.Line)
	case *wf.Notice:
		// The engine's notices are not tied to a host.
		m.addLine("", e.Message)
	case *wf.GateWaiting:
		m.gate, m.gateAt, m.gateWait = e.Gate+": "+e.LastReason, e.Time, true
	case *wf.GatePassed:
		m.gate, m.gateAt, m.gateWait = e.Gate, e.Time, false
	case *wf.StepDone:
		if e.Host != "" {
			if m.lastFor[e.Host] <= e.Index {
				m.status[e.Host] = render.RunDone
			} else {
				m.status[e.Host] = render.RunWaiting
			}
		}
	case *wf.StepFailed:
		if e.Host != "" {
			m.status[e.Host] = render.RunFailed
		}
		m.runErr = errors.New(e.Err)
	case *wf.Progress:
		m.percent[e.Host] = e.Percent
	case *wf.Paused:
		m.state, m.canary, m.pauseReq = wfPaused, e.Canary, false
	case *wf.Finished:
		// Elapsed stops here, whether or not the backend said when.
		m.ended = e.Time
		if m.ended.IsZero() {
			m.ended = m.common.Now()
		}
		if e.Err != "" {
			m.runErr = errors.New(e.Err)
		}
		m.endStatus = string(e.Status)
		if m.endStatus == "" {
			m.endStatus = "done"
			if m.runErr != nil {
				m.endStatus = "failed"
			}
		}
		m.state = wfFailed
		if m.endStatus == "done" {
			m.state, m.runErr = wfDone, nil
		}
		m.stopped()
	}
}

// addLine keeps one output line of host ("" for the engine's notices).
func (m *workflow) addLine(host, line string) {
	if host == "" {
		m.notice = line
	}
	l := append(m.logs[host], line)
	if len(l) > maxLogLines {
		l = l[len(l)-maxLogLines:]
	}
	m.logs[host] = l
	if host == m.selected() {
		bottom := m.vp.AtBottom()
		m.vp.SetContent(strings.Join(l, "\n"))
		if bottom {
			m.vp.GotoBottom()
		}
	}
}

func (m *workflow) selected() string {
	if m.selHost < 0 || m.selHost >= len(m.hosts) {
		return ""
	}
	return m.hosts[m.selHost]
}

func (m *workflow) selectHost(h string) {
	for i, x := range m.hosts {
		if x == h {
			if i != m.selHost {
				m.selHost = i
				m.vp.SetContent(strings.Join(m.logs[h], "\n"))
				m.vp.GotoBottom()
			}
			return
		}
	}
}

// follow resets the run view for plan, fresh or resumed: the progress map
// starts with the plan's DoneSteps done.
func (m *workflow) follow(plan vm.PlanView) {
	m.plan = plan
	m.hosts = plan.HostOrder()
	m.status = map[string]render.RunState{}
	m.lastFor = map[string]int{}
	for i, s := range plan.Steps {
		if s.Host != "" {
			m.lastFor[s.Host] = i
		}
	}
	m.logs = map[string][]string{}
	m.percent = map[string]float64{}
	m.selHost, m.step, m.stepTitle, m.stepHost = 0, 0, "", ""
	for _, i := range plan.DoneSteps {
		if i < 0 || i >= len(plan.Steps) {
			continue
		}
		if h := plan.Steps[i].Host; h != "" && m.lastFor[h] <= i {
			m.status[h] = render.RunDone
		}
		m.step = max(m.step, min(i+1, len(plan.Steps)-1))
	}
	m.gate, m.gateWait, m.runErr, m.canary, m.pauseReq, m.notice = "", false, nil, false, false, ""
	m.started, m.ended, m.endStatus = m.common.Now(), time.Time{}, ""
	m.control, m.events = nil, nil
	m.vp.SetContent("")
}

// begin starts plan, the one the confirm dialog captured.
func (m *workflow) begin(plan vm.PlanView) tea.Cmd {
	m.seq++
	m.follow(plan)
	m.state = wfStarting
	ctx, cancel := context.WithCancel(m.common.Ctx)
	m.cancel = cancel
	seq, b := m.seq, m.common.Backend
	return common.Wrap(common.WorkflowID, func() tea.Msg {
		ch, ctl, err := b.StartWorkflow(ctx, plan)
		return runStartedMsg{seq: seq, events: ch, control: ctl, err: err}
	})
}

// Resume resumes run (already confirmed by the operator, typed the text
// the dialog asked for, if any) through the backend's vm.Resumer and follows
// it exactly like a fresh run. It refuses while another run is in progress
// or when the backend cannot resume.
func (m *workflow) Resume(run vm.RunView, typed string) tea.Cmd {
	if m.Running() {
		return common.Status("a workflow is already running; wait for it or cancel it before resuming "+run.ID, true)
	}
	res, ok := m.common.Backend.(vm.Resumer)
	if !ok {
		return common.Status("resume "+run.ID+": "+vm.ErrNotSupported.Error(), true)
	}
	m.seq++
	m.dialog, m.planErr, m.scroll = nil, nil, 0
	m.kind = run.Kind
	title := run.Title
	if title == "" {
		title = string(run.Kind)
	}
	// A placeholder until the backend hands back the run's plan.
	m.follow(vm.PlanView{ID: run.ID, Kind: run.Kind, Title: "resume " + title + " (" + run.ID + ")"})
	m.state = wfStarting
	ctx, cancel := context.WithCancel(vm.WithConfirmDeployment(m.common.Ctx, typed))
	m.cancel = cancel
	seq, id := m.seq, run.ID
	return common.Wrap(common.WorkflowID, func() tea.Msg {
		plan, ch, ctl, err := res.ResumeWorkflow(ctx, id)
		if plan.ID == "" {
			plan.ID = id
		}
		return runStartedMsg{seq: seq, events: ch, control: ctl, err: err, resumed: true, plan: plan}
	})
}

// Reset forgets a plan or a finished run, e.g. after an environment switch,
// so nothing planned against the old environment can be run. It does
// nothing while a run is in progress; late results of the old plan are
// dropped by seq.
func (m *workflow) Reset() {
	if m.Running() {
		return
	}
	m.seq++
	m.state, m.dialog, m.plan, m.planErr, m.scroll = wfIdle, nil, vm.PlanView{}, nil, 0
	m.checking, m.checks, m.checkErr, m.confirmAfterCheck = false, nil, nil, false
	m.params, m.kind = vm.WorkflowParams{}, ""
	m.follow(vm.PlanView{})
}

// stopped releases the run's context once the run is over.
func (m *workflow) stopped() {
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
	}
}

// CancelCmd cancels the run (used by the root when quitting).
func (m *workflow) CancelCmd() tea.Cmd {
	ctl, cancel := m.control, m.cancel
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

func (m *workflow) controlCmd(what string, f func(vm.WorkflowControl, context.Context) error) tea.Cmd {
	ctl, ctx := m.control, m.common.Ctx
	if ctl == nil {
		return common.Status(what+": the run has not started yet", true)
	}
	return common.Wrap(common.WorkflowID, func() tea.Msg {
		return controlDoneMsg{what: what, err: f(ctl, ctx)}
	})
}

func (m *workflow) openDialog(id, title string, lines []string, target any) {
	m.dialog = confirm.New(m.common, id, title, lines, target)
	m.dialog.SetSize(m.width, m.height)
	if id == "run" {
		m.dialog.ConfirmLabel = "Run " + string(m.plan.Kind)
		m.dialog.TypeToConfirm = m.plan.ConfirmName
	}
}

func (m *workflow) handleKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.Keys
	if m.dialog != nil {
		m.dialog.Update(k)
		if !m.dialog.Closed() {
			return nil
		}
		d := m.dialog
		m.dialog = nil
		if !d.Confirmed() {
			return common.Status(d.ID+": not confirmed, nothing done", false)
		}
		switch d.ID {
		case "run":
			return m.begin(d.Target().(vm.PlanView))
		case "cancel":
			return m.CancelCmd()
		case "continue":
			return m.controlCmd("continue", vm.WorkflowControl.Continue)
		}
		return nil
	}
	switch m.state {
	case wfAskTag:
		if !m.pick.free {
			return m.pickKey(k)
		}
		switch k.Type {
		case tea.KeyEnter:
			t := strings.TrimSpace(m.tag.Value())
			if t == "" {
				return common.Status("upgrade: type the image tag to upgrade to", true)
			}
			m.params.Tag = t
			return m.requestPlan()
		case tea.KeyEsc:
			if len(m.pick.tags) > 0 {
				m.pick.free = false // back to the picker
				return nil
			}
			m.state = wfIdle
			return func() tea.Msg { return common.BackMsg{} }
		}
		m.tag, _ = m.tag.Update(k)
		return nil
	case wfPlan:
		switch {
		case km.Matches(k, keymap.Run):
			if m.checking && m.planErr == nil {
				m.confirmAfterCheck = true
				return common.Status("waiting for the preflight checks; the confirmation opens if they all pass", false)
			}
			return m.confirmRun()
		case km.Matches(k, keymap.CanaryMode):
			if !m.plan.CanaryOK {
				return common.Status(string(m.plan.Kind)+" does not stop after a first host, so canary is not offered for it", false)
			}
			// Re-plan so the plan shown, confirmed and run carries the choice.
			m.params.Canary = !m.params.Canary
			return m.requestPlan()
		case km.Matches(k, keymap.Down):
			m.scroll++
		case km.Matches(k, keymap.Up):
			m.scroll = max(m.scroll-1, 0)
		case km.Matches(k, keymap.PageDown):
			m.scroll += max(m.height-4, 1)
		case km.Matches(k, keymap.PageUp):
			m.scroll = max(m.scroll-max(m.height-4, 1), 0)
		case km.Matches(k, keymap.Back):
			m.state = wfIdle
			return func() tea.Msg { return common.BackMsg{} }
		}
		return nil
	}
	switch {
	case km.Matches(k, keymap.CancelRun) && m.Running():
		m.openDialog("cancel", "Cancel "+m.plan.Title+"?", []string{
			m.Describe(),
			"The current step is interrupted; finished hosts stay as they are.",
		}, m.seq)
	case km.Matches(k, keymap.Pause) && m.state == wfRunning:
		m.pauseReq = true
		return m.controlCmd("pause", vm.WorkflowControl.Pause)
	case km.Matches(k, keymap.Continue) && m.state == wfPaused:
		if !keymap.Dangerous(keymap.Continue) {
			return m.controlCmd("continue", vm.WorkflowControl.Continue)
		}
		m.openDialog("continue", "Continue "+m.plan.Title+" on the remaining hosts?", m.remainingLines(), m.seq)
	case km.Matches(k, keymap.NextHost):
		if len(m.hosts) > 0 {
			m.selectHost(m.hosts[(m.selHost+1)%len(m.hosts)])
		}
	case km.Matches(k, keymap.PrevHost):
		if len(m.hosts) > 0 {
			m.selectHost(m.hosts[(m.selHost+len(m.hosts)-1)%len(m.hosts)])
		}
	case km.Matches(k, keymap.Up):
		m.vp.LineUp(1)
	case km.Matches(k, keymap.Down):
		m.vp.LineDown(1)
	case km.Matches(k, keymap.PageUp):
		m.vp.PageUp()
	case km.Matches(k, keymap.PageDown):
		m.vp.PageDown()
	case km.Matches(k, keymap.Bottom):
		m.vp.GotoBottom()
	case km.Matches(k, keymap.Back):
		return func() tea.Msg { return common.BackMsg{} }
	}
	return nil
}

// confirmRun opens the confirm dialog for the plan shown, or says why the
// plan cannot run.
func (m *workflow) confirmRun() tea.Cmd {
	if why := m.refusal(); why != "" {
		return common.Status(why, true)
	}
	if !keymap.Dangerous(keymap.Run) {
		return m.begin(m.plan)
	}
	lines := m.planLines()
	if cl := canaryLine(m.plan, m.common.Keys); cl != "" {
		lines = append([]string{cl}, lines...)
	}
	m.openDialog("run", m.runTitle(), lines, m.plan)
	return nil
}

func (m *workflow) runTitle() string {
	env := "this environment"
	if m.env != nil && m.env() != "" {
		env = m.env()
	}
	return fmt.Sprintf("Run %s on %d hosts of %s? (%d steps)", m.plan.Title, len(m.plan.HostOrder()), env, len(m.plan.Steps))
}

func (m *workflow) remainingLines() []string {
	var out []string
	for i := m.step + 1; i < len(m.plan.Steps); i++ {
		s := m.plan.Steps[i]
		out = append(out, fmt.Sprintf("%2d. %s %s", i+1, render.ShortHost(s.Host), s.Title))
	}
	if len(out) == 0 {
		out = []string{"no steps left"}
	}
	return out
}

// canaryLine says whether the plan stops after its first host; "" when the
// workflow does not honour a canary stop.
func canaryLine(p vm.PlanView, km *keymap.KeyMap) string {
	if !p.CanaryOK {
		return ""
	}
	if p.Params.Canary {
		first := "the first host"
		if hs := p.HostOrder(); len(hs) > 0 {
			first = render.ShortHost(hs[0])
		}
		return "canary: ON — stops after " + first + " and waits for " + km.Key(keymap.Continue) + " (continue) before the rest"
	}
	return "canary: off — runs every host without stopping (" + km.Key(keymap.CanaryMode) + " here stops after the first host)"
}

// planLines is the plan shown in full, as workflow.Plan.Lines rendered it
// (the text --dry-run prints) without its title, which the screen's head
// shows: each preflight check marked with its result so far, each step, its
// host, its exact commands and its gate.
func (m *workflow) planLines() []string {
	results := map[int]vm.CheckView{}
	for i, c := range m.checks {
		results[i] = c
	}
	var out []string
	for _, l := range m.plan.Lines {
		switch {
		case l.Kind == wf.PlanTitle:
		case l.Kind == wf.PlanHeading && l.Body == wf.HeadingPreflight:
			switch {
			case m.checking:
				out = append(out, "Preflight (checking now…):")
			case m.checks != nil || m.checkErr != nil:
				out = append(out, "Preflight (checked now, and again when the run starts):")
			default:
				out = append(out, "Preflight (checked when the run starts; any failure refuses it):")
			}
		case l.Kind == wf.PlanCheck:
			r, ok := results[l.Index]
			mark := "-"
			switch {
			case m.checking:
				mark = "…"
			case ok && r.OK:
				mark = "✓"
			case ok:
				mark = "✗"
			}
			for j, w := range wrapText(l.Body, max(m.width-4, 10)) {
				if j == 0 {
					out = append(out, "  "+mark+" "+w)
				} else {
					out = append(out, "    "+w)
				}
			}
			if ok && !r.OK {
				for _, w := range wrapText(r.Reason, max(m.width-6, 10)) {
					out = append(out, "      "+w)
				}
			}
			if l.Index == len(m.plan.Checks)-1 && m.checkErr != nil {
				out = append(out, "  ✗ preflight could not run: "+m.checkErr.Error())
			}
		default:
			out = append(out, l.Text)
		}
	}
	return out
}

// View renders the current state.
func (m *workflow) View() string {
	st := m.common.Styles
	km := m.common.Keys
	var body string
	switch m.state {
	case wfIdle:
		hint := "No workflow."
		if km.Allowed(keymap.Repair) {
			hint += fmt.Sprintf(" %s repair · %s upgrade · %s backup from the overview.", km.Key(keymap.Repair), km.Key(keymap.Upgrade), km.Key(keymap.Backup))
		}
		body = st.Muted.Render(hint)
	case wfAskTag:
		cur := m.params.Tag
		if cur == "" {
			cur = "unknown"
		}
		body = st.Title.Render("Upgrade Scalar DL") + "\n\n" +
			"current tag: " + st.Bold.Render(cur) + "\n"
		switch {
		case !m.pick.free:
			body += "\n" + m.pickView() + "\n"
		case m.pick.err != nil:
			body += "new tag:     " + m.tag.View() + "\n\n" +
				st.Muted.Render("could not list the loaded tags: "+m.pick.err.Error()) + "\n"
		default:
			body += "new tag:     " + m.tag.View() + "\n\n"
		}
		body += st.Muted.Render("an upgrade to the tag already running is refused by preflight")
	case wfPlanning:
		body = st.Muted.Render(fmt.Sprintf("planning %s…", m.kind))
	case wfPlan:
		body = m.planView()
	default:
		body = m.runView()
	}
	if m.dialog != nil {
		return m.dialog.Overlay(m.width, m.height)
	}
	return body
}

func (m *workflow) planView() string {
	st := m.common.Styles
	if m.planErr != nil {
		var b strings.Builder
		for _, l := range wrapText("plan "+string(m.kind)+": "+m.planErr.Error(), max(m.width, 10)) {
			b.WriteString(st.Error.Render(l) + "\n")
		}
		return b.String()
	}
	kind := string(m.plan.Kind) + " · "
	if string(m.plan.Kind) == m.plan.Title {
		kind = "" // the title is the kind's name: say it once
	}
	head := st.Title.Render("Plan: "+m.plan.Title) + st.Muted.Render(fmt.Sprintf("  %s%d steps on %d hosts · id %s", kind, len(m.plan.Steps), len(m.plan.HostOrder()), m.plan.ID))
	lines := m.planLines()
	h := max(m.height-4, 1)
	scroll := min(m.scroll, max(len(lines)-h, 0))
	end := min(scroll+h, len(lines))
	var b strings.Builder
	b.WriteString(render.Fit(head, m.width))
	b.WriteByte('\n')
	cl := canaryLine(m.plan, m.common.Keys)
	switch {
	case m.refusal() != "" && !m.checking:
		b.WriteString(st.Error.Render(render.Fit("cannot run: preflight failed (details below)", m.width)))
	case m.checking:
		b.WriteString(st.Muted.Render(render.Fit("running the preflight checks…", m.width)))
	case !m.common.Keys.Allowed(keymap.Run):
		b.WriteString(st.Warning.Render(render.Fit("read-only session: this plan is shown, never run", m.width)))
	case cl != "" && m.plan.Params.Canary:
		b.WriteString(st.Warning.Render(render.Fit(cl, m.width)))
	case cl != "":
		b.WriteString(st.Muted.Render(render.Fit(cl, m.width)))
	case len(m.checks) > 0:
		b.WriteString(st.Healthy.Render(render.Fit("preflight passed", m.width)))
	}
	b.WriteByte('\n')
	for _, l := range lines[scroll:end] {
		b.WriteByte('\n')
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "$ "):
			b.WriteString(st.Code.Render(render.Fit(l, m.width)))
		case strings.HasPrefix(t, "✗ "):
			b.WriteString(st.Down.Render(render.Fit(l, m.width)))
		case strings.HasPrefix(t, "✓ "):
			b.WriteString(st.Healthy.Render(render.Fit(l, m.width)))
		default:
			b.WriteString(render.Fit(l, m.width))
		}
	}
	for i := end - scroll; i < h; i++ {
		b.WriteByte('\n')
	}
	more := fmt.Sprintf("lines %d-%d of %d", scroll+1, end, len(lines))
	if below := len(lines) - end; below > 0 {
		more += fmt.Sprintf(" · ↓ %d more lines below", below)
	}
	b.WriteString("\n" + st.Muted.Render(render.Fit(more, m.width)))
	return b.String()
}

func (m *workflow) runView() string {
	st := m.common.Styles
	now := m.common.Now()
	var b strings.Builder
	state := m.state.String()
	switch m.state {
	case wfDone:
		state = st.Healthy.Render("✓ done")
	case wfFailed:
		state = st.Down.Render("✗ " + m.endStatus)
		if m.endStatus == "paused" || m.endStatus == "canary-wait" {
			// Stopped, not failed: the journal keeps it resumable.
			state = st.Warning.Render("‖ " + m.endStatus)
		}
	case wfPaused:
		state = st.Warning.Render("paused")
		if m.canary {
			state = st.Warning.Render("paused after canary — " + m.common.Keys.Key(keymap.Continue) + " continue")
		}
	}
	total := now.Sub(m.started)
	if !m.ended.IsZero() {
		total = m.ended.Sub(m.started)
	}
	b.WriteString(st.Title.Render(m.plan.Title) + "  " + state + st.Muted.Render("  elapsed "+render.Elapsed(total)))
	if m.pauseReq {
		b.WriteString(st.Warning.Render("  (pausing after this step)"))
	}
	if m.plan.Params.Canary && m.state == wfRunning && !m.canary {
		b.WriteString(st.Warning.Render("  canary: stops after the first host"))
	}
	b.WriteByte('\n')
	step := fmt.Sprintf("step %d/%d: %s", m.step+1, len(m.plan.Steps), m.stepTitle)
	if m.stepHost != "" {
		step += " on " + render.ShortHost(m.stepHost)
	}
	if !m.stepAt.IsZero() && m.state == wfRunning {
		step += st.Muted.Render(" · " + render.Elapsed(now.Sub(m.stepAt)))
	}
	b.WriteString(render.Fit(step, m.width))
	b.WriteByte('\n')
	switch {
	case m.gate != "" && m.gateWait && m.Running():
		b.WriteString(st.Warning.Render(render.Fit("gate: waiting for "+m.gate+" · "+render.Elapsed(now.Sub(m.gateAt)), m.width)))
	case m.gate != "" && m.gateWait:
		b.WriteString(st.Warning.Render(render.Fit("gate: not passed "+m.gate, m.width)))
	case m.gate != "":
		b.WriteString(st.Healthy.Render(render.Fit("gate: passed "+m.gate, m.width)))
	default:
		b.WriteString(st.Muted.Render("gate: -"))
	}
	b.WriteByte('\n')
	b.WriteString(render.HostMap(m.hosts, m.status, m.selected(), m.width, st))
	b.WriteByte('\n')
	sel := m.selected()
	if p, ok := m.percent[sel]; ok {
		b.WriteString(render.Fit(render.ShortHost(sel), 16) + render.Bar(p, min(m.width-16, 60), st))
	} else if p, ok := m.percent[m.stepHost]; ok {
		b.WriteString(render.Fit(render.ShortHost(m.stepHost), 16) + render.Bar(p, min(m.width-16, 60), st))
	} else {
		b.WriteString(st.Muted.Render("progress: -"))
	}
	b.WriteByte('\n')
	errStyle := st.Warning
	if m.runErr != nil {
		errStyle = st.Error
	}
	for _, l := range m.errorLines() {
		b.WriteString(errStyle.Render(render.Fit(l, m.width)))
		b.WriteByte('\n')
	}
	title := fmt.Sprintf("── output of %s (%d lines) ", render.ShortHost(sel), len(m.logs[sel]))
	b.WriteString(st.Rule.Render(title + strings.Repeat("─", max(m.width-len([]rune(title)), 0))))
	b.WriteByte('\n')
	b.WriteString(m.vp.View())
	return b.String()
}

// ShortHelp returns the keys that apply in the current state, and only those.
func (m *workflow) ShortHelp() []key.Binding {
	if m.dialog != nil {
		return m.dialog.ShortHelp()
	}
	km := m.common.Keys
	b := km.Binding
	var out []key.Binding
	switch m.state {
	case wfAskTag:
		if !m.pick.free {
			return m.pickHelp()
		}
		return m.tag.ShortHelp()
	case wfPlan:
		if m.refusal() == "" && km.Allowed(keymap.Run) {
			out = append(out, b(keymap.Run))
		}
		if m.plan.CanaryOK && m.planErr == nil {
			out = append(out, b(keymap.CanaryMode))
		}
		if len(m.planLines()) > max(m.height-4, 1) {
			out = append(out, b(keymap.Down))
		}
		return append(out, b(keymap.Back))
	case wfStarting:
		out = append(out, b(keymap.CancelRun))
	case wfRunning:
		if !m.pauseReq {
			out = append(out, b(keymap.Pause))
		}
		out = append(out, b(keymap.CancelRun))
	case wfPaused:
		if km.Allowed(keymap.Continue) {
			out = append(out, b(keymap.Continue))
		}
		out = append(out, b(keymap.CancelRun))
	}
	if len(m.hosts) > 1 && m.state != wfIdle && m.state != wfPlanning {
		out = append(out, b(keymap.NextHost))
	}
	return append(out, b(keymap.Back))
}

// FullHelp returns the workflow keys by scope.
func (m *workflow) FullHelp() [][]key.Binding {
	return m.common.Keys.Full(keymap.ScopeGlobal, keymap.ScopeWorkflow, keymap.ScopeDialog)
}
