package tui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// auditLoadedMsg carries a host's recent audit entries to the detail screen.
type auditLoadedMsg struct {
	host    string
	entries []vm.AuditEntry
	err     error
}

// historyLoadedMsg carries a host's recent history to the detail screen.
type historyLoadedMsg struct {
	host string
	hist vm.HostHistory
	err  error
}

// detail shows one host: every figure, its alerts, recent commands and the
// actions available on it. It reads the row through lookup at render time
// so a refresh shows up without any message.
type detail struct {
	common  common.Common
	lookup  func(name string) (vm.HostRow, bool)
	tag     func() string
	host    string
	audit   []vm.AuditEntry
	auditEr error
	loading bool
	hist    *vm.HostHistory
	histEr  error
	// alertSel is the alert whose runbook the Runbook key opens (↑/↓).
	alertSel int
	width    int
	height   int
}

func newDetail(c common.Common, lookup func(string) (vm.HostRow, bool), tag func() string) *detail {
	return &detail{common: c, lookup: lookup, tag: tag}
}

// Open shows host and loads its recent audit entries.
func (m *detail) Open(host string) tea.Cmd {
	m.host, m.audit, m.auditEr, m.loading = host, nil, nil, true
	m.hist, m.histEr, m.alertSel = nil, nil, 0
	c := m.common
	cmds := []tea.Cmd{common.Wrap(common.DetailID, func() tea.Msg {
		e, err := c.Backend.Audit(c.Ctx, vm.AuditQuery{Host: host, Limit: 8})
		return auditLoadedMsg{host: host, entries: e, err: err}
	})}
	if hb, ok := c.Backend.(vm.HistoryBackend); ok {
		cmds = append(cmds, common.Wrap(common.DetailID, func() tea.Msg {
			h, err := hb.History(c.Ctx, host)
			return historyLoadedMsg{host: host, hist: h, err: err}
		}))
	}
	return tea.Batch(cmds...)
}

// Init does nothing; Open starts the loads.
func (m *detail) Init() tea.Cmd { return nil }

// SetSize sets the body area.
func (m *detail) SetSize(w, h int) { m.width, m.height = w, h }

// Update handles audit results and keys.
func (m *detail) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case auditLoadedMsg:
		if msg.host == m.host {
			m.audit, m.auditEr, m.loading = msg.entries, msg.err, false
		}
	case historyLoadedMsg:
		if msg.host == m.host {
			m.hist, m.histEr = &msg.hist, msg.err
		}
	case tea.KeyMsg:
		km := m.common.Keys
		alerts := m.alerts()
		switch {
		case km.Matches(msg, keymap.Back):
			return m, func() tea.Msg { return common.BackMsg{} }
		case km.Matches(msg, keymap.Up):
			m.alertSel = max(m.alertSel-1, 0)
			return m, nil
		case km.Matches(msg, keymap.Down):
			m.alertSel = min(m.alertSel+1, max(len(alerts)-1, 0))
			return m, nil
		case km.Matches(msg, keymap.Runbook):
			if a, ok := m.selectedAlert(); ok {
				return m, runbookPlan(a)
			}
			return m, common.Status("no alert is firing on "+render.ShortHost(m.host), false)
		}
		return m, actionKeys(m.common, msg, m.host, m.tag())
	}
	return m, nil
}

