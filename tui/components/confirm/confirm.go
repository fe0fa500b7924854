// Package confirm is the confirmation dialog shown before every dangerous
// action.
//
// Its safety rules: the focused button starts on Cancel, so Enter alone
// never confirms; the operator must move to Confirm (tab, →, l) and press
// Enter, or press y. The message a confirmed dialog sends is made when the
// dialog opens (a typed tea.Msg carrying its target) and is what the owner
// acts on, whatever changes underneath meanwhile. confirm
// must not import the root tui package or ops/*; it does no I/O.
package confirm

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
)

// Button is a dialog button.
type Button int

// The buttons; Cancel is the default.
const (
	Cancel Button = iota
	Confirm
)

// Model is an open dialog. Owners call Update with key messages and then
// check Closed and Confirmed.
type Model struct {
	common common.Common
	// Label names the action in the status line of a dialog not
	// confirmed ("quit: not confirmed, nothing done").
	Label string
	Title string
	// Lines are shown in the body, e.g. the plan's commands; they scroll.
	Lines []string
	// ConfirmLabel is the Confirm button's text.
	ConfirmLabel string
	// TypeToConfirm, when set, is the text the operator must type (e.g. the
	// deployment's network name before a restore): y and the buttons do not
	// confirm, Enter confirms only when the typed text equals it.
	TypeToConfirm string
	typed         string
	mismatch      bool
	send          func(typed string) tea.Msg
	focus         Button
	offset        int
	closed        bool
	confirmed     bool
	width         int
	height        int
}

// New opens a dialog focused on Cancel. send makes the message the
// dialog sends when confirmed, from the text typed (TypeToConfirm dialogs;
// "" otherwise); use Sends for a message known when the dialog opens.
func New(c common.Common, label, title string, lines []string, send func(typed string) tea.Msg) *Model {
	return &Model{common: c, Label: label, Title: title, Lines: lines, ConfirmLabel: "Confirm", send: send, width: c.Width, height: c.Height}
}

// Sends is the send of a dialog whose message does not depend on typed text.
func Sends(msg tea.Msg) func(string) tea.Msg {
	return func(string) tea.Msg { return msg }
}

// Msg returns the message the dialog sends when confirmed (nil when it has
// none); owners act on it only once Confirmed.
func (m *Model) Msg() tea.Msg {
	if m.send == nil {
		return nil
	}
	return m.send(m.typed)
}

// Focus returns the focused button.
func (m *Model) Focus() Button { return m.focus }

// Closed reports whether the operator answered.
func (m *Model) Closed() bool { return m.closed }

// Confirmed reports whether the answer was Confirm.
func (m *Model) Confirmed() bool { return m.closed && m.confirmed }

// SetSize sets the area the dialog is centred in.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// Init does nothing.
func (m *Model) Init() tea.Cmd { return nil }

// Update handles the dialog's keys.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok || m.closed {
		return m, nil
	}
	if m.TypeToConfirm != "" {
		m.updateTyped(k)
		return m, nil
	}
	km := m.common.Keys
	switch {
	case km.Matches(k, keymap.Yes):
		m.closed, m.confirmed = true, true
	case km.Matches(k, keymap.No):
		m.closed = true
	case km.Matches(k, keymap.Select):
		m.closed, m.confirmed = true, m.focus == Confirm
	case km.Matches(k, keymap.NextButton), km.Matches(k, keymap.PrevButton):
		m.focus = 1 - m.focus
	case km.Matches(k, keymap.Down):
		if m.offset < len(m.Lines)-1 {
			m.offset++
		}
	case km.Matches(k, keymap.Up):
		if m.offset > 0 {
			m.offset--
		}
	}
	return m, nil
}

// updateTyped handles keys while the operator types the confirmation text.
func (m *Model) updateTyped(k tea.KeyMsg) {
	switch k.Type {
	case tea.KeyEsc, tea.KeyCtrlC:
		m.closed = true
	case tea.KeyEnter:
		if m.typed == m.TypeToConfirm {
			m.closed, m.confirmed = true, true
			return
		}
		m.mismatch = true
	case tea.KeyBackspace:
		if r := []rune(m.typed); len(r) > 0 {
			m.typed = string(r[:len(r)-1])
		}
		m.mismatch = false
	case tea.KeyRunes:
		m.typed += string(k.Runes)
		m.mismatch = false
	}
}

// Typed returns the text typed so far (TypeToConfirm dialogs).
func (m *Model) Typed() string { return m.typed }

// View renders the dialog box (not centred; see Overlay).
func (m *Model) View() string {
	st := m.common.Styles
	w := min(max(m.width-8, 30), 100)
	inner := w - 4
	bodyH := max(m.height-11, 3)
	var b strings.Builder
	b.WriteString(st.DialogHead.Render(render.Fit(m.Title, inner)))
	b.WriteString("\n\n")
	lines := m.Lines[min(m.offset, len(m.Lines)):]
	for i, l := range lines {
		if i == bodyH-1 && len(lines) > bodyH {
			b.WriteString(st.Muted.Render(render.Fit("  … "+strconv.Itoa(len(lines)-i)+" more lines (↓ to scroll)", inner)))
			b.WriteByte('\n')
			break
		}
		b.WriteString(render.Fit(l, inner))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	if m.TypeToConfirm != "" {
		b.WriteString(render.Fit("type "+m.TypeToConfirm+" and press enter to confirm · esc cancels", inner))
		b.WriteString("\n> " + render.Fit(m.typed, inner-2) + "_")
		if m.mismatch {
			b.WriteString("\n" + st.Error.Render(render.Fit("that is not "+m.TypeToConfirm+"; nothing done", inner)))
		}
		return st.Dialog.Width(w).Render(b.String())
	}
	cancel, ok := st.Button.Render("[ Cancel ]"), st.Button.Render("[ "+m.ConfirmLabel+" ]")
	if m.focus == Cancel {
		cancel = st.ButtonOn.Render("[ Cancel ]")
	} else {
		ok = st.ButtonOn.Render("[ " + m.ConfirmLabel + " ]")
	}
	focus := "Cancel"
	if m.focus == Confirm {
		focus = m.ConfirmLabel
	}
	b.WriteString(st.Muted.Render(render.Fit("focus: "+focus+" · tab switches · y confirms · esc cancels", inner)))
	b.WriteString("\n" + cancel + "  " + ok)
	return st.Dialog.Width(w).Render(b.String())
}

// Overlay centres the dialog over a background of the given size.
func (m *Model) Overlay(width, height int) string {
	return lipgloss.Place(width, height, lipgloss.Center, lipgloss.Center, m.View())
}

// ShortHelp returns the dialog's keys.
func (m *Model) ShortHelp() []key.Binding {
	var out []key.Binding
	for _, col := range m.common.Keys.Full(keymap.ScopeDialog) {
		out = append(out, col...)
	}
	return out
}

// FullHelp returns the dialog's keys in one column.
func (m *Model) FullHelp() [][]key.Binding { return m.common.Keys.Full(keymap.ScopeDialog) }
