package restartcontainer_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/demoenv"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restartcontainer"
	"scalar-tui/ops/workflow/silence"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func stop(t *testing.T, e *demoenv.Env, host, container string) {
	t.Helper()
	r, err := e.Cl.Run(context.Background(), e.Host(t, host).Name, "docker stop "+container, sshx.RunOptions{})
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("docker stop %s on %s: %v %d", container, host, err, r.ExitCode)
	}
}

// The Scalar DL container stopped: ScalarDLContainerDown fires; the runbook
// brings it up, waits for SERVING and every Envoy, and the alert clears.
func TestRestartScalarDLContainer(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 1, Blue: 2, Envoy: 2})
	stop(t, e, "scalardl-blue-2", "provision_scalar_1")
	e.WaitFiring(t, "ScalarDLContainerDown", "scalardl-blue-2", 60*time.Second)

	p, err := restartcontainer.Plan(e.Inv, restartcontainer.Options{Host: "scalardl-blue-2", Health: e.Health,
		GateInterval: 200 * time.Millisecond, GateDeadline: 45 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Steps[0].Commands[0]; got != "cd ~/provision && docker-compose up -d scalar" {
		t.Errorf("command %q", got)
	}
	silence.Wrap(p, silence.Options{Client: e.AM, Hosts: []string{e.Host(t, "scalardl-blue-2").Name}})
	var evs []workflow.Event
	if status, err := e.Engine(t, &evs).Run(context.Background(), p); status != workflow.StatusDone {
		t.Fatalf("status %s, %v", status, err)
	}
	var passed []string
	for _, ev := range evs {
		if g, ok := ev.(*workflow.GatePassed); ok {
			passed = append(passed, g.Gate)
		}
	}
	if got := strings.Join(passed, " "); got != "container-running serving-in-envoy alert-clear" {
		t.Errorf("gates passed: %s", got)
	}
	for _, ct := range e.Sim(t).Host("scalardl-blue-2").Containers {
		if !ct.Running {
			t.Errorf("%s not running", ct.Name)
		}
	}
	if firing, err := e.Firing(context.Background(), "ScalarDLContainerDown", "scalardl-blue-2"); firing || err != nil {
		t.Errorf("alert still firing: %v %v", firing, err)
	}
}

// A monitor container: only that service is started; with no health source
// the plan has no alert gate.
func TestRestartMonitorServiceOnly(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 1, Blue: 1, Envoy: 1, Prom: demo.PromOptions{Disabled: true}})
	stop(t, e, "monitor-1", "provision_grafana_1")
	stop(t, e, "monitor-1", "provision_nginx_1")
	p, err := restartcontainer.Plan(e.Inv, restartcontainer.Options{Host: "monitor-1", Service: "grafana",
		GateInterval: 200 * time.Millisecond, GateDeadline: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 1 {
		t.Errorf("steps: %d, want 1 (no serving or alert gate)", len(p.Steps))
	}
	if status, err := e.Engine(t, nil).Run(context.Background(), p); status != workflow.StatusDone {
		t.Fatalf("status %s, %v", status, err)
	}
	for _, ct := range e.Sim(t).Host("monitor-1").Containers {
		if want := ct.Service != "nginx"; ct.Running != want {
			t.Errorf("%s running %v, want %v", ct.Name, ct.Running, want)
		}
	}
}

func TestPlanBadInput(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 1, Blue: 1, Envoy: 1, Prom: demo.PromOptions{Disabled: true}})
	for _, c := range []struct{ host, svc, want string }{
		{"", "", "--host is required"},
		{"nope", "", "unknown host"},
		{"cassandra-1", "", "restart-cassandra"},
		{"envoy-1", "scalar", "runs no service"},
		{"monitor-1", "x; rm -rf /", "runs no service"},
	} {
		if _, err := restartcontainer.Plan(e.Inv, restartcontainer.Options{Host: c.host, Service: c.svc}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %q: %v, want %q", c.host, c.svc, err, c.want)
		}
	}
	p, err := restartcontainer.Plan(e.Inv, restartcontainer.Options{Host: "reaper-1"})
	if err != nil || !strings.Contains(p.Steps[0].Commands[0], "up -d reaper") {
		t.Errorf("reaper default service: %v %+v", err, p)
	}
}
