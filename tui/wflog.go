package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// maxLogLines caps each host's kept output.
const maxLogLines = 5000

// logModel is the run view's output: each host's lines kept apart (the
// engine's notices under ""), the host whose lines are shown, and the
// viewport they scroll in.
type logModel struct {
	common common.Common
	hosts  []string
	sel    int
	logs   map[string][]string
	vp     viewport.Model
	width  int
}

func newLogModel(c common.Common) *logModel {
	return &logModel{common: c, vp: viewport.New(80, 10)}
}

// follow starts empty logs for a run on hosts. The run's own log ("":
// the engine's and the workflow's notices, the output of steps that run on
// no host) comes first and is shown until the first host's step starts.
func (l *logModel) follow(hosts []string) {
	l.hosts, l.logs, l.sel = append([]string{""}, hosts...), map[string][]string{}, 0
	l.vp.SetContent("")
}

// apply keeps an event's output line and follows the step's host.
func (l *logModel) apply(ev vm.WorkflowEvent) {
	switch e := ev.(type) {
	case *wf.StepStarted:
		// A step on no host (a Cassy call, the silence's expiry) writes
		// to the run's log but does not switch to it: the last host's
		// output stays in view, and the note line shows the last notice.
		if e.Host != "" {
			l.selectHost(e.Host)
		}
	case *wf.OutputLine:
		l.addLine(e.Host, e.Line)
	case *wf.Notice:
		// Notices are the run's (preflight results, the lock, a
		// reachability verdict, the next commands to run): kept in its
		// log, which the CLI prints in full.
		l.addLine("", "note: "+e.Message)
	}
}

// addLine keeps one output line of host ("" for the engine's notices).
func (l *logModel) addLine(host, line string) {
	lines := append(l.logs[host], line)
	if len(lines) > maxLogLines {
		lines = lines[len(lines)-maxLogLines:]
	}
	l.logs[host] = lines
	if host == l.selected() {
		bottom := l.vp.AtBottom()
		l.vp.SetContent(l.content(host))
		if bottom {
			l.vp.GotoBottom()
		}
	}
}

// selected is the host whose output is shown ("" before a run).
func (l *logModel) selected() string {
	if l.sel < 0 || l.sel >= len(l.hosts) {
		return ""
	}
	return l.hosts[l.sel]
}

func (l *logModel) selectHost(h string) {
	for i, x := range l.hosts {
		if x == h {
			if i != l.sel {
				l.sel = i
				l.vp.SetContent(l.content(h))
				l.vp.GotoBottom()
			}
			return
		}
	}
}

// content is host's kept lines for the viewport. The run's notices are
// wrapped to the width: a reachability verdict or the commands to run next
// are read whole, not cut at the edge.
func (l *logModel) content(host string) string {
	lines := l.logs[host]
	if host != "" || l.width <= 0 {
		return strings.Join(lines, "\n")
	}
	var wrapped []string
	for _, line := range lines {
		wrapped = append(wrapped, wrapText(line, l.width)...)
	}
	return strings.Join(wrapped, "\n")
}

// SetSize gives the log its width and height, its rule included; it
// stays at the bottom if it was.
func (l *logModel) SetSize(w, h int) {
	bottom := l.vp.AtBottom()
	rewrap := w != l.width && l.selected() == "" // the run's notices wrap to the width
	l.width = w
	l.vp.Width = w
	if rewrap {
		l.vp.SetContent(l.content(""))
	}
	l.vp.Height = max(h-1, 3)
	if bottom {
		l.vp.GotoBottom()
	}
}

// Update keeps the run's output (runEventMsg, of this run: the
// coordinator checked its seq) and handles the keys that choose the host
// and scroll its output; it reports whether msg was for it.
func (l *logModel) Update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case runEventMsg:
		l.apply(msg.ev)
		return true
	case tea.KeyMsg:
		return l.key(msg)
	}
	return false
}

func (l *logModel) key(k tea.KeyMsg) bool {
	km := l.common.Keys
	switch {
	case km.Matches(k, keymap.NextHost):
		if len(l.hosts) > 0 {
			l.selectHost(l.hosts[(l.sel+1)%len(l.hosts)])
		}
	case km.Matches(k, keymap.PrevHost):
		if len(l.hosts) > 0 {
			l.selectHost(l.hosts[(l.sel+len(l.hosts)-1)%len(l.hosts)])
		}
	case km.Matches(k, keymap.Up):
		l.vp.LineUp(1)
	case km.Matches(k, keymap.Down):
		l.vp.LineDown(1)
	case km.Matches(k, keymap.PageUp):
		l.vp.PageUp()
	case km.Matches(k, keymap.PageDown):
		l.vp.PageDown()
	case km.Matches(k, keymap.Bottom):
		l.vp.GotoBottom()
	default:
		return false
	}
	return true
}

// View is the selected host's rule and output.
func (l *logModel) View() string {
	sel := l.selected()
	name := "output of " + render.ShortHost(sel)
	if sel == "" {
		name = "the run's notices and local steps"
	}
	title := fmt.Sprintf("── %s (%d lines) ", name, len(l.logs[sel]))
	return l.common.Styles.Rule.Render(title+strings.Repeat("─", max(l.width-len([]rune(title)), 0))) + "\n" + l.vp.View()
}
