package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	opsworkflow "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/components/confirm"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/vm"
)

// wfState is the workflow screen's state (glow's state enum).
type wfState int

const (
	wfIdle wfState = iota
	// wfAsk is the option form of a kind that asks before it plans.
	wfAsk
	wfPlanning
	wfPlan
	wfStarting
	wfRunning
	wfPaused
	wfDone
	// wfFailed is every end but done; progressModel.endStatus holds the
	// journal's word for it (failed, canceled, refused...).
	wfFailed
)

// String names the state for the status line.
func (s wfState) String() string {
	return [...]string{"idle", "options", "planning", "plan", "starting", "running", "paused", "done", "failed"}[s]
}

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

// Messages the workflow screen's confirm dialogs send when confirmed.
type (
	// runPlanMsg runs plan, the one the dialog showed.
	runPlanMsg struct{ plan vm.PlanView }
	// cancelRunMsg cancels the run in progress.
	cancelRunMsg struct{}
	// continueRunMsg continues the paused run on the remaining hosts.
	continueRunMsg struct{}
)

// wfStage is which of its models the workflow screen shows.
type wfStage int

const (
	stageIdle wfStage = iota
	// stageAsk shows the option form.
	stageAsk
	// stagePlanning waits for the plan.
	stagePlanning
	// stagePlan shows the plan.
	stagePlan
	// stageRun follows a run: progress and log.
	stageRun
)

// workflow plans, confirms and follows one workflow run. It coordinates
// small models: the option form a kind asks for (form), the plan with its
// preflight (plan), the run's progress (run) and its per-host output
// (log), and the confirm dialog; it routes messages and keys to them.
type workflow struct {
	common common.Common
	env    func() string // environment name for dialogs
	stage  wfStage
	seq    int
	kind   vm.WorkflowKind
	params vm.WorkflowParams
	form   *optionForm
	plan   *planModel
	run    *progressModel
	log    *logModel
	dialog *confirm.Model
	width  int
	height int
}

func newWorkflow(c common.Common, env func() string) *workflow {
	return &workflow{common: c, env: env, plan: newPlanModel(c), run: newProgressModel(c), log: newLogModel(c)}
}

// State is the screen's state: the stage before a run, the run's after.
func (m *workflow) State() wfState {
	switch m.stage {
	case stageAsk:
		return wfAsk
	case stagePlanning:
		return wfPlanning
	case stagePlan:
		return wfPlan
	case stageRun:
		return m.run.state
	}
	return wfIdle
}

// Running reports whether a run is in progress (including paused).
func (m *workflow) Running() bool { return m.run.Running() }

// Capturing reports whether the screen takes all keys (option form or dialog).
func (m *workflow) Capturing() bool { return m.stage == stageAsk || m.dialog != nil }

// Describe summarises the run for the quit dialog.
func (m *workflow) Describe() string { return m.run.Describe() }

// Start begins a new plan; it refuses while a run is in progress. A kind
// whose catalog entry asks for options first (ConsoleAsk) shows its
// option form, prefilled from p.Params.Options, when p.Ask is set.
func (m *workflow) Start(p common.PlanMsg) tea.Cmd {
	if m.Running() {
		return common.Status("a workflow is already running; wait for it or cancel it ("+m.common.Keys.Key(keymap.CancelRun)+" on the workflow screen)", true)
	}
	m.kind, m.params, m.dialog, m.form = p.Kind, p.Params, nil, nil
	m.plan.reset(p.Kind)
	if kd, ok := opsworkflow.Lookup(string(p.Kind)); ok && p.Ask && kd.ConsoleAsk != "" {
		m.seq++
		m.stage = stageAsk
		values := map[string]string{}
		for n, v := range p.Params.Options {
			values[n] = v
		}
		if len(p.Params.Hosts) > 0 && values["host"] == "" {
			values["host"] = p.Params.Hosts[0] // the node a completion lists (free-disk's)
		}
		m.form = newOptionForm(m.common, kd, []string{kd.ConsoleAsk}, values, m.seq)
		return m.form.Init()
	}
	return m.requestPlan()
}

