package rollingrestart_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/demoenv"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/rollingrestart"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func quickStart(c *sim.Config) { c.CassandraStartDelay = sim.Duration(300 * time.Millisecond) }

func fast(o rollingrestart.Options) rollingrestart.Options {
	o.GateInterval, o.GateDeadline = 100*time.Millisecond, 30*time.Second
	return o
}

// Every node is drained, stopped and started in turn, the next one only after
// the ring is UN again; each node's process was restarted (new generation).
func TestRollingRestart(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Config: quickStart})
	before := map[string]int64{}
	for _, h := range e.Sim(t).HostsByRole(sim.RoleCassandra) {
		before[h.Short] = h.Cassandra.Generation
	}
	p, err := rollingrestart.Plan(e.Inv, fast(rollingrestart.Options{Health: e.Health}))
	if err != nil {
		t.Fatal(err)
	}
	var evs []workflow.Event
	if status, err := e.Engine(t, &evs).Run(context.Background(), p); status != workflow.StatusDone {
		t.Fatalf("status %s, %v", status, err)
	}
	var order []string
	for _, ev := range evs {
		switch ev := ev.(type) {
		case *workflow.StepDone:
			order = append(order, ev.Step)
		case *workflow.GatePassed:
			order = append(order, "gate")
		}
	}
	want := "cassandra-1/drain cassandra-1/stop gate cassandra-1/start cassandra-2/drain cassandra-2/stop gate cassandra-2/start " +
		"cassandra-3/drain cassandra-3/stop gate cassandra-3/start ensure-started"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
	for _, h := range e.Sim(t).HostsByRole(sim.RoleCassandra) {
		if !h.Cassandra.Active || h.Cassandra.Generation == before[h.Short] {
			t.Errorf("%s: active %v, generation %d (before %d)", h.Short, h.Cassandra.Active, h.Cassandra.Generation, before[h.Short])
		}
	}
}

// Canceled right after a node was stopped: the cleanup step starts it again.
func TestCanceledRunLeavesNoNodeStopped(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Config: quickStart, Prom: demo.PromOptions{Disabled: true}})
	p, err := rollingrestart.Plan(e.Inv, fast(rollingrestart.Options{Hosts: []string{"cassandra-2", "cassandra-1"}}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var restarted []string
	eng := workflow.New(e.Cl, t.TempDir(), workflow.WithoutLock(), workflow.WithEvents(func(ev workflow.Event) {
		switch ev := ev.(type) {
		case *workflow.StepDone:
			if ev.Step == "cassandra-2/stop" {
				cancel()
			}
		case *workflow.Notice:
			if strings.Contains(ev.Message, "restarting Cassandra on") {
				restarted = append(restarted, ev.Message)
			}
		}
	}))
	status, err := eng.Run(ctx, p)
	if status != workflow.StatusCanceled {
		t.Fatalf("status %s, %v", status, err)
	}
	if len(restarted) != 1 || !strings.Contains(restarted[0], "cassandra-2.") {
		t.Errorf("cleanup notices: %v", restarted)
	}
	if !e.Sim(t).Host("cassandra-2").Cassandra.Active {
		t.Error("cassandra-2 left stopped by a canceled run")
	}
}

func TestRefusedWithANodeDown(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Fault: "cassandra-3:cassandra-stopped", Prom: demo.PromOptions{Disabled: true}})
	p, err := rollingrestart.Plan(e.Inv, fast(rollingrestart.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	status, err := e.Engine(t, nil).Run(context.Background(), p)
	if status != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "cassandra-3") {
		t.Fatalf("status %s, %v", status, err)
	}
	if _, err := rollingrestart.Plan(e.Inv, rollingrestart.Options{Hosts: []string{"envoy-1"}}); err == nil {
		t.Error("envoy host accepted")
	}
}
