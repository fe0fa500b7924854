package tui

import (
	"fmt"
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
	ids  []string     // the run ID behind each row ("" for none)
	// backups are the backups behind rows, on the backups screen.
	backups    []vm.BackupView
	deployment string
	err        error
}

// list is a read-only table screen (runs, audit) over one Backend method.
type list struct {
	common common.Common
	id     common.ComponentID
	title  string
	header []string
	widths []int
	load   func(c common.Common) ([][]string, []vm.RunView, []string, error)
	rows   [][]string
	runs   []vm.RunView
	ids    []string
	// loadMsg, when set, replaces load (the backups screen).
	loadMsg    func(c common.Common) listLoadedMsg
	backups    []vm.BackupView
	deployment string
	err        error
	loading    bool
	cursor     int
	offset     int
	width      int
	height     int
}

func newRunsList(c common.Common) *list {
	return &list{common: c, id: common.RunsID, title: "Workflow runs",
		header: []string{"ID", "KIND", "STATE", "STARTED (UTC)", "TOOK", "HOSTS", "DETAIL"},
		// STATE fits every journal word whole ("canary-wait").
		widths: []int{14, 8, 11, 16, 7, 5, 0},
		load: func(c common.Common) ([][]string, []vm.RunView, []string, error) {
			runs, err := c.Backend.Runs(c.Ctx, 200)
			ids := make([]string, len(runs))
			for i, r := range runs {
				ids[i] = r.ID
			}
			return render.RunRows(runs, c.Now()), runs, ids, err
		}}
}

func newAuditList(c common.Common) *list {
	return &list{common: c, id: common.AuditID, title: "Audit log",
		header: []string{"TIME (UTC)", "USER", "HOST", "ACTION", "RESULT", "COMMAND"},
		widths: []int{19, 10, 16, 9, 8, 0},
		load: func(c common.Common) ([][]string, []vm.RunView, []string, error) {
			e, err := c.Backend.Audit(c.Ctx, vm.AuditQuery{Limit: 500})
			ids := make([]string, len(e))
			for i, a := range e {
				ids[i] = a.Run
			}
			return render.AuditRows(e), nil, ids, err
		}}
}

func newBackupsList(c common.Common) *list {
	return &list{common: c, id: common.BackupsID, title: "Backups",
		header: []string{"ROUTE", "TAG", "COMPLETENESS", "AGE", "SIZE", "KEYSPACES"},
		widths: []int{8, 28, 16, 6, 9, 0},
		loadMsg: func(c common.Common) listLoadedMsg {
			bl, ok := c.Backend.(vm.BackupLister)
			if !ok {
				return listLoadedMsg{err: fmt.Errorf("backups: %w", vm.ErrNotSupported)}
			}
			v, err := bl.Backups(c.Ctx)
			return listLoadedMsg{rows: render.BackupRows(v.Backups, c.Now()), backups: v.Backups, deployment: v.Deployment, err: err}
		}}
}

// Init loads the rows.
func (m *list) Init() tea.Cmd {
	m.loading = true
	c, load := m.common, m.load
	if m.loadMsg != nil {
		lm := m.loadMsg
		return common.Wrap(m.id, func() tea.Msg { return lm(c) })
	}
	return common.Wrap(m.id, func() tea.Msg {
		rows, runs, ids, err := load(c)
		return listLoadedMsg{rows: rows, runs: runs, ids: ids, err: err}
	})
}

// SetSize sets the body area.
func (m *list) SetSize(w, h int) { m.width, m.height = w, h }

