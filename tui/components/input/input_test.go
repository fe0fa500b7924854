package input

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

func TestEditing(t *testing.T) {
	m := New(":")
	for _, k := range []tea.KeyMsg{
		{Type: tea.KeyRunes, Runes: []rune("upgrade")},
		{Type: tea.KeySpace},
		{Type: tea.KeyRunes, Runes: []rune("2.1")},
		{Type: tea.KeyBackspace},
		{Type: tea.KeyRunes, Runes: []rune("2")},
		{Type: tea.KeyHome},
		{Type: tea.KeyDelete},
		{Type: tea.KeyRunes, Runes: []rune("U")},
	} {
		m, _ = m.Update(k)
	}
	if got := m.Value(); got != "Upgrade 2.2" {
		t.Fatalf("value %q", got)
	}
	m, _ = m.Update(tea.KeyMsg{Type: tea.KeyEnd})
	m, _ = m.Update(tea.KeyMsg{Type: tea.KeyCtrlW})
	if got := m.Value(); got != "Upgrade " {
		t.Fatalf("ctrl+w: %q", got)
	}
	m.SetValue("2.1.0")
	if got := m.View(); got != ":2.1.0 " {
		t.Errorf("view %q", got)
	}
}
