package drill_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/demoenv"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/drill"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// simFaults injects the simulator's faults into the demo's state.
type simFaults struct{ dir string }

func (s simFaults) InjectFault(_ context.Context, host, kind string) error {
	return sim.InjectFault(s.dir, host, kind, "")
}
func (s simFaults) ClearFault(_ context.Context, host, kind string) error {
	return sim.ClearFault(s.dir, host, kind)
}

// stepClock is a clock that advances one second per reading, so the
// measured durations depend on the polls, never on the wall clock.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func demoOpts() demo.Options { return demo.Options{Cassandra: 3, Blue: 2, Envoy: 2} }

func waitHealthy(t *testing.T, e *demoenv.Env) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		d, err := drill.Build(e.Inv, drill.Options{Name: drill.CassandraStopped, Host: "cassandra-1", Health: e.Health,
			Safety: drill.Safety{Kind: drill.KindLab}})
		if err != nil {
			t.Fatal(err)
		}
		if last = d.Plan.Preflight[0].Run(context.Background(), nil); last == nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("demo never fully healthy: %v", last)
}

// Every drill on the demo: the fault is injected, the alert fires and
// health marks the host, the runbook's steps recover, everything clears,
// and the measurements come from the caller's clock.
func TestDrillsOnDemo(t *testing.T) {
	e := demoenv.Start(t, demoOpts())
	cases := []struct{ name, host string }{
		{drill.CassandraStopped, "cassandra-2"},
		{drill.ScalarDLKilled, "scalardl-blue-1"},
		{drill.EnvoyKilled, "envoy-1"},
		{drill.NodeUnreachable, "cassandra-3"},
		{drill.DiskLow, "cassandra-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			waitHealthy(t, e)
			clock := &stepClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			d, err := drill.Build(e.Inv, drill.Options{Name: c.name, Host: c.host, Health: e.Health, Sim: simFaults{e.D.SimState},
				Safety: drill.Safety{Kind: drill.KindLab, Deployment: "demo"}, Now: clock.Now,
				Interval: 200 * time.Millisecond, Deadline: 90 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var evs []workflow.Event
			status, err := e.Engine(t, &evs).Run(context.Background(), d.Plan)
			r := d.Result(status, err)
			t.Logf("%s on %s: detect alert %s, health %s; recover alert %s, healthy %s; clients: %s", c.name, c.host, r.DetectAlert, r.DetectHealth, r.RecoverAlert, r.RecoverHealthy, r.ClientsNote)
			if !r.Pass() {
				t.Fatalf("drill did not pass: status %s, %v; result %+v", status, err, r)
			}
			if r.DetectAlert <= 0 || r.DetectHealth <= 0 || r.RecoverAlert <= 0 || r.RecoverHealthy <= 0 {
				t.Errorf("timings not measured: %+v", r)
			}
			if !r.Injected.After(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || r.Injected.Year() != 2026 {
				t.Errorf("not the caller's clock: injected %s", r.Injected)
			}
			// A single-node fault: some Envoy keeps serving throughout.
			if r.ClientsAffected == nil || *r.ClientsAffected || r.Samples == 0 {
				t.Errorf("clients affected by a single-node fault: %v %s", r.ClientsAffected, r.ClientsNote)
			}
			st := e.Sim(t)
			if c.name == drill.NodeUnreachable || c.name == drill.CassandraStopped {
				// Recovered means back in the ring, not only seen by monitoring.
				var ids []string
				for _, s := range d.Plan.Steps {
					ids = append(ids, s.ID)
				}
				if !strings.Contains(strings.Join(ids, " "), c.host+"/start-cassandra") {
					t.Errorf("recovery without the ring gate: %v", ids)
				}
			}
			for _, h := range st.Hosts {
				if len(h.Faults) > 0 {
					t.Errorf("fault left behind on %s: %v", h.Name, h.Faults)
				}
			}
		})
	}
}

// A drill never starts unless the cluster is fully healthy: with a node
// already stopped it is refused and injects nothing.
func TestDrillRefusedWhenNotHealthy(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Fault: "cassandra-3:cassandra-stopped"})
	e.WaitFiring(t, "CassandraProcessStopped", "cassandra-3", 60*time.Second)
	d, err := drill.Build(e.Inv, drill.Options{Name: drill.ScalarDLKilled, Host: "scalardl-blue-1", Health: e.Health,
		Safety: drill.Safety{Kind: drill.KindLab}, Interval: 200 * time.Millisecond, Deadline: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	status, err := e.Engine(t, nil).Run(context.Background(), d.Plan)
	var ref *workflow.RefusedError
	if status != workflow.StatusRefused || !errors.As(err, &ref) || !strings.Contains(err.Error(), "cassandra-3") {
		t.Fatalf("status %s, %v", status, err)
	}
	if ct := e.Sim(t).Host("scalardl-blue-1").ScalarContainer(); ct == nil || !ct.Running {
		t.Fatal("a refused drill killed the container")
	}
}

// The recovery is a cleanup step: when detection fails (here: canceled
// while waiting), the runbook still starts the node again.
func TestDrillRecoversOnCancel(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1})
	waitHealthy(t, e)
	d, err := drill.Build(e.Inv, drill.Options{Name: drill.CassandraStopped, Host: "cassandra-2", Health: e.Health,
		Safety: drill.Safety{Kind: drill.KindLab}, Interval: 200 * time.Millisecond, Deadline: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	eng := workflow.New(e.Cl, t.TempDir(), workflow.WithoutLock(), workflow.WithEvents(func(ev workflow.Event) {
		if s, ok := ev.(*workflow.StepDone); ok && strings.HasSuffix(s.Step, "/inject") {
			cancel()
		}
	}))
	status, _ := eng.Run(ctx, d.Plan)
	if status != workflow.StatusCanceled {
		t.Fatalf("status %s, want canceled", status)
	}
	if !e.Sim(t).Host("cassandra-2").Cassandra.Active {
		t.Fatal("the drill was canceled and cassandra-2 was left stopped: the recovery did not run")
	}
}

func TestSafety(t *testing.T) {
	for _, c := range []struct {
		s  drill.Safety
		ok bool
	}{
		{drill.Safety{Kind: drill.KindLab}, true},
		{drill.Safety{Kind: drill.KindStaging}, true},
		{drill.Safety{Kind: drill.KindProduction, Deployment: "prod"}, false},
		{drill.Safety{Kind: drill.KindProduction, Deployment: "prod", AllowProduction: true}, false},
		{drill.Safety{Kind: drill.KindProduction, Deployment: "prod", Confirm: "prod"}, false},
		{drill.Safety{Kind: drill.KindProduction, Deployment: "prod", AllowProduction: true, Confirm: "prd"}, false},
		{drill.Safety{Kind: drill.KindProduction, Deployment: "prod", AllowProduction: true, Confirm: "prod"}, true},
		{drill.Safety{Kind: "", Deployment: "x"}, false},
		{drill.Safety{Kind: "prod"}, false},
	} {
		if err := drill.CheckSafety(c.s); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.s, err)
		}
	}
}

