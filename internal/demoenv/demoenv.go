// Package demoenv starts a demo deployment (internal/demo) for the tests of
// the runbook workflows and hands back what a workflow needs: the loaded
// inventory, an SSH client through the demo's bastion that verifies host
// keys, the monitor's Prometheus as a health source and its Alertmanager.
//
// It is test tooling: production packages never import it.
package demoenv

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
)

// Env is a running demo with clients for it.
type Env struct {
	D      *demo.Demo
	Inv    *inventory.Inventory
	Cl     *sshx.Client
	Health health.Source
	AM     *alertmanager.Client
}

// Start starts a demo with o (SimBinary defaults to the test binary, whose
// TestMain must call demo.RunSimExec) and closes it when t ends.
func Start(t testing.TB, o demo.Options) *Env {
	t.Helper()
	if o.SimBinary == "" {
		o.SimBinary, _ = os.Executable()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: d.TFRoot})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sshx.New(sshx.Config{BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: inv.PrivateKeyPath,
		KnownHostsFile: d.KnownHosts, NoAgent: true, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	e := &Env{D: d, Inv: inv, Cl: cl}
	if !o.Prom.Disabled {
		e.Health, err = health.NewPrometheusSource(inv, "", health.PrometheusOptions{Dial: cl.DialContext, Timeout: 5 * time.Second, EnvoyAdmin: true})
		if err != nil {
			t.Fatal(err)
		}
		u, err := silence.URL(inv.Endpoints.Prometheus)
		if err != nil {
			t.Fatal(err)
		}
		e.AM, err = alertmanager.New(u, alertmanager.Options{Dial: cl.DialContext, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// Host returns the inventory host named short.
func (e *Env) Host(t testing.TB, short string) inventory.Host {
	t.Helper()
	h, ok := e.Inv.Find(short)
	if !ok {
		t.Fatalf("no host %s in the demo inventory", short)
	}
	return h
}

// Sim loads the simulator's state.
func (e *Env) Sim(t testing.TB) *sim.State {
	t.Helper()
	st, err := sim.Load(e.D.SimState)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Firing reports whether the health source shows alert firing for host (short name).
func (e *Env) Firing(ctx context.Context, alert, short string) (bool, error) {
	snap, err := e.Health.Snapshot(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range snap.Alerts {
		if a.Name == alert && (strings.HasPrefix(a.Host, short+".") || strings.HasPrefix(health.InstanceHost(a.Instance), short+".")) {
			return true, nil
		}
	}
	return false, nil
}

// WaitFiring polls until alert fires for host, failing t after within.
func (e *Env) WaitFiring(t testing.TB, alert, short string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := e.Firing(context.Background(), alert, short)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never fired for %s within %s (last error %v)", alert, short, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Engine returns an engine on the demo journalling under t's temp dir,
// without the cluster lock, that records events.
func (e *Env) Engine(t testing.TB, events *[]workflow.Event) *workflow.Engine {
	opts := []workflow.Option{workflow.WithoutLock()}
	if events != nil {
		opts = append(opts, workflow.WithEvents(func(ev workflow.Event) { *events = append(*events, ev) }))
	}
	return workflow.New(e.Cl, t.TempDir(), opts...)
}
