package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	opsworkflow "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/styles"
	"scalar-tui/tui/vm"
)

// runbookPlan asks for the plan of the alert's runbook workflow on its host,
// or, when no workflow fixes the alert, says where the runbook is. Opening a
// plan is allowed in read-only sessions: the workflow screen shows it and
// offers no way to run it.
func runbookPlan(a vm.AlertView) tea.Cmd {
	switch {
	case a.Runbook == nil:
		return common.Status("no runbook is known for "+a.Name, true)
	case !a.Runbook.Runnable():
		return common.Status("no workflow fixes "+a.Name+": follow "+a.Runbook.Doc+" (its commands are listed under the alert)", false)
	}
	msg := common.PlanMsg{Kind: a.Runbook.Workflow, Params: a.Runbook.Params()}
	// A runbook that needs a choice first asks for it (free-disk: what
	// to clear on the node).
	if kd, ok := opsworkflow.Lookup(string(a.Runbook.Workflow)); ok && kd.ConsoleAsk != "" {
		msg.Ask = true
	}
	return func() tea.Msg { return msg }
}

// alertKeyOf identifies an alert across refreshes.
func alertKeyOf(a vm.AlertView) string { return a.Name + "\x00" + a.Instance }

// runbookLines render what can be done about a: the action on its key, or
// the runbook page, and (with commands) what the page has the operator type.
func runbookLines(a vm.AlertView, c common.Common, width int, commands bool) []string {
	st := c.Styles
	km := c.Keys
	var out []string
	r := a.Runbook
	switch {
	case r == nil:
		return []string{st.Muted.Render(render.Fit("    no runbook known for "+a.Name, width))}
	case r.Runnable():
		what := km.Key(keymap.Runbook) + " → plan: " + r.Title + " (" + string(r.Workflow) + ")"
		out = append(out, st.Healthy.Render(render.Fit("    "+what, width)))
		doc := "    runbook " + r.Doc
		if km.Readonly() && !r.ReadOnly {
			doc += " · read-only: the plan is shown, never run"
		}
		out = append(out, st.Muted.Render(render.Fit(doc, width)))
	default:
		out = append(out, st.Warning.Render(render.Fit("    no workflow: by hand, as "+r.Doc+" says ("+r.Title+")", width)))
	}
	if commands || !r.Runnable() {
		for _, cmd := range r.Commands {
			out = append(out, st.Code.Render(render.Fit("      $ "+cmd, width)))
		}
	}
	return out
}

// alertLine is one alert as a line: name, severity, host, age and
// summary, as the overview lists alerts, with the selection mark.
func alertLine(a vm.AlertView, st *styles.Styles, c common.Common, width int, selected bool) string {
	sev := a.Severity
	if sev == "" {
		sev = "alert"
	}
	style := st.Warning
	if sev == "critical" {
		style = st.Down
	}
	where := "cluster"
	if a.Instance != "" {
		where = render.ShortHost(a.Instance)
	}
	text := "! " + a.Name + " [" + sev + "] " + where
	if !a.Since.IsZero() {
		text += " for " + render.Age(c.Now().Sub(a.Since))
	}
	if a.Summary != "" {
		text += " — " + a.Summary
	}
	mark := "  "
	if selected {
		mark = st.Selected.Render(">") + " "
	}
	return mark + style.Render(render.Fit(text, max(width-2, 1)))
}

// alertsView lists every firing alert, cluster-wide ones too, with its
// summary, since when and its runbook action (`:alerts`). It reads the
// alerts through a function at render time so a refresh shows up without
// any message.
type alertsView struct {
	common common.Common
	alerts func() ([]vm.AlertView, bool)
	cursor int
	sel    string // key of the selected alert, kept across refreshes
	offset int
	width  int
	height int
}

func newAlertsView(c common.Common, alerts func() ([]vm.AlertView, bool)) *alertsView {
	return &alertsView{common: c, alerts: alerts}
}

// Init does nothing: the overview's refresh brings the alerts.
func (m *alertsView) Init() tea.Cmd { return nil }

// SetSize sets the body area.
func (m *alertsView) SetSize(w, h int) { m.width, m.height = w, h }

// selected returns the alert under the cursor, following it by key when
// a refresh reordered the list.
func (m *alertsView) selected() (vm.AlertView, bool) {
	as, _ := m.alerts()
	if len(as) == 0 {
		return vm.AlertView{}, false
	}
	for i, a := range as {
		if alertKeyOf(a) == m.sel {
			m.cursor = i
			return a, true
		}
	}
	m.cursor = min(m.cursor, len(as)-1)
	m.sel = alertKeyOf(as[m.cursor])
	return as[m.cursor], true
}

