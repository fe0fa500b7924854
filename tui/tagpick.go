package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"scalar-tui/tui/common"
	"scalar-tui/tui/components/input"
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
	// tarball is set while the tarball path input has the keys: the
	// picked tag is loaded from that local file on the nodes lacking it
	// (the upgrade's --image-tarball).
	tarball bool
	path    input.Model
}

// tarballKey opens the tarball path input for the tag under the cursor.
var tarballKey = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "tag + image tarball"))

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
	if m.pick.tarball {
		return m.tarballKey(k)
	}
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
	case key.Matches(k, tarballKey) && m.pick.sel < len(m.pick.tags):
		m.pick.tarball = true
		m.pick.path = input.New("")
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

// tarballKey handles a key while the tarball path input is shown.
func (m *workflow) tarballKey(k tea.KeyMsg) tea.Cmd {
	switch k.Type {
	case tea.KeyEsc:
		m.pick.tarball = false // back to the picker
		return nil
	case tea.KeyEnter:
		path := strings.TrimSpace(m.pick.path.Value())
		if path == "" {
			return common.Status("upgrade: type the path of the image tarball (docker save IMAGE:TAG | gzip > FILE)", true)
		}
		opts := map[string]string{}
		for k, v := range m.params.Options {
			opts[k] = v
		}
		opts["image-tarball"] = path
		m.params.Options = opts
		m.params.Tag = m.pick.tags[m.pick.sel].Tag
		return m.requestPlan()
	}
	m.pick.path, _ = m.pick.path.Update(k)
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
	if m.pick.tarball {
		b.WriteString("\nimage tarball for " + m.pick.tags[m.pick.sel].Tag + " (local file, copied to the nodes lacking it): " + m.pick.path.View() + "\n")
	}
	return b.String()
}

// pickHelp is the picker's key help.
func (m *workflow) pickHelp() []key.Binding {
	if m.pick.tarball {
		return m.pick.path.ShortHelp()
	}
	km := m.common.Keys
	return []key.Binding{km.Binding(keymap.Up), km.Binding(keymap.Down),
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "pick")), tarballKey,
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))}
}
