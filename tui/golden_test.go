package tui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
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
	m, err := New(Options{Backend: fb, Readonly: readonly, Clock: testClock, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 35))
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
