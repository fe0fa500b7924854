package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"scalar-tui/inventory"
	opsworkflow "scalar-tui/ops/workflow"
	_ "scalar-tui/ops/workflow/catalog" // every workflow kind: keys and `:` commands
	"scalar-tui/tui/common"
	"scalar-tui/tui/components/input"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// Messages of the overview; they arrive wrapped in common.Envelope.
type (
	// epoch ties a load to the environment it was asked of: Reset bumps
	// it, so late results of the old environment are dropped.
	inventoryLoadedMsg struct {
		epoch int
		inv   *inventory.Inventory
		err   error
	}
	healthLoadedMsg struct {
		epoch int
		hv    vm.HealthView
		err   error
		at    time.Time
	}
	refreshTickMsg struct{ gen int }
)

// ovLine is one line of the host table: a role heading or a host.
type ovLine struct {
	title string // rendered heading; empty for a host line
	row   int    // index into overview.rows for a host line
}

// overview is the first screen: cluster summary, alerts and the host table.
type overview struct {
	common   common.Common
	interval time.Duration
	inv      *inventory.Inventory
	invErr   error
	health   vm.HealthView
	hasData  bool
	healthEr error
	rows     []vm.HostRow
	lines    []ovLine
	hostLine []int // index into lines of each visible host
	cursor   int   // index into hostLine
	selected string
	offset   int // first table line shown
	filter   input.Model
	editing  bool
	loading  bool
	fetched  time.Time
	gen      int
	epoch    int
	width    int
	height   int
}

func newOverview(c common.Common, interval time.Duration) *overview {
	f := input.New("/")
	f.Placeholder = "name, role or state (role:cassandra state:down)"
	return &overview{common: c, interval: interval, filter: f}
}

// Init loads the inventory and the first health snapshot.
func (m *overview) Init() tea.Cmd {
	m.loading = true
	return tea.Batch(m.loadInventory(), m.loadHealth())
}

func (m *overview) loadInventory() tea.Cmd {
	c, epoch := m.common, m.epoch
	return common.Wrap(common.OverviewID, func() tea.Msg {
		inv, err := c.Backend.LoadInventory(c.Ctx)
		return inventoryLoadedMsg{epoch: epoch, inv: inv, err: err}
	})
}

func (m *overview) loadHealth() tea.Cmd {
	c, epoch := m.common, m.epoch
	return common.Wrap(common.OverviewID, func() tea.Msg {
		hv, err := c.Backend.Health(c.Ctx)
		return healthLoadedMsg{epoch: epoch, hv: hv, err: err, at: c.Now()}
	})
}

// Reset forgets the environment's inventory, health, selection and filter
// (after `:env NAME`); Init then loads the new environment's. Results still
// on their way from the old environment are dropped, and so is its refresh
// tick.
func (m *overview) Reset() {
	m.epoch++
	m.gen++
	m.inv, m.invErr = nil, nil
	m.health, m.hasData, m.healthEr, m.fetched = vm.HealthView{}, false, nil, time.Time{}
	m.selected, m.cursor, m.offset = "", 0, 0
	m.editing = false
	m.filter.SetValue("")
	m.rebuild()
}

func (m *overview) tick() tea.Cmd {
	m.gen++
	gen := m.gen
	return tea.Tick(m.interval, func(time.Time) tea.Msg {
		return common.Envelope{To: common.OverviewID, Msg: refreshTickMsg{gen: gen}}
	})
}

// SetSize sets the body area.
func (m *overview) SetSize(w, h int) {
	m.width, m.height = w, h
	m.filter.SetSize(w, 1)
	m.ensureVisible()
}

// Capturing reports whether the overview takes all keys (filter editing).
func (m *overview) Capturing() bool { return m.editing }

