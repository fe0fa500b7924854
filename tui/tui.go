// Package tui is scalar-tui's terminal console: Bubble Tea models over a
// Backend seam (see vm.Backend), with the overview, host detail, workflow,
// runs and audit screens.
//
// The root model only lays out, handles global keys and routes messages;
// each screen follows the component contract in tui/common. tui must not do
// I/O in Update or View: every Backend call happens inside a tea.Cmd and its
// result comes back as a message. tui must not import ops/* (the lead's
// adapter maps ops types onto tui/vm) and must not import cmd.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"scalar-tui/ops/workflow/drill"
	"scalar-tui/tui/common"
	"scalar-tui/tui/components/confirm"
	"scalar-tui/tui/components/input"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/styles"
	"scalar-tui/tui/vm"
)

// Aliases of the view-model types, so callers can write tui.Backend,
// tui.HostRow and so on.
type (
	// Backend is vm.Backend.
	Backend = vm.Backend
	// HealthView is vm.HealthView.
	HealthView = vm.HealthView
	// HostRow is vm.HostRow.
	HostRow = vm.HostRow
	// ClusterLine is vm.ClusterLine.
	ClusterLine = vm.ClusterLine
	// AlertView is vm.AlertView.
	AlertView = vm.AlertView
	// PlanView is vm.PlanView.
	PlanView = vm.PlanView
	// StepView is vm.StepView.
	StepView = vm.StepView
	// WorkflowEvent is vm.WorkflowEvent.
	WorkflowEvent = vm.WorkflowEvent
)

// DefaultRefreshInterval matches Prometheus' 15 s scrape interval.
const DefaultRefreshInterval = 15 * time.Second

// Options configure the console.
type Options struct {
	// Backend is required.
	Backend vm.Backend
	// Readonly removes every dangerous action from keys, commands and help.
	Readonly bool
	// Clock is the source of "now"; time.Now when nil.
	Clock func() time.Time
	// EnvColor, when set, colours the environment badge (a lipgloss colour).
	EnvColor string
	// ProdPattern marks production environment names (red badge);
	// styles.DefaultProdPattern (`(?i)prod`) when nil.
	ProdPattern *regexp.Regexp
	// RefreshInterval is how often health is reloaded; DefaultRefreshInterval when zero.
	RefreshInterval time.Duration
	// KeyOverrides maps an action ID (keymap.ID) to comma-separated keys.
	KeyOverrides map[string]string
	// Styles replaces styles.DefaultStyles().
	Styles *styles.Styles
	// Context bounds every backend call; context.Background when nil.
	Context context.Context
}

// Model is the root model.
type Model struct {
	common   common.Common
	screen   common.Screen
	history  []common.Screen
	overview *overview
	detail   *detail
	workflow *workflow
	runs     *list
	backups  *list
	audit    *list
	run      *runDetail
	alerts   *alertsView
	logs     *logsView
	help     help.Model
	showHelp bool
	// helpText, when set, is shown instead of the help (the :drill list)
	// until the help closes.
	helpText string
	// helpOffset scrolls the help view on short terminals.
	helpOffset int
	cmdMode    bool
	cmdLine    input.Model
	dialog     *confirm.Model
	// offer lists unfinished runs found at start; nil once dismissed.
	offer *resumeOffer
	// envHint names the environment switched to until its inventory loads.
	envHint  string
	status   string
	statusEr bool
	width    int
	height   int
	// quitting is set once the operator confirmed quitting during a run:
	// the console exits when the run's cleanup is done.
	quitting bool
}

// New builds the console. It fails only on a bad option (no backend, an
// unknown action in KeyOverrides).
func New(opts Options) (*Model, error) {
	if opts.Backend == nil {
		return nil, errors.New("tui: Options.Backend is required")
	}
	km, err := keymap.New(opts.Readonly, opts.KeyOverrides)
	if err != nil {
		return nil, err
	}
	st := opts.Styles
	if st == nil {
		st = styles.DefaultStyles()
	}
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	interval := opts.RefreshInterval
	if interval <= 0 {
		interval = DefaultRefreshInterval
	}
	c := common.Common{Ctx: ctx, Styles: st, Keys: km, Backend: opts.Backend, Clock: opts.Clock,
		EnvColor: opts.EnvColor, ProdPattern: opts.ProdPattern, Width: 80, Height: 24}
	m := &Model{common: c, help: help.New(), cmdLine: input.New(":")}
	m.help.ShortSeparator = " · "
	m.overview = newOverview(c, interval)
	m.detail = newDetail(c, m.overview.Row, m.overview.currentTag)
	m.workflow = newWorkflow(c, m.envName)
	m.runs = newRunsList(c)
	m.backups = newBackupsList(c)
	m.audit = newAuditList(c)
	m.run = newRunDetail(c)
	m.alerts = newAlertsView(c, m.overview.alertList)
	m.logs = newLogsView(c)
	m.resize(80, 24)
	return m, nil
}

