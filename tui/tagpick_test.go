package tui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/teatest"

	"scalar-tui/tui/vm"
)

// tagFake is fakeBackend with a vm.TagLister.
type tagFake struct {
	*fakeBackend
	tags   []vm.TagCandidate
	err    error
	colors []string
}

// UpgradeTags implements vm.TagLister.
func (f *tagFake) UpgradeTags(_ context.Context, color string) ([]vm.TagCandidate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.colors = append(f.colors, color)
	return f.tags, f.err
}

func newTagFake() *tagFake {
	return &tagFake{fakeBackend: newFake(), tags: []vm.TagCandidate{
		{Tag: "2.1.0", Running: true, InState: true},
		{Tag: "2.1.1"},
		{Tag: "2.2.0", Missing: []string{"scalardl-blue-3"}},
	}}
}

// picker is the tag picker of the upgrade form's tag field.
func picker(m *Model) *tagPicker { return m.workflow.form.fields[0].complete.(*tagPicker) }

func TestUpgradePickerPicksLoadedTag(t *testing.T) {
	tf := newTagFake()
	m := newTest(t, tf, false)
	press(t, m, "U")
	v := m.View()
	if m.workflow.State() != wfAsk || picker(m).free || !strings.Contains(v, "> 2.1.1") ||
		!strings.Contains(v, "not loaded on scalardl-blue-3") || !strings.Contains(v, otherTag) {
		t.Fatalf("U should offer the listed tags, cursor on the first not running:\n%s", v)
	}
	if len(tf.colors) != 1 || tf.colors[0] != "" {
		t.Errorf("UpgradeTags calls %q", tf.colors)
	}
	press(t, m, "j", "j", "k", "up", "up", "up", "j") // clamps at the top, ends on 2.1.1
	press(t, m, "j", "enter")
	if len(tf.planned) != 1 || tf.planned[0].Options["to"] != "2.2.0" || m.workflow.State() != wfPlan {
		t.Fatalf("planned %v state %v", tf.planned, m.workflow.State())
	}
}

func TestUpgradePickerOtherTagFallsBackToInput(t *testing.T) {
	tf := newTagFake()
	m := newTest(t, tf, false)
	press(t, m, "U", "j", "j", "j", "j", "j") // clamps on "other tag…"
	press(t, m, "enter")
	if !picker(m).free || len(tf.planned) != 0 || !strings.Contains(m.View(), "new tag:     ") {
		t.Fatalf("other tag… should open the text input:\n%s", m.View())
	}
	press(t, m, "esc") // back to the picker, not out
	if picker(m).free || m.workflow.State() != wfAsk {
		t.Fatalf("esc in the text input should return to the picker: state %v", m.workflow.State())
	}
	press(t, m, "enter") // the cursor stayed on other tag…
	press(t, m, "backspace", "backspace", "backspace", "backspace", "backspace", "3.0.0", "enter")
	if len(tf.planned) != 1 || tf.planned[0].Options["to"] != "3.0.0" {
		t.Fatalf("planned %v", tf.planned)
	}
}

func TestUpgradePickerListingFailsFallsBackToInput(t *testing.T) {
	tf := newTagFake()
	tf.err = errors.New("docker images on scalardl-blue-2: exit 1")
	m := newTest(t, tf, false)
	press(t, m, "U")
	v := m.View()
	if !picker(m).free || !strings.Contains(v, "could not list the loaded tags: docker images on scalardl-blue-2") {
		t.Fatalf("a failed listing should fall back to the text input with the reason:\n%s", v)
	}
	press(t, m, "esc")
	if m.workflow.State() != wfIdle {
		t.Fatalf("esc without a list should leave: state %v", m.workflow.State())
	}
}

func TestUpgradePickerEscLeaves(t *testing.T) {
	tf := newTagFake()
	m := newTest(t, tf, false)
	press(t, m, "U", "esc")
	if m.workflow.State() != wfIdle || len(tf.planned) != 0 {
		t.Fatalf("esc: state %v planned %v", m.workflow.State(), tf.planned)
	}
}

func TestGoldenUpgradeTagPicker(t *testing.T) {
	goldenRunSized(t, newTagFake(), false, 120, 35, []string{"envoy-3", "refreshed 5s ago"},
		func(tm *teatest.TestModel) {
			keys(tm, "U")
			waitFor(t, tm, "scalardl-blue-3")
			keys(tm, "j")
		}, "")
}

func TestUpgradePickerTarball(t *testing.T) {
	tf := newTagFake()
	m := newTest(t, tf, false)
	press(t, m, "U", "j", "t")
	if !picker(m).tarball || !strings.Contains(m.View(), "image tarball for 2.2.0") {
		t.Fatalf("t should ask for the tarball of 2.2.0:\n%s", m.View())
	}
	press(t, m, "enter") // empty path: refused
	press(t, m, "esc")   // back to the picker
	if picker(m).tarball || m.workflow.State() != wfAsk || len(tf.planned) != 0 {
		t.Fatalf("empty path / esc: tarball %v state %v planned %v", picker(m).tarball, m.workflow.State(), tf.planned)
	}
	press(t, m, "t", "/tmp/ledger 2.2.0.tgz", "enter")
	if len(tf.planned) != 1 || tf.planned[0].Options["to"] != "2.2.0" || tf.planned[0].Options["image-tarball"] != "/tmp/ledger 2.2.0.tgz" {
		t.Fatalf("planned %+v", tf.planned)
	}
}