// View renders the host.
func (m *detail) View() string {
	st := m.common.Styles
	r, ok := m.lookup(m.host)
	if !ok {
		return st.Error.Render("host " + m.host + " is no longer in the inventory (" + m.common.Keys.Key(keymap.Back) + " to go back)")
	}
	h := r.Host
	var out []string
	add := func(s string) { out = append(out, render.Fit(s, m.width)) }
	state := r.State
	if state == "" {
		state = vm.StateUnknown
	}
	out = append(out, st.Title.Render(h.Short)+"  "+h.Name+"  "+st.State(string(state)).Render(render.Glyph(state)+" "+string(state)))
	add(fmt.Sprintf("role %s #%d · private %s · public %s · zone %s · instance %s", h.Role, h.Index, dash(h.PrivateIP), dash(h.PublicIP), dash(h.Zone), dash(h.InstanceID)))
	if h.Role.IsScalarDL() {
		line := fmt.Sprintf("image %s · running tag %s · tag in Terraform state %s", dash(h.Image), dash(r.ImageTag), dash(h.ImageTag))
		if r.Drift() {
			line = fmt.Sprintf("image %s · running %s: a terraform apply would put %s back", dash(h.Image), r.TagText(), h.ImageTag)
			out = append(out, st.Warning.Render(render.Fit(line, m.width)))
		} else {
			add(line)
		}
	}
	out = append(out, "")
	add(fmt.Sprintf("CPU %s · Mem %s · Disk used / %s · Disk used /data %s · Load1 %s",
		render.Percent(r.CPU), render.Percent(r.Mem), render.Percent(r.DiskRoot), render.Percent(r.DiskData), render.Float(r.Load1)) + sampleAge(r))
	switch {
	case m.histEr != nil:
		out = append(out, st.Muted.Render(render.Fit("history: "+m.histEr.Error(), m.width)))
	case m.hist != nil && len(m.hist.CPU) > 0:
		w := min(60, max(m.width-24, 10))
		span := "last " + m.hist.Window.String()
		if m.hist.Label != "" {
			span = m.hist.Label
		}
		add(fmt.Sprintf("CPU %s  %s  %s", span, render.Sparkline(m.hist.CPU, 0, 100, w), render.Percent(&m.hist.CPU[len(m.hist.CPU)-1])))
	}
	if m.hist != nil {
		names := make([]string, 0, len(m.hist.Cluster))
		for n := range m.hist.Cluster {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := m.hist.Cluster[n]
			if len(v) == 0 {
				continue
			}
			hi := 0.0
			for _, x := range v {
				hi = max(hi, x)
			}
			w := min(60, max(m.width-24, 10))
			add(fmt.Sprintf("%-16s %s  %.0f", n, render.Sparkline(v, 0, hi, w), v[len(v)-1]))
		}
	}
	svc := r.Service
	if svc == "" {
		svc = "-"
	}
	out = append(out, "Service: "+st.State(string(orUnknown(r.ServiceState))).Render(svc))
	if len(r.Reasons) > 0 {
		out = append(out, st.Bold.Render("Reasons"))
		for _, why := range r.Reasons {
			add("  • " + why)
		}
	}
	out = append(out, "")
	out = append(out, st.Bold.Render(fmt.Sprintf("Alerts (%d)", len(r.Alerts))))
	if len(r.Alerts) == 0 {
		out = append(out, st.Muted.Render("  none firing"))
	}
	sel, _ := m.selectedAlert()
	for _, a := range r.Alerts {
		this := alertKeyOf(a) == alertKeyOf(sel)
		out = append(out, alertLine(a, st, m.common, m.width, this && len(r.Alerts) > 1))
		out = append(out, runbookLines(a, m.common, m.width, this)...)
	}
	out = append(out, "")
	out = append(out, st.Bold.Render("Recent commands"))
	switch {
	case m.loading:
		out = append(out, st.Muted.Render("  loading audit…"))
	case m.auditEr != nil:
		out = append(out, st.Error.Render(render.Fit("  audit: "+m.auditEr.Error(), m.width)))
	case len(m.audit) == 0:
		out = append(out, st.Muted.Render("  none recorded"))
	}
	for _, e := range m.audit {
		add(fmt.Sprintf("  %s %-8s %-8s %s → %s", e.At.UTC().Format("01-02 15:04"), e.User, e.Action, e.Command, e.Result))
	}
	out = append(out, "")
	var acts []string
	for _, b := range m.common.Keys.Short(keymap.ScopeHost, keymap.ScopeOverview) {
		if b.Help().Key == "enter" || b.Help().Key == "/" {
			continue
		}
		acts = append(acts, b.Help().Key+" "+b.Help().Desc)
	}
	out = append(out, st.Bold.Render("Actions: ")+strings.Join(acts, " · ")+st.Muted.Render("   (! asks to confirm)"))
	if len(out) > m.height {
		out = out[:m.height]
	}
	return strings.Join(out, "\n")
}

// alerts are the host's firing alerts.
func (m *detail) alerts() []vm.AlertView {
	r, _ := m.lookup(m.host)
	return r.Alerts
}

// selectedAlert is the alert the Runbook key acts on.
func (m *detail) selectedAlert() (vm.AlertView, bool) {
	as := m.alerts()
	if len(as) == 0 {
		return vm.AlertView{}, false
	}
	return as[min(m.alertSel, len(as)-1)], true
}

// ShortHelp returns the detail screen's footer keys: the runbook's first
// when the selected alert has a workflow.
func (m *detail) ShortHelp() []key.Binding {
	km := m.common.Keys
	var out []key.Binding
	if a, ok := m.selectedAlert(); ok && a.Runbook != nil && a.Runbook.Runnable() {
		out = append(out, km.Binding(keymap.Runbook))
	}
	if len(m.alerts()) > 1 {
		out = append(out, km.Binding(keymap.Down))
	}
	return append(out, km.Short(keymap.ScopeHost, keymap.ScopeGlobal)...)
}

// FullHelp returns the detail screen's keys by scope.
func (m *detail) FullHelp() [][]key.Binding {
	return m.common.Keys.Full(keymap.ScopeGlobal, keymap.ScopeHost, keymap.ScopeOverview)
}

// sampleAge says how old the figures were when read, when the source knows.
func sampleAge(r vm.HostRow) string {
	if r.SampleAge == nil {
		return ""
	}
	return " · newest sample " + render.Age(*r.SampleAge) + " old"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orUnknown(s vm.State) vm.State {
	if s == "" {
		return vm.StateUnknown
	}
	return s
}