func (m *workflow) requestPlan() tea.Cmd {
	m.stage = stagePlanning
	m.plan.unchecked()
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
	m.plan.SetSize(w, h)
	m.run.SetSize(w, h)
	m.layoutLog()
	if m.dialog != nil {
		m.dialog.SetSize(w, h)
	}
}

// layoutLog gives the host log what the run view's other lines leave: the
// error area above it wraps over as many lines as the error needs.
func (m *workflow) layoutLog() {
	m.log.SetSize(m.width, m.height-6-len(m.run.errorLines()))
}

// Update routes plans, run events, dialog messages and keys.
func (m *workflow) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case formMsg:
		if m.stage == stageAsk && m.form != nil {
			m.form.Update(msg)
		}
		return m, nil
	case planLoadedMsg:
		if msg.seq != m.seq || m.stage != stagePlanning {
			return m, nil
		}
		// What the operator chose is what runs, whatever the backend
		// echoed; canary only where the workflow honours it.
		if !msg.plan.CanaryOK {
			m.params.Canary = false
		}
		msg.plan.Params.Canary = m.params.Canary
		m.plan.loaded(msg.plan, msg.err)
		m.stage = stagePlan
		return m, m.plan.preflight(m.seq)
	case preflightDoneMsg:
		if msg.seq != m.seq || m.stage != stagePlan || msg.planID != m.plan.shown.ID {
			return m, nil
		}
		if m.plan.checked(msg) {
			return m, m.confirmRun()
		}
		return m, nil
	case runStartedMsg:
		return m, m.runStarted(msg)
	case runEventMsg:
		if msg.seq != m.seq {
			return m, nil
		}
		m.run.Update(msg)
		m.log.Update(msg)
		m.layoutLog()
		return m, waitForEvent(m.seq, m.run.events)
	case runClosedMsg:
		if msg.seq == m.seq && m.Running() {
			m.run.fail("unknown", errors.New("event stream closed before the run finished; check :runs and resume it if it is unfinished"))
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
			return m, tickCmd(m.seq)
		}
	case runPlanMsg, cancelRunMsg, continueRunMsg:
		return m, m.confirmed(msg)
	case tea.KeyMsg:
		return m, m.handleKey(msg)
	}
	return m, nil
}

// runStarted follows the run the backend started, or shows why it did not.
func (m *workflow) runStarted(msg runStartedMsg) tea.Cmd {
	if msg.seq != m.seq {
		return nil
	}
	if msg.err == nil && msg.events == nil {
		msg.err = errors.New("backend returned no event stream")
	}
	what := "start"
	if msg.resumed {
		what = "resume " + m.run.plan.ID
	}
	if msg.err != nil {
		m.run.fail("not started", msg.err)
		m.layoutLog()
		return common.Status(what+": "+msg.err.Error(), true)
	}
	if msg.resumed {
		placeholder := m.run.plan.Title
		m.follow(msg.plan)
		if m.run.plan.Title == "" {
			m.run.plan.Title = placeholder
		}
	}
	m.run.running(msg.events, msg.control)
	return tea.Batch(waitForEvent(m.seq, m.run.events), tickCmd(m.seq))
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

// tickCmd re-renders elapsed times once a second while run seq runs.
func tickCmd(seq int) tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg {
		return common.Envelope{To: common.WorkflowID, Msg: wfTickMsg{seq: seq}}
	})
}

// follow resets the run view (progress and log) for plan, fresh or resumed.
func (m *workflow) follow(plan vm.PlanView) {
	m.run.follow(plan)
	m.log.follow(m.run.hosts)
}