// Run starts the console on the terminal (alternate screen) and returns
// when the operator quits or ctx ends.
func Run(ctx context.Context, opts Options) error {
	styles.ColorProfileFromEnv()
	opts.Context = ctx
	m, err := New(opts)
	if err != nil {
		return err
	}
	// Signals are the caller's (ctx): Bubble Tea's own handler turns
	// SIGTERM into a QuitMsg sent with no regard for ctx, which deadlocks
	// its shutdown when ctx is canceled by the same signal.
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithoutSignalHandler())
	_, err = p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return fmt.Errorf("console stopped: %w", ctx.Err())
	}
	return err
}

func (m *Model) envName() string {
	if m.overview.inv != nil && m.overview.inv.NetworkName != "" {
		return m.overview.inv.NetworkName
	}
	return m.envHint
}

// Init starts the overview's loads and looks in the journal for runs left
// unfinished, to offer resuming them.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.overview.Init(), loadUnfinished(m.common)) }

// Screen returns the screen shown.
func (m *Model) Screen() common.Screen { return m.screen }

// resize records the terminal size and lays the screens out again.
func (m *Model) resize(w, h int) {
	m.width, m.height = w, h
	m.common.Width, m.common.Height = w, h
	m.help.Width = w
	m.layout()
}

// bodyHeight leaves one line for the header, the status lines (an error
// wraps over several) and one line for the footer.
func (m *Model) bodyHeight() int { return max(m.height-2-len(m.statusLines()), 1) }

// maxStatusLines bounds how much of the screen a wrapped error may take.
func (m *Model) maxStatusLines() int { return max(m.height/3, 1) }

// statusLines is the status area: one line, or an error wrapped over as
// many lines as it needs (up to a third of the screen), so an error is
// never cut off.
func (m *Model) statusLines() []string {
	if m.cmdMode || m.status == "" || !m.statusEr {
		return []string{""}
	}
	lines := wrapText(m.status, max(m.width, 10))
	if n := m.maxStatusLines(); len(lines) > n {
		lines = append(lines[:n-1], render.Fit(strings.Join(lines[n-1:], " "), m.width))
	}
	return lines
}

// setStatus shows text in the status area and lays the screens out again,
// as an error may take more lines than the previous status.
func (m *Model) setStatus(text string, isErr bool) {
	m.status, m.statusEr = text, isErr
	m.layout()
}

// layout gives every screen the body area left by the status lines.
func (m *Model) layout() {
	w, bh := m.width, m.bodyHeight()
	for _, c := range []common.Component{m.overview, m.detail, m.workflow, m.runs, m.backups, m.audit, m.run, m.alerts, m.logs} {
		c.SetSize(w, bh)
	}
	if m.dialog != nil {
		m.dialog.SetSize(w, bh)
	}
	if m.offer != nil {
		m.offer.SetSize(w, bh)
	}
}

func (m *Model) active() common.Component {
	switch m.screen {
	case common.ScreenDetail:
		return m.detail
	case common.ScreenWorkflow:
		return m.workflow
	case common.ScreenRuns:
		return m.runs
	case common.ScreenBackups:
		return m.backups
	case common.ScreenAudit:
		return m.audit
	case common.ScreenRun:
		return m.run
	case common.ScreenAlerts:
		return m.alerts
	case common.ScreenLogs:
		return m.logs
	}
	return m.overview
}

func (m *Model) component(id common.ComponentID) common.Component {
	switch id {
	case common.OverviewID:
		return m.overview
	case common.DetailID:
		return m.detail
	case common.WorkflowID:
		return m.workflow
	case common.RunsID:
		return m.runs
	case common.BackupsID:
		return m.backups
	case common.AuditID:
		return m.audit
	case common.RunID:
		return m.run
	case common.AlertsID:
		return m.alerts
	case common.LogsID:
		return m.logs
	}
	return nil
}

// Messages of the root.
type (
	shellDoneMsg struct {
		host string
		err  error
		// reason is the last line the shell command wrote to stderr
		// (e.g. "scalar-tui: dial cassandra-1 via bastion: ..."), which
		// the console's own screen would otherwise hide.
		reason string
	}
	envSwitchedMsg struct {
		name string
		err  error
	}
)

// quitWait bounds how long a quit waits on screen for the canceled
// workflow's cleanup; the process then waits for the rest (cmd's Shutdown).
const quitWait = time.Minute

// quitPollMsg re-checks, while quitting, whether the canceled run ended.
type quitPollMsg struct{ deadline time.Time }

func quitPoll(deadline time.Time) tea.Cmd {
	return tea.Tick(200*time.Millisecond, func(time.Time) tea.Msg { return quitPollMsg{deadline: deadline} })
}

