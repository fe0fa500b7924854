package backend

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/ops/workflow"
	"scalar-tui/tui/vm"
)

// TestCanaryOfferedOnlyWhereHonoured: a backup pauses every node at once and
// never stops after a first host, so its plan must not offer canary.
func TestCanaryOfferedOnlyWhereHonoured(t *testing.T) {
	p := &workflow.Plan{ID: "x", Workflow: "w"}
	for kind, want := range map[vm.WorkflowKind]bool{vm.KindRepair: true, vm.KindUpgrade: true, vm.KindBackup: false} {
		if got := PlanView(p, kind, vm.WorkflowParams{}).CanaryOK; got != want {
			t.Errorf("%s: CanaryOK = %v, want %v", kind, got, want)
		}
	}
}

// TestRunDetailFromJournal reads a journal with a cleanup step and logs of
// hosts, including one no step names, and a log longer than the cap.
func TestRunDetailFromJournal(t *testing.T) {
	state := t.TempDir()
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	end := at.Add(time.Minute)
	st := &workflow.RunState{ID: "20261124-1200-backup-abc123", Workflow: "backup", Operator: "alice@jump", Created: at, Updated: end,
		Status: workflow.StatusFailed, Error: "step pause-scalardl: pausing Scalar DL failed (scalardl-blue-2: refused); every admin target was unpaused again",
		Markers: map[string]workflow.Marker{"pause-window": {Value: "1.2s", Step: "unpause-scalardl", Set: end}},
		Steps: []workflow.StepState{
			{ID: "pause-scalardl", Title: "pause", Status: workflow.StatusFailed, Error: "pausing Scalar DL failed (scalardl-blue-2: refused); every admin target was unpaused again", Started: &at, Ended: &end},
			{ID: "cassandra-1/snapshot", Title: "snapshot", Host: "cassandra-1.x", Status: workflow.StatusSkipped, Error: "an earlier step failed"},
			{ID: "unpause-scalardl", Title: "unpause", Status: workflow.StatusDone, Cleanup: true, Started: &end, Ended: &end},
		}}
	write := func(host string, lines ...string) {
		p := workflow.HostLogPath(state, st.ID, host)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("", "2026-11-24T12:00:01Z $ rpc.Admin/Pause scalardl-blue-1", "2026-11-24T12:00:02Z stderr refused")
	write("bastion", "2026-11-24T12:00:00Z $ mkdir /tmp/scalar-tui.lock")
	var long []string
	for i := 0; i < maxDetailLines+5; i++ {
		long = append(long, fmt.Sprintf("2026-11-24T12:00:03Z stdout line %d", i))
	}
	write("cassandra-1.x", long...)
	d, err := runDetail(state, st)
	if err != nil {
		t.Fatal(err)
	}
	if d.Run.ID != st.ID || d.Run.State != "failed" || d.Run.Ended != end || d.Error != st.Error {
		t.Errorf("run = %+v, error %q", d.Run, d.Error)
	}
	if len(d.Steps) != 3 || !d.Steps[2].Cleanup || d.Steps[2].Status != "done" || d.Steps[0].Error != st.Steps[0].Error {
		t.Errorf("steps = %+v", d.Steps)
	}
	if len(d.Markers) != 1 || !strings.Contains(d.Markers[0], "pause-window = 1.2s (set by unpause-scalardl at 12:01:00)") {
		t.Errorf("markers = %q", d.Markers)
	}
	var hosts []string
	for _, o := range d.Output {
		hosts = append(hosts, o.Host)
	}
	if strings.Join(hosts, ",") != ",cassandra-1.x,bastion" {
		t.Fatalf("output hosts = %q", hosts)
	}
	if got := d.Output[0].Lines; len(got) != 2 || got[0] != "12:00:01 $ rpc.Admin/Pause scalardl-blue-1" || got[1] != "12:00:02 ! refused" {
		t.Errorf("cluster lines = %q", got)
	}
	c1 := d.Output[1].Lines
	if len(c1) != maxDetailLines+1 || !strings.HasPrefix(c1[0], "(5 earlier lines in ") || c1[len(c1)-1] != fmt.Sprintf("12:00:03 | line %d", maxDetailLines+4) {
		t.Errorf("long log: %d lines, first %q, last %q", len(c1), c1[0], c1[len(c1)-1])
	}
}