// begin starts plan, the one the confirm dialog captured.
func (m *workflow) begin(plan vm.PlanView) tea.Cmd {
	m.seq++
	m.follow(plan)
	m.stage = stageRun
	ctx, cancel := context.WithCancel(m.common.Ctx)
	m.run.starting(cancel)
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
	m.dialog, m.form = nil, nil
	m.kind = run.Kind
	m.plan.reset(run.Kind)
	title := run.Title
	if title == "" {
		title = string(run.Kind)
	}
	// A placeholder until the backend hands back the run's plan.
	m.follow(vm.PlanView{ID: run.ID, Kind: run.Kind, Title: "resume " + title + " (" + run.ID + ")"})
	m.stage = stageRun
	ctx, cancel := context.WithCancel(vm.WithConfirmDeployment(m.common.Ctx, typed))
	m.run.starting(cancel)
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
	m.stage, m.dialog, m.form = stageIdle, nil, nil
	m.plan.reset("")
	m.params, m.kind = vm.WorkflowParams{}, ""
	m.follow(vm.PlanView{})
	m.run.state = wfIdle
}

// CancelCmd cancels the run (used by the root when quitting).
func (m *workflow) CancelCmd() tea.Cmd { return m.run.cancelCmd() }

// openDialog opens a confirm dialog; label names the action when it is
// not confirmed, msg is what it sends when it is.
func (m *workflow) openDialog(label, title string, lines []string, msg tea.Msg) *confirm.Model {
	m.dialog = confirm.New(m.common, label, title, lines, confirm.Sends(msg))
	m.dialog.SetSize(m.width, m.height)
	return m.dialog
}

// confirmed acts on the message of a confirmed dialog.
func (m *workflow) confirmed(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case runPlanMsg:
		return m.begin(msg.plan)
	case cancelRunMsg:
		return m.CancelCmd()
	case continueRunMsg:
		return m.run.controlCmd("continue", vm.WorkflowControl.Continue)
	}
	return nil
}

func (m *workflow) handleKey(k tea.KeyMsg) tea.Cmd {
	if m.dialog != nil {
		m.dialog.Update(k)
		if !m.dialog.Closed() {
			return nil
		}
		d := m.dialog
		m.dialog = nil
		if !d.Confirmed() {
			return common.Status(d.Label+": not confirmed, nothing done", false)
		}
		return m.confirmed(d.Msg())
	}
	switch m.stage {
	case stageAsk:
		return m.formKey(k)
	case stagePlan:
		return m.planKey(k)
	}
	return m.runKey(k)
}

// formKey gives k to the option form; a filled form is planned.
func (m *workflow) formKey(k tea.KeyMsg) tea.Cmd {
	action, cmd := m.form.Update(k)
	switch action {
	case formLeave:
		m.stage, m.form = stageIdle, nil
		return tea.Batch(cmd, func() tea.Msg { return common.BackMsg{} })
	case formSubmit:
		opts := map[string]string{}
		for n, v := range m.params.Options {
			opts[n] = v
		}
		for n, v := range m.form.values() {
			opts[n] = v
		}
		m.params.Options = opts
		return tea.Batch(cmd, m.requestPlan())
	}
	return cmd
}

// planKey handles the plan's keys: run, canary, back; the rest scroll.
func (m *workflow) planKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.Keys
	switch {
	case km.Matches(k, keymap.Run):
		if m.plan.waitForChecks() {
			return common.Status("waiting for the preflight checks; the confirmation opens if they all pass", false)
		}
		return m.confirmRun()
	case km.Matches(k, keymap.CanaryMode):
		if !m.plan.shown.CanaryOK {
			return common.Status(string(m.plan.shown.Kind)+" does not stop after a first host, so canary is not offered for it", false)
		}
		// Re-plan so the plan shown, confirmed and run carries the choice.
		m.params.Canary = !m.params.Canary
		return m.requestPlan()
	case km.Matches(k, keymap.Back):
		m.stage = stageIdle
		return func() tea.Msg { return common.BackMsg{} }
	}
	_, cmd := m.plan.Update(k)
	return cmd
}

