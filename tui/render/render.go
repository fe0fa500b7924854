// Package render turns view-model values into styled text: pure functions,
// no state, no I/O, so they are tested against fixtures and benchmarked
// (k9s' internal/render). render must not import bubbletea, the root tui
// package, components or ops/*.
package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"scalar-tui/tui/styles"
	"scalar-tui/tui/vm"
)

// Column is one column of the host table.
type Column struct {
	Key   string // name, ip, state, cpu, mem, disk, service, tag
	Title string
	Width int
}

// marker is the width of the selection marker at the start of each row.
const marker = 2

// HostColumns lays the host table out for width cells. The service column
// takes what is left; the IP, then the tag column are dropped when narrow.
func HostColumns(width int) []Column { return HostColumnsTag(width, 0) }

// TagWidth returns the tag column width the rows need: 10, or wider for a
// "2.2.0 ≠ state 2.1.0" cell (at most 28).
func TagWidth(rows []vm.HostRow) int {
	w := 10
	for _, r := range rows {
		if r.Host.Role.IsScalarDL() && r.Drift() {
			w = max(w, min(ansi.StringWidth(r.TagText()), 28))
		}
	}
	return w
}

// HostColumnsTag is HostColumns with the tag column tagWidth cells wide
// (TagWidth; 0 means 10). The disk column is percent used, like CPU and MEM.
func HostColumnsTag(width, tagWidth int) []Column {
	if tagWidth <= 0 {
		tagWidth = 10
	}
	cols := []Column{
		{"name", "NAME", 18}, {"ip", "IP", 15}, {"state", "STATE", 10},
		{"cpu", "CPU", 4}, {"mem", "MEM", 4}, {"disk", "DISK", 4},
		{"service", "SERVICE", 0}, {"tag", "TAG", tagWidth},
	}
	const minService = 12
	fixed := func(cs []Column) int {
		n := marker - 1 // no separator before the first column
		for _, c := range cs {
			n += c.Width + 1
		}
		return n
	}
	for _, drop := range []string{"ip", "tag"} {
		if width-fixed(cols) >= minService {
			break
		}
		for i, c := range cols {
			if c.Key == drop {
				cols = append(cols[:i:i], cols[i+1:]...)
				break
			}
		}
	}
	for i := range cols {
		if cols[i].Key == "service" {
			cols[i].Width = max(width-fixed(cols), 7)
		}
	}
	return cols
}

// HostHeader renders the column titles.
func HostHeader(cols []Column, st *styles.Styles) string {
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", marker))
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Fit(c.Title, c.Width))
	}
	return st.TableHead.Render(b.String())
}

// HostRows renders one line per row. The row whose Host.Name equals
// selected is marked and highlighted as a whole.
func HostRows(rows []vm.HostRow, cols []Column, st *styles.Styles, selected string) []string {
	out := make([]string, 0, len(rows))
	// A state cell is the same for every row in that state, so style it once.
	stateCells := make(map[vm.State]string, 4)
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		sel := selected != "" && r.Host.Name == selected
		if sel {
			b.WriteString("> ")
		} else {
			b.WriteString("  ")
		}
		for i, c := range cols {
			if i > 0 {
				b.WriteByte(' ')
			}
			if c.Key == "state" && !sel {
				s := stateOf(r.State)
				cell, ok := stateCells[s]
				if !ok {
					cell = st.State(string(s)).Render(Fit(hostCell(r, c.Key), c.Width))
					stateCells[s] = cell
				}
				b.WriteString(cell)
				continue
			}
			cell := Fit(hostCell(r, c.Key), c.Width)
			if !sel {
				switch c.Key {
				case "service":
					if r.ServiceState != "" && r.ServiceState != vm.StateHealthy {
						cell = st.State(string(r.ServiceState)).Render(cell)
					}
				}
			}
			b.WriteString(cell)
		}
		line := b.String()
		if sel {
			line = st.Selected.Render(line)
		}
		out = append(out, line)
	}
	return out
}

func hostCell(r vm.HostRow, key string) string {
	switch key {
	case "name":
		if r.Host.Short != "" {
			return r.Host.Short
		}
		return r.Host.Name
	case "ip":
		return r.Host.PrivateIP
	case "state":
		s := stateOf(r.State)
		return Glyph(s) + " " + string(s)
	case "cpu":
		return Percent(r.CPU)
	case "mem":
		return Percent(r.Mem)
	case "disk":
		return Percent(maxPtr(r.DiskRoot, r.DiskData))
	case "service":
		if r.Service == "" {
			return "-"
		}
		return r.Service
	case "tag":
		if r.Host.Role.IsScalarDL() {
			return r.TagText()
		}
		return ""
	}
	return ""
}

