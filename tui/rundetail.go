package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// runDetailLoadedMsg carries one run in full to the run detail screen.
type runDetailLoadedMsg struct {
	id  string
	d   vm.RunDetail
	err error
}

// runDetail shows one journalled run in full: its whole error, every step
// with its status word and error, what the cleanup steps did, the markers
// left set and every host's output, with full IDs. Nothing is cut: long
// lines wrap and the screen scrolls.
type runDetail struct {
	common  common.Common
	id      string
	d       *vm.RunDetail
	err     error
	loading bool
	lines   []string
	offset  int
	width   int
	height  int
}

func newRunDetail(c common.Common) *runDetail { return &runDetail{common: c} }

// Open shows run id and loads it.
func (m *runDetail) Open(id string) tea.Cmd {
	m.id, m.d, m.err, m.loading, m.offset, m.lines = id, nil, nil, true, 0, nil
	return m.load()
}

func (m *runDetail) load() tea.Cmd {
	c, id := m.common, m.id
	rd, ok := c.Backend.(vm.RunDetailer)
	if !ok {
		m.loading, m.err = false, fmt.Errorf("run detail: %w", vm.ErrNotSupported)
		m.build()
		return nil
	}
	return common.Wrap(common.RunID, func() tea.Msg {
		d, err := rd.RunDetail(c.Ctx, id)
		return runDetailLoadedMsg{id: id, d: d, err: err}
	})
}

// Init does nothing; Open starts the load.
func (m *runDetail) Init() tea.Cmd { return nil }

// SetSize sets the body area and re-wraps the text.
func (m *runDetail) SetSize(w, h int) {
	m.width, m.height = w, h
	m.build()
}

// pageHeight is the number of text lines shown (one line is the "more"
// indicator).
func (m *runDetail) pageHeight() int { return max(m.height-1, 1) }

func (m *runDetail) scroll(n int) {
	m.offset = min(max(m.offset+n, 0), max(len(m.lines)-m.pageHeight(), 0))
}

// Update handles the load and keys.
func (m *runDetail) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case runDetailLoadedMsg:
		if msg.id != m.id {
			return m, nil
		}
		m.loading, m.err = false, msg.err
		if msg.err == nil {
			d := msg.d
			m.d = &d
		}
		m.build()
		m.scroll(0)
	case tea.KeyMsg:
		km := m.common.Keys
		switch {
		case km.Matches(msg, keymap.Up):
			m.scroll(-1)
		case km.Matches(msg, keymap.Down):
			m.scroll(1)
		case km.Matches(msg, keymap.PageUp):
			m.scroll(-m.pageHeight())
		case km.Matches(msg, keymap.PageDown):
			m.scroll(m.pageHeight())
		case km.Matches(msg, keymap.Top):
			m.offset = 0
		case km.Matches(msg, keymap.Bottom):
			m.scroll(len(m.lines))
		case km.Matches(msg, keymap.Reload):
			m.loading = true
			return m, m.load()
		case km.Matches(msg, keymap.Resume) && m.d != nil && m.d.Run.Unfinished():
			run := m.d.Run
			return m, func() tea.Msg { return common.ResumeMsg{Run: run} }
		case km.Matches(msg, keymap.Back):
			return m, func() tea.Msg { return common.BackMsg{} }
		}
	}
	return m, nil
}

// stepGlyph marks a step's journalled status; the word itself is shown too.
func stepGlyph(status string) string {
	switch status {
	case "done":
		return "✓"
	case "failed", "canceled", "refused":
		return "✗"
	case "running":
		return "●"
	case "skipped":
		return "-"
	}
	return "·"
}