// Update handles loads, ticks and keys.
func (m *overview) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case inventoryLoadedMsg:
		if msg.epoch != m.epoch {
			return m, nil
		}
		if msg.inv == nil && msg.err == nil {
			msg.err = errors.New("the backend returned no inventory")
		}
		m.inv, m.invErr = msg.inv, msg.err
		m.rebuild()
		if msg.err != nil {
			return m, common.Status("inventory: "+msg.err.Error(), true)
		}
	case healthLoadedMsg:
		if msg.epoch != m.epoch {
			return m, nil
		}
		m.loading = false
		m.healthEr = msg.err
		if msg.err == nil {
			m.health, m.hasData = msg.hv, true
			m.fetched = msg.at
			if !msg.hv.At.IsZero() {
				m.fetched = msg.hv.At
			}
		}
		m.rebuild()
		return m, m.tick()
	case refreshTickMsg:
		if msg.gen != m.gen || m.loading {
			return m, nil
		}
		m.loading = true
		return m, m.loadHealth()
	case tea.KeyMsg:
		return m, m.handleKey(msg)
	}
	return m, nil
}

func (m *overview) handleKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.Keys
	if m.editing {
		switch k.Type {
		case tea.KeyEnter:
			m.editing = false
		case tea.KeyEsc:
			m.editing = false
			m.filter.SetValue("")
			m.rebuild()
		default:
			m.filter, _ = m.filter.Update(k)
			m.rebuild()
		}
		return nil
	}
	switch {
	case km.Matches(k, keymap.Up):
		m.move(-1)
	case km.Matches(k, keymap.Down):
		m.move(1)
	case km.Matches(k, keymap.PageUp):
		m.move(-max(m.tableHeight()-1, 1))
	case km.Matches(k, keymap.PageDown):
		m.move(max(m.tableHeight()-1, 1))
	case km.Matches(k, keymap.Top):
		m.move(-len(m.hostLine))
	case km.Matches(k, keymap.Bottom):
		m.move(len(m.hostLine))
	case km.Matches(k, keymap.Filter):
		m.editing = true
	case km.Matches(k, keymap.Back):
		if m.filter.Value() != "" {
			m.filter.SetValue("")
			m.rebuild()
		}
	case km.Matches(k, keymap.Refresh):
		if !m.loading {
			m.loading = true
			return m.loadHealth()
		}
	case km.Matches(k, keymap.Open):
		if m.selected != "" {
			sel := m.selected
			return func() tea.Msg { return common.NavigateMsg{To: common.ScreenDetail, Host: sel} }
		}
	default:
		return actionKeys(m.common, k, m.selected, m.currentTag())
	}
	return nil
}

// actionKeys handles the workflow and shell keys shared by the overview and
// the host detail.
func actionKeys(c common.Common, k tea.KeyMsg, host, tag string) tea.Cmd {
	km := c.Keys
	var msg tea.Msg
	if kd, ok := kindOfKey(km, k); ok {
		return planKindCmd(kd, tag)
	}
	switch {
	case km.Matches(k, keymap.Shell):
		if host == "" {
			return nil
		}
		msg = common.ShellMsg{Host: host}
	case km.Matches(k, keymap.Logs):
		if host == "" {
			return nil
		}
		msg = common.LogsMsg{Host: host}
	default:
		return nil
	}
	return func() tea.Msg { return msg }
}

// currentTag is the most common Scalar DL image tag, shown in the upgrade prompt.
func (m *overview) currentTag() string {
	count := map[string]int{}
	best := ""
	for _, r := range m.rows {
		if t := r.Tag(); r.Host.Role.IsScalarDL() && t != "" {
			count[t]++
			if count[t] > count[best] || (count[t] == count[best] && t < best) {
				best = t
			}
		}
	}
	return best
}

// Row returns the current row of host name.
func (m *overview) Row(name string) (vm.HostRow, bool) {
	for _, r := range m.rows {
		if r.Host.Name == name {
			return r, true
		}
	}
	return vm.HostRow{}, false
}

func (m *overview) move(n int) {
	if len(m.hostLine) == 0 {
		return
	}
	m.cursor = min(max(m.cursor+n, 0), len(m.hostLine)-1)
	m.selected = m.rows[m.lines[m.hostLine[m.cursor]].row].Host.Name
	m.ensureVisible()
}

