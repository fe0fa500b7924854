package tui

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"scalar-tui/inventory"
	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/vm"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// newTest builds a console over fb at 120x35 and runs its start-up commands.
func newTest(t testing.TB, fb vm.Backend, readonly bool) *Model {
	t.Helper()
	m, err := New(Options{Backend: fb, Readonly: readonly, Clock: testClock, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
	settle(t, m, m.Init())
	return m
}

// settle runs cmd and feeds its messages back into m until nothing is left.
// Commands that block (ticks, an idle event channel) are abandoned.
func settle(t testing.TB, m *Model, cmd tea.Cmd) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0 && n < 500; n++ {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		done := make(chan tea.Msg, 1)
		go func() { done <- c() }()
		var msg tea.Msg
		select {
		case msg = <-done:
		case <-time.After(50 * time.Millisecond):
			continue
		}
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case tea.QuitMsg:
			return
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

// press sends keys, settling after each: "enter", "tab", "ctrl+c", "esc"
// or a rune string typed one rune at a time.
func press(t testing.TB, m *Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		for _, msg := range keyMsgs(k) {
			_, cmd := m.Update(msg)
			settle(t, m, cmd)
		}
	}
}

func keyMsgs(k string) []tea.KeyMsg {
	special := map[string]tea.KeyType{"enter": tea.KeyEnter, "tab": tea.KeyTab, "esc": tea.KeyEsc, "ctrl+c": tea.KeyCtrlC, "ctrl+r": tea.KeyCtrlR,
		"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight, "backspace": tea.KeyBackspace, "space": tea.KeySpace}
	if t, ok := special[k]; ok {
		return []tea.KeyMsg{{Type: t}}
	}
	var out []tea.KeyMsg
	for _, r := range k {
		out = append(out, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	return out
}

func TestOverviewLoadsAndGroups(t *testing.T) {
	m := newTest(t, newFake(), false)
	v := m.View()
	for _, want := range []string{"scalar-prod-tokyo", "bastion 54.65.10.20:22", "cassandra (3)", "scalardl-blue (3)", "✗ down", "◐ degraded",
		"Cassandra 3/3 UN", "ScalarDLContainerDown", "refreshed 5s ago", "2.1.0"} {
		if !strings.Contains(v, want) {
			t.Errorf("overview lacks %q:\n%s", want, v)
		}
	}
	if got := m.overview.selected; got != "bastion-1."+domain {
		t.Errorf("initial selection = %q, want the first host", got)
	}
	if strings.Index(v, "bastion (1)") > strings.Index(v, "monitor (1)") {
		t.Error("roles are not in inventory.Roles order")
	}
}

func TestEnterDoesNotConfirm(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, "R")
	if m.screen != common.ScreenWorkflow || m.workflow.State() != wfPlan {
		t.Fatalf("R: screen %v state %v, want the repair plan", m.screen, m.workflow.State())
	}
	press(t, m, "enter") // opens the dialog
	if m.workflow.dialog == nil {
		t.Fatal("enter on a plan did not open the confirm dialog")
	}
	if !strings.Contains(m.View(), "sudo nodetool repair -pr -full ScalarDL") {
		t.Error("the dialog does not show the plan's commands")
	}
	press(t, m, "enter") // Enter on the default button (Cancel)
	if len(fb.startedPlans()) != 0 {
		t.Fatal("Enter alone on the default button started the workflow")
	}
	if m.workflow.dialog != nil || m.workflow.Running() {
		t.Fatal("Enter on Cancel should close the dialog without running")
	}
	press(t, m, "enter", "tab", "enter") // move to Confirm, then Enter
	if got := fb.startedPlans(); len(got) != 1 || got[0].ID != "repair-20261124-1200" {
		t.Fatalf("tab+enter: started %v", got)
	}
}

func TestConfirmByYAndCapturedTarget(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, "R", "enter")
	m.workflow.plan.shown.ID = "changed-underneath" // a re-plan after the dialog opened
	press(t, m, "y")
	if got := fb.startedPlans(); len(got) != 1 || got[0].ID != "repair-20261124-1200" {
		t.Fatalf("y should run the plan captured when the dialog opened, started %v", got)
	}
}

func TestEscAndNCancelDialog(t *testing.T) {
	for _, k := range []string{"esc", "n"} {
		fb := newFake()
		m := newTest(t, fb, false)
		press(t, m, "B", "enter", "tab", k)
		if len(fb.startedPlans()) != 0 || m.workflow.dialog != nil {
			t.Errorf("%s: dialog should close without running", k)
		}
	}
}

func TestReadonlyHidesDangerousActions(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, true)
	press(t, m, "R", "U", "B", "s")
	if m.screen != common.ScreenOverview || m.dialog != nil || len(fb.planned) != 0 {
		t.Fatalf("read-only: dangerous keys acted (screen %v, planned %v)", m.screen, fb.planned)
	}
	press(t, m, ":", "repair", "enter")
	if len(fb.planned) != 0 || !strings.Contains(m.status, "read-only") {
		t.Fatalf(":repair in read-only: planned %v, status %q", fb.planned, m.status)
	}
	lines := strings.Split(m.View(), "\n")
	footer := lines[len(lines)-1]
	press(t, m, "?")
	full := m.View()
	// :backups (the read-only list of backups) stays; taking one does not.
	for _, gone := range []string{"repair", "upgrade", "backup", "shell on host", "continue canary", "run plan"} {
		if strings.Contains(strings.ReplaceAll(full, ":backups", ""), gone) {
			t.Errorf("read-only help shows %q:\n%s", gone, full)
		}
		if strings.Contains(footer, gone) {
			t.Errorf("read-only footer shows %q", gone)
		}
	}
	if !strings.Contains(full, "READ-ONLY") || !strings.Contains(full, "filter") {
		t.Errorf("read-only help should still list safe keys and say READ-ONLY:\n%s", full)
	}

	rw := newTest(t, newFake(), false)
	press(t, rw, "?")
	for _, want := range []string{"repair !", "upgrade Scalar DL !", "shell on host !", ":repair !"} {
		if !strings.Contains(rw.View(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestSelectionKeptAcrossRefresh(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, "down", "down", "down", "down") // bastion-1 → cassandra-1,2,3 → cassy-1
	press(t, m, "up")
	want := "cassandra-3." + domain
	if m.overview.selected != want {
		t.Fatalf("selected %q, want %q", m.overview.selected, want)
	}
	fb.mu.Lock()
	fb.inv.Hosts = append([]inventory.Host{host(inventory.RoleBastion, 2, "10.42.0.11"), host(inventory.RoleCassandra, 4, "10.42.2.13")}, fb.inv.Hosts...)
	fb.health.Hosts = fb.health.Hosts[1:]
	fb.mu.Unlock()
	settle(t, m, m.overview.loadInventory())
	settle(t, m, m.overview.loadHealth())
	if m.overview.selected != want {
		t.Fatalf("after refresh selected %q, want %q", m.overview.selected, want)
	}
	if !strings.Contains(m.View(), "> cassandra-3") {
		t.Errorf("selected row not marked:\n%s", m.View())
	}
}

func TestFilter(t *testing.T) {
	m := newTest(t, newFake(), false)
	press(t, m, "/", "state:down")
	if !m.overview.Capturing() {
		t.Fatal("/ should start editing the filter")
	}
	press(t, m, "enter")
	v := m.View()
	if !strings.Contains(v, "scalardl-blue-2") || strings.Contains(v, "cassandra-1") {
		t.Fatalf("filter state:down:\n%s", v)
	}
	if m.overview.selected != "scalardl-blue-2."+domain {
		t.Errorf("selection should move to the only match, got %q", m.overview.selected)
	}
	press(t, m, "esc")
	if !strings.Contains(m.View(), "cassandra-1") {
		t.Error("esc should clear the filter")
	}
	press(t, m, "/", "envoy", "enter")
	if n := len(m.overview.hostLine); n != 3 {
		t.Errorf("filter envoy: %d hosts, want 3", n)
	}
	press(t, m, "q") // q is not typed into a closed filter: quits
}

func TestHostDetail(t *testing.T) {
	m := newTest(t, newFake(), false)
	press(t, m, "down", "down", "enter")
	if m.screen != common.ScreenDetail {
		t.Fatalf("enter: screen %v", m.screen)
	}
	v := m.View()
	for _, want := range []string{"cassandra-2." + domain, "Disk used /data 92%", "/data 92% used", "InstanceDriveSpaceLow", "alice", "nodetool repair", "s shell on host !"} {
		if !strings.Contains(v, want) {
			t.Errorf("detail lacks %q:\n%s", want, v)
		}
	}
	press(t, m, "esc")
	if m.screen != common.ScreenOverview {
		t.Errorf("esc: screen %v", m.screen)
	}
}

func TestShellAsksThenExecs(t *testing.T) {
	m := newTest(t, newFake(), false)
	_, cmd := m.Update(keyMsgs("s")[0])
	settle(t, m, cmd)
	if m.dialog == nil || m.dialog.Msg() != (openShellMsg{host: "bastion-1." + domain}) {
		t.Fatalf("s should ask about the selected host, dialog %+v", m.dialog)
	}
	_, cmd = m.Update(keyMsgs("enter")[0])
	if cmd != nil || m.dialog != nil {
		t.Fatal("enter on Cancel must not exec a shell")
	}
	press(t, m, "s")
	m.Update(keyMsgs("y")[0])
	// tea.ExecProcess returns a command we do not run here; reaching this
	// point without panicking with the dialog closed is the check.
	if m.dialog != nil {
		t.Fatal("y should close the dialog")
	}
}

func TestUpgradeAsksForTag(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, "U")
	if m.workflow.State() != wfAsk || !strings.Contains(m.View(), "current tag: 2.1.0") {
		t.Fatalf("U should ask for the tag showing the current one:\n%s", m.View())
	}
	press(t, m, "backspace", "backspace", "backspace", "backspace", "backspace", "2.2.0", "enter")
	if len(fb.planned) != 1 || fb.planned[0].Options["to"] != "2.2.0" || m.workflow.State() != wfPlan {
		t.Fatalf("planned %v state %v", fb.planned, m.workflow.State())
	}
	if !strings.Contains(m.View(), "Upgrade Scalar DL to 2.2.0") {
		t.Errorf("plan view:\n%s", m.View())
	}
}

func TestWorkflowEventsAndPerHostLog(t *testing.T) {
	fb := newFake()
	fb.events = runningEvents()
	m := newTest(t, fb, false)
	press(t, m, "R", "enter", "y")
	w := m.workflow
	if w.State() != wfRunning || w.run.step != 3 {
		t.Fatalf("state %v step %d", w.State(), w.run.step)
	}
	v := m.View()
	for _, want := range []string{"✓ cassandra-1", "[▶ cassandra-2]", "· cassandra-3", "step 4/6: repair primary ranges on cassandra-2 · 1:23", "45%", "progress: 45%"} {
		if !strings.Contains(v, want) {
			t.Errorf("running view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "Repair completed successfully") {
		t.Error("log shows another host's output")
	}
	press(t, m, "left")
	if v := m.View(); !strings.Contains(v, "Repair completed successfully") || strings.Contains(v, "Starting repair command") {
		t.Errorf("after selecting cassandra-1 the log should show only its output:\n%s", v)
	}
	press(t, m, "p")
	if fb.ctl.pauses != 1 {
		t.Errorf("p: pauses %d", fb.ctl.pauses)
	}
	press(t, m, "ctrl+c")
	if w.dialog == nil || w.dialog.Label != "cancel" {
		t.Fatal("ctrl+c while running should ask before cancelling")
	}
	press(t, m, "enter")
	if fb.ctl.cancels != 0 {
		t.Fatal("Enter alone cancelled the run")
	}
	press(t, m, "ctrl+c", "y")
	if fb.ctl.cancels != 1 {
		t.Errorf("confirmed cancel: cancels %d", fb.ctl.cancels)
	}
}

func TestQuitAsksWhileRunning(t *testing.T) {
	fb := newFake()
	fb.events = runningEvents()
	m := newTest(t, fb, false)
	press(t, m, "R", "enter", "y", "esc")
	if m.screen != common.ScreenOverview {
		t.Fatalf("esc from a run: screen %v", m.screen)
	}
	_, cmd := m.Update(keyMsgs("q")[0])
	if cmd != nil || m.dialog == nil || m.dialog.Label != "quit" {
		t.Fatal("q while a workflow runs must ask")
	}
	_, cmd = m.Update(keyMsgs("enter")[0])
	if cmd != nil {
		t.Fatal("Enter alone must not quit")
	}
	idle := newTest(t, newFake(), false)
	if _, cmd := idle.Update(keyMsgs("q")[0]); cmd == nil || !reflect.DeepEqual(cmd(), tea.Quit()) {
		t.Error("q with nothing running should quit at once")
	}
}

func TestPausedCanaryContinueAsks(t *testing.T) {
	fb := newFake()
	fb.events = append(runningEvents()[:6], &wf.Paused{Index: 1, Canary: true, Header: wf.Header{Time: testNow}})
	m := newTest(t, fb, false)
	press(t, m, "R", "enter", "y")
	if m.workflow.State() != wfPaused {
		t.Fatalf("state %v", m.workflow.State())
	}
	press(t, m, "c", "enter")
	if fb.ctl.continues != 0 {
		t.Fatal("continue without confirmation")
	}
	press(t, m, "c", "tab", "enter")
	if fb.ctl.continues != 1 {
		t.Fatal("confirmed continue not sent")
	}
}

func TestFinishedStream(t *testing.T) {
	fb := newFake()
	fb.events = append(runningEvents(), &wf.StepFailed{Index: 3, Host: "cassandra-2." + domain, Err: "nodetool exited 2"}, &wf.Finished{Header: wf.Header{Time: testNow}})
	fb.closeCh = true
	m := newTest(t, fb, false)
	press(t, m, "R", "enter", "y")
	if m.workflow.State() != wfFailed || !strings.Contains(m.View(), "✗ cassandra-2") || !strings.Contains(m.View(), "nodetool exited 2") {
		t.Fatalf("state %v:\n%s", m.workflow.State(), m.View())
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    command
		wantErr bool
	}{
		{"repair", command{name: "repair"}, false},
		{":upgrade 2.2.0", command{name: "upgrade", arg: "2.2.0"}, false},
		{"upgrade", command{name: "upgrade"}, true},
		{"env staging-1", command{name: "env", arg: "staging-1"}, false},
		{"q", command{name: "quit"}, false},
		{"backup now", command{name: "backup", arg: "now"}, true},
		{"rm -rf", command{name: "rm", arg: "-rf"}, true},
		{":drill", command{name: "drill"}, false},
		{":drill cassandra-stopped cassandra-2", command{name: "drill", arg: "cassandra-stopped cassandra-2"}, false},
		{":drill cassandra-stopped", command{name: "drill", arg: "cassandra-stopped"}, true},
		{"  ", command{}, true},
	}
	for _, tt := range tests {
		got, err := parseCommand(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseCommand(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

// :drill lists the catalog; :drill NAME HOST plans the drill command with
// the name as its argument and the host; read-only mode refuses both.
func TestDrillCommand(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, ":", "drill", "enter")
	if v := m.View(); !strings.Contains(v, "cassandra-stopped") || !strings.Contains(v, "Cassandra stopped on one node") || !strings.Contains(v, "disk-low") {
		t.Fatalf("no drill list:\n%s", v)
	}
	press(t, m, "esc")
	if strings.Contains(m.View(), "Cassandra stopped on one node") {
		t.Fatalf("drill list still shown after esc:\n%s", m.View())
	}
	press(t, m, ":", "drill cassandra-stopped cassandra-2", "enter")
	fb.mu.Lock()
	planned := fb.planned
	fb.mu.Unlock()
	if len(planned) != 1 || len(planned[0].Args) != 1 || planned[0].Args[0] != "cassandra-stopped" ||
		len(planned[0].Hosts) != 1 || planned[0].Hosts[0] != "cassandra-2" {
		t.Fatalf("planned %+v", planned)
	}

	fb = newFake()
	m = newTest(t, fb, true)
	press(t, m, ":", "drill cassandra-stopped cassandra-2", "enter")
	if !strings.Contains(m.View(), "read-only") || len(fb.planned) != 0 {
		t.Fatalf("read-only drill: planned %+v\n%s", fb.planned, m.View())
	}
}

func TestCommandsNavigate(t *testing.T) {
	fb := newFake()
	m := newTest(t, fb, false)
	press(t, m, ":", "runs", "enter")
	if m.screen != common.ScreenRuns || !strings.Contains(m.View(), "repair-1") {
		t.Fatalf("runs:\n%s", m.View())
	}
	press(t, m, ":", "audit", "enter")
	if m.screen != common.ScreenAudit || !strings.Contains(m.View(), "alice") {
		t.Fatalf("audit:\n%s", m.View())
	}
	press(t, m, ":", "upgrade 2.3.1", "enter")
	if m.workflow.State() != wfPlan || fb.planned[0].Options["to"] != "2.3.1" {
		t.Fatalf(":upgrade: state %v", m.workflow.State())
	}
	press(t, m, ":", "env other", "enter")
	if !strings.Contains(m.status, "not supported") {
		t.Errorf(":env on a backend without EnvSwitcher: status %q", m.status)
	}
}

func TestSmallTerminal(t *testing.T) {
	m := newTest(t, newFake(), false)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for _, keys := range [][]string{nil, {"?"}, {"esc", "enter"}, {"esc", "R"}} {
		press(t, m, keys...)
		v := m.View()
		lines := strings.Split(v, "\n")
		if len(lines) != 24 {
			t.Errorf("%v: %d lines, want 24", keys, len(lines))
		}
		for i, l := range lines {
			if w := lipgloss.Width(l); w > 80 {
				t.Errorf("%v: line %d is %d wide: %q", keys, i, w, l)
			}
		}
	}
}
