package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"scalar-tui/tui/common"
	"scalar-tui/tui/components/confirm"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// Messages of the unlock and discard actions. The backend is only called
// inside the tea.Cmds that produce the *Msg results.
type (
	// unlockMsg asks the root to look up the lock holder (:unlock, u).
	unlockMsg struct{}
	// lockHolderMsg carries the holder; nil when the lock is free.
	lockHolderMsg struct {
		holder *vm.LockView
		err    error
	}
	// unlockedMsg is ForceUnlock's answer; shown is the holder the
	// operator confirmed, to tell when the lock changed hands meanwhile.
	unlockedMsg struct {
		shown, was vm.LockView
		err        error
	}
	// discardMsg asks the root to discard run (d on :runs), after confirm.
	discardMsg struct{ run vm.RunView }
	// discardedMsg is DiscardRun's answer.
	discardedMsg struct {
		id  string
		err error
	}
)

// discardNote is the journal's note on a run discarded from the console.
const discardNote = "discarded in the console"

// askUnlock loads the lock holder; the dialog opens when it arrives.
func (m *Model) askUnlock() tea.Cmd {
	un, ok := m.common.Backend.(vm.Unlocker)
	switch {
	case !m.common.Keys.Allowed(keymap.Unlock):
		m.setStatus("unlock is not available in read-only mode", true)
		return nil
	case !ok:
		m.setStatus("unlock: "+vm.ErrNotSupported.Error(), true)
		return nil
	case m.workflow.Running():
		m.setStatus("unlock: a workflow is running in this console and holds the lock; cancel it instead", true)
		return nil
	}
	m.setStatus("unlock: looking up the lock holder…", false)
	ctx := m.common.Ctx
	return func() tea.Msg {
		h, err := un.LockHolder(ctx)
		return lockHolderMsg{holder: h, err: err}
	}
}

// lockLines describes the holder for the unlock dialog, with its age by
// the console's clock.
func lockLines(h vm.LockView, c common.Common) []string {
	or := func(s, dflt string) string {
		if s == "" {
			return dflt
		}
		return s
	}
	host := or(h.Host, "unknown")
	if h.PID > 0 {
		host += " (pid " + strconv.Itoa(h.PID) + ")"
	}
	since, age := "unknown", "unknown"
	if !h.Since.IsZero() {
		since = h.Since.UTC().Format("2006-01-02 15:04 MST")
		if d := c.Now().Sub(h.Since); d < 0 {
			age = "in the future: check the clocks"
		} else {
			age = lockAge(d)
		}
	}
	lines := []string{
		"Operator: " + or(h.Operator, "unknown"),
		"Host:     " + host,
		"Run:      " + or(h.Run, "unknown"),
		"Since:    " + since,
		"Age:      " + age,
	}
	if h.Detached {
		note := ""
		if h.Note != "" {
			note = " (" + h.Note + ")"
		}
		lines = append(lines, "", "Left detached on purpose: its remote command may still run"+note+"; resume re-attaches.")
	}
	return append(lines, "",
		"Break it only if that run is dead: a live run would go on without the",
		"lock and another run could start beside it. Audited.")
}

// unlockResult handles the steps of the unlock action.
func (m *Model) unlockResult(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case lockHolderMsg:
		switch {
		case msg.err != nil:
			m.setStatus("unlock: "+msg.err.Error(), true)
		case msg.holder == nil:
			m.setStatus("the cluster is not locked", false)
		default:
			m.setStatus("", false)
			m.openDialog("unlock", "Break the cluster lock of "+m.envOrUnknown()+"?", lockLines(*msg.holder, m.common), confirm.Sends(forceUnlockMsg{lock: *msg.holder}))
			m.dialog.ConfirmLabel = "Unlock"
		}
	case unlockedMsg:
		switch {
		case msg.err != nil:
			m.setStatus("unlock: "+msg.err.Error(), true)
		case msg.was.Run != msg.shown.Run || msg.was.Operator != msg.shown.Operator:
			m.setStatus(fmt.Sprintf("cluster lock broken, but it had changed hands: it was held by %s, run %s (not %s, run %s as shown)",
				msg.was.Operator, msg.was.Run, msg.shown.Operator, msg.shown.Run), true)
		default:
			m.setStatus(fmt.Sprintf("cluster lock broken: it was held by %s on %s, run %s", msg.was.Operator, msg.was.Host, msg.was.Run), false)
		}
	}
	return nil
}

// forceUnlock breaks the lock the operator confirmed.
func (m *Model) forceUnlock(shown vm.LockView) tea.Cmd {
	un, ok := m.common.Backend.(vm.Unlocker)
	if !ok {
		return nil
	}
	ctx := m.common.Ctx
	return func() tea.Msg {
		was, err := un.ForceUnlock(ctx)
		return unlockedMsg{shown: shown, was: was, err: err}
	}
}

// askDiscard opens the confirm dialog for discarding run.
func (m *Model) askDiscard(run vm.RunView) {
	if !m.common.Keys.Allowed(keymap.Discard) {
		m.setStatus("discard is not available in read-only mode", true)
		return
	}
	if _, ok := m.common.Backend.(vm.Discarder); !ok {
		m.setStatus("discard: "+vm.ErrNotSupported.Error(), true)
		return
	}
	lines := []string{
		"Kind:    " + string(run.Kind),
		"State:   " + run.State,
		"Started: " + run.Started.UTC().Format("2006-01-02 15:04 MST") + " (" + render.Age(m.common.Now().Sub(run.Started)) + " ago)",
	}
	if run.Warning != "" {
		lines = append(lines, "Warning: "+run.Warning)
	}
	lines = append(lines, "", "It will no longer be offered for resume; the journal keeps it.")
	m.openDialog("discard", fmt.Sprintf("Discard %s run %s?", run.Kind, run.ID), lines, confirm.Sends(discardRunMsg{run: run}))
	m.dialog.ConfirmLabel = "Discard"
}

// discard discards the run the operator confirmed.
func (m *Model) discard(run vm.RunView) tea.Cmd {
	d, ok := m.common.Backend.(vm.Discarder)
	if !ok {
		return nil
	}
	ctx, id := m.common.Ctx, run.ID
	return func() tea.Msg { return discardedMsg{id: id, err: d.DiscardRun(ctx, id, discardNote)} }
}

// lockAge reads like "2h15m" or "3d4h": an operator weighing whether a
// run is dead wants more than render.Age's one unit.
func lockAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return render.Age(d)
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
