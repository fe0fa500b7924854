package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"scalar-tui/tui/common"
	"scalar-tui/tui/vm"
)

// backupsFake is the fake backend with backups and a restore plan.
type backupsFake struct{ *fakeBackend }

func (b backupsFake) Backups(context.Context) (vm.BackupsView, error) {
	return vm.BackupsView{Deployment: "example-aws-0j5y83k", Backups: []vm.BackupView{
		{Route: "nodetool", Tag: "scalar-tui-20261123-120000", Keyspaces: []string{"coordinator", "scalar"}, Nodes: []string{"cassandra-1", "cassandra-2", "cassandra-3"},
			Total: 3, Tables: 12, Bytes: 3 * 1536 * 1024, NodeBytes: map[string]float64{"cassandra-1": 1536 * 1024, "cassandra-2": 1536 * 1024, "cassandra-3": 1536 * 1024}},
		{Route: "nodetool", Tag: "partial-one", Keyspaces: []string{"scalar"}, Nodes: []string{"cassandra-1"}, Missing: []string{"cassandra-2", "cassandra-3"},
			Total: 3, Tables: 2, Bytes: 2048, NodeBytes: map[string]float64{"cassandra-1": 2048}},
	}}, nil
}

func newBackupsFake() backupsFake {
	fb := newFake()
	fb.plans[vm.KindRestore] = vm.PlanView{ID: "restore-20261124-1200", Kind: vm.KindRestore, Title: "restore (2 steps)", ConfirmName: "example-aws-0j5y83k",
		Steps: []vm.StepView{{Title: "stop Scalar DL", Host: "scalardl-1.internal.scalar-labs.com", Commands: []string{"docker stop scalardl"}}}}
	return backupsFake{fb}
}

func newBackupsTest(t *testing.T, readonly bool) (*Model, backupsFake) {
	t.Helper()
	fb := newBackupsFake()
	m, err := New(Options{Backend: fb, Readonly: readonly, Clock: testClock, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
	settle(t, m, m.Init())
	press(t, m, ":", "backups", "enter")
	if m.screen != common.ScreenBackups {
		t.Fatalf(":backups: screen %v status %q", m.screen, m.status)
	}
	return m, fb
}

func TestBackupsListEnterAndRestorePlan(t *testing.T) {
	m, fb := newBackupsTest(t, false)
	v := m.View()
	for _, want := range []string{"scalar-tui-20261123-120000", "complete 3/3", "PARTIAL 1/3", "4.5 MiB", "24h"} {
		if !strings.Contains(v, want) {
			t.Errorf("backups screen lacks %q:\n%s", want, v)
		}
	}
	press(t, m, "down", "enter")
	if !strings.Contains(m.status, "cassandra-2 MISSING") || !strings.Contains(m.status, "cassandra-1 2.0 KiB") {
		t.Errorf("enter on the partial backup: status %q", m.status)
	}
	press(t, m, "up", "R")
	if m.screen != common.ScreenWorkflow || m.workflow.State() != wfPlan {
		t.Fatalf("R: screen %v, want the restore plan", m.screen)
	}
	if got := fb.planned; len(got) != 1 || got[0].Options["tag"] != "scalar-tui-20261123-120000" || got[0].Options["confirm-deployment"] != "example-aws-0j5y83k" {
		t.Fatalf("restore plan requested with %+v", got)
	}
	// The confirm dialog wants the deployment's name typed: y, a wrong name
	// and Enter run nothing.
	press(t, m, "enter")
	if m.workflow.dialog == nil || m.workflow.dialog.TypeToConfirm != "example-aws-0j5y83k" {
		t.Fatalf("r on the restore plan: no typed-name dialog")
	}
	press(t, m, "y", "enter", "backspace", "example-aws-wrong", "enter")
	if len(fb.startedPlans()) != 0 || m.workflow.dialog == nil {
		t.Fatalf("a wrong name started %v", fb.startedPlans())
	}
	for range "example-aws-wrong" {
		press(t, m, "backspace")
	}
	press(t, m, "example-aws-0j5y83k", "enter")
	if got := fb.startedPlans(); len(got) != 1 || got[0].ID != "restore-20261124-1200" {
		t.Fatalf("the right name should run the restore, started %v", got)
	}
}

func TestBackupsReadonlyShowsPlanNeverRuns(t *testing.T) {
	m, fb := newBackupsTest(t, true)
	press(t, m, "R")
	if m.screen != common.ScreenWorkflow || m.workflow.State() != wfPlan {
		t.Fatalf("read-only R: screen %v, want the restore plan shown", m.screen)
	}
	press(t, m, "enter", "y", "tab", "enter", "example-aws-0j5y83k", "enter")
	if len(fb.startedPlans()) != 0 {
		t.Fatalf("read-only ran %v", fb.startedPlans())
	}
}

func TestGoldenBackups(t *testing.T) {
	fb := newBackupsFake()
	m, err := New(Options{Backend: fb, Clock: testClock, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 35))
	waitFor(t, tm, "envoy-3", "refreshed 5s ago")
	keys(tm, ":", "backups", "enter")
	waitFor(t, tm, "partial-one")
	keys(tm, "down", "enter")
	waitFor(t, tm, "MISSING")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	golden.RequireEqual(t, []byte(final.View()))
}
