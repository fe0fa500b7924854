package tui

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"scalar-tui/tui/common"
	"scalar-tui/tui/vm"
)

const restartCassandra vm.WorkflowKind = "restart-cassandra"

// withRunbookAlerts gives fb a firing CassandraProcessStopped on cassandra-3
// (with the restart runbook), a cluster-wide alert without a workflow, and
// the restart plan.
func withRunbookAlerts(fb *fakeBackend) *fakeBackend {
	c3 := "cassandra-3." + domain
	stopped := vm.AlertView{Name: "CassandraProcessStopped", Severity: "warning", Instance: c3,
		Summary: "Cassandra process stopped on " + c3 + ":9100", Since: testNow.Add(-3 * time.Minute),
		Runbook: &vm.Runbook{Title: "Restart Cassandra on " + c3, Workflow: restartCassandra, Host: c3,
			Options: map[string]string{"host": c3}, Doc: "docs/CassandraProcessStopped.md",
			Commands: []string{"ssh -F ssh.cfg " + c3, "sudo systemctl start cassandra", "nodetool status"}}}
	cluster := vm.AlertView{Name: "EnvoyClusterDown", Severity: "critical", Summary: "Envoy cluster down", Since: testNow.Add(-90 * time.Second),
		Runbook: &vm.Runbook{Title: "Start the Envoy containers on every node", Doc: "docs/EnvoyClusterDown.md",
			Commands: []string{"ssh -F ssh.cfg envoy-N.<domain>   # each Envoy node", "cd provision; docker-compose up -d", "docker ps"}}}
	for i := range fb.health.Hosts {
		if fb.health.Hosts[i].Host.Name == c3 {
			fb.health.Hosts[i].Alerts = []vm.AlertView{stopped}
			fb.health.Hosts[i].State, fb.health.Hosts[i].Service, fb.health.Hosts[i].ServiceState = vm.StateDegraded, "cassandra inactive", vm.StateDegraded
		}
	}
	fb.health.Alerts = append([]vm.AlertView{cluster, stopped}, fb.health.Alerts...)
	fb.plans[restartCassandra] = vm.PlanView{ID: "restart-cassandra-20261124-1200", Kind: restartCassandra, Title: "Restart Cassandra on cassandra-3",
		Checks: []string{"no other Cassandra node is down"},
		Steps: []vm.StepView{
			{Title: "start cassandra", Host: c3, Commands: []string{"sudo systemctl start cassandra"}, Gate: "cassandra-3 UN seen from cassandra-1"},
			{Title: "wait for the alert to clear", Commands: []string{"ALERTS{alertname=\"CassandraProcessStopped\",instance=~\"cassandra-3.*\"}"}},
		}}
	return fb
}

// openDetail selects host on the overview and opens its detail.
func openDetail(t *testing.T, m *Model, short string) {
	t.Helper()
	for i := 0; i < 20 && m.overview.selected != short+"."+domain; i++ {
		press(t, m, "down")
	}
	press(t, m, "enter")
	if m.Screen() != common.ScreenDetail || m.detail.host != short+"."+domain {
		t.Fatalf("not on %s's detail: screen %v host %s", short, m.Screen(), m.detail.host)
	}
}

// One key on the host detail asks for the runbook workflow's plan for that
// host, with the runbook's options; the workflow screen shows it.
func TestRunbookKeyPlansForHost(t *testing.T) {
	fb := withRunbookAlerts(newFake())
	m := newTest(t, fb, false)
	openDetail(t, m, "cassandra-3")
	v := m.View()
	for _, want := range []string{"CassandraProcessStopped [warning] cassandra-3 for 3m", "Cassandra process stopped on",
		"a → plan: Restart Cassandra on cassandra-3." + domain + " (restart-cassandra)", "$ sudo systemctl start cassandra", "runbook docs/CassandraProcessStopped.md"} {
		if !strings.Contains(v, want) {
			t.Errorf("detail lacks %q:\n%s", want, v)
		}
	}
	press(t, m, "a")
	if m.Screen() != common.ScreenWorkflow {
		t.Fatalf("screen = %v, want the workflow screen", m.Screen())
	}
	if len(fb.planned) != 1 || len(fb.planned[0].Hosts) != 1 || fb.planned[0].Hosts[0] != "cassandra-3."+domain || fb.planned[0].Options["host"] != "cassandra-3."+domain {
		t.Fatalf("planned = %+v", fb.planned)
	}
	if v := m.View(); !strings.Contains(v, "Plan: Restart Cassandra on cassandra-3") || !strings.Contains(v, "enter run plan") {
		t.Errorf("plan not shown with its run key:\n%s", v)
	}
}