// Update lays out, handles global keys and routes everything else.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.quitting {
		// Canceling on quit: keep routing the run's events until its
		// cleanup is done (unpaused, lock released, journal final).
		if !m.workflow.Running() {
			return m, tea.Quit
		}
		if p, ok := msg.(quitPollMsg); ok {
			if m.common.Now().After(p.deadline) {
				return m, tea.Quit
			}
			return m, quitPoll(p.deadline)
		}
		if k, ok := msg.(tea.KeyMsg); ok {
			if m.common.Keys.Matches(k, keymap.ForceQuit) {
				// Leave the screen now; the process still waits for the
				// cleanup before it exits.
				return m, tea.Quit
			}
			return m, nil
		}
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case common.Envelope:
		if c := m.component(msg.To); c != nil {
			_, cmd := c.Update(msg.Msg)
			return m, cmd
		}
		return m, nil
	case common.StatusMsg:
		m.setStatus(msg.Text, msg.Err)
		return m, nil
	case common.NavigateMsg:
		return m, m.navigate(msg.To, msg.Host)
	case common.BackMsg:
		was := m.screen
		m.back()
		return m, m.left(was)
	case common.LogsMsg:
		return m, m.navigate(common.ScreenLogs, msg.Host)
	case common.PlanMsg:
		return m, m.plan(msg)
	case common.ShellMsg:
		if !keymap.Dangerous(keymap.Shell) {
			return m, m.shell(msg.Host)
		}
		m.openDialog("shell", fmt.Sprintf("Open a shell on %s (%s)?", msg.Host, m.envOrUnknown()),
			[]string{"Commands typed there are not checked by the console."}, confirm.Sends(openShellMsg{host: msg.Host}))
		return m, nil
	case confirmQuitMsg, openShellMsg, resumeRunMsg, forceUnlockMsg, discardRunMsg:
		return m, m.confirmed(msg)
	case shellDoneMsg:
		switch {
		case msg.err != nil && msg.reason != "":
			m.setStatus("shell on "+msg.host+" failed: "+msg.reason+" ("+msg.err.Error()+")", true)
		case msg.err != nil:
			m.setStatus("shell on "+msg.host+": "+msg.err.Error(), true)
		default:
			m.setStatus("shell on "+msg.host+" closed", false)
		}
		return m, nil
	case envSwitchedMsg:
		if msg.err != nil {
			m.setStatus("env "+msg.name+": "+msg.err.Error(), true)
			return m, nil
		}
		// Forget everything of the old environment at once: the header
		// names the new one, health shows as pending, the selection and
		// any plan made against the old environment are gone.
		m.setStatus("switched to "+msg.name, false)
		m.envHint = msg.name
		stop := m.left(m.screen)
		m.history, m.screen = nil, common.ScreenOverview
		m.overview.Reset()
		m.workflow.Reset()
		m.offer = nil
		return m, tea.Batch(stop, m.overview.Init(), loadUnfinished(m.common))
	case unfinishedRunsMsg:
		m.offerUnfinished(msg)
		return m, nil
	case resumeLookupMsg:
		switch {
		case msg.err != nil:
			m.setStatus("resume "+msg.id+": "+msg.err.Error(), true)
		case !msg.ok:
			m.setStatus("resume: no run "+msg.id+" in the journal (see :runs)", true)
		default:
			m.askResume(msg.run)
		}
		return m, nil
	case common.ResumeMsg:
		m.askResume(msg.Run)
		return m, nil
	case unlockMsg:
		return m, m.askUnlock()
	case lockHolderMsg, unlockedMsg:
		return m, m.unlockResult(msg)
	case discardMsg:
		m.askDiscard(msg.run)
		return m, nil
	case discardedMsg:
		if msg.err != nil {
			m.setStatus("discard "+msg.id+": "+msg.err.Error(), true)
			return m, nil
		}
		m.setStatus("run "+msg.id+" discarded: no longer offered for resume", false)
		return m, m.runs.Init()
	case tea.KeyMsg:
		// Keys that arrive in one read (jjj over a slow link, key repeat)
		// come as one message with several runes: each one counts. A
		// paste stays whole (it is text for an input, never commands).
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			cmds := make([]tea.Cmd, 0, len(msg.Runes))
			for _, r := range msg.Runes {
				cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
			}
			return m, tea.Sequence(cmds...)
		}
		return m, m.key(msg)
	case common.OpenRunMsg:
		return m, m.navigateRun(msg.ID)
	}
	_, cmd := m.active().Update(msg)
	return m, cmd
}

// navigateRun shows run id in full.
func (m *Model) navigateRun(id string) tea.Cmd {
	if m.screen != common.ScreenRun {
		m.history = append(m.history, m.screen)
	}
	m.screen = common.ScreenRun
	return m.run.Open(id)
}