func TestResultsTrend(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, det := range []time.Duration{4 * time.Second, 2 * time.Second} {
		r := drill.Result{Drill: drill.EnvoyKilled, Host: "envoy-1.x", Started: base.Add(time.Duration(i) * time.Hour), Status: "done"}
		r.Injected = r.Started
		r.AlertFiring, r.HealthMarked = r.Injected.Add(det), r.Injected.Add(det)
		r.RecoverStart = r.AlertFiring
		r.AlertResolved, r.HealthGreen = r.RecoverStart.Add(10*time.Second), r.RecoverStart.Add(10*time.Second)
		r.DetectAlert, r.RecoverHealthy = det, 10*time.Second
		if _, err := drill.Save(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := drill.List(dir)
	if err != nil || len(rs) != 2 {
		t.Fatalf("%v %v", rs, err)
	}
	tr := drill.Trends(rs)
	if len(tr) != 1 || tr[0].Pass != 2 || tr[0].LastDetect != 2*time.Second || tr[0].MeanDetect != 3*time.Second {
		t.Fatalf("%+v", tr)
	}
}

// RecoverOnly (resume of a crashed drill): no preflight, nothing injected,
// the recovery brings the stopped node back.
func TestRecoverOnly(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Fault: "cassandra-2:cassandra-stopped"})
	e.WaitFiring(t, "CassandraProcessStopped", "cassandra-2", 60*time.Second)
	d, err := drill.Build(e.Inv, drill.Options{Name: drill.CassandraStopped, Host: "cassandra-2", Health: e.Health,
		RecoverOnly: true, Interval: 200 * time.Millisecond, Deadline: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Plan.Preflight) != 0 {
		t.Fatal("a recover-only drill checks the cluster's health before recovering")
	}
	if status, err := e.Engine(t, nil).Run(context.Background(), d.Plan); status != workflow.StatusDone {
		t.Fatalf("status %s, %v", status, err)
	}
	if !e.Sim(t).Host("cassandra-2").Cassandra.Active {
		t.Fatal("cassandra-2 not recovered")
	}
}