// Read-only: the runbook's plan is shown, never run.
func TestRunbookReadonlyShowsPlanNeverRuns(t *testing.T) {
	fb := withRunbookAlerts(newFake())
	m := newTest(t, fb, true)
	openDetail(t, m, "cassandra-3")
	if v := m.View(); !strings.Contains(v, "read-only: the plan is shown, never run") {
		t.Errorf("detail does not say the plan will not run:\n%s", v)
	}
	press(t, m, "a")
	if m.Screen() != common.ScreenWorkflow || len(fb.planned) != 1 {
		t.Fatalf("read-only: screen %v, planned %+v", m.Screen(), fb.planned)
	}
	v := m.View()
	if !strings.Contains(v, "Plan: Restart Cassandra on cassandra-3") || strings.Contains(v, "run plan") {
		t.Errorf("read-only plan view:\n%s", v)
	}
	press(t, m, "enter", "y")
	if got := fb.startedPlans(); len(got) != 0 {
		t.Fatalf("read-only session started %+v", got)
	}
}

// An alert with no workflow says where its runbook is and asks no plan.
func TestRunbookWithoutWorkflow(t *testing.T) {
	fb := withRunbookAlerts(newFake())
	m := newTest(t, fb, false)
	press(t, m, ":alerts", "enter")
	if m.Screen() != common.ScreenAlerts {
		t.Fatalf("screen = %v", m.Screen())
	}
	v := m.View()
	for _, want := range []string{"Firing alerts", "4 firing · 1 with a runbook action", "EnvoyClusterDown [critical] cluster for 1m",
		"no workflow: by hand, as docs/EnvoyClusterDown.md says", "$ cd provision; docker-compose up -d"} {
		if !strings.Contains(v, want) {
			t.Errorf("alerts lack %q:\n%s", want, v)
		}
	}
	press(t, m, "a")
	if len(fb.planned) != 0 || m.Screen() != common.ScreenAlerts {
		t.Fatalf("a on a manual runbook: planned %+v, screen %v", fb.planned, m.Screen())
	}
	if !strings.Contains(m.status, "follow docs/EnvoyClusterDown.md") {
		t.Errorf("status = %q", m.status)
	}
	// The next alert is the host's: a plans it, enter opens the host.
	press(t, m, "down", "enter")
	if m.Screen() != common.ScreenDetail || m.detail.host != "cassandra-3."+domain {
		t.Fatalf("enter on the host alert: screen %v host %s", m.Screen(), m.detail.host)
	}
	press(t, m, "esc", "a")
	if len(fb.planned) != 1 || fb.planned[0].Hosts[0] != "cassandra-3."+domain {
		t.Fatalf("planned = %+v", fb.planned)
	}
	press(t, m, "esc", "esc")
	if m.Screen() != common.ScreenOverview {
		t.Errorf("back twice: screen %v", m.Screen())
	}
}

// A shortcut key reaches the alerts list from anywhere but a text input.
func TestAlertsKey(t *testing.T) {
	m := newTest(t, withRunbookAlerts(newFake()), false)
	press(t, m, "A")
	if m.Screen() != common.ScreenAlerts {
		t.Fatalf("A: screen %v", m.Screen())
	}
}

// fakeStream is a log stream of fixed lines; updates are queued by the test.
type fakeStream struct {
	mu      sync.Mutex
	lines   []vm.LogLine
	dropped int
	filter  *regexp.Regexp
	filters []string
	updates chan vm.LogUpdate
	closed  chan struct{}
	once    sync.Once
}

func (s *fakeStream) Desc() string { return "/var/log/cassandra/system.log" }

func (s *fakeStream) Next(ctx context.Context) vm.LogUpdate {
	select {
	case u := <-s.updates:
		return u
	case <-s.closed:
		return vm.LogUpdate{Done: true}
	case <-ctx.Done():
		return vm.LogUpdate{Done: true, Err: ctx.Err()}
	}
}

func (s *fakeStream) Snapshot() vm.LogSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []vm.LogLine
	for _, l := range s.lines {
		if s.filter == nil || s.filter.MatchString(l.Text) {
			out = append(out, l)
		}
	}
	return vm.LogSnapshot{Lines: out, Kept: len(s.lines), Dropped: s.dropped}
}