func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	km := m.common.Keys
	if m.dialog != nil {
		return m.dialogKey(k)
	}
	if m.cmdMode {
		switch k.Type {
		case tea.KeyEnter:
			m.cmdMode = false
			m.layout()
			return m.runCommand(m.cmdLine.Value())
		case tea.KeyEsc:
			m.cmdMode = false
			m.layout()
		default:
			m.cmdLine, _ = m.cmdLine.Update(k)
		}
		return nil
	}
	if km.Matches(k, keymap.ForceQuit) {
		if m.workflow.Running() && m.screen == common.ScreenWorkflow && !m.showHelp {
			_, cmd := m.workflow.Update(k)
			return cmd
		}
		return m.quit()
	}
	if m.showHelp {
		switch {
		case km.Matches(k, keymap.Help) || km.Matches(k, keymap.Back) || km.Matches(k, keymap.Quit):
			m.showHelp, m.helpOffset, m.helpText = false, 0, ""
		case km.Matches(k, keymap.Down):
			m.helpOffset++
		case km.Matches(k, keymap.Up):
			m.helpOffset = max(m.helpOffset-1, 0)
		}
		return nil
	}
	if m.offer != nil {
		switch {
		case km.Matches(k, keymap.Back):
			m.offer = nil
			m.setStatus("resume offer dismissed; :runs lists the unfinished runs ("+km.Key(keymap.Resume)+" resumes there)", false)
			return nil
		case km.Matches(k, keymap.Quit):
			return m.quit()
		case km.Matches(k, keymap.Help):
			m.showHelp = true
			return nil
		case km.Matches(k, keymap.CommandMode):
			m.cmdMode = true
			m.layout()
			m.cmdLine.SetValue("")
			return nil
		}
		_, cmd := m.offer.Update(k)
		return cmd
	}
	if cap, ok := m.active().(interface{ Capturing() bool }); ok && cap.Capturing() {
		_, cmd := m.active().Update(k)
		return cmd
	}
	if m.status != "" {
		m.setStatus("", false)
	}
	switch {
	case km.Matches(k, keymap.Quit):
		return m.quit()
	case km.Matches(k, keymap.Help):
		m.showHelp = true
		return nil
	case km.Matches(k, keymap.Watch):
		return m.navigate(common.ScreenWorkflow, "")
	case km.Matches(k, keymap.Alerts):
		return m.navigate(common.ScreenAlerts, "")
	case km.Matches(k, keymap.CommandMode):
		m.cmdMode = true
		m.layout()
		m.cmdLine.SetValue("")
		return nil
	}
	_, cmd := m.active().Update(k)
	return cmd
}

func (m *Model) quit() tea.Cmd {
	if m.workflow.Running() {
		m.openDialog("quit", "Quit and cancel the running workflow?", []string{m.workflow.Describe()}, confirm.Sends(confirmQuitMsg{}))
		return nil
	}
	return tea.Quit
}

// Messages the root's confirm dialogs send when confirmed; each carries
// what the dialog was opened about.
type (
	// confirmQuitMsg quits, canceling the running workflow.
	confirmQuitMsg struct{}
	// openShellMsg opens a shell on host.
	openShellMsg struct{ host string }
	// resumeRunMsg resumes run; typed is what the operator typed (a
	// restore's deployment name).
	resumeRunMsg struct {
		run   vm.RunView
		typed string
	}
	// forceUnlockMsg breaks the cluster lock shown in the dialog.
	forceUnlockMsg struct{ lock vm.LockView }
	// discardRunMsg discards run.
	discardRunMsg struct{ run vm.RunView }
)

// openDialog opens a confirm dialog; label names the action when it is
// not confirmed, send makes the message it sends when it is.
func (m *Model) openDialog(label, title string, lines []string, send func(typed string) tea.Msg) {
	m.dialog = confirm.New(m.common, label, title, lines, send)
	m.dialog.SetSize(m.width, max(m.height-3, 1))
}

func (m *Model) dialogKey(k tea.KeyMsg) tea.Cmd {
	m.dialog.Update(k)
	if !m.dialog.Closed() {
		return nil
	}
	d := m.dialog
	m.dialog = nil
	if !d.Confirmed() {
		m.setStatus(d.Label+": not confirmed, nothing done", false)
		return nil
	}
	return m.confirmed(d.Msg())
}

// confirmed acts on the message of a confirmed dialog.
func (m *Model) confirmed(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case confirmQuitMsg:
		m.quitting = true
		m.status, m.statusEr = "canceling… waiting for the workflow's cleanup (unpause, stop the remote command, release the cluster lock)", false
		return tea.Batch(m.workflow.CancelCmd(), quitPoll(m.common.Now().Add(quitWait)))
	case openShellMsg:
		return m.shell(msg.host)
	case resumeRunMsg:
		if m.workflow.Running() {
			m.setStatus("a workflow is already running; "+msg.run.ID+" was not resumed", true)
			return nil
		}
		m.offer = nil
		cmd := m.workflow.Resume(msg.run, msg.typed)
		m.navigate(common.ScreenWorkflow, "")
		return cmd
	case forceUnlockMsg:
		return m.forceUnlock(msg.lock)
	case discardRunMsg:
		return m.discard(msg.run)
	}
	return nil
}

