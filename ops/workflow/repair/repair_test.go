package repair

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/workflowtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedTime = time.Date(2026, 11, 24, 22, 31, 0, 0, time.UTC)

func testInventory() *inventory.Inventory {
	inv := &inventory.Inventory{NetworkName: "example-aws-0j5y83k", BastionIP: "13.231.179.116", InternalDomain: "internal.scalar-labs.com"}
	for i, ip := range []string{"10.42.2.10", "10.42.2.11", "10.42.2.12"} {
		n := string(rune('1' + i))
		inv.Hosts = append(inv.Hosts, inventory.Host{Name: "cassandra-" + n + ".internal.scalar-labs.com", Short: "cassandra-" + n, Role: inventory.RoleCassandra, Index: i + 1, PrivateIP: ip})
	}
	inv.Hosts = append(inv.Hosts, inventory.Host{Name: "scalardl-blue-1.internal.scalar-labs.com", Short: "scalardl-blue-1", Role: inventory.RoleScalarDLBlue, Index: 1, PrivateIP: "10.42.3.10"})
	return inv
}

const fakeNodetool = `#!/bin/sh
case "$1" in
status) cat "$LOCAL_ROOT/ring.txt" ;;
repair)
  echo "$HOST $4" >> "$LOCAL_ROOT/repairs.log"
  if [ -e "$LOCAL_ROOT/$HOST/fail" ]; then
    echo "[2026-11-24 22:31:01,000] Repair command #1 failed with error Endpoint not alive: /10.42.2.12"
    echo "error: Repair job has failed with the error message: [2026-11-24 22:31:01,000] Repair command #1 failed" >&2
    exit 2
  fi
  echo "[2026-11-24 22:31:00,000] Starting repair command #1 (33463730-aff6-11ef-bb3f-d165bc4d0c5a), repairing keyspace $4 with repair options (parallelism: parallel, primary range: true, incremental: false)"
  echo "[2026-11-24 22:31:01,000] Repair session 3a1c for range [(1,2]] finished (progress: 50%)"
  echo "[2026-11-24 22:31:02,000] Repair session 3b1c for range [(3,4]] finished (progress: 100%)"
  echo "[2026-11-24 22:31:02,100] Repair completed successfully"
  echo "[2026-11-24 22:31:02,200] Repair command #1 finished in 2 seconds" ;;
compactionstats)
  if [ -f "$LOCAL_ROOT/$HOST/compactionstats.txt" ]; then cat "$LOCAL_ROOT/$HOST/compactionstats.txt"; else printf 'pending tasks: 0\n\n'; fi ;;
netstats)
  if [ -f "$LOCAL_ROOT/$HOST/netstats.txt" ]; then cat "$LOCAL_ROOT/$HOST/netstats.txt"; else printf 'Mode: NORMAL\nNot sending any streams.\n'; fi ;;
*) echo "fake nodetool: $*" >&2; exit 1 ;;
esac
`

const fakeSystemctl = `#!/bin/sh
state=$(cat "$LOCAL_ROOT/$HOST/cassandra-state" 2>/dev/null || echo active)
echo "$state"
[ "$state" = active ]
`

func ring(statuses ...string) string {
	var b strings.Builder
	b.WriteString("Datacenter: dc1\n===============\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n")
	b.WriteString("--  Address     Load       Tokens       Owns (effective)  Host ID                               Rack\n")
	ids := []string{"8c14221d-0870-467c-894a-76ead663e9f1", "9d14221d-0870-467c-894a-76ead663e9f2", "ae14221d-0870-467c-894a-76ead663e9f3"}
	for i, s := range statuses {
		b.WriteString(s + "  10.42.2.1" + string(rune('0'+i)) + "  1.2 GiB    256          100.0%            " + ids[i] + "  rack1\n")
	}
	return b.String()
}

type lab struct {
	lr    *workflowtest.LocalRunner
	state string
	e     *workflow.Engine
	evs   []workflow.Event
}