// rebuild recomputes rows and visible lines after new data or a new
// filter, keeping the selection on the same host name.
func (m *overview) rebuild() {
	m.rows = vm.Merge(m.inv, m.health)
	match := compileFilter(m.filter.Value())
	m.lines = m.lines[:0]
	m.hostLine = m.hostLine[:0]
	st := m.common.Styles
	for i := 0; i < len(m.rows); {
		role := m.rows[i].Host.Role
		j := i
		for j < len(m.rows) && m.rows[j].Host.Role == role {
			j++
		}
		var keep []int
		for k := i; k < j; k++ {
			if match(m.rows[k]) {
				keep = append(keep, k)
			}
		}
		if len(keep) > 0 {
			name := string(role)
			if name == "" {
				name = "other"
			}
			m.lines = append(m.lines, ovLine{title: render.GroupTitle(name, m.rows[i:j], st), row: -1})
			for _, k := range keep {
				m.hostLine = append(m.hostLine, len(m.lines))
				m.lines = append(m.lines, ovLine{row: k})
			}
		}
		i = j
	}
	m.cursor = 0
	found := false
	for i, l := range m.hostLine {
		if m.rows[m.lines[l].row].Host.Name == m.selected {
			m.cursor, found = i, true
			break
		}
	}
	if !found {
		m.selected = ""
		if len(m.hostLine) > 0 {
			m.selected = m.rows[m.lines[m.hostLine[0]].row].Host.Name
		}
	}
	m.ensureVisible()
}

// compileFilter turns the filter text into a predicate. Words must all
// match; "role:", "state:" and "name:" restrict a word to one field.
func compileFilter(q string) func(vm.HostRow) bool {
	words := strings.Fields(strings.ToLower(q))
	if len(words) == 0 {
		return func(vm.HostRow) bool { return true }
	}
	return func(r vm.HostRow) bool {
		for _, w := range words {
			field, val, ok := strings.Cut(w, ":")
			var hay string
			switch {
			case ok && field == "role":
				hay = string(r.Host.Role)
			case ok && field == "state":
				hay = string(r.State)
			case ok && field == "name":
				hay = r.Host.Name
			default:
				val = w
				hay = r.Host.Name + " " + string(r.Host.Role) + " " + string(r.State) + " " + r.Host.PrivateIP
			}
			if !strings.Contains(strings.ToLower(hay), val) {
				return false
			}
		}
		return true
	}
}

// topLines renders the cluster summary, alerts and errors above the table.
// Errors wrap rather than being cut, up to a third of the screen.
func (m *overview) topLines() []string {
	st := m.common.Styles
	var out, errs []string
	errLine := func(style func(...string) string, text string) {
		for _, l := range wrapText(text, max(m.width, 10)) {
			errs = append(errs, style(l))
		}
	}
	switch {
	case !m.hasData && m.healthEr != nil:
		errLine(st.Error.Render, "health unavailable: "+m.healthEr.Error())
	case !m.hasData:
		out = append(out, st.Muted.Render("loading health…"))
	default:
		if len(m.health.Cluster) > 0 {
			out = append(out, render.Fit(render.ClusterInline(m.health.Cluster, st), m.width))
		}
		if m.healthEr != nil {
			errLine(st.Error.Render, "last refresh failed: "+m.healthEr.Error())
		}
		for _, e := range m.health.Errors {
			errLine(st.Warning.Render, "partial: "+e)
		}
	}
	if m.invErr != nil {
		errLine(st.Error.Render, "inventory: "+m.invErr.Error())
	}
	if n := max(m.height/3, 1); len(errs) > n {
		hidden := len(errs) - n + 1
		errs = append(errs[:n-1], st.Warning.Render(render.Fit(fmt.Sprintf("… %d more lines of errors: `scalar-tui health` shows them all; the log has them", hidden), m.width)))
	}
	out = append(out, errs...)
	if m.hasData {
		if n := len(m.health.Alerts); n > 0 {
			out = append(out, st.Bold.Render(fmt.Sprintf("Firing alerts (%d)", n)))
			out = append(out, render.Alerts(m.health.Alerts, st, m.common.Now(), m.width, 3)...)
		} else {
			out = append(out, st.Healthy.Render("No firing alerts"))
		}
	}
	return out
}

