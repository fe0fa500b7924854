package keymap

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

func runes(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

func TestReadonlyDisablesDangerous(t *testing.T) {
	km, err := New(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range Actions {
		if a.Dangerous == km.Allowed(a.ID) {
			t.Errorf("%s: dangerous=%v allowed=%v", a.ID, a.Dangerous, km.Allowed(a.ID))
		}
		if a.Dangerous && km.Binding(a.ID).Enabled() {
			t.Errorf("%s: enabled in read-only", a.ID)
		}
	}
	if km.Matches(runes("R"), Repair) {
		t.Error("R matches repair in read-only mode")
	}
	for _, col := range km.Full(ScopeGlobal, ScopeOverview, ScopeHost, ScopeWorkflow) {
		for _, b := range col {
			if strings.HasSuffix(b.Help().Desc, "!") {
				t.Errorf("read-only help lists %q", b.Help().Desc)
			}
		}
	}
}

func TestDangerousMarkedInHelp(t *testing.T) {
	km, _ := New(false, nil)
	if d := km.Binding(Repair).Help().Desc; !strings.HasSuffix(d, "!") {
		t.Errorf("repair help %q lacks the dangerous mark", d)
	}
	if !km.Matches(runes("R"), Repair) {
		t.Error("R does not match repair")
	}
}

func TestOverrides(t *testing.T) {
	km, err := New(false, map[string]string{"repair": "ctrl+r, X"})
	if err != nil {
		t.Fatal(err)
	}
	if km.Matches(runes("R"), Repair) || !km.Matches(runes("X"), Repair) || !km.Matches(tea.KeyMsg{Type: tea.KeyCtrlR}, Repair) {
		t.Error("override not applied")
	}
	if got := km.Binding(Repair).Help().Key; got != "ctrl+r/X" {
		t.Errorf("help key %q", got)
	}
	if _, err := New(false, map[string]string{"nuke": "n"}); err == nil {
		t.Error("unknown action accepted")
	}
}

func TestTableIsConsistent(t *testing.T) {
	seen := map[ID]bool{}
	for _, a := range Actions {
		if seen[a.ID] {
			t.Errorf("duplicate action %s", a.ID)
		}
		seen[a.ID] = true
		if a.Desc == "" || a.Label == "" {
			t.Errorf("%s lacks help text", a.ID)
		}
	}
	for _, id := range []ID{Repair, Upgrade, Backup, Shell, Run, Continue, Resume} {
		if !Dangerous(id) {
			t.Errorf("%s should be dangerous", id)
		}
	}
}
