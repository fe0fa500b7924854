package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/vm"
)

// tagPicker is the upgrade's tag choice: the tags a vm.TagLister reports
// (loaded on the nodes, in Terraform state, running), then "other tag…",
// which falls back to the free-text input. Without a TagLister, or when the
// listing fails or finds nothing, only the free-text input is offered.
type tagPicker struct {
	loading bool
	tags    []vm.TagCandidate
	err     error
	sel     int
	// free is set while the free-text input has the keys.
	free bool
}

// tagsLoadedMsg is a vm.TagLister's answer.
type tagsLoadedMsg struct {
	seq  int
	tags []vm.TagCandidate
	err  error
}

// otherTag is the picker's last entry.
const otherTag = "other tag…"

// startTagPick lists the candidate tags, or opens the free-text input when
// the backend cannot list them.
func (m *workflow) startTagPick() tea.Cmd {
	m.pick = tagPicker{free: true}
	lister, ok := m.common.Backend.(vm.TagLister)
	if !ok {
		return nil
	}
	m.pick = tagPicker{loading: true}
	m.seq++
	seq, c, color := m.seq, m.common, m.params.Options["color"]
	return common.Wrap(common.WorkflowID, func() tea.Msg {
		tags, err := lister.UpgradeTags(c.Ctx, color)
		return tagsLoadedMsg{seq: seq, tags: tags, err: err}
	})
}

func (m *workflow) tagsLoaded(msg tagsLoadedMsg) {
	if msg.seq != m.seq || m.state != wfAskTag || !m.pick.loading {
		return
	}
	if msg.err != nil {
		msg.tags = nil
	}
	m.pick = tagPicker{tags: msg.tags, err: msg.err, free: msg.err != nil || len(msg.tags) == 0}
	// Start on the first tag that is not running: the running one is a
	// no-op upgrade that preflight refuses.
	for i, t := range msg.tags {
		if !t.Running {
			m.pick.sel = i
			break
		}
	}
}

// pickKey handles a key while the picker (not the free text) is shown.
func (m *workflow) pickKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.Keys
	switch {
	case k.Type == tea.KeyEsc:
		m.state = wfIdle
		return func() tea.Msg { return common.BackMsg{} }
	case m.pick.loading:
		return nil
	case km.Matches(k, keymap.Up):
		if m.pick.sel > 0 {
			m.pick.sel--
		}
	case km.Matches(k, keymap.Down):
		if m.pick.sel < len(m.pick.tags) {
			m.pick.sel++
		}
	case k.Type == tea.KeyEnter:
		if m.pick.sel == len(m.pick.tags) {
			m.pick.free = true
			return nil
		}
		m.params.Tag = m.pick.tags[m.pick.sel].Tag
		return m.requestPlan()
	}
	return nil
}

// pickView lists the candidates with what the operator needs to choose.
func (m *workflow) pickView() string {
	st := m.common.Styles
	if m.pick.loading {
		return st.Muted.Render("listing the tags loaded on the Scalar DL nodes…")
	}
	var b strings.Builder
	b.WriteString("new tag:\n")
	width := utf8.RuneCountInString(otherTag)
	for _, t := range m.pick.tags {
		width = max(width, utf8.RuneCountInString(t.Tag))
	}
	for i := 0; i <= len(m.pick.tags); i++ {
		cursor := "  "
		if i == m.pick.sel {
			cursor = "> "
		}
		if i == len(m.pick.tags) {
			b.WriteString(cursor + otherTag + "\n")
			break
		}
		t := m.pick.tags[i]
		var notes []string
		if t.Running {
			notes = append(notes, "running")
		}
		if t.InState {
			notes = append(notes, "in Terraform state")
		}
		if len(t.Missing) == 0 {
			notes = append(notes, "loaded on every node")
		} else {
			notes = append(notes, "not loaded on "+strings.Join(t.Missing, ", ")+" (needs an image tarball or a pull)")
		}
		line := fmt.Sprintf("%s%-*s  %s", cursor, width, t.Tag, strings.Join(notes, " · "))
		if i == m.pick.sel {
			line = st.Bold.Render(line)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// pickHelp is the picker's key help.
func (m *workflow) pickHelp() []key.Binding {
	km := m.common.Keys
	return []key.Binding{km.Binding(keymap.Up), km.Binding(keymap.Down),
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "pick")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))}
}
