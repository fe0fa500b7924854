package confirm

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/styles"
)

func newDialog(t *testing.T) *Model {
	km, err := keymap.New(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := common.Common{Keys: km, Styles: styles.DefaultStyles(), Width: 80, Height: 24}
	return New(c, "run", "Run?", []string{"$ nodetool repair -pr"}, Sends("plan-1"))
}

func kmsg(t tea.KeyType, r ...rune) tea.KeyMsg { return tea.KeyMsg{Type: t, Runes: r} }

func TestEnterDoesNotConfirm(t *testing.T) {
	d := newDialog(t)
	if d.Focus() != Cancel {
		t.Fatal("dialog must open on Cancel")
	}
	d.Update(kmsg(tea.KeyEnter))
	if !d.Closed() || d.Confirmed() {
		t.Fatal("Enter on the default button must close without confirming")
	}
}

func TestMoveThenEnterConfirms(t *testing.T) {
	for _, k := range []tea.KeyMsg{kmsg(tea.KeyTab), kmsg(tea.KeyRight), kmsg(tea.KeyLeft), kmsg(tea.KeyRunes, 'l')} {
		d := newDialog(t)
		d.Update(k)
		d.Update(kmsg(tea.KeyEnter))
		if !d.Confirmed() || d.Msg() != "plan-1" {
			t.Errorf("%v then enter: confirmed=%v msg=%v", k, d.Confirmed(), d.Msg())
		}
	}
}

func TestYConfirmsEscCancels(t *testing.T) {
	d := newDialog(t)
	d.Update(kmsg(tea.KeyRunes, 'y'))
	if !d.Confirmed() {
		t.Error("y should confirm")
	}
	d = newDialog(t)
	d.Update(kmsg(tea.KeyTab))
	d.Update(kmsg(tea.KeyEsc))
	if !d.Closed() || d.Confirmed() {
		t.Error("esc should cancel even with Confirm focused")
	}
	d.Update(kmsg(tea.KeyRunes, 'y'))
	if d.Confirmed() {
		t.Error("a closed dialog must ignore keys")
	}
}

func TestTypeToConfirmRefusesWrongName(t *testing.T) {
	d := newDialog(t)
	d.TypeToConfirm = "example-aws-0j5y83k"
	for _, k := range []tea.KeyMsg{kmsg(tea.KeyRunes, 'y'), kmsg(tea.KeyTab), kmsg(tea.KeyEnter)} {
		d.Update(k)
	}
	if d.Closed() || d.Confirmed() {
		t.Fatal("y, tab and enter with a wrong name must neither close nor confirm")
	}
	d.Update(kmsg(tea.KeyBackspace))
	d.Update(kmsg(tea.KeyRunes, []rune("example-aws-0j5y83")...))
	d.Update(kmsg(tea.KeyEnter))
	if d.Confirmed() {
		t.Fatal("a prefix of the name must not confirm")
	}
	d.Update(kmsg(tea.KeyRunes, 'k'))
	d.Update(kmsg(tea.KeyEnter))
	if !d.Confirmed() || d.Msg() != "plan-1" {
		t.Fatalf("the exact name must confirm (typed %q)", d.Typed())
	}
	d = newDialog(t)
	d.TypeToConfirm = "x"
	d.Update(kmsg(tea.KeyRunes, 'x'))
	d.Update(kmsg(tea.KeyEsc))
	if !d.Closed() || d.Confirmed() {
		t.Fatal("esc must cancel")
	}
}
