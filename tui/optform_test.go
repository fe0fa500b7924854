package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	opsworkflow "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
)

// formKind is a kind no catalog registers, asking for two typed options.
var formKind = &opsworkflow.Kind{Name: "cleanup", ConsoleTitle: "Clean up",
	Options: []opsworkflow.KindOption{
		{Name: "min-free-percent", Type: opsworkflow.OptFloat, NegativeOK: true, Max: 100, Help: "free space wanted", Label: "floor", Note: "negative skips the check"},
		{Name: "gate-deadline", Type: opsworkflow.OptDuration, Positive: true, Help: "how long to wait"},
	}}

// formStatus is the status line cmd shows ("" for none).
func formStatus(cmd tea.Cmd) string {
	if cmd == nil {
		return ""
	}
	if s, ok := cmd().(common.StatusMsg); ok {
		return s.Text
	}
	return ""
}

// formType types s into f (a fresh value: the field's text is cleared).
func formType(f *optionForm, s string) {
	for range f.fields[f.focus].input.Value() {
		f.Update(tea.KeyMsg{Type: tea.KeyBackspace})
	}
	f.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)})
}

func TestOptionFormChecksEachOption(t *testing.T) {
	m := newTest(t, newFake(), false)
	f := newOptionForm(m.common, formKind, []string{"min-free-percent", "gate-deadline"}, map[string]string{"min-free-percent": "10"}, 1)
	v := f.View()
	for _, want := range []string{"Clean up", "current floor: 10", "new floor:     10", "negative skips the check", "current gate-deadline: unknown"} {
		if !strings.Contains(v, want) {
			t.Errorf("form lacks %q:\n%s", want, v)
		}
	}
	enter := tea.KeyMsg{Type: tea.KeyEnter}
	formType(f, "150")
	if a, cmd := f.Update(enter); a != formStay || !strings.Contains(formStatus(cmd), "cleanup --min-free-percent: 150: must be at most 100") {
		t.Fatalf("150 over Max: action %v status %q", a, formStatus(cmd))
	}
	formType(f, "-1")
	if a, cmd := f.Update(enter); a != formStay || cmd != nil || f.focus != 1 {
		t.Fatalf("-1 is NegativeOK: action %v status %q focus %d", a, formStatus(cmd), f.focus)
	}
	if a, cmd := f.Update(enter); a != formStay || !strings.Contains(formStatus(cmd), "cleanup: type the gate-deadline") {
		t.Fatalf("empty: action %v status %q", a, formStatus(cmd))
	}
	formType(f, "0s")
	if a, cmd := f.Update(enter); a != formStay || !strings.Contains(formStatus(cmd), "cleanup --gate-deadline: 0s must be positive") {
		t.Fatalf("0s is not Positive: action %v status %q", a, formStatus(cmd))
	}
	formType(f, "soon")
	if _, cmd := f.Update(enter); !strings.Contains(formStatus(cmd), "cleanup --gate-deadline:") {
		t.Fatalf("a bad duration: status %q", formStatus(cmd))
	}
	formType(f, "30s")
	if a, _ := f.Update(enter); a != formSubmit {
		t.Fatalf("30s: action %v", a)
	}
	if got := f.values(); len(got) != 2 || got["min-free-percent"] != "-1" || got["gate-deadline"] != "30s" {
		t.Errorf("values %v", got)
	}
}

func TestOptionFormEscGoesBackThenLeaves(t *testing.T) {
	m := newTest(t, newFake(), false)
	f := newOptionForm(m.common, formKind, []string{"min-free-percent", "gate-deadline"}, map[string]string{"min-free-percent": "10"}, 1)
	f.Update(tea.KeyMsg{Type: tea.KeyEnter})
	esc := tea.KeyMsg{Type: tea.KeyEsc}
	if a, _ := f.Update(esc); a != formStay || f.focus != 0 {
		t.Fatalf("esc on the second field: action %v focus %d", a, f.focus)
	}
	if a, _ := f.Update(esc); a != formLeave {
		t.Fatalf("esc on the first field: action %v", a)
	}
}

// The upgrade's form comes from its catalog entry alone: the tag field
// with the registry's picker as its completion.
func TestUpgradeFormFromCatalog(t *testing.T) {
	m := newTest(t, newTagFake(), false)
	press(t, m, "U")
	f := m.workflow.form
	if f == nil || len(f.fields) != 1 || f.fields[0].opt.Name != "to" || f.title != "Upgrade Scalar DL" {
		t.Fatalf("upgrade form: %+v", f)
	}
	if _, ok := f.fields[0].complete.(*tagPicker); !ok {
		t.Fatalf("the tag field's completion is %T", f.fields[0].complete)
	}
}