// offerUnfinished shows the resume offer for the unfinished runs among
// msg.runs. Read-only sessions and backends that cannot resume get a
// status line instead: the operator should still know.
func (m *Model) offerUnfinished(msg unfinishedRunsMsg) {
	if msg.err != nil {
		m.setStatus("journal: "+msg.err.Error()+" (unfinished runs not checked)", true)
		return
	}
	runs := unfinished(msg.runs)
	if len(runs) == 0 {
		return
	}
	note := fmt.Sprintf("%d unfinished workflow run(s) in the journal, newest %s (%s)", len(runs), runs[0].ID, runs[0].State)
	if runs[0].Warning != "" {
		note += ": " + runs[0].Warning
	}
	_, canResume := m.common.Backend.(vm.Resumer)
	switch {
	case !m.common.Keys.Allowed(keymap.Resume):
		m.setStatus(note+" — read-only: resume from a read-write session", true)
	case !canResume:
		m.setStatus(note+" — this backend cannot resume", true)
	case m.workflow.Running():
		m.setStatus(note+" — see :runs", true)
	default:
		m.offer = newResumeOffer(m.common, runs)
		m.offer.SetSize(m.width, max(m.height-3, 1))
	}
}

// askResume opens the confirm dialog for resuming run; resuming is a
// dangerous action (default Cancel, hidden in read-only mode).
func (m *Model) askResume(run vm.RunView) {
	switch {
	case !m.common.Keys.Allowed(keymap.Resume):
		m.setStatus("resume is not available in read-only mode", true)
		return
	case !run.Unfinished():
		m.setStatus("run "+run.ID+" is "+run.State+": nothing to resume", false)
		return
	case m.workflow.Running():
		m.setStatus("a workflow is already running; wait for it or cancel it before resuming "+run.ID, true)
		return
	}
	if _, ok := m.common.Backend.(vm.Resumer); !ok {
		m.setStatus("resume: "+vm.ErrNotSupported.Error(), true)
		return
	}
	title := fmt.Sprintf("Resume %s run %s on %s?", run.Kind, run.ID, m.envOrUnknown())
	m.openDialog("resume", title, resumeLines(run, render.Age(m.common.Now().Sub(run.Started))),
		func(typed string) tea.Msg { return resumeRunMsg{run: run, typed: typed} })
	m.dialog.ConfirmLabel = "Resume"
	// A restore's resume replaces data again: its name is typed again.
	m.dialog.TypeToConfirm = run.ConfirmName
}

// shell suspends the console and runs the backend's shell command for host.
func (m *Model) shell(host string) tea.Cmd {
	c, done := m.prepareShell(host)
	if c == nil {
		return nil
	}
	return tea.ExecProcess(c, done)
}