func stateOf(s vm.State) vm.State {
	if s == "" {
		return vm.StateUnknown
	}
	return s
}

func maxPtr(a, b *float64) *float64 {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case *b > *a:
		return b
	}
	return a
}

// Glyph returns the one-cell symbol of a state; with the word beside it the
// state reads the same without colour.
func Glyph(s vm.State) string {
	switch s {
	case vm.StateHealthy:
		return "●"
	case vm.StateDegraded:
		return "◐"
	case vm.StateDown:
		return "✗"
	}
	return "?"
}

// Percent formats a percentage as "42%", "-" when unmeasured, or "?" when
// the figure is not a number (NaN, ±Inf): never an overflowed integer.
func Percent(p *float64) string {
	if p == nil {
		return "-"
	}
	v := *p
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?"
	}
	v = min(max(v, 0), 999)
	return strconv.Itoa(int(v+0.5)) + "%"
}

// Float formats an optional figure with one decimal, "-" when unmeasured, or
// "?" when it is not a number.
func Float(p *float64) string {
	if p == nil {
		return "-"
	}
	if math.IsNaN(*p) || math.IsInf(*p, 0) {
		return "?"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64)
}

// Fit pads s with spaces or truncates it with "…" to exactly w cells.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == 0x1b {
			n = ansi.StringWidth(s)
			break
		}
	}
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	if n == w {
		return s
	}
	return s + strings.Repeat(" ", w-n)
}

// Age formats how long ago something happened: "5s", "3m", "2h", "4d".
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// Elapsed formats a duration as m:ss (or h:mm:ss).
func Elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// GroupTitle renders a role heading with its host count and problems.
func GroupTitle(role string, rows []vm.HostRow, st *styles.Styles) string {
	bad := 0
	for _, r := range rows {
		if r.State != vm.StateHealthy {
			bad++
		}
	}
	t := st.Group.Render(fmt.Sprintf("%s (%d)", role, len(rows)))
	if bad > 0 {
		t += " " + st.Warning.Render(fmt.Sprintf("%d not healthy", bad))
	}
	return t
}

// Cluster renders the cluster summary as one line per ClusterLine.
func Cluster(lines []vm.ClusterLine, st *styles.Styles) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		s := stateOf(l.State)
		out = append(out, fmt.Sprintf("%s %s %s", st.State(string(s)).Render(Glyph(s)), st.Bold.Render(l.Name), l.Summary))
	}
	return out
}

// ClusterInline renders the cluster summary on one line, joined by " · ".
func ClusterInline(lines []vm.ClusterLine, st *styles.Styles) string {
	return strings.Join(Cluster(lines, st), st.Muted.Render("  ·  "))
}

// Alerts renders at most limit firing alerts (limit <= 0: all), each cut to
// width, with a "+N more" line when some were left out.
func Alerts(alerts []vm.AlertView, st *styles.Styles, now time.Time, width, limit int) []string {
	var out []string
	for i, a := range alerts {
		if limit > 0 && i == limit-1 && len(alerts) > limit {
			out = append(out, st.Muted.Render(fmt.Sprintf("  +%d more alerts (see host detail)", len(alerts)-i)))
			break
		}
		sev := a.Severity
		if sev == "" {
			sev = "alert"
		}
		style := st.Warning
		if sev == "critical" {
			style = st.Down
		}
		where := a.Instance
		if where == "" {
			where = "cluster"
		}
		line := fmt.Sprintf("%s %s %s", "!", a.Name, "["+sev+"]")
		rest := " " + shortHost(where)
		if !a.Since.IsZero() {
			rest += " for " + Age(now.Sub(a.Since))
		}
		if a.Summary != "" {
			rest += " — " + a.Summary
		}
		plain := Fit("  "+line+rest, width)
		out = append(out, style.Render(plain))
	}
	return out
}

// shortHost drops the domain from an FQDN for compact display.
func shortHost(h string) string {
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h[:i]
	}
	return h
}

// ShortHost returns the first DNS label of h ("cassandra-1" for its FQDN).
func ShortHost(h string) string { return shortHost(h) }

// Bar renders a progress bar of width cells for pct (0-100) with the figure after it.
func Bar(pct float64, width int, st *styles.Styles) string {
	if pct < 0 {
		pct = 0
	}
	if pct > 100 {
		pct = 100
	}
	label := fmt.Sprintf(" %3.0f%%", pct)
	w := width - len(label)
	if w < 1 {
		return label
	}
	full := int(float64(w)*pct/100 + 0.5)
	return st.BarFull.Render(strings.Repeat("█", full)) + st.BarEmpty.Render(strings.Repeat("░", w-full)) + label
}