func newLab(t *testing.T, ringText string) *lab {
	t.Helper()
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	bin := filepath.Join(lr.Root, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "nodetool"), []byte(fakeNodetool), 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755))
	must(t, os.WriteFile(filepath.Join(lr.Root, "ring.txt"), []byte(ringText), 0o644))
	l := &lab{lr: lr, state: t.TempDir()}
	l.e = workflow.New(lr, l.state, workflow.WithOperator("ops@test"),
		workflow.WithLockPath(filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")),
		workflow.WithEvents(func(ev workflow.Event) { l.evs = append(l.evs, ev) }))
	return l
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (l *lab) repairs(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(l.lr.Root, "repairs.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func fastOpts() Options {
	return Options{GateInterval: 5 * time.Millisecond, GateDeadline: time.Minute}
}

func TestPlanRenderGolden(t *testing.T) {
	p, err := PlanAt(testInventory(), Options{}, fixedTime)
	if err != nil {
		t.Fatal(err)
	}
	p.Operator = "ops@laptop-3"
	var b strings.Builder
	must(t, p.Render(&b))
	path := filepath.Join("testdata", "plan.golden")
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("plan differs:\n%s\n--- want\n%s", b.String(), want)
	}
	if p.ID != "20261124-2231-repair" {
		t.Errorf("ID = %s", p.ID)
	}
}

func TestPlanErrors(t *testing.T) {
	inv := testInventory()
	for name, o := range map[string]Options{
		"reaper without a reaper host": {Via: ViaReaper},
		"reaper with --host":           {Via: ViaReaper, Hosts: []string{"cassandra-1"}, Reaper: ReaperOptions{URL: "http://r:8080"}},
		"bad via":                      {Via: "ssh"},
		"keyspace":                     {Keyspaces: []string{"scalar; rm -rf /"}},
		"unknown":                      {Hosts: []string{"cassandra-9"}},
		"wrong role":                   {Hosts: []string{"scalardl-blue-1"}},
	} {
		if _, err := PlanAt(inv, o, fixedTime); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	p, err := PlanAt(inv, Options{Hosts: []string{"10.42.2.12", "cassandra-1"}, Keyspaces: []string{"scalar"}}, fixedTime)
	if err != nil || len(p.Steps) != 2 || p.Steps[0].Host != "cassandra-3.internal.scalar-labs.com" || p.Steps[0].Commands[0] != "nodetool repair -full -pr scalar" {
		t.Fatalf("plan = %+v, %v", p, err)
	}
}

func TestRepairSuccess(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	p, err := PlanAt(testInventory(), fastOpts(), fixedTime)
	must(t, err)
	status, err := l.e.Run(context.Background(), p)
	if status != workflow.StatusDone || err != nil {
		t.Fatalf("Run = %s, %v", status, err)
	}
	want := ""
	for _, h := range []string{"cassandra-1", "cassandra-2", "cassandra-3"} {
		for _, ks := range []string{"scalar", "coordinator"} {
			want += h + ".internal.scalar-labs.com " + ks + "\n"
		}
	}
	if got := l.repairs(t); got != want {
		t.Errorf("repairs.log = %q, want %q", got, want)
	}
	var progress []float64
	gates := 0
	for _, ev := range l.evs {
		switch ev := ev.(type) {
		case *workflow.Progress:
			if ev.Step == "cassandra-1/repair-scalar" {
				progress = append(progress, ev.Percent)
			}
		case *workflow.GatePassed:
			gates++
		}
	}
	if len(progress) != 3 || progress[0] != 50 || progress[2] != 100 {
		t.Errorf("progress = %v", progress)
	}
	if gates != 3 {
		t.Errorf("%d gates passed", gates)
	}
	audit, err := workflow.ReadAudit(l.state, workflow.AuditFilter{Run: p.ID, Host: "cassandra-2.internal.scalar-labs.com"})
	must(t, err)
	var sawStart bool
	for _, a := range audit {
		if strings.Contains(a.Command, "printf '%s\\n' 'nodetool repair -full -pr scalar'") {
			sawStart = true
		}
	}
	if !sawStart {
		t.Errorf("detached start not audited: %+v", audit)
	}
}

func TestRepairRefusedWhenNodeDown(t *testing.T) {
	l := newLab(t, ring("UN", "DN", "UN"))
	p, err := PlanAt(testInventory(), fastOpts(), fixedTime)
	must(t, err)
	status, err := l.e.Run(context.Background(), p)
	var re *workflow.RefusedError
	if status != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "ring-UN" || !strings.Contains(err.Error(), "cassandra-2 (10.42.2.11) is DN") {
		t.Fatalf("Run = %s, %v", status, err)
	}
	if l.repairs(t) != "" {
		t.Error("repaired despite a DN node")
	}
}

func TestRepairRefusedWhenServiceInactive(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	must(t, os.WriteFile(filepath.Join(l.lr.Dir("cassandra-3.internal.scalar-labs.com"), "cassandra-state"), []byte("failed\n"), 0o644))
	p, _ := PlanAt(testInventory(), fastOpts(), fixedTime)
	status, err := l.e.Run(context.Background(), p)
	if status != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), `cassandra on cassandra-3 is "failed"`) {
		t.Fatalf("Run = %s, %v", status, err)
	}
}

