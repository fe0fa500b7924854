package restartcassandra_test

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
	"scalar-tui/ops/workflow/restartcassandra"
	"scalar-tui/ops/workflow/silence"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// The "Done when" at the package level: cassandra-2 stopped, the
// alert fires in the demo's Prometheus, the runbook (inside its silence)
// starts the node, the node is UN from a peer and the alert clears.
func TestRestartStoppedNodeClearsAlert(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Fault: "cassandra-2:cassandra-stopped"})
	e.WaitFiring(t, restartcassandra.Alert, "cassandra-2", 30*time.Second)

	p, err := restartcassandra.Plan(e.Inv, restartcassandra.Options{Host: "cassandra-2", Health: e.Health,
		GateInterval: 200 * time.Millisecond, GateDeadline: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	silence.Wrap(p, silence.Options{Client: e.AM, Hosts: []string{e.Host(t, "cassandra-2").Name}})
	var evs []workflow.Event
	status, err := e.Engine(t, &evs).Run(context.Background(), p)
	if status != workflow.StatusDone || err != nil {
		t.Fatalf("status %s, %v", status, err)
	}
	if h := e.Sim(t).Host("cassandra-2"); !h.Cassandra.Active {
		t.Error("cassandra-2 not active after the run")
	}
	if firing, err := e.Firing(context.Background(), restartcassandra.Alert, "cassandra-2"); firing || err != nil {
		t.Errorf("alert still firing after the run: %v %v", firing, err)
	}
	var steps []string
	for _, ev := range evs {
		if s, ok := ev.(*workflow.StepDone); ok {
			steps = append(steps, s.Step)
		}
	}
	want := "silence-alerts cassandra-2/start-cassandra cassandra-2/alert-clear expire-silence"
	if got := strings.Join(steps, " "); got != want {
		t.Errorf("steps done: %s, want %s", got, want)
	}
}

// Another node down: refused before anything runs; --force starts it anyway.
func TestRefusedWhenAnotherNodeDown(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Fault: "cassandra-2:cassandra-stopped", Prom: demo.PromOptions{Disabled: true}})
	if err := sim.InjectFault(e.D.SimState, "cassandra-3", sim.FaultCassandraStopped, ""); err != nil {
		t.Fatal(err)
	}
	opts := restartcassandra.Options{Host: "cassandra-2", GateInterval: 200 * time.Millisecond, GateDeadline: 30 * time.Second}
	p, err := restartcassandra.Plan(e.Inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	status, err := e.Engine(t, nil).Run(context.Background(), p)
	if status != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "cassandra-3") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("status %s, %v", status, err)
	}
	if e.Sim(t).Host("cassandra-2").Cassandra.Active {
		t.Fatal("a refused run started cassandra-2")
	}
	opts.Force = true
	p, err = restartcassandra.Plan(e.Inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	if status, err := e.Engine(t, nil).Run(context.Background(), p); status != workflow.StatusDone {
		t.Fatalf("forced: status %s, %v", status, err)
	}
	st := e.Sim(t)
	if !st.Host("cassandra-2").Cassandra.Active || st.Host("cassandra-3").Cassandra.Active {
		t.Error("forced run: want cassandra-2 started and cassandra-3 left alone")
	}
}

func TestPlanBadInput(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Prom: demo.PromOptions{Disabled: true}})
	for host, want := range map[string]string{"": "--host is required", "nope": "unknown host", "envoy-1": "not a Cassandra node"} {
		if _, err := restartcassandra.Plan(e.Inv, restartcassandra.Options{Host: host}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("host %q: %v, want %q", host, err, want)
		}
	}
	if _, err := restartcassandra.Plan(nil, restartcassandra.Options{Host: "x"}); err == nil {
		t.Error("nil inventory accepted")
	}
}
