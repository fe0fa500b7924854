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
	// ctrl+r was this test's key until it turned out to be refresh's too
	// (TestCollisionsRejected).
	km, err := New(false, map[string]string{"repair": "alt+r, X"})
	if err != nil {
		t.Fatal(err)
	}
	if km.Matches(runes("R"), Repair) || !km.Matches(runes("X"), Repair) || !km.Matches(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("r"), Alt: true}, Repair) {
		t.Error("override not applied")
	}
	if got := km.Binding(Repair).Help().Key; got != "alt+r/X" || km.Key(Repair) != got {
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
	for _, id := range []ID{Repair, Upgrade, Backup, Shell, Run, Continue, Resume, Unlock, Discard} {
		if !Dangerous(id) {
			t.Errorf("%s should be dangerous", id)
		}
	}
}

// TestCollisionsRejected: a binding that shadows another in the same screens
// is refused at start-up with both action ids named (the README's old
// example, repair on ctrl+r, made R unreachable... and refresh unreachable).
func TestCollisionsRejected(t *testing.T) {
	if _, err := New(false, nil); err != nil {
		t.Fatalf("the default table collides: %v", err)
	}
	if _, err := New(true, nil); err != nil {
		t.Fatalf("the read-only default table collides: %v", err)
	}
	for _, c := range []struct {
		over map[string]string
		want []string
	}{
		{map[string]string{"repair": "ctrl+r"}, []string{`"ctrl+r"`, "refresh", "repair", "overview"}},
		{map[string]string{"shell": "q"}, []string{`"q"`, "quit", "shell"}},
		{map[string]string{"pause": "j"}, []string{`"j"`, "down", "pause", "workflow"}},
		{map[string]string{"reload": "r"}, []string{`"r"`, "resume", "reload"}},
		{map[string]string{"yes": "n"}, []string{`"n"`, "yes", "no", "dialog"}},
	} {
		_, err := New(true, c.over)
		if err == nil {
			t.Errorf("%v accepted", c.over)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %s", c.over, err, w)
			}
		}
	}
	// The same key on different screens is fine.
	if _, err := New(false, map[string]string{"pause": "s"}); err != nil {
		t.Errorf("pause on s (shell is on another screen): %v", err)
	}
}
