package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"scalar-tui/tui/common"
	"scalar-tui/tui/components/input"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// logStart is one choice of where a log view starts (`t` cycles them).
type logStart struct {
	label string
	since time.Duration
}

// logStarts are the --since-like choices: the last lines, or a time window.
var logStarts = []logStart{
	{"last 200 lines", 0},
	{"last 10m", 10 * time.Minute},
	{"last 1h", time.Hour},
	{"last 24h", 24 * time.Hour},
}

// Messages of the log view; they arrive wrapped in common.Envelope. seq
// ties them to the stream they belong to: a stream that was replaced or
// closed is dropped.
type (
	logsOpenedMsg struct {
		seq    int
		stream vm.LogStream
		err    error
	}
	logsUpdateMsg struct {
		seq  int
		upd  vm.LogUpdate
		snap vm.LogSnapshot
	}
	logsFilteredMsg struct {
		seq  int
		expr string
		snap vm.LogSnapshot
		err  error
	}
	logsClosedMsg struct{}
)

// logsView follows one host's log: the backend keeps a bounded buffer and
// says when something new arrived; each update brings a snapshot of the
// lines that match the filter (one read of the channel per message, re-armed
// by Update: glow's and bubbletea's examples/realtime way).
//
// Follow keeps the view on the newest line. Off (f, or scrolling up), the
// view stays where it is while lines keep arriving into the buffer, counted
// in the header, until f or G follows again.
type logsView struct {
	common  common.Common
	host    string
	seq     int
	stream  vm.LogStream
	desc    string
	opening bool
	done    bool
	err     error
	start   int // index into logStarts

	follow bool
	latest vm.LogSnapshot // newest snapshot
	shown  vm.LogSnapshot // what the view shows (latest while following)
	unseen int            // lines arrived while not following
	offset int            // lines scrolled up from the bottom

	notice   string
	noticeAt time.Time

	filter    input.Model
	editing   bool
	filterErr error
	width     int
	height    int
}

func newLogsView(c common.Common) *logsView {
	f := input.New("/")
	f.Placeholder = "Go regexp, e.g. ERROR|WARN (new lines are filtered too)"
	return &logsView{common: c, filter: f}
}

// Open starts following host's log from the first start choice, closing
// any stream still open.
func (m *logsView) Open(host string) tea.Cmd {
	stop := m.Stop()
	m.host, m.start, m.desc = host, 0, ""
	m.filter.SetValue("")
	m.filterErr, m.editing = nil, false
	return tea.Batch(stop, m.reopen())
}

// reopen (re)starts the stream with the current start choice and filter.
func (m *logsView) reopen() tea.Cmd {
	stop := m.Stop()
	m.seq++
	m.opening, m.done, m.err = true, false, nil
	m.follow, m.unseen, m.offset = true, 0, 0
	m.latest, m.shown = vm.LogSnapshot{}, vm.LogSnapshot{}
	m.notice, m.noticeAt = "", time.Time{}
	ls, ok := m.common.Backend.(vm.LogStreamer)
	if !ok {
		m.opening, m.done, m.err = false, true, fmt.Errorf("logs: %w", vm.ErrNotSupported)
		return stop
	}
	c, seq, host, expr := m.common, m.seq, m.host, m.filter.Value()
	opts := vm.LogOptions{Since: logStarts[m.start].since, Follow: true}
	return tea.Batch(stop, common.Wrap(common.LogsID, func() tea.Msg {
		s, err := ls.OpenLogs(c.Ctx, host, opts)
		if err == nil && expr != "" {
			_ = s.SetFilter(expr) // a bad expression was refused when typed
		}
		return logsOpenedMsg{seq: seq, stream: s, err: err}
	}))
}

// Stop closes the stream (the follower ends, its SSH session with it);
// results still on their way are dropped.
func (m *logsView) Stop() tea.Cmd {
	m.seq++
	s := m.stream
	m.stream = nil
	if s == nil {
		return nil
	}
	return closeStream(s)
}

func closeStream(s vm.LogStream) tea.Cmd {
	return func() tea.Msg {
		s.Close()
		return common.Envelope{To: common.LogsID, Msg: logsClosedMsg{}}
	}
}

// waitLogs reads one update of s, with the snapshot it leads to.
func waitLogs(c common.Common, seq int, s vm.LogStream) tea.Cmd {
	return common.Wrap(common.LogsID, func() tea.Msg {
		u := s.Next(c.Ctx)
		return logsUpdateMsg{seq: seq, upd: u, snap: s.Snapshot()}
	})
}