// build renders the run into lines wrapped to the width.
func (m *runDetail) build() {
	st := m.common.Styles
	w := max(m.width, 20)
	var out []string
	add := func(s string) { out = append(out, s) }
	// wrap adds text wrapped at w after prefix, its continuation lines
	// indented as far, styled by f.
	wrap := func(prefix, text string, f func(...string) string) {
		pw := ansi.StringWidth(prefix)
		for i, l := range wrapText(text, max(w-pw, 10)) {
			if i > 0 {
				prefix = strings.Repeat(" ", pw)
			}
			add(f(prefix + l))
		}
	}
	plain := func(s ...string) string { return strings.Join(s, "") }
	// verbatim adds a line of output as it was (spaces kept), broken only
	// where it is wider than the screen.
	verbatim := func(prefix, text string) {
		pw := ansi.StringWidth(prefix)
		for i, l := range strings.Split(ansi.Hardwrap(text, max(w-pw, 10), true), "\n") {
			if i > 0 {
				prefix = strings.Repeat(" ", pw)
			}
			add(prefix + l)
		}
	}
	switch {
	case m.loading && m.d == nil:
		add(st.Muted.Render("loading run " + m.id + "…"))
	case m.err != nil:
		wrap("", "run "+m.id+": "+m.err.Error(), st.Error.Render)
	}
	if m.d == nil {
		m.lines = out
		return
	}
	d, r := m.d, m.d.Run
	word := r.State
	state := st.Warning.Render(word)
	switch word {
	case "done":
		state = st.Healthy.Render("✓ " + word)
	case "failed", "canceled", "refused":
		state = st.Down.Render("✗ " + word)
	}
	wrap("", "Run "+r.ID, st.Title.Render)
	out[len(out)-1] += "  " + string(r.Kind) + "  " + state
	meta := "operator " + dash(d.Operator) + " · started " + r.Started.UTC().Format("2006-01-02 15:04:05") + " UTC"
	if !r.Ended.IsZero() {
		meta += " · ended " + r.Ended.UTC().Format("15:04:05") + " · took " + render.Elapsed(r.Ended.Sub(r.Started))
	}
	if d.Canary {
		meta += " · canary"
	}
	wrap("", meta, st.Muted.Render)
	if d.Error != "" {
		add("")
		heading := "Error"
		if word == "paused" || word == "canary-wait" {
			heading = "Why it stopped"
		}
		add(st.Bold.Render(heading))
		wrap("  ", d.Error, st.Error.Render)
	}
	if r.Warning != "" {
		wrap("! ", r.Warning, st.Warning.Render)
	}
	if len(d.Markers) > 0 {
		add("")
		add(st.Bold.Render("Markers in the journal"))
		for _, mk := range d.Markers {
			wrap("  ", mk, st.Warning.Render)
		}
	}
	add("")
	add(st.Bold.Render(fmt.Sprintf("Steps (%d)", len(d.Steps))))
	var cleanup []vm.RunStepView
	for i, s := range d.Steps {
		if s.Cleanup {
			cleanup = append(cleanup, s)
		}
		head := fmt.Sprintf("%2d. %s %-8s %s", i+1, stepGlyph(s.Status), s.Status, s.ID)
		if s.Host != "" {
			head += " on " + s.Host
		}
		if s.Cleanup {
			head += " [cleanup: always runs]"
		}
		verbatim("", head)
		info := s.Title
		if !s.Started.IsZero() {
			info += " · " + s.Started.UTC().Format("15:04:05")
			if !s.Ended.IsZero() {
				info += "–" + s.Ended.UTC().Format("15:04:05") + " (" + render.Elapsed(s.Ended.Sub(s.Started)) + ")"
			}
		}
		if s.Attempts > 1 {
			info += fmt.Sprintf(" · %d attempts", s.Attempts)
		}
		wrap("      ", info, st.Muted.Render)
		for _, c := range s.Commands {
			wrap("      $ ", c, st.Code.Render)
		}
		if s.Detached != "" {
			wrap("      detached: ", s.Detached, st.Muted.Render)
		}
		if s.Error != "" {
			f := st.Error.Render
			if s.Status == "skipped" {
				f = st.Muted.Render
			}
			wrap("      ", s.Status+": "+s.Error, f)
		}
	}
	if len(cleanup) > 0 {
		add("")
		add(st.Bold.Render("Cleanup"))
		for _, s := range cleanup {
			what := fmt.Sprintf("%s %s: %s", stepGlyph(s.Status), s.ID, s.Status)
			if s.Error != "" {
				what += " — " + s.Error
			} else if s.Status == "done" {
				what += " — " + s.Title
			}
			wrap("  ", what, plain)
		}
	}
	for _, o := range d.Output {
		add("")
		host := o.Host
		if host == "" {
			host = "cluster"
		}
		add(st.Rule.Render(fmt.Sprintf("── output of %s (%d lines) ", host, len(o.Lines))))
		for _, l := range o.Lines {
			verbatim("  ", l)
		}
	}
	if len(d.Output) == 0 {
		add("")
		add(st.Muted.Render("no output recorded"))
	}
	m.lines = out
}

// View renders the visible page and says how much is above and below.
func (m *runDetail) View() string {
	h := m.pageHeight()
	off := min(m.offset, max(len(m.lines)-h, 0))
	end := min(off+h, len(m.lines))
	var b strings.Builder
	for i, l := range m.lines[off:end] {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(render.Fit(l, m.width))
	}
	for i := end - off; i < h; i++ {
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	if below := len(m.lines) - end; below > 0 || off > 0 {
		b.WriteString(m.common.Styles.Muted.Render(moreLine(off, below, "lines")))
	}
	return b.String()
}

// moreLine says how many rows a clipped view hides above and below.
func moreLine(above, below int, what string) string {
	var parts []string
	if below > 0 {
		parts = append(parts, fmt.Sprintf("↓ %d more %s below", below, what))
	}
	if above > 0 {
		parts = append(parts, fmt.Sprintf("↑ %d above", above))
	}
	return strings.Join(parts, " · ")
}

// ShortHelp returns the keys that apply to the run shown.
func (m *runDetail) ShortHelp() []key.Binding {
	km := m.common.Keys
	var out []key.Binding
	if m.d != nil && m.d.Run.Unfinished() && km.Allowed(keymap.Resume) {
		out = append(out, km.Binding(keymap.Resume))
	}
	if len(m.lines) > m.pageHeight() {
		out = append(out, km.Binding(keymap.Down))
	}
	return append(out, km.Binding(keymap.Back), km.Binding(keymap.Reload))
}

// FullHelp returns the run detail's keys.
func (m *runDetail) FullHelp() [][]key.Binding {
	return m.common.Keys.Full(keymap.ScopeGlobal, keymap.ScopeLists)
}