func TestRepairFailureOnHost2ThenResume(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	fail := filepath.Join(l.lr.Dir("cassandra-2.internal.scalar-labs.com"), "fail")
	must(t, os.WriteFile(fail, nil, 0o644))
	p, _ := PlanAt(testInventory(), fastOpts(), fixedTime)
	status, err := l.e.Run(context.Background(), p)
	if status != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "exited 2") {
		t.Fatalf("Run = %s, %v", status, err)
	}
	st, err := workflow.LoadRun(l.state, p.ID)
	must(t, err)
	got := map[string]workflow.Status{}
	for _, s := range st.Steps {
		got[s.ID] = s.Status
	}
	if got["cassandra-1/repair-scalar"] != workflow.StatusDone || got["cassandra-1/repair-coordinator"] != workflow.StatusDone ||
		got["cassandra-2/repair-scalar"] != workflow.StatusFailed || got["cassandra-3/repair-scalar"] != workflow.StatusSkipped {
		t.Fatalf("journal = %v", got)
	}
	must(t, os.Remove(fail))
	p2, _ := PlanAt(testInventory(), fastOpts(), fixedTime)
	status, err = l.e.Resume(context.Background(), p.ID, p2)
	if status != workflow.StatusDone || err != nil {
		t.Fatalf("Resume = %s, %v", status, err)
	}
	log := l.repairs(t)
	if n := strings.Count(log, "cassandra-1.internal.scalar-labs.com"); n != 2 {
		t.Errorf("cassandra-1 repaired %d times:\n%s", n, log)
	}
	if n := strings.Count(log, "cassandra-2.internal.scalar-labs.com scalar"); n != 2 {
		t.Errorf("cassandra-2 scalar repaired %d times:\n%s", n, log)
	}
}

func TestGateWaitsForRing(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	opts := fastOpts()
	opts.Hosts = []string{"cassandra-1"}
	opts.Keyspaces = []string{"scalar"}
	p, _ := PlanAt(testInventory(), opts, fixedTime)
	// The ring shows a joining node once the repair ran, until the gate's
	// second poll, when it becomes UN again.
	waits := 0
	l.e = workflow.New(l.lr, l.state, workflow.WithoutLock(), workflow.WithEvents(func(ev workflow.Event) {
		switch ev.(type) {
		case *workflow.StepStarted:
			_ = os.WriteFile(filepath.Join(l.lr.Root, "ring.txt"), []byte(ring("UN", "UJ", "UN")), 0o644)
		case *workflow.GateWaiting:
			waits++
			_ = os.WriteFile(filepath.Join(l.lr.Root, "ring.txt"), []byte(ring("UN", "UN", "UN")), 0o644)
		}
	}))
	status, err := l.e.Run(context.Background(), p)
	if status != workflow.StatusDone || err != nil || waits != 1 {
		t.Fatalf("Run = %s, %v, %d waits", status, err, waits)
	}
}

func TestProgress(t *testing.T) {
	for line, want := range map[string]float64{
		"[2021-05-01 10:00:01,000] Repair session abc for range [(1,2]] finished (progress: 33%)": 33,
		"[2026-11-24 22:31:02,100] Repair completed successfully":                                 100,
	} {
		if got, ok := Progress(line); !ok || got != want {
			t.Errorf("Progress(%q) = %v, %v", line, got, ok)
		}
	}
	if _, ok := Progress("Starting something"); ok {
		t.Error("progress from a non-progress line")
	}
}

func TestGateHealthFailsClosed(t *testing.T) {
	l := newLab(t, ring("UN", "UN", "UN"))
	opts := fastOpts()
	opts.GateDeadline = 2 * time.Second
	opts.Hosts = []string{"cassandra-1"}
	opts.Keyspaces = []string{"scalar"}
	opts.Health = func(context.Context) (bool, string, error) {
		return true, "", errors.New("prometheus: connection refused")
	}
	p, _ := PlanAt(testInventory(), opts, fixedTime)
	status, err := l.e.Run(context.Background(), p)
	if status != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Run = %s, %v", status, err)
	}
}