// Update handles keys.
func (m *alertsView) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	km := m.common.Keys
	as, _ := m.alerts()
	m.selected()
	move := func(n int) {
		if len(as) == 0 {
			return
		}
		m.cursor = min(max(m.cursor+n, 0), len(as)-1)
		m.sel = alertKeyOf(as[m.cursor])
	}
	switch {
	case km.Matches(k, keymap.Up):
		move(-1)
	case km.Matches(k, keymap.Down):
		move(1)
	case km.Matches(k, keymap.Top):
		move(-len(as))
	case km.Matches(k, keymap.Bottom):
		move(len(as))
	case km.Matches(k, keymap.Back):
		return m, func() tea.Msg { return common.BackMsg{} }
	case km.Matches(k, keymap.Runbook):
		if a, ok := m.selected(); ok {
			return m, runbookPlan(a)
		}
	case km.Matches(k, keymap.AlertHost):
		if a, ok := m.selected(); ok && a.Instance != "" {
			h := a.Instance
			return m, func() tea.Msg { return common.NavigateMsg{To: common.ScreenDetail, Host: h} }
		}
	default:
		if a, ok := m.selected(); ok && a.Instance != "" {
			return m, actionKeys(m.common, k, a.Instance, "")
		}
	}
	return m, nil
}

// View renders the list and the selected alert's runbook.
func (m *alertsView) View() string {
	st := m.common.Styles
	as, hasData := m.alerts()
	cur, ok := m.selected()
	runnable := 0
	for _, a := range as {
		if a.Runbook != nil && a.Runbook.Runnable() {
			runnable++
		}
	}
	head := st.Title.Render("Firing alerts")
	switch {
	case !hasData:
		head += st.Muted.Render("  health not loaded yet")
	default:
		head += st.Muted.Render(fmt.Sprintf("  %d firing · %d with a runbook action", len(as), runnable))
	}
	out := []string{head, ""}
	if hasData && len(as) == 0 {
		out = append(out, st.Healthy.Render("  no alert is firing"))
		return strings.Join(out, "\n")
	}
	var detail []string
	if ok {
		detail = m.detailLines(cur)
	}
	h := max(m.height-len(out)-len(detail)-2, 3)
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+h {
		m.offset = m.cursor - h + 1
	}
	m.offset = min(max(m.offset, 0), max(len(as)-h, 0))
	end := min(m.offset+h, len(as))
	for i := m.offset; i < end; i++ {
		out = append(out, alertLine(as[i], st, m.common, m.width, i == m.cursor))
	}
	if above, below := m.offset, len(as)-end; above > 0 || below > 0 {
		out = append(out, st.Muted.Render(moreLine(above, below, "alerts")))
	}
	if len(detail) > 0 {
		out = append(out, "")
		out = append(out, detail...)
	}
	if len(out) > m.height {
		out = out[:m.height]
	}
	return strings.Join(out, "\n")
}

// detailLines are the selected alert in full: where, since when, its
// summary, its runbook action and the commands the runbook involves.
func (m *alertsView) detailLines(a vm.AlertView) []string {
	st := m.common.Styles
	where := render.ShortHost(a.Instance)
	if a.Instance == "" {
		where = "the cluster"
	}
	since := "since unknown"
	if !a.Since.IsZero() {
		since = "firing for " + render.Age(m.common.Now().Sub(a.Since)) + " (since " + a.Since.UTC().Format("15:04:05") + " UTC)"
	}
	sev := a.Severity
	if sev == "" {
		sev = "no severity"
	}
	out := []string{
		st.Rule.Render(render.Fit("── "+a.Name+" "+strings.Repeat("─", m.width), m.width)),
		render.Fit(fmt.Sprintf("on %s · %s · %s", where, sev, since), m.width),
	}
	if a.Summary != "" {
		out = append(out, render.Fit(a.Summary, m.width))
	}
	return append(out, runbookLines(a, m.common, m.width, true)...)
}

// ShortHelp returns the keys that apply to the selected alert.
func (m *alertsView) ShortHelp() []key.Binding {
	km := m.common.Keys
	var out []key.Binding
	if a, ok := m.selected(); ok {
		if a.Runbook != nil && a.Runbook.Runnable() {
			out = append(out, km.Binding(keymap.Runbook))
		}
		if a.Instance != "" {
			out = append(out, km.Binding(keymap.AlertHost), km.Binding(keymap.Logs))
		}
	}
	return append(out, km.Binding(keymap.Down), km.Binding(keymap.Back))
}

// FullHelp returns the alerts list's keys.
func (m *alertsView) FullHelp() [][]key.Binding {
	return m.common.Keys.Full(keymap.ScopeGlobal, keymap.ScopeAlerts, keymap.ScopeHost)
}

// alertList returns every firing alert of the last snapshot and whether
// one was loaded (the alerts screen's source).
func (m *overview) alertList() ([]vm.AlertView, bool) { return m.health.Alerts, m.hasData }
