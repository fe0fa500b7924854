package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// listLoadedMsg carries the rows of a list screen.
type listLoadedMsg struct {
	rows [][]string
	runs []vm.RunView // the runs behind rows, on the runs screen
	err  error
}

// list is a read-only table screen (runs, audit) over one Backend method.
type list struct {
	common  common.Common
	id      common.ComponentID
	title   string
	header  []string
	widths  []int
	load    func(c common.Common) ([][]string, []vm.RunView, error)
	rows    [][]string
	runs    []vm.RunView
	err     error
	loading bool
	cursor  int
	offset  int
	width   int
	height  int
}

func newRunsList(c common.Common) *list {
	return &list{common: c, id: common.RunsID, title: "Workflow runs",
		header: []string{"ID", "KIND", "STATE", "STARTED (UTC)", "TOOK", "HOSTS", "DETAIL"},
		widths: []int{14, 8, 10, 16, 8, 5, 0},
		load: func(c common.Common) ([][]string, []vm.RunView, error) {
			runs, err := c.Backend.Runs(c.Ctx, 200)
			return render.RunRows(runs, c.Now()), runs, err
		}}
}

func newAuditList(c common.Common) *list {
	return &list{common: c, id: common.AuditID, title: "Audit log",
		header: []string{"TIME (UTC)", "USER", "HOST", "ACTION", "RESULT", "COMMAND"},
		widths: []int{19, 10, 16, 9, 8, 0},
		load: func(c common.Common) ([][]string, []vm.RunView, error) {
			e, err := c.Backend.Audit(c.Ctx, vm.AuditQuery{Limit: 500})
			return render.AuditRows(e), nil, err
		}}
}

// Init loads the rows.
func (m *list) Init() tea.Cmd {
	m.loading = true
	c, load := m.common, m.load
	return common.Wrap(m.id, func() tea.Msg {
		rows, runs, err := load(c)
		return listLoadedMsg{rows: rows, runs: runs, err: err}
	})
}

// SetSize sets the body area.
func (m *list) SetSize(w, h int) { m.width, m.height = w, h }

// Update handles rows and keys.
func (m *list) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case listLoadedMsg:
		m.rows, m.runs, m.err, m.loading = msg.rows, msg.runs, msg.err, false
		m.cursor = min(m.cursor, max(len(m.rows)-1, 0))
		m.offset = min(m.offset, m.cursor)
	case tea.KeyMsg:
		km := m.common.Keys
		switch {
		case km.Matches(msg, keymap.Up):
			m.cursor = max(m.cursor-1, 0)
		case km.Matches(msg, keymap.Down):
			m.cursor = min(m.cursor+1, max(len(m.rows)-1, 0))
		case km.Matches(msg, keymap.Top):
			m.cursor = 0
		case km.Matches(msg, keymap.Bottom):
			m.cursor = max(len(m.rows)-1, 0)
		case m.id == common.RunsID && km.Matches(msg, keymap.Resume):
			// r resumes here (Refresh also answers ctrl+r); read-only
			// disables Resume, so r reloads there.
			if m.cursor >= len(m.runs) {
				return m, nil
			}
			run := m.runs[m.cursor]
			if !run.Unfinished() {
				return m, common.Status("run "+run.ID+" is "+run.State+": nothing to resume", false)
			}
			return m, func() tea.Msg { return common.ResumeMsg{Run: run} }
		case km.Matches(msg, keymap.Refresh):
			return m, m.Init()
		case km.Matches(msg, keymap.Back):
			return m, func() tea.Msg { return common.BackMsg{} }
		}
		h := max(m.height-3, 1)
		if m.cursor < m.offset {
			m.offset = m.cursor
		}
		if m.cursor >= m.offset+h {
			m.offset = m.cursor - h + 1
		}
	}
	return m, nil
}

// View renders the table.
func (m *list) View() string {
	st := m.common.Styles
	var b strings.Builder
	b.WriteString(st.Title.Render(m.title))
	switch {
	case m.loading:
		b.WriteString(st.Muted.Render("  loading…"))
	case m.err != nil:
		b.WriteString("  " + st.Error.Render(m.err.Error()))
	case m.id == common.RunsID && m.common.Keys.Allowed(keymap.Resume):
		b.WriteString(st.Muted.Render("  " + itoa(len(m.rows)) + " entries · r resume the selected unfinished run (asks) · ctrl+r reload · esc back"))
	default:
		b.WriteString(st.Muted.Render("  " + itoa(len(m.rows)) + " entries · r reload · esc back"))
	}
	b.WriteString("\n\n")
	h := max(m.height-3, 1)
	off := min(m.offset, len(m.rows))
	end := min(off+h, len(m.rows))
	lines := render.Table(m.header, m.rows[off:end], m.widths, m.width, m.cursor-off, st)
	b.WriteString(strings.Join(lines, "\n"))
	return b.String()
}

// ShortHelp returns the list's footer keys.
func (m *list) ShortHelp() []key.Binding {
	km := m.common.Keys
	if m.id == common.RunsID && km.Allowed(keymap.Resume) {
		return []key.Binding{km.Binding(keymap.Resume), km.Binding(keymap.Up), km.Binding(keymap.Down), km.Binding(keymap.Back), km.Binding(keymap.Help)}
	}
	return []key.Binding{km.Binding(keymap.Up), km.Binding(keymap.Down), km.Binding(keymap.Refresh), km.Binding(keymap.Back), km.Binding(keymap.Help)}
}

// FullHelp returns the list's keys.
func (m *list) FullHelp() [][]key.Binding { return m.common.Keys.Full(keymap.ScopeGlobal) }