// tableHeight is the number of table lines that fit under the top lines;
// when the table does not fit, one line is kept to say how many hosts are
// above and below.
func (m *overview) tableHeight() int {
	h := m.height - len(m.topLines()) - 2 // blank line and column header
	if m.editing || m.filter.Value() != "" {
		h--
	}
	if len(m.lines) > h {
		h--
	}
	return max(h, 1)
}

// hostsOutside counts the hosts above and below the visible table lines.
func (m *overview) hostsOutside(off, end int) (above, below int) {
	for _, l := range m.hostLine {
		switch {
		case l < off:
			above++
		case l >= end:
			below++
		}
	}
	return above, below
}

func (m *overview) ensureVisible() {
	if len(m.hostLine) == 0 {
		m.offset = 0
		return
	}
	h := m.tableHeight()
	line := m.hostLine[m.cursor]
	if line < m.offset {
		m.offset = line
		if line > 0 && m.lines[line-1].row < 0 {
			m.offset = line - 1 // show the role heading too
		}
	}
	if line >= m.offset+h {
		m.offset = line - h + 1
	}
	m.offset = min(max(m.offset, 0), max(len(m.lines)-h, 0))
}

// View renders the body: only the visible window of the table is drawn, so
// the cost does not grow with the number of hosts.
func (m *overview) View() string {
	st := m.common.Styles
	var b strings.Builder
	for _, l := range m.topLines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	cols := render.HostColumnsTag(m.width, render.TagWidth(m.rows))
	b.WriteString(render.HostHeader(cols, st))
	h := m.tableHeight()
	end := min(m.offset+h, len(m.lines))
	batch := make([]vm.HostRow, 0, h)
	flush := func() {
		for _, s := range render.HostRows(batch, cols, st, m.selected) {
			b.WriteByte('\n')
			b.WriteString(s)
		}
		batch = batch[:0]
	}
	for _, l := range m.lines[m.offset:end] {
		if l.row < 0 {
			flush()
			b.WriteByte('\n')
			b.WriteString(l.title)
			continue
		}
		batch = append(batch, m.rows[l.row])
	}
	flush()
	if len(m.lines) == 0 {
		b.WriteByte('\n')
		switch {
		case m.filter.Value() != "":
			b.WriteString(st.Muted.Render("  no host matches the filter (" + m.common.Keys.Key(keymap.Back) + " clears it)"))
		case m.inv == nil && m.invErr == nil:
			b.WriteString(st.Muted.Render("  loading inventory…"))
		default:
			b.WriteString(st.Muted.Render("  no hosts"))
		}
	}
	for i := end - m.offset; i < h; i++ {
		b.WriteByte('\n')
	}
	if above, below := m.hostsOutside(m.offset, end); len(m.lines) > h {
		b.WriteString("\n" + st.Muted.Render(moreLine(above, below, "hosts")))
	}
	if m.editing || m.filter.Value() != "" {
		b.WriteByte('\n')
		if m.editing {
			b.WriteString(m.filter.View())
		} else {
			km := m.common.Keys
			b.WriteString(st.Muted.Render(fmt.Sprintf("filter: %s (%d of %d hosts; %s edit, %s clear)", m.filter.Value(), len(m.hostLine), len(m.rows), km.Key(keymap.Filter), km.Key(keymap.Back))))
		}
	}
	return b.String()
}

// ShortHelp returns the overview's footer keys.
func (m *overview) ShortHelp() []key.Binding {
	if m.editing {
		return m.filter.ShortHelp()
	}
	var out []key.Binding
	for _, b := range m.common.Keys.Short(keymap.ScopeOverview, keymap.ScopeHost, keymap.ScopeGlobal) {
		switch b.Help().Key {
		case m.common.Keys.Key(keymap.Open), m.common.Keys.Key(keymap.Shell), m.common.Keys.Key(keymap.Logs):
			if m.selected == "" {
				continue // no host to open or shell into
			}
		case m.common.Keys.Key(keymap.Back):
			if m.filter.Value() == "" {
				continue // esc only clears a filter here
			}
		}
		out = append(out, b)
	}
	return out
}