// RunState is a host's state in a running workflow.
type RunState int

// The run states of a host.
const (
	RunWaiting RunState = iota
	RunRunning
	RunDone
	RunFailed
)

// Glyph returns the cstar-style symbol of a run state.
func (s RunState) Glyph() string {
	switch s {
	case RunRunning:
		return "▶"
	case RunDone:
		return "✓"
	case RunFailed:
		return "✗"
	}
	return "·"
}

// String names the run state.
func (s RunState) String() string {
	switch s {
	case RunRunning:
		return "running"
	case RunDone:
		return "done"
	case RunFailed:
		return "failed"
	}
	return "waiting"
}

// HostMap renders one glyph per host (cstar's progress map), the selected
// host bracketed, wrapping onto more lines to stay within width.
func HostMap(hosts []string, states map[string]RunState, selected string, width int, st *styles.Styles) string {
	var b strings.Builder
	used := 0
	for _, h := range hosts {
		s := states[h]
		g := s.Glyph()
		switch s {
		case RunDone:
			g = st.Healthy.Render(g)
		case RunFailed:
			g = st.Down.Render(g)
		case RunRunning:
			g = st.Title.Render(g)
		}
		name := shortHost(h)
		cell := " " + g + " " + name + " "
		if h == selected {
			cell = "[" + g + " " + st.Bold.Render(name) + "]"
		}
		w := ansi.StringWidth(cell) + 1
		if used > 0 && width > 0 && used+w > width {
			b.WriteByte('\n')
			used = 0
		} else if used > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(cell)
		used += w
	}
	return b.String()
}

// Table renders a simple table: a header and rows, columns sized to widths
// (the last column takes what is left of width), the cursor row marked.
func Table(header []string, rows [][]string, widths []int, width, cursor int, st *styles.Styles) []string {
	ws := append([]int(nil), widths...)
	used := marker
	for _, w := range ws[:len(ws)-1] {
		used += w + 1
	}
	ws[len(ws)-1] = max(width-used, 8)
	line := func(cells []string) string {
		var b strings.Builder
		for i, w := range ws {
			if i > 0 {
				b.WriteByte(' ')
			}
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(Fit(c, w))
		}
		return b.String()
	}
	out := make([]string, 0, len(rows)+1)
	out = append(out, st.TableHead.Render("  "+line(header)))
	for i, r := range rows {
		if i == cursor {
			out = append(out, st.Selected.Render("> "+line(r)))
		} else {
			out = append(out, "  "+line(r))
		}
	}
	return out
}

// RunRows turns workflow runs into table cells: id, kind, state, started, took, hosts, detail.
func RunRows(runs []vm.RunView, now time.Time) [][]string {
	out := make([][]string, 0, len(runs))
	for _, r := range runs {
		took := "-"
		if !r.Started.IsZero() {
			end := r.Ended
			if end.IsZero() {
				end = now
			}
			took = Elapsed(end.Sub(r.Started))
		}
		detail := r.Title
		if r.Detail != "" {
			detail += " — " + r.Detail
		}
		if r.Warning != "" {
			detail += " · ! " + r.Warning
		}
		out = append(out, []string{r.ID, string(r.Kind), r.State, r.Started.UTC().Format("2006-01-02 15:04"), took, strconv.Itoa(r.Hosts), detail})
	}
	return out
}

// AuditRows turns audit entries into table cells: time, user, host, action, result, command.
func AuditRows(entries []vm.AuditEntry) [][]string {
	out := make([][]string, 0, len(entries))
	for _, e := range entries {
		host := shortHost(e.Host)
		if host == "" {
			host = "-"
		}
		out = append(out, []string{e.At.UTC().Format("2006-01-02 15:04:05"), e.User, host, e.Action, e.Result, e.Command})
	}
	return out
}

// sparkBlocks are the eight heights of a sparkline cell.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values (scaled between lo and hi) as one line of at most
// width cells, keeping the newest values when there are more than fit.
func Sparkline(values []float64, lo, hi float64, width int) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	if hi <= lo {
		hi = lo + 1
	}
	out := make([]rune, len(values))
	for i, v := range values {
		if math.IsNaN(v) {
			out[i] = ' '
			continue
		}
		f := (v - lo) / (hi - lo)
		f = min(max(f, 0), 1)
		out[i] = sparkBlocks[int(f*float64(len(sparkBlocks)-1)+0.5)]
	}
	return string(out)
}