// Update handles rows and keys.
func (m *list) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case listLoadedMsg:
		m.rows, m.runs, m.ids, m.err, m.loading = msg.rows, msg.runs, msg.ids, msg.err, false
		m.backups, m.deployment = msg.backups, msg.deployment
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
		case m.id == common.BackupsID && km.Matches(msg, keymap.Details):
			if m.cursor < len(m.backups) {
				bk := m.backups[m.cursor]
				return m, common.Status(render.BackupDetail(bk), !bk.Complete())
			}
		case m.id == common.BackupsID && km.Matches(msg, keymap.Restore):
			if m.cursor >= len(m.backups) {
				return m, nil
			}
			bk := m.backups[m.cursor]
			p := common.PlanMsg{Kind: vm.KindRestore, Params: vm.WorkflowParams{Options: map[string]string{"tag": bk.Tag, "confirm-deployment": m.deployment}}}
			return m, func() tea.Msg { return p }
		case km.Matches(msg, keymap.Details):
			if id := m.selectedID(); id != "" {
				return m, func() tea.Msg { return common.OpenRunMsg{ID: id} }
			}
			if m.cursor < len(m.rows) && m.id == common.AuditID {
				// No run to open: the entry itself, whole, in the status area.
				r := m.rows[m.cursor]
				failed := r[4] != "ok" && r[4] != "exit 0"
				return m, common.Status(fmt.Sprintf("%s %s on %s (%s, no workflow run): %s → %s", r[0], r[1], r[2], r[3], r[5], r[4]), failed)
			}
		case m.id == common.RunsID && km.Matches(msg, keymap.Resume):
			if m.cursor >= len(m.runs) {
				return m, nil
			}
			run := m.runs[m.cursor]
			if !run.Unfinished() {
				return m, common.Status("run "+run.ID+" is "+run.State+": nothing to resume", false)
			}
			return m, func() tea.Msg { return common.ResumeMsg{Run: run} }
		case m.id == common.RunsID && km.Matches(msg, keymap.Discard):
			if m.cursor >= len(m.runs) {
				return m, nil
			}
			run := m.runs[m.cursor]
			return m, func() tea.Msg { return discardMsg{run: run} }
		case km.Matches(msg, keymap.Unlock):
			return m, func() tea.Msg { return unlockMsg{} }
		case km.Matches(msg, keymap.Reload):
			return m, m.Init()
		case km.Matches(msg, keymap.Back):
			return m, func() tea.Msg { return common.BackMsg{} }
		}
		h := m.pageHeight()
		if m.cursor < m.offset {
			m.offset = m.cursor
		}
		if m.cursor >= m.offset+h {
			m.offset = m.cursor - h + 1
		}
	}
	return m, nil
}

// selectedID is the run ID behind the cursor's row, or "".
func (m *list) selectedID() string {
	if m.cursor < len(m.ids) {
		return m.ids[m.cursor]
	}
	return ""
}

// pageHeight is the number of rows shown under the title, blank line,
// column header and the line that says how many rows are clipped.
func (m *list) pageHeight() int { return max(m.height-4, 1) }

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
	default:
		b.WriteString(st.Muted.Render("  " + itoa(len(m.rows)) + " entries"))
	}
	b.WriteString("\n\n")
	h := m.pageHeight()
	off := min(m.offset, len(m.rows))
	end := min(off+h, len(m.rows))
	lines := render.Table(m.header, m.rows[off:end], m.widths, m.width, m.cursor-off, st)
	b.WriteString(strings.Join(lines, "\n"))
	if below := len(m.rows) - end; below > 0 || off > 0 {
		for i := end - off; i < h; i++ {
			b.WriteByte('\n')
		}
		b.WriteString("\n" + st.Muted.Render(moreLine(off, below, "rows")))
	}
	return b.String()
}

// ShortHelp returns the keys that apply to the selected row.
func (m *list) ShortHelp() []key.Binding {
	km := m.common.Keys
	var out []key.Binding
	if m.selectedID() != "" {
		out = append(out, km.Binding(keymap.Details))
	}
	if m.id == common.BackupsID && m.cursor < len(m.backups) {
		out = append(out, km.Binding(keymap.Details), km.Binding(keymap.Restore))
	}
	if m.id == common.RunsID && m.cursor < len(m.runs) && m.runs[m.cursor].Unfinished() && km.Allowed(keymap.Resume) {
		out = append(out, km.Binding(keymap.Resume))
	}
	if m.id == common.RunsID && m.cursor < len(m.runs) && km.Allowed(keymap.Discard) {
		out = append(out, km.Binding(keymap.Discard))
	}
	if len(m.rows) > 1 {
		out = append(out, km.Binding(keymap.Down))
	}
	return append(out, km.Binding(keymap.Reload), km.Binding(keymap.Back))
}

// FullHelp returns the list's keys.
func (m *list) FullHelp() [][]key.Binding {
	return m.common.Keys.Full(keymap.ScopeGlobal, keymap.ScopeLists)
}