// FullHelp returns the overview's keys by scope.
func (m *overview) FullHelp() [][]key.Binding {
	return m.common.Keys.Full(keymap.ScopeGlobal, keymap.ScopeOverview, keymap.ScopeHost)
}

// headerLine renders the environment line shown on every screen.
func headerLine(c common.Common, inv *inventory.Inventory, envHint string, hv vm.HealthView, hasHealth bool, healthErr error, fetched time.Time, screen string, width int) string {
	st := c.Styles
	name := "(no inventory)"
	if envHint != "" {
		name = envHint
	}
	var parts []string
	if c.Keys.Readonly() {
		parts = append(parts, st.Warning.Render("READ-ONLY"))
	}
	if hasHealth {
		s := hv.Overall()
		parts = append(parts, st.State(string(s)).Render(render.Glyph(s)+" "+string(s)))
		parts = append(parts, "refreshed "+render.Age(c.Now().Sub(fetched))+" ago")
	} else if healthErr != nil {
		parts = append(parts, st.Error.Render("health unavailable"))
	} else {
		parts = append(parts, st.Muted.Render("health pending"))
	}
	if inv != nil {
		if inv.NetworkName != "" {
			name = inv.NetworkName
		}
		if inv.BastionIP != "" {
			parts = append(parts, "bastion "+inv.BastionAddr())
		}
	}
	if hasHealth && hv.Source != "" {
		parts = append(parts, "via "+hv.Source)
	}
	if inv != nil {
		where := inv.Cloud
		if inv.Region != "" {
			where += "/" + inv.Region
		}
		if where != "" {
			parts = append(parts, where)
		}
	}
	badge := c.Styles.EnvStyle(name, c.EnvColor, c.ProdPattern).Render(name)
	right := st.Muted.Render("[" + screen + "]")
	line := badge + " " + strings.Join(parts, st.Muted.Render(" · "))
	return render.Fit(line, max(width-len(screen)-3, 10)) + " " + right
}

// kindOfKey returns the workflow kind of the catalog whose console key k
// is (R: repair, U: upgrade, B: backup).
func kindOfKey(km *keymap.KeyMap, k tea.KeyMsg) (*opsworkflow.Kind, bool) {
	for _, kd := range opsworkflow.Kinds() {
		if kd.ConsoleKey != "" && km.Matches(k, keymap.ID(kd.ConsoleKey)) {
			return kd, true
		}
	}
	return nil, false
}

// planKindCmd asks for kd's plan; a kind with a ConsoleAsk option (the
// upgrade's tag) is asked for it first, prefilled with tag.
func planKindCmd(kd *opsworkflow.Kind, tag string) tea.Cmd {
	msg := common.PlanMsg{Kind: vm.WorkflowKind(kd.Name)}
	if kd.ConsoleAsk != "" {
		msg.Ask = true
		if tag != "" {
			msg.Params.Options = map[string]string{kd.ConsoleAsk: tag}
		}
	}
	return func() tea.Msg { return msg }
}

// kindOfCommand returns the workflow kind of the catalog whose `:` command
// name is.
func kindOfCommand(name string) (*opsworkflow.Kind, bool) {
	for _, k := range opsworkflow.Kinds() {
		if k.ConsoleCommand != "" && k.ConsoleCommand == name {
			return k, true
		}
	}
	return nil, false
}

// commandParams maps a `:` command's arguments onto k's ConsoleArgs
// options, where the option form puts them too (the upgrade's tag).
func commandParams(k *opsworkflow.Kind, arg string) vm.WorkflowParams {
	var p vm.WorkflowParams
	for i, a := range strings.Fields(arg) {
		if i >= len(k.ConsoleArgs) {
			break
		}
		if p.Options == nil {
			p.Options = map[string]string{}
		}
		p.Options[k.ConsoleArgs[i]] = a
	}
	return p
}