// prepareShell returns the backend's shell command for host with its
// stderr also kept (the tail of it), and the callback that turns its end
// into a shellDoneMsg carrying the last line it wrote: when the shell
// cannot be opened (host down, key refused) that line is the reason, and
// the console's screen, redrawn at once, would otherwise hide it.
func (m *Model) prepareShell(host string) (*exec.Cmd, func(error) tea.Msg) {
	c := m.common.Backend.ShellCommand(host)
	if c == nil {
		m.setStatus("shell: the backend cannot open a shell on "+host, true)
		return nil, nil
	}
	tail := &tailWriter{max: 4096}
	if c.Stderr == nil {
		c.Stderr = io.MultiWriter(os.Stderr, tail)
	} else {
		c.Stderr = io.MultiWriter(c.Stderr, tail)
	}
	return c, func(err error) tea.Msg { return shellDoneMsg{host: host, err: err, reason: tail.lastLine()} }
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// lastLine is the last non-empty line written, without terminal escapes.
func (t *tailWriter) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.ReplaceAll(ansi.Strip(string(t.buf)), "\r", "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

func (m *Model) navigate(to common.Screen, host string) tea.Cmd {
	was := m.screen
	if to != m.screen {
		m.history = append(m.history, m.screen)
	}
	m.screen = to
	stop := m.left(was)
	switch to {
	case common.ScreenDetail:
		return tea.Batch(stop, m.detail.Open(host))
	case common.ScreenLogs:
		return m.logs.Open(host)
	case common.ScreenRuns:
		return tea.Batch(stop, m.runs.Init())
	case common.ScreenBackups:
		return tea.Batch(stop, m.backups.Init())
	case common.ScreenAudit:
		return tea.Batch(stop, m.audit.Init())
	}
	return stop
}

// left stops what the screen was left running: a log view's stream ends
// when the view closes, whichever way the operator left it.
func (m *Model) left(was common.Screen) tea.Cmd {
	if was == common.ScreenLogs && m.screen != common.ScreenLogs {
		return m.logs.Stop()
	}
	return nil
}

func (m *Model) back() {
	if n := len(m.history); n > 0 {
		m.screen = m.history[n-1]
		m.history = m.history[:n-1]
		return
	}
	m.screen = common.ScreenOverview
}

func (m *Model) plan(p common.PlanMsg) tea.Cmd {
	// The built-in kinds are actions of their own (hidden in read-only
	// mode); a runbook's catalog workflow is not, and its plan shows in
	// read-only mode too, where the workflow screen cannot run it.
	id := keymap.ID(p.Kind)
	if _, builtin := keymap.Lookup(id); builtin && !m.common.Keys.Allowed(id) {
		m.setStatus(string(p.Kind)+" is not available in read-only mode", true)
		return nil
	}
	cmd := m.workflow.Start(p)
	if !m.workflow.Running() {
		m.navigate(common.ScreenWorkflow, "")
	}
	return cmd
}

func (m *Model) envOrUnknown() string {
	if n := m.envName(); n != "" {
		return n
	}
	return "unknown environment"
}

// command is a parsed `:` command line.
type command struct {
	name string
	arg  string
}

// parseCommand splits a `:` command line; it knows the command names but
// not whether they are allowed.
func parseCommand(line string) (command, error) {
	f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), ":"))
	if len(f) == 0 {
		return command{}, errors.New("empty command")
	}
	c := command{name: f[0]}
	if c.name == "q" {
		c.name = "quit"
	}
	if len(f) > 1 {
		c.arg = strings.Join(f[1:], " ")
	}
	if k, ok := kindOfCommand(c.name); ok && c.name != "drill" {
		switch {
		case len(k.ConsoleArgs) == 0 && c.arg != "":
			return c, fmt.Errorf(":%s takes no argument", c.name)
		case len(k.ConsoleArgs) > 0 && len(f)-1 != len(k.ConsoleArgs):
			return c, errors.New("usage: " + k.ConsoleUsage)
		}
		return c, nil
	}
	switch c.name {
	case "backups", "runs", "audit", "quit", "help", "workflow", "alerts", "unlock":
		if c.arg != "" {
			return c, fmt.Errorf(":%s takes no argument", c.name)
		}
	case "env":
		if c.arg == "" || len(f) > 2 {
			return c, errors.New("usage: :env NAME")
		}
	case "resume":
		if c.arg == "" || len(f) > 2 {
			return c, errors.New("usage: :resume ID (see :runs for IDs)")
		}
	case "drill":
		if len(f) != 1 && len(f) != 3 {
			return c, errors.New("usage: :drill NAME HOST (:drill lists the drills)")
		}
	default:
		return c, fmt.Errorf("unknown command :%s (try :repair, :upgrade TAG, :backup, :backups, :drill NAME HOST, :alerts, :runs, :audit, :workflow, :resume ID, :unlock, :env NAME, :quit)", c.name)
	}
	return c, nil
}

func (m *Model) runCommand(line string) tea.Cmd {
	c, err := parseCommand(line)
	if err != nil {
		m.setStatus(err.Error(), true)
		return nil
	}
	if a, ok := keymap.ByCommand(c.name); ok && !m.common.Keys.Allowed(a.ID) {
		m.setStatus(":"+c.name+" is not available in read-only mode", true)
		return nil
	}
	if k, ok := kindOfCommand(c.name); ok && c.name != "drill" {
		return m.plan(common.PlanMsg{Kind: vm.WorkflowKind(k.Name), Params: commandParams(k, c.arg)})
	}
	switch c.name {
	case "backups":
		return m.navigate(common.ScreenBackups, "")
	case "runs":
		return m.navigate(common.ScreenRuns, "")
	case "workflow":
		return m.navigate(common.ScreenWorkflow, "")
	case "audit":
		return m.navigate(common.ScreenAudit, "")
	case "alerts":
		return m.navigate(common.ScreenAlerts, "")
	case "help":
		m.showHelp = true
	case "drill":
		if m.common.Keys.Readonly() {
			m.setStatus(":drill is not available in read-only mode", true)
			return nil
		}
		if c.arg == "" {
			m.showHelp, m.helpOffset, m.helpText = true, 0, drillList()
			return nil
		}
		name, host, _ := strings.Cut(c.arg, " ")
		return m.plan(common.PlanMsg{Kind: "drill", Params: vm.WorkflowParams{Args: []string{name}, Hosts: []string{host}}})
	case "quit":
		return m.quit()
	case "unlock":
		return m.askUnlock()
	case "resume":
		if _, ok := m.common.Backend.(vm.Resumer); !ok {
			m.setStatus(":resume: "+vm.ErrNotSupported.Error(), true)
			return nil
		}
		return lookupRun(m.common, c.arg)
	case "env":
		sw, ok := m.common.Backend.(vm.EnvSwitcher)
		if !ok {
			m.setStatus(":env: "+vm.ErrNotSupported.Error(), true)
			return nil
		}
		if m.workflow.Running() {
			m.setStatus(":env: a workflow is running on "+m.envOrUnknown()+"; wait for it or cancel it before switching", true)
			return nil
		}
		ctx, name := m.common.Ctx, c.arg
		return func() tea.Msg { return envSwitchedMsg{name: name, err: sw.SwitchEnv(ctx, name)} }
	}
	return nil
}

