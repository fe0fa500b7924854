package tui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/vm"
)

// Golden screens: 120x35, ASCII colour profile (TestMain), fixed clock.
// Regenerate with `go test ./tui -run Golden -update`. The lead's
// .gitattributes should carry `*.golden -text`.

func goldenRun(t *testing.T, fb *fakeBackend, readonly bool, steps func(tm *teatest.TestModel), wait string) {
	t.Helper()
	goldenRunAfter(t, fb, readonly, []string{"envoy-3", "refreshed 5s ago"}, steps, wait) // inventory and health both loaded
}

// goldenRunAfter is goldenRun waiting first for every string of first.
func goldenRunAfter(t *testing.T, fb *fakeBackend, readonly bool, first []string, steps func(tm *teatest.TestModel), wait string) {
	t.Helper()
	goldenRunSized(t, fb, readonly, 120, 35, first, steps, wait)
}

// goldenRunSized is goldenRunAfter on a w x h terminal.
func goldenRunSized(t *testing.T, fb vm.Backend, readonly bool, w, h int, first []string, steps func(tm *teatest.TestModel), wait string) {
	t.Helper()
	m, err := New(Options{Backend: fb, Readonly: readonly, Clock: testClock, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	waitFor(t, tm, first...)
	if steps != nil {
		steps(tm)
	}
	if wait != "" {
		waitFor(t, tm, wait)
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	golden.RequireEqual(t, []byte(final.View()))
}

// waitFor waits until the output since the last wait contains every string.
func waitFor(t *testing.T, tm *teatest.TestModel, all ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, s := range all {
			if !bytes.Contains(b, []byte(s)) {
				return false
			}
		}
		return true
	},
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func keys(tm *teatest.TestModel, ks ...string) {
	for _, k := range ks {
		for _, msg := range keyMsgs(k) {
			tm.Send(msg)
		}
	}
}

func TestGoldenOverview(t *testing.T) {
	goldenRun(t, newFake(), false, nil, "")
}

func TestGoldenHostDetail(t *testing.T) {
	goldenRun(t, newFake(), false, func(tm *teatest.TestModel) { keys(tm, "down", "down", "enter") }, "alice")
}

func TestGoldenPlan(t *testing.T) {
	goldenRun(t, newFake(), false, func(tm *teatest.TestModel) { keys(tm, "R") }, "repair-20261124-1200")
}

func TestGoldenConfirm(t *testing.T) {
	goldenRun(t, newFake(), false, func(tm *teatest.TestModel) {
		keys(tm, "R")
		waitFor(t, tm, "repair-20261124-1200")
		keys(tm, "enter")
	}, "focus: Cancel")
}

func TestGoldenRunningWorkflow(t *testing.T) {
	fb := newFake()
	fb.events = runningEvents()
	goldenRun(t, fb, false, func(tm *teatest.TestModel) {
		keys(tm, "R")
		waitFor(t, tm, "repair-20261124-1200")
		keys(tm, "enter", "y")
	}, "░  45%")
}

func TestGoldenHelp(t *testing.T) {
	goldenRun(t, newFake(), false, func(tm *teatest.TestModel) { keys(tm, "?") }, "closes this help")
}

func TestGoldenHelpReadonly(t *testing.T) {
	goldenRun(t, newFake(), true, func(tm *teatest.TestModel) { keys(tm, "?") }, "closes this help")
}

// The operator's screens at 80x24 (issue 11 §4).

func TestGoldenOverview80x24(t *testing.T) {
	goldenRunSized(t, newFake(), false, 80, 24, []string{"refreshed 5s ago", "more hosts below"}, nil, "")
}

func TestGoldenPlanPreflightFailed80x24(t *testing.T) {
	fb := newFake()
	fb.failCheck = "no repair running (reaper-1)"
	fb.failReason = "Reaper reports repair run 7f3a9c RUNNING on cluster ScalarDL since 11:42; wait for it or abort it in Reaper (reaper-1:8080)"
	goldenRunSized(t, fb, false, 80, 24, []string{"refreshed 5s ago", "more hosts below"}, func(tm *teatest.TestModel) { keys(tm, "R") }, "abort it")
}

func TestGoldenRunDetail80x24(t *testing.T) {
	fb := newFake()
	d := failedBackupDetail()
	fb.runs = append([]vm.RunView{d.Run}, fb.runs...)
	goldenRunSized(t, fb, false, 80, 24, []string{"Unfinished workflow runs", "refreshed 5s ago"}, func(tm *teatest.TestModel) {
		keys(tm, "esc", ":", "runs", "enter")
		waitFor(t, tm, "2 entries")
		keys(tm, "enter")
	}, "Steps (3)")
}

func TestGoldenFailedRun80x24(t *testing.T) {
	fb := newFake()
	why := "step cassandra-2/repair-scalar: cassandra-2.internal.scalar-labs.com: `nodetool repair -full -pr scalar` exited 2; the coordinator lost its session with 10.42.2.12 (Connection reset by peer)"
	fb.events = append(runningEvents(), &wf.StepFailed{Index: 3, Host: "cassandra-2." + domain, Err: why},
		&wf.Finished{Status: "failed", Err: why, Header: wf.Header{Time: testNow.Add(30 * time.Second)}})
	goldenRunSized(t, fb, false, 80, 24, []string{"refreshed 5s ago", "more hosts below"}, func(tm *teatest.TestModel) {
		keys(tm, "R")
		waitFor(t, tm, "repair-20261124-1200")
		keys(tm, "enter", "y")
	}, "✗ failed")
}

// BenchmarkOverviewView1000 measures View() of the overview with 1,000 hosts at 120x35.
func BenchmarkOverviewView1000(b *testing.B) {
	fb := newFake()
	base := fb.inv.Hosts
	fb.inv.Hosts = nil
	rows := fb.health.Hosts
	fb.health.Hosts = nil
	for i := 0; len(fb.inv.Hosts) < 1000; i++ {
		for j, h := range base {
			h.Index += i * 100
			h.Short = strings.Replace(h.Short, "-", "-"+itoa(i)+"-", 1)
			h.Name = h.Short + "." + domain
			fb.inv.Hosts = append(fb.inv.Hosts, h)
			if j < len(rows) {
				r := rows[j]
				r.Host.Name = h.Name
				fb.health.Hosts = append(fb.health.Hosts, r)
			}
		}
	}
	fb.inv.Hosts = fb.inv.Hosts[:1000]
	m := newTest(b, fb, false)
	press(b, m, "down", "down", "down")
	if n := len(m.overview.rows); n != 1000 {
		b.Fatalf("%d rows", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = m.View()
	}
}
