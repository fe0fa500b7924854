// Package input is a one-line text input (the `:` command line, the `/`
// filter and the fields of the workflow option form).
//
// It replaces bubbles/textinput, which needs github.com/atotto/clipboard, a
// module this repository does not carry yet. input must not import the root
// tui package or ops/*; it does no I/O.
package input

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Model is a single-line editor.
type Model struct {
	Prompt      string
	Placeholder string
	// CursorStyle draws the cursor cell.
	CursorStyle lipgloss.Style
	value       []rune
	pos         int
	width       int
}

// New returns an empty input with prompt.
func New(prompt string) Model {
	return Model{Prompt: prompt, CursorStyle: lipgloss.NewStyle().Reverse(true)}
}

// SetValue replaces the text and puts the cursor at its end.
func (m *Model) SetValue(s string) {
	m.value = []rune(s)
	m.pos = len(m.value)
}

// Value returns the text.
func (m Model) Value() string { return string(m.value) }

// SetSize sets the width available to the input.
func (m *Model) SetSize(width, _ int) { m.width = width }

// Init does nothing.
func (m Model) Init() tea.Cmd { return nil }

// Update edits the text on key presses; Enter and Esc are left to the owner.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		r := k.Runes
		if k.Type == tea.KeySpace {
			r = []rune{' '}
		}
		m.value = append(m.value[:m.pos], append(append([]rune{}, r...), m.value[m.pos:]...)...)
		m.pos += len(r)
	case tea.KeyBackspace:
		if m.pos > 0 {
			m.value = append(m.value[:m.pos-1], m.value[m.pos:]...)
			m.pos--
		}
	case tea.KeyDelete:
		if m.pos < len(m.value) {
			m.value = append(m.value[:m.pos], m.value[m.pos+1:]...)
		}
	case tea.KeyLeft:
		if m.pos > 0 {
			m.pos--
		}
	case tea.KeyRight:
		if m.pos < len(m.value) {
			m.pos++
		}
	case tea.KeyHome, tea.KeyCtrlA:
		m.pos = 0
	case tea.KeyEnd, tea.KeyCtrlE:
		m.pos = len(m.value)
	case tea.KeyCtrlU:
		m.value = append([]rune{}, m.value[m.pos:]...)
		m.pos = 0
	case tea.KeyCtrlW:
		i := m.pos
		for i > 0 && m.value[i-1] == ' ' {
			i--
		}
		for i > 0 && m.value[i-1] != ' ' {
			i--
		}
		m.value = append(m.value[:i], m.value[m.pos:]...)
		m.pos = i
	}
	return m, nil
}

// View renders the prompt, the text and the cursor.
func (m Model) View() string {
	var b strings.Builder
	b.WriteString(m.Prompt)
	if len(m.value) == 0 && m.Placeholder != "" {
		b.WriteString(m.CursorStyle.Render(" "))
		b.WriteString(m.Placeholder)
		return b.String()
	}
	b.WriteString(string(m.value[:m.pos]))
	cur := " "
	if m.pos < len(m.value) {
		cur = string(m.value[m.pos])
	}
	b.WriteString(m.CursorStyle.Render(cur))
	if m.pos < len(m.value) {
		b.WriteString(string(m.value[m.pos+1:]))
	}
	return b.String()
}

// ShortHelp lists the keys the owner handles around the input.
func (m Model) ShortHelp() []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "accept")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// FullHelp is ShortHelp in one column.
func (m Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