// Init does nothing; Open starts the stream.
func (m *logsView) Init() tea.Cmd { return nil }

// SetSize sets the body area.
func (m *logsView) SetSize(w, h int) {
	m.width, m.height = w, h
	m.filter.SetSize(w, 1)
}

// Capturing reports whether the view takes all keys (filter editing).
func (m *logsView) Capturing() bool { return m.editing }

// Update handles the stream's messages and keys.
func (m *logsView) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case logsOpenedMsg:
		if msg.seq != m.seq {
			if msg.stream != nil {
				return m, closeStream(msg.stream)
			}
			return m, nil
		}
		m.opening = false
		if msg.err != nil {
			m.done, m.err = true, msg.err
			return m, nil
		}
		m.stream, m.desc = msg.stream, msg.stream.Desc()
		return m, waitLogs(m.common, m.seq, m.stream)
	case logsUpdateMsg:
		if msg.seq != m.seq || m.stream == nil {
			return m, nil
		}
		m.apply(msg.upd, msg.snap)
		if msg.upd.Done {
			return m, nil
		}
		return m, waitLogs(m.common, m.seq, m.stream)
	case logsFilteredMsg:
		if msg.seq != m.seq || msg.expr != m.filter.Value() {
			return m, nil
		}
		m.filterErr = msg.err
		if msg.err == nil {
			m.latest, m.shown, m.offset = msg.snap, msg.snap, 0
		}
	case tea.KeyMsg:
		return m, m.handleKey(msg)
	}
	return m, nil
}

// apply takes in one update: the newest lines, notices and the end.
func (m *logsView) apply(u vm.LogUpdate, snap vm.LogSnapshot) {
	m.latest = snap
	if m.follow {
		m.shown = snap
	} else {
		m.unseen += u.New
	}
	if n := len(u.Notices); n > 0 {
		m.notice, m.noticeAt = u.Notices[n-1], m.common.Now()
	}
	if u.Done {
		m.done, m.err = true, u.Err
	}
}

func (m *logsView) setFilter() tea.Cmd {
	s := m.stream
	if s == nil {
		return nil
	}
	seq, expr := m.seq, m.filter.Value()
	return common.Wrap(common.LogsID, func() tea.Msg {
		err := s.SetFilter(expr)
		return logsFilteredMsg{seq: seq, expr: expr, snap: s.Snapshot(), err: err}
	})
}

// pageHeight is how many log lines fit.
func (m *logsView) pageHeight() int {
	h := m.height - 3 // title, status line, position line
	if m.editing || m.filter.Value() != "" {
		h--
	}
	return max(h, 1)
}

func (m *logsView) setFollow(on bool) {
	m.follow = on
	if on {
		m.shown, m.unseen, m.offset = m.latest, 0, 0
	}
}

func (m *logsView) scroll(n int) {
	if n > 0 && m.follow {
		m.setFollow(false) // reading back: stop the view from moving
	}
	maxOff := max(len(m.shown.Lines)-m.pageHeight(), 0)
	m.offset = min(max(m.offset+n, 0), maxOff)
}

func (m *logsView) handleKey(k tea.KeyMsg) tea.Cmd {
	km := m.common.Keys
	if m.editing {
		switch k.Type {
		case tea.KeyEnter:
			m.editing = false
			return nil
		case tea.KeyEsc:
			m.editing = false
			m.filter.SetValue("")
		default:
			m.filter, _ = m.filter.Update(k)
		}
		return m.setFilter()
	}
	page := max(m.pageHeight()-1, 1)
	switch {
	case km.Matches(k, keymap.Back):
		if m.filter.Value() != "" {
			m.filter.SetValue("")
			m.filterErr = nil
			return m.setFilter()
		}
		return func() tea.Msg { return common.BackMsg{} }
	case km.Matches(k, keymap.LogFollow):
		m.setFollow(!m.follow)
	case km.Matches(k, keymap.LogFilter):
		m.editing = true
	case km.Matches(k, keymap.LogSince):
		m.start = (m.start + 1) % len(logStarts)
		return m.reopen()
	case km.Matches(k, keymap.Up):
		m.scroll(1)
	case km.Matches(k, keymap.Down):
		m.scroll(-1)
	case km.Matches(k, keymap.PageUp):
		m.scroll(page)
	case km.Matches(k, keymap.PageDown):
		m.scroll(-page)
	case km.Matches(k, keymap.Top):
		m.scroll(len(m.shown.Lines))
	case km.Matches(k, keymap.Bottom):
		m.setFollow(true)
	}
	return nil
}