func (s *fakeStream) SetFilter(expr string) error {
	var re *regexp.Regexp
	if expr != "" {
		var err error
		if re, err = regexp.Compile(expr); err != nil {
			return fmt.Errorf("filter %q: %w", expr, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filter = re
	s.filters = append(s.filters, expr)
	return nil
}

func (s *fakeStream) Close() { s.once.Do(func() { close(s.closed) }) }

func (s *fakeStream) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func (s *fakeStream) add(text ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range text {
		s.lines = append(s.lines, vm.LogLine{Text: t})
	}
}

// logFake is a fakeBackend that can open logs (vm.LogStreamer).
type logFake struct {
	*fakeBackend
	lmu     sync.Mutex
	opened  []string
	opts    []vm.LogOptions
	streams []*fakeStream
	first   []vm.LogUpdate // queued on every new stream
}

func (f *logFake) OpenLogs(_ context.Context, host string, o vm.LogOptions) (vm.LogStream, error) {
	f.lmu.Lock()
	defer f.lmu.Unlock()
	f.opened, f.opts = append(f.opened, host), append(f.opts, o)
	s := &fakeStream{updates: make(chan vm.LogUpdate, 16), closed: make(chan struct{}), dropped: 1200}
	s.add(systemLog()...)
	s.lines = append(s.lines, vm.LogLine{Text: "INFO  [main] 2026-11-24 11:59:58,001 " + strings.Repeat("x", 300), Cut: true})
	for _, u := range f.first {
		s.updates <- u
	}
	f.streams = append(f.streams, s)
	return s, nil
}

func (f *logFake) stream(i int) *fakeStream {
	f.lmu.Lock()
	defer f.lmu.Unlock()
	return f.streams[i]
}

// systemLog is Cassandra's system.log as logback writes it.
func systemLog() []string {
	var out []string
	for i := 0; i < 40; i++ {
		at := testNow.Add(time.Duration(i-40) * time.Second).Format("2006-01-02 15:04:05")
		switch {
		case i%10 == 3:
			out = append(out, fmt.Sprintf("WARN  [GossipTasks:1] %s,%03d Gossiper.java:1049 - Gossip stage has 3 pending tasks; skipping status check (no nodes will be marked down)", at, i))
		case i == 37:
			out = append(out, fmt.Sprintf("ERROR [Native-Transport-Requests-1] %s,%03d \x1b[31mErrorMessage.java:384\x1b[0m - Unexpected exception during request", at, i))
		default:
			out = append(out, fmt.Sprintf("INFO  [CompactionExecutor:%d] %s,%03d CompactionTask.java:241 - Compacted (%d) 4 sstables to [/data/cassandra/data/scalar/asset-1/nb-%d-big,] to level=0.", i%4, at, i, i, i))
		}
	}
	return out
}

// update delivers an update of the open stream as the stream's reader would.
func update(t *testing.T, m *Model, u vm.LogUpdate, s *fakeStream) {
	t.Helper()
	_, cmd := m.Update(common.Envelope{To: common.LogsID, Msg: logsUpdateMsg{seq: m.logs.seq, upd: u, snap: s.Snapshot()}})
	_ = cmd // re-arms the reader; the test delivers updates itself
}

// l opens the selected host's log; new lines show while following; up
// freezes the view (counting what arrives), f follows again; / filters
// the kept lines and new ones; esc closes the view and stops the stream.
func TestLogsKeys(t *testing.T) {
	lf := &logFake{fakeBackend: newFake()}
	m, err := New(Options{Backend: lf, Clock: testClock, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(teaSize(120, 35))
	settle(t, m, m.Init())
	press(t, m, "down") // cassandra-1
	press(t, m, "l")
	if m.Screen() != common.ScreenLogs || len(lf.opened) != 1 || lf.opened[0] != "cassandra-1."+domain || !lf.opts[0].Follow {
		t.Fatalf("l: screen %v, opened %v %+v", m.Screen(), lf.opened, lf.opts)
	}
	s := lf.stream(0)
	update(t, m, vm.LogUpdate{New: 41}, s)
	v := m.View()
	for _, want := range []string{"Logs cassandra-1", "/var/log/cassandra/system.log", "start: last 200 lines", "● following", "Unexpected exception", "…[line cut]"} {
		if !strings.Contains(v, want) {
			t.Errorf("log view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "\x1b[31m") {
		t.Error("a terminal escape from the log reached the screen")
	}
	press(t, m, "up")
	s.add("INFO  [main] 2026-11-24 12:00:00,000 new line after pause")
	update(t, m, vm.LogUpdate{New: 1}, s)
	if v := m.View(); strings.Contains(v, "new line after pause") || !strings.Contains(v, "‖ paused · 1 new lines") {
		t.Errorf("paused view moved or does not count:\n%s", v)
	}
	press(t, m, "f")
	if v := m.View(); !strings.Contains(v, "new line after pause") || !strings.Contains(v, "● following") {
		t.Errorf("f did not follow again:\n%s", v)
	}
	press(t, m, "/", "WARN|ERROR", "enter")
	if got := s.filters; len(got) == 0 || got[len(got)-1] != "WARN|ERROR" {
		t.Fatalf("filters set: %q", got)
	}
	s.add("WARN  [main] 2026-11-24 12:00:01,000 a new warning")
	update(t, m, vm.LogUpdate{New: 1}, s)
	v = m.View()
	if strings.Contains(v, "CompactionTask") || !strings.Contains(v, "a new warning") || !strings.Contains(v, "filter: WARN|ERROR (6 of 43 lines") {
		t.Errorf("filtered view:\n%s", v)
	}
	update(t, m, vm.LogUpdate{Notices: []string{"connection lost: ssh: EOF; reconnecting in 2s"}}, s)
	if v := m.View(); !strings.Contains(v, "12:00:00 connection lost: ssh: EOF; reconnecting in 2s") {
		t.Errorf("reconnect notice not shown:\n%s", v)
	}
	press(t, m, "t")
	if len(lf.opened) != 2 || lf.opts[1].Since != 10*time.Minute || !s.isClosed() {
		t.Fatalf("t: opened %v opts %+v, first closed %v", lf.opened, lf.opts, s.isClosed())
	}
	if got := lf.stream(1).filters; len(got) != 1 || got[0] != "WARN|ERROR" {
		t.Errorf("the new stream's filter: %q", got)
	}
	press(t, m, "esc") // clears the filter first
	press(t, m, "esc")
	if m.Screen() != common.ScreenDetail && m.Screen() != common.ScreenOverview {
		t.Fatalf("esc: screen %v", m.Screen())
	}
	deadline := time.Now().Add(5 * time.Second)
	for !lf.stream(1).isClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !lf.stream(1).isClosed() {
		t.Error("leaving the log view did not stop the stream")
	}
}

// A backend without logs says so instead of opening an empty view.
func TestLogsNotSupported(t *testing.T) {
	m := newTest(t, newFake(), false)
	press(t, m, "down", "l")
	if v := m.View(); !strings.Contains(v, "logs: not supported by this backend") {
		t.Errorf("view:\n%s", v)
	}
}

func TestGoldenAlerts(t *testing.T) {
	goldenRun(t, withRunbookAlerts(newFake()), false, func(tm *teatest.TestModel) { keys(tm, "A", "down") }, "sudo systemctl start cassandra")
}

func TestGoldenHostDetailRunbook(t *testing.T) {
	goldenRun(t, withRunbookAlerts(newFake()), false, func(tm *teatest.TestModel) { keys(tm, "down", "down", "down", "enter") }, "none recorded")
}

func TestGoldenRunbookPlanReadonly(t *testing.T) {
	goldenRun(t, withRunbookAlerts(newFake()), true, func(tm *teatest.TestModel) {
		keys(tm, "A", "down", "a")
	}, "restart-cassandra-20261124-1200")
}

func TestGoldenLogs(t *testing.T) {
	lf := &logFake{fakeBackend: newFake(), first: []vm.LogUpdate{{New: 41, Notices: []string{"connection lost: ssh: EOF; reconnecting in 2s", "reconnected"}}}}
	goldenRunLF(t, lf, func(tm *teatest.TestModel) { keys(tm, "down", "l") }, "reconnected")
}

func teaSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

// goldenRunLF is goldenRun over any backend.
func goldenRunLF(t *testing.T, b vm.Backend, steps func(tm *teatest.TestModel), wait string) {
	t.Helper()
	m, err := New(Options{Backend: b, Clock: testClock, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 35))
	waitFor(t, tm, "envoy-3", "refreshed 5s ago")
	steps(tm)
	waitFor(t, tm, wait)
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	golden.RequireEqual(t, []byte(final.View()))
}