// View draws header, body, status lines and the footer.
func (m *Model) View() string {
	st := m.common.Styles
	o := m.overview
	header := headerLine(m.common, o.inv, m.envHint, o.health, o.hasData, o.healthEr, o.fetched, m.screen.String(), m.width)
	bh := m.bodyHeight()
	var body string
	switch {
	case m.showHelp:
		text := m.helpText
		if text == "" {
			text = m.fullHelp()
		}
		lines := strings.Split(text, "\n")
		off := min(m.helpOffset, max(len(lines)-bh+1, 0))
		end := min(off+bh-1, len(lines))
		if len(lines) <= bh {
			end = len(lines)
		}
		body = strings.Join(lines[off:end], "\n")
		if below := len(lines) - end; below > 0 {
			body += "\n" + st.Muted.Render(moreLine(off, below, "lines"))
		}
	case m.dialog != nil:
		body = m.dialog.Overlay(m.width, bh)
	case m.offer != nil:
		body = m.offer.Overlay(m.width, bh)
	default:
		body = m.active().View()
	}
	body = lipgloss.NewStyle().Height(bh).MaxHeight(bh).MaxWidth(m.width).Render(body)
	var status string
	switch {
	case m.cmdMode:
		status = m.cmdLine.View()
	case m.status != "" && m.statusEr:
		lines := m.statusLines()
		for i, l := range lines {
			lines[i] = st.Error.Render(render.Fit(l, m.width))
		}
		status = strings.Join(lines, "\n")
	case m.status != "":
		status = st.Status.Render(render.Fit(m.status, m.width))
	case m.workflow.Running() && m.screen != common.ScreenWorkflow:
		status = st.Warning.Render(render.Fit("workflow "+m.workflow.Describe()+" — "+m.common.Keys.Key(keymap.Watch)+" to watch", m.width))
	}
	return header + "\n" + body + "\n" + status + "\n" + m.footer()
}

// footer renders the short help of the current state. Outside dialogs and
// text inputs it always ends with help and quit; when the keys do not fit,
// the ones before them are dropped (with "…"), never those two.
func (m *Model) footer() string {
	km := m.common.Keys
	bs := m.ShortHelp()
	var tail []key.Binding
	if m.dialog == nil && !m.cmdMode && !m.capturing() {
		tail = []key.Binding{km.Binding(keymap.Help), km.Binding(keymap.Quit)}
	}
	if m.showHelp {
		tail = nil // ?, q and esc all close the help: shown as esc back
	}
	seen := map[string]bool{}
	for _, b := range tail {
		seen[b.Help().Key] = true
	}
	var head []key.Binding
	for _, b := range bs {
		if b.Enabled() && !seen[b.Help().Key] {
			seen[b.Help().Key] = true
			head = append(head, b)
		}
	}
	hs := m.help.Styles
	item := func(b key.Binding) string {
		return hs.ShortKey.Render(b.Help().Key) + " " + hs.ShortDesc.Render(b.Help().Desc)
	}
	sep := hs.ShortSeparator.Render(m.help.ShortSeparator)
	ellipsis := hs.Ellipsis.Render("…")
	var tailItems []string
	for _, b := range tail {
		tailItems = append(tailItems, item(b))
	}
	tailStr := strings.Join(tailItems, sep)
	room := m.width - lipgloss.Width(tailStr)
	if len(tail) > 0 {
		room -= lipgloss.Width(sep)
	}
	var headItems []string
	used := 0
	for i, b := range head {
		it := item(b)
		w := lipgloss.Width(it)
		if used > 0 {
			w += lipgloss.Width(sep)
		}
		more := 0
		if i < len(head)-1 {
			more = lipgloss.Width(sep) + lipgloss.Width(ellipsis)
		}
		if used+w+more > room && (i < len(head)-1 || used+w > room) {
			headItems = append(headItems, ellipsis)
			break
		}
		headItems = append(headItems, it)
		used += w
	}
	all := headItems
	if tailStr != "" {
		all = append(all, tailStr)
	}
	return render.Fit(strings.Join(all, sep), m.width)
}