// cleanLine makes a log line safe to draw: no terminal escapes, no
// control characters, tabs as spaces.
func cleanLine(s string) string {
	s = ansi.Strip(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return '?'
		}
		return r
	}, s)
}

// View renders the log.
func (m *logsView) View() string {
	st := m.common.Styles
	km := m.common.Keys
	desc := m.desc
	if desc == "" {
		desc = "opening…"
	}
	head := st.Title.Render("Logs "+render.ShortHost(m.host)) + st.Muted.Render(" · "+desc+" · start: "+logStarts[m.start].label+" · ")
	switch {
	case m.done && m.err != nil:
		head += st.Error.Render("stopped")
	case m.done:
		head += st.Muted.Render("ended")
	case m.follow:
		head += st.Healthy.Render("● following")
	default:
		head += st.Warning.Render(fmt.Sprintf("‖ paused · %d new lines (%s follows)", m.unseen, km.Key(keymap.LogFollow)))
	}
	out := []string{render.Fit(head, m.width)}
	// The status line: an error, else the last notice (a reconnect), else
	// what the buffer holds.
	kept := fmt.Sprintf("%d lines kept", m.shown.Kept)
	if m.shown.Dropped > 0 {
		kept += fmt.Sprintf(" (%d older dropped: the view keeps the newest only)", m.shown.Dropped)
	}
	switch {
	case m.err != nil:
		out = append(out, st.Error.Render(render.Fit(m.err.Error(), m.width)))
	case m.notice != "":
		out = append(out, st.Warning.Render(render.Fit(m.noticeAt.UTC().Format("15:04:05")+" "+m.notice, m.width)))
	case m.opening:
		out = append(out, st.Muted.Render("connecting through the bastion…"))
	default:
		out = append(out, st.Muted.Render(render.Fit(kept, m.width)))
	}
	lines := m.shown.Lines
	h := m.pageHeight()
	off := min(m.offset, max(len(lines)-h, 0))
	end := len(lines) - off
	startAt := max(end-h, 0)
	for _, l := range lines[startAt:end] {
		t := cleanLine(l.Text)
		if l.Cut {
			// The mark stays visible however wide the line is.
			const mark = " …[line cut]"
			t = strings.TrimRight(render.Fit(t, max(m.width-len([]rune(mark)), 1)), " ") + mark
		}
		out = append(out, render.Fit(t, m.width))
	}
	if len(lines) == 0 && !m.opening {
		if m.filter.Value() != "" {
			out = append(out, st.Muted.Render("  no line matches the filter yet (new lines are checked as they arrive)"))
		} else if !m.done {
			out = append(out, st.Muted.Render("  waiting for lines…"))
		}
	}
	for i := len(out); i < h+2; i++ {
		out = append(out, "")
	}
	pos := fmt.Sprintf("lines %d-%d of %d", min(startAt+1, end), end, len(lines))
	if startAt > 0 {
		pos += fmt.Sprintf(" · ↑ %d more above", startAt)
	}
	if off > 0 {
		pos += fmt.Sprintf(" · ↓ %d below", off)
	}
	if m.notice != "" && m.err == nil {
		pos += " · " + kept
	}
	out = append(out, st.Muted.Render(render.Fit(pos, m.width)))
	if m.editing {
		out = append(out, m.filter.View())
	} else if v := m.filter.Value(); v != "" {
		line := fmt.Sprintf("filter: %s (%d of %d lines; %s edit, %s clear)", v, len(m.shown.Lines), m.shown.Kept, km.Key(keymap.LogFilter), km.Key(keymap.Back))
		out = append(out, st.Muted.Render(render.Fit(line, m.width)))
	}
	if m.editing && m.filterErr != nil {
		out[len(out)-2] = st.Error.Render(render.Fit(m.filterErr.Error()+" (the previous filter stays)", m.width))
	}
	return strings.Join(out, "\n")
}

// ShortHelp returns the log view's footer keys.
func (m *logsView) ShortHelp() []key.Binding {
	if m.editing {
		return m.filter.ShortHelp()
	}
	km := m.common.Keys
	return []key.Binding{km.Binding(keymap.LogFollow), km.Binding(keymap.LogFilter), km.Binding(keymap.LogSince), km.Binding(keymap.Up), km.Binding(keymap.Back)}
}

// FullHelp returns the log view's keys.
func (m *logsView) FullHelp() [][]key.Binding {
	return m.common.Keys.Full(keymap.ScopeGlobal, keymap.ScopeLogs)
}
