package tui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"scalar-tui/tui/vm"
)

// diskFake is fakeBackend with a vm.DiskLister and a firing
// CassandraDriveSpaceLow on cassandra-2 whose runbook is free-disk.
type diskFake struct {
	*fakeBackend
	usage vm.DiskUsage
	err   error
	hosts []string
}

// DiskUsage implements vm.DiskLister.
func (f *diskFake) DiskUsage(_ context.Context, host string) (vm.DiskUsage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hosts = append(f.hosts, host)
	return f.usage, f.err
}

func newDiskFake() *diskFake {
	fb := newFake()
	c2 := "cassandra-2." + domain
	low := vm.AlertView{Name: "CassandraDriveSpaceLow", Severity: "warning", Instance: c2,
		Summary: "Cassandra drive space low on " + c2 + ":9100", Since: testNow.Add(-5 * time.Minute),
		Runbook: &vm.Runbook{Title: "Free disk on " + c2 + " /data", Workflow: "free-disk", Host: c2,
			Options: map[string]string{"host": c2}, Doc: "docs/CassandraDriveSpaceLow.md"}}
	for i := range fb.health.Hosts {
		if fb.health.Hosts[i].Host.Name == c2 {
			fb.health.Hosts[i].Alerts = []vm.AlertView{low}
		}
	}
	fb.health.Alerts = append([]vm.AlertView{low}, fb.health.Alerts...)
	fb.plans["free-disk"] = vm.PlanView{ID: "free-disk-20261124-1200", Kind: "free-disk", Title: "free-disk"}
	return &diskFake{fakeBackend: fb, usage: vm.DiskUsage{Host: "cassandra-2", FreePercent: 12.5, ThresholdPercent: 25, Items: []vm.DiskItem{
		{Option: "snapshot", Value: "before-migration", Bytes: 40 << 30, Detail: "snapshot on 3/3 nodes · taken 2026-10-01 10:00 UTC"},
		{Option: "snapshot", Value: "scalar-tui-20261124-1100", Bytes: 38 << 30, Detail: "newest complete backup · snapshot on 3/3 nodes", Protected: true},
		{Option: "snapshot", Value: "half", Bytes: 1 << 20, Detail: "snapshot on 1/3 nodes · taken: unknown"},
		{Option: "backups", Value: "scalar", Bytes: 5 << 30, Detail: "incremental backups of keyspace scalar · 4 tables"},
	}}}
}

func diskPickerOf(m *Model) *diskPicker { return m.workflow.form.fields[0].complete.(*diskPicker) }

// The alert's runbook key opens the list of what fills the node's data
// volume; space chooses, the newest complete backup cannot be chosen, and
// enter plans free-disk with the snapshots and the backups chosen.
func TestFreeDiskRunbookPicksWhatToClear(t *testing.T) {
	df := newDiskFake()
	m := newTest(t, df, false)
	openDetail(t, m, "cassandra-2")
	press(t, m, "a")
	v := m.View()
	if m.workflow.State() != wfAsk || diskPickerOf(m).free {
		t.Fatalf("a should list what to clear first: state %v\n%s", m.workflow.State(), v)
	}
	for _, want := range []string{"cassandra-2: 12.5% free on the data volume (CassandraDriveSpaceLow fires below 25%)",
		"> [ ] before-migration", "40.0 GiB", "[-] scalar-tui-20261124-1100", "newest complete backup", "[ ] scalar "} {
		if !strings.Contains(v, want) {
			t.Errorf("picker lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "current what to clear") {
		t.Errorf("a selection has no current value:\n%s", v)
	}
	if len(df.hosts) != 1 || df.hosts[0] != "cassandra-2."+domain {
		t.Errorf("listed %v", df.hosts)
	}
	press(t, m, "enter") // nothing chosen: refused
	if len(df.planned) != 0 || m.workflow.State() != wfAsk {
		t.Fatalf("enter with nothing chosen planned %v", df.planned)
	}
	press(t, m, " ", "j", " ") // before-migration; the protected one is refused
	if v := m.View(); !strings.Contains(v, "[x] before-migration") || strings.Contains(v, "[x] scalar-tui-20261124-1100") ||
		!strings.Contains(v, "--force") {
		t.Fatalf("protected snapshot chosen, or no word why:\n%s", v)
	}
	press(t, m, "j", "j", " ", "enter")
	if len(df.planned) != 1 {
		t.Fatalf("planned %v", df.planned)
	}
	p := df.planned[0]
	if p.Options["snapshot"] != "before-migration" || p.Options["backups"] != "scalar" || len(p.Hosts) != 1 || p.Hosts[0] != "cassandra-2."+domain {
		t.Fatalf("free-disk planned with %+v", p)
	}
}

// Only backups chosen: the snapshot field stays empty and the plan goes on.
func TestFreeDiskRunbookBackupsOnly(t *testing.T) {
	df := newDiskFake()
	m := newTest(t, df, false)
	openDetail(t, m, "cassandra-2")
	press(t, m, "a", "j", "j", "j", " ", "enter")
	if len(df.planned) != 1 || df.planned[0].Options["snapshot"] != "" || df.planned[0].Options["backups"] != "scalar" {
		t.Fatalf("planned %+v", df.planned)
	}
}

// Nothing to clear: the picker says what else to do, and enter or esc leave.
func TestFreeDiskRunbookNothingToClear(t *testing.T) {
	df := newDiskFake()
	df.usage.Items = nil
	m := newTest(t, df, false)
	openDetail(t, m, "cassandra-2")
	press(t, m, "a")
	if v := m.View(); !strings.Contains(v, "nothing there that free-disk can clear") || !strings.Contains(v, "HowToExpandEBS.md") {
		t.Fatalf("no word on what to do:\n%s", v)
	}
	press(t, m, "enter")
	if m.workflow.State() != wfIdle || len(df.planned) != 0 {
		t.Fatalf("enter on an empty list: state %v planned %v", m.workflow.State(), df.planned)
	}
}

// A failed listing falls back to typing the tags, with the reason.
func TestFreeDiskRunbookListingFails(t *testing.T) {
	df := newDiskFake()
	df.err = errors.New("df on cassandra-2: exit 1")
	m := newTest(t, df, false)
	openDetail(t, m, "cassandra-2")
	press(t, m, "a")
	if v := m.View(); !diskPickerOf(m).free || !strings.Contains(v, "could not list the data volume") || !strings.Contains(v, "df on cassandra-2: exit 1") {
		t.Fatalf("no fallback:\n%s", v)
	}
	press(t, m, "old-1,old-2", "enter")
	if len(df.planned) != 1 || df.planned[0].Options["snapshot"] != "old-1,old-2" {
		t.Fatalf("planned %+v", df.planned)
	}
}