// capturing reports whether the active screen takes every key (a text input).
func (m *Model) capturing() bool {
	if m.showHelp || m.offer != nil {
		return false
	}
	c, ok := m.active().(interface{ Capturing() bool })
	return ok && c.Capturing()
}

// fullHelp renders the help view from the key map: every enabled binding
// by scope, then the commands this session allows.
func (m *Model) fullHelp() string {
	st := m.common.Styles
	km := m.common.Keys
	var b strings.Builder
	b.WriteString(st.Title.Render("Keys"))
	b.WriteString(st.Muted.Render("  (! = dangerous: asks to confirm"))
	if km.Readonly() {
		b.WriteString(st.Muted.Render("; read-only: dangerous actions hidden"))
	}
	b.WriteString(st.Muted.Render(")"))
	b.WriteString("\n\n")
	scopes := []keymap.Scope{keymap.ScopeGlobal, keymap.ScopeOverview, keymap.ScopeHost, keymap.ScopeWorkflow, keymap.ScopeLists, keymap.ScopeAlerts, keymap.ScopeLogs, keymap.ScopeDialog}
	var cols []string
	for _, s := range scopes {
		groups := km.Full(s)
		if len(groups) == 0 {
			continue
		}
		lines := []string{st.Bold.Render(s.String())}
		for _, bd := range groups[0] {
			lines = append(lines, render.Fit(bd.Help().Key, 8)+" "+st.Muted.Render(bd.Help().Desc))
		}
		cols = append(cols, strings.Join(lines, "\n"))
	}
	b.WriteString(packColumns(cols, m.width))
	b.WriteString("\n\n" + st.Bold.Render("Commands") + "\n")
	var cmds []string
	for _, a := range keymap.Actions {
		if a.Command != "" && km.Allowed(a.ID) {
			c := ":" + a.Command
			if a.ID == keymap.Upgrade {
				c += " TAG"
			}
			if a.ID == keymap.Resume {
				c += " ID"
			}
			if a.Dangerous {
				c += " !"
			}
			cmds = append(cmds, c)
		}
	}
	// The commands without a key of their own (parseCommand knows them).
	cmds = append(cmds, ":backups")
	if !km.Readonly() {
		cmds = append(cmds, ":drill NAME HOST !")
	}
	cmds = append(cmds, ":env NAME", ":help")
	// One line while it fits, then more: a command is never cut.
	line := ""
	for _, c := range cmds {
		if line != "" && m.width > 0 && len([]rune(line))+2+len([]rune(c)) > m.width {
			b.WriteString(line + "\n")
			line = ""
		}
		if line != "" {
			line += "  "
		}
		line += c
	}
	b.WriteString(line)
	b.WriteString("\n\n" + st.Muted.Render(km.Key(keymap.Back)+" or "+km.Key(keymap.Help)+" closes this help"))
	return b.String()
}

// packColumns lays help columns side by side, starting a new band of
// columns when the next one would not fit in width.
func packColumns(cols []string, width int) string {
	var bands []string
	var band []string
	used := 0
	for _, c := range cols {
		c = lipgloss.NewStyle().PaddingRight(3).Render(c)
		w := lipgloss.Width(c)
		if used > 0 && used+w > width {
			bands = append(bands, lipgloss.JoinHorizontal(lipgloss.Top, band...))
			band, used = nil, 0
		}
		band = append(band, c)
		used += w
	}
	if len(band) > 0 {
		bands = append(bands, lipgloss.JoinHorizontal(lipgloss.Top, band...))
	}
	return strings.Join(bands, "\n\n")
}

// ShortHelp is the footer: the active screen's short help (help.KeyMap).
func (m *Model) ShortHelp() []key.Binding {
	switch {
	case m.dialog != nil:
		return m.dialog.ShortHelp()
	case m.cmdMode:
		return m.cmdLine.ShortHelp()
	case m.showHelp:
		return []key.Binding{m.common.Keys.Binding(keymap.Back), m.common.Keys.Binding(keymap.Down)}
	case m.offer != nil:
		return m.offer.ShortHelp()
	}
	return m.active().ShortHelp()
}

// FullHelp returns the active screen's keys (help.KeyMap).
func (m *Model) FullHelp() [][]key.Binding { return m.active().FullHelp() }

func itoa(n int) string { return strconv.Itoa(n) }

// drillList is the :drill list: the drill catalog, one line a drill.
func drillList() string {
	var b strings.Builder
	b.WriteString("Drills: inject one fault on one host, watch the alert fire and clear, recover with the runbook\n\n")
	for _, s := range drill.Catalog() {
		fmt.Fprintf(&b, "  %-17s %s (%s)\n", s.Name, s.Title, strings.Join(s.Alerts, ", "))
	}
	b.WriteString("\n:drill NAME HOST plans one (e.g. :drill cassandra-stopped cassandra-2); esc closes this list")
	return b.String()
}
