package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	opsworkflow "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/components/input"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/vm"
)

// tagPicker is the completion of the upgrade's tag (KindOption.Complete
// "image-tag"): the tags a vm.TagLister reports (loaded on the nodes, in
// Terraform state, running), then "other tag…", which falls back to the
// field's free-text input. Without a TagLister, or when the listing fails
// or finds nothing, only the free-text input is offered.
type tagPicker struct {
	common common.Common
	// option is the field's option (the tag); color the colour whose
	// nodes are listed.
	option, color string
	loading       bool
	tags          []vm.TagCandidate
	err           error
	sel           int
	// free is set while the free-text input has the keys.
	free bool
	// tarball is set while the tarball path input has the keys: the
	// picked tag is loaded from that local file on the nodes lacking it
	// (the upgrade's --image-tarball).
	tarball bool
	path    input.Model
}

// tarballOption is the upgrade's option the tarball path input fills.
const tarballOption = "image-tarball"

// tarballKey opens the tarball path input for the tag under the cursor.
var tarballKey = key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "tag + image tarball"))

// tagsLoadedMsg is a vm.TagLister's answer.
type tagsLoadedMsg struct {
	tags []vm.TagCandidate
	err  error
}

// otherTag is the picker's last entry.
const otherTag = "other tag…"

func newTagPicker(c common.Common, o opsworkflow.KindOption, values map[string]string) completion {
	return &tagPicker{common: c, option: o.Name, color: values["color"], free: true}
}

// Init lists the candidate tags, or leaves the free-text input to the
// field when the backend cannot list them.
func (p *tagPicker) Init() tea.Cmd {
	lister, ok := p.common.Backend.(vm.TagLister)
	if !ok {
		return nil
	}
	p.loading, p.free = true, false
	c, color := p.common, p.color
	return func() tea.Msg {
		tags, err := lister.UpgradeTags(c.Ctx, color)
		return tagsLoadedMsg{tags: tags, err: err}
	}
}

// Active reports whether the picker (not the free text) has the keys.
func (p *tagPicker) Active() bool { return !p.free }

// Reopen returns from the free text to the listed tags, if any.
func (p *tagPicker) Reopen() bool {
	if len(p.tags) == 0 {
		return false
	}
	p.free = false
	return true
}

// Note says why no tag is listed, when the listing failed.
func (p *tagPicker) Note() string {
	if p.err == nil {
		return ""
	}
	return "could not list the loaded tags: " + p.err.Error()
}

// Update handles the listing's answer and the picker's keys.
func (p *tagPicker) Update(msg tea.Msg) (map[string]string, bool, tea.Cmd) {
	switch msg := msg.(type) {
	case tagsLoadedMsg:
		p.loaded(msg)
	case tea.KeyMsg:
		return p.key(msg)
	}
	return nil, false, nil
}

func (p *tagPicker) loaded(msg tagsLoadedMsg) {
	if !p.loading {
		return
	}
	if msg.err != nil {
		msg.tags = nil
	}
	*p = tagPicker{common: p.common, option: p.option, color: p.color,
		tags: msg.tags, err: msg.err, free: msg.err != nil || len(msg.tags) == 0}
	// Start on the first tag that is not running: the running one is a
	// no-op upgrade that preflight refuses.
	for i, t := range msg.tags {
		if !t.Running {
			p.sel = i
			break
		}
	}
}

// key handles a key while the picker (not the free text) is shown.
func (p *tagPicker) key(k tea.KeyMsg) (map[string]string, bool, tea.Cmd) {
	km := p.common.Keys
	if p.tarball {
		return p.tarballKey(k)
	}
	switch {
	case k.Type == tea.KeyEsc:
		return nil, true, nil
	case p.loading:
		return nil, false, nil
	case km.Matches(k, keymap.Up):
		if p.sel > 0 {
			p.sel--
		}
	case km.Matches(k, keymap.Down):
		if p.sel < len(p.tags) {
			p.sel++
		}
	case key.Matches(k, tarballKey) && p.sel < len(p.tags):
		p.tarball = true
		p.path = input.New("")
	case k.Type == tea.KeyEnter:
		if p.sel == len(p.tags) {
			p.free = true
			return nil, false, nil
		}
		return map[string]string{p.option: p.tags[p.sel].Tag}, false, nil
	}
	return nil, false, nil
}

// tarballKey handles a key while the tarball path input is shown.
func (p *tagPicker) tarballKey(k tea.KeyMsg) (map[string]string, bool, tea.Cmd) {
	switch k.Type {
	case tea.KeyEsc:
		p.tarball = false // back to the picker
		return nil, false, nil
	case tea.KeyEnter:
		path := strings.TrimSpace(p.path.Value())
		if path == "" {
			return nil, false, common.Status("upgrade: type the path of the image tarball (docker save IMAGE:TAG | gzip > FILE)", true)
		}
		return map[string]string{p.option: p.tags[p.sel].Tag, tarballOption: path}, false, nil
	}
	p.path, _ = p.path.Update(k)
	return nil, false, nil
}

// View lists the candidates with what the operator needs to choose.
func (p *tagPicker) View(label string) string {
	st := p.common.Styles
	if p.loading {
		return st.Muted.Render("listing the tags loaded on the Scalar DL nodes…")
	}
	var b strings.Builder
	b.WriteString("new " + label + ":\n")
	width := utf8.RuneCountInString(otherTag)
	for _, t := range p.tags {
		width = max(width, utf8.RuneCountInString(t.Tag))
	}
	for i := 0; i <= len(p.tags); i++ {
		cursor := "  "
		if i == p.sel {
			cursor = "> "
		}
		if i == len(p.tags) {
			b.WriteString(cursor + otherTag + "\n")
			break
		}
		t := p.tags[i]
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
		if i == p.sel {
			line = st.Bold.Render(line)
		}
		b.WriteString(line + "\n")
	}
	if p.tarball {
		b.WriteString("\nimage tarball for " + p.tags[p.sel].Tag + " (local file, copied to the nodes lacking it): " + p.path.View() + "\n")
	}
	return b.String()
}

// ShortHelp is the picker's key help.
func (p *tagPicker) ShortHelp() []key.Binding {
	if p.tarball {
		return p.path.ShortHelp()
	}
	km := p.common.Keys
	return []key.Binding{km.Binding(keymap.Up), km.Binding(keymap.Down),
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "pick")), tarballKey,
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))}
}