// runKey handles the run's keys: cancel, pause, continue, back; the rest
// choose the host and scroll its output.
func (m *workflow) runKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.Keys
	switch {
	case km.Matches(k, keymap.CancelRun) && m.Running():
		m.openDialog("cancel", "Cancel "+m.run.plan.Title+"?", []string{
			m.Describe(),
			"The current step is interrupted; finished hosts stay as they are.",
		}, cancelRunMsg{})
	case km.Matches(k, keymap.Pause) && m.run.state == wfRunning:
		return m.run.pauseCmd()
	case km.Matches(k, keymap.Continue) && m.run.state == wfPaused:
		if !keymap.Dangerous(keymap.Continue) {
			return m.run.controlCmd("continue", vm.WorkflowControl.Continue)
		}
		m.openDialog("continue", "Continue "+m.run.plan.Title+" on the remaining hosts?", m.run.remainingLines(), continueRunMsg{})
	case m.log.Update(k):
	case km.Matches(k, keymap.Back):
		return func() tea.Msg { return common.BackMsg{} }
	}
	return nil
}

// confirmRun opens the confirm dialog for the plan shown, or says why the
// plan cannot run.
func (m *workflow) confirmRun() tea.Cmd {
	if why := m.plan.refusal(); why != "" {
		return common.Status(why, true)
	}
	plan := m.plan.shown
	if !keymap.Dangerous(keymap.Run) {
		return m.begin(plan)
	}
	lines := m.plan.lines()
	if cl := canaryLine(plan, m.common.Keys); cl != "" {
		lines = append([]string{cl}, lines...)
	}
	env := ""
	if m.env != nil {
		env = m.env()
	}
	d := m.openDialog("run", m.plan.confirmTitle(env), lines, runPlanMsg{plan: plan})
	d.ConfirmLabel = "Run " + string(plan.Kind)
	d.TypeToConfirm = plan.ConfirmName
	return nil
}

// View renders the current stage.
func (m *workflow) View() string {
	if m.dialog != nil {
		return m.dialog.Overlay(m.width, m.height)
	}
	st := m.common.Styles
	km := m.common.Keys
	switch m.stage {
	case stageIdle:
		hint := "No workflow."
		if km.Allowed(keymap.Repair) {
			hint += fmt.Sprintf(" %s repair · %s upgrade · %s backup from the overview.", km.Key(keymap.Repair), km.Key(keymap.Upgrade), km.Key(keymap.Backup))
		}
		return st.Muted.Render(hint)
	case stageAsk:
		return m.form.View()
	case stagePlanning:
		return st.Muted.Render(fmt.Sprintf("planning %s…", m.kind))
	case stagePlan:
		return m.plan.View()
	}
	return m.run.View(m.log.selected()) + m.log.View()
}

// ShortHelp returns the keys that apply in the current state, and only those.
func (m *workflow) ShortHelp() []key.Binding {
	if m.dialog != nil {
		return m.dialog.ShortHelp()
	}
	switch m.stage {
	case stageAsk:
		return m.form.ShortHelp()
	case stagePlan:
		return m.plan.ShortHelp()
	}
	b := m.common.Keys.Binding
	var out []key.Binding
	if m.stage == stageRun {
		switch m.run.state {
		case wfStarting:
			out = append(out, b(keymap.CancelRun))
		case wfRunning:
			if !m.run.pauseReq {
				out = append(out, b(keymap.Pause))
			}
			out = append(out, b(keymap.CancelRun))
		case wfPaused:
			if m.common.Keys.Allowed(keymap.Continue) {
				out = append(out, b(keymap.Continue))
			}
			out = append(out, b(keymap.CancelRun))
		}
	}
	if len(m.log.hosts) > 1 && m.stage != stageIdle && m.stage != stagePlanning {
		out = append(out, b(keymap.NextHost))
	}
	return append(out, b(keymap.Back))
}

// FullHelp returns the workflow keys by scope.
func (m *workflow) FullHelp() [][]key.Binding {
	return m.common.Keys.Full(keymap.ScopeGlobal, keymap.ScopeWorkflow, keymap.ScopeDialog)
}
