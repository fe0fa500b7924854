package backend

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/tui/vm"
)

func TestMain(m *testing.M) {
	// The demo's wrapper scripts run this test binary as `sim exec TOOL`.
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// testWorkflows wires the catalog as the console does, with the demo's
// health source for the gates and a lock in the test's own dir.
func testWorkflows(stateDir string, src func(inv *inventory.Inventory, dial health.DialFunc) (health.Source, error)) *Workflows {
	return &Workflows{
		Deps: func(inv *inventory.Inventory, client *sshx.Client) workflow.Deps {
			return workflow.Deps{Inventory: inv, Client: client, StateDir: stateDir,
				Health: func(string) (health.Source, error) { return src(inv, client.DialContext) }}
		},
		Engine: func(client *sshx.Client, events func(workflow.Event), canary bool) *workflow.Engine {
			return workflow.New(client, stateDir, workflow.WithEvents(events), workflow.WithCanary(canary),
				// The demo's bastion is this machine: a lock in the test's own dir
				// goes with it, mirror of the journal (<lock>.runs) included.
				workflow.WithLockPath(filepath.Join(stateDir, "scalar-tui.lock")))
		},
	}
}

// repairParams plan a repair without a health gate, without a silence and
// with a short poll.
var repairParams = vm.WorkflowParams{Options: map[string]string{"health-gate": "off", "gate-interval": "200ms", "no-silence": "true"}}

// newDemoBackend starts a demo deployment and a backend over it, wired as the
// console wires it (same inventory reader, SSH client and health sources).
func newDemoBackend(t *testing.T, prom demo.PromOptions) (*Backend, *demo.Demo) {
	t.Helper()
	return newDemoBackendWith(t, demo.Options{Prom: prom})
}

// newDemoBackendWith is newDemoBackend with the demo's other options.
func newDemoBackendWith(t *testing.T, o demo.Options) (*Backend, *demo.Demo) {
	t.Helper()
	o.SimBinary = os.Args[0]
	o.Config = func(c *sim.Config) { c.RepairDuration = sim.Duration(400 * time.Millisecond) }
	d, err := demo.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	state := t.TempDir()
	src := func(inv *inventory.Inventory, dial health.DialFunc) (health.Source, error) {
		prom, err := health.NewPrometheusSource(inv, "", health.PrometheusOptions{Dial: dial, Timeout: 2 * time.Second})
		if err != nil {
			return nil, err
		}
		return &health.FallbackSource{Primary: prom, Fallback: health.NewScrapeSource(inv, health.ScrapeOptions{Dial: dial})}, nil
	}
	b, err := New(Config{
		LoadInventory: func(ctx context.Context) (*inventory.Inventory, error) {
			return inventory.Load(ctx, inventory.Options{TFRoot: d.TFRoot})
		},
		Connect: func(inv *inventory.Inventory) (*sshx.Client, error) {
			return sshx.New(sshx.Config{BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: d.Identity,
				KnownHostsFile: d.KnownHosts, NoAgent: true})
		},
		HealthSource: src,
		StateDir:     state,
		ShellArgv:    []string{"scalar-tui", "ssh"},
		Workflows:    testWorkflows(state, src),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, d
}

// drain reads events until the channel closes and returns them.
func drain(t *testing.T, ch <-chan vm.WorkflowEvent) []vm.WorkflowEvent {
	t.Helper()
	var out []vm.WorkflowEvent
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, e)
		case <-timeout:
			t.Fatalf("no end of events after 2m; got %d", len(out))
		}
	}
}

func finishedOf(t *testing.T, evs []vm.WorkflowEvent) *workflow.Finished {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	f, ok := evs[len(evs)-1].(*workflow.Finished)
	if !ok {
		t.Fatalf("last event %T, want Finished", evs[len(evs)-1])
	}
	return f
}

// TestBackendHealthFromDemoPrometheus reads health as the console does from
// the demo monitor's Prometheus, and the sparklines' history with it.
func TestBackendHealthFromDemoPrometheus(t *testing.T) {
	b, _ := newDemoBackend(t, demo.PromOptions{})
	ctx := context.Background()
	hv, err := b.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hv.Source, "prometheus ") {
		t.Errorf("source = %q, want the demo's Prometheus", hv.Source)
	}
	if _, err := b.History(ctx, "cassandra-1.internal.scalar-labs.com"); err != nil {
		t.Errorf("History from the demo's Prometheus: %v", err)
	}
}

// TestBackendOnDemo drives the backend the way the console does: health
// (falling back to scraping, as the monitor has no Prometheus here), a repair
// plan, a run that fails on cassandra-2, and a resume that finishes without
// repeating cassandra-1.
func TestBackendOnDemo(t *testing.T) {
	b, d := newDemoBackend(t, demo.PromOptions{Disabled: true})
	ctx := context.Background()

	hv, err := b.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hv.Source, "Prometheus unreachable") {
		t.Errorf("source = %q, want the scrape fallback named", hv.Source)
	}
	if hv.Overall() != vm.StateHealthy {
		t.Errorf("demo health = %s: %+v", hv.Overall(), hv.Cluster)
	}
	// Without Prometheus the history is what the console scraped itself,
	// and says so (issue 14 item 4); never passed off as Prometheus' 15m.
	if h, err := b.History(ctx, "cassandra-1.internal.scalar-labs.com"); err != nil || h.Label != "since start, scraped" || len(h.Cluster["Cassandra active"]) == 0 {
		t.Errorf("History without Prometheus = %+v, %v; want the scraped samples labelled as such", h, err)
	}

	if err := sim.InjectFault(d.SimState, "cassandra-2.internal.scalar-labs.com", "repair-fails", ""); err != nil {
		t.Fatal(err)
	}
	pv, err := b.PlanWorkflow(ctx, vm.KindRepair, repairParams)
	if err != nil {
		t.Fatal(err)
	}
	if len(pv.Steps) != 6 || len(pv.Checks) == 0 || !strings.HasPrefix(pv.ID, "20") {
		t.Fatalf("plan = %+v", pv)
	}
	if !pv.CanaryOK {
		t.Error("a repair honours canary; the plan must offer it")
	}
	// Preflight alone, while the plan is shown: every check passes on the
	// healthy demo, and nothing is journalled.
	checks, err := b.Preflight(ctx, pv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != len(pv.Checks) {
		t.Fatalf("preflight = %+v, want %d checks", checks, len(pv.Checks))
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("check %s failed on the healthy demo: %s", c.Name, c.Reason)
		}
	}
	if runs, _ := b.Runs(ctx, 10); len(runs) != 0 {
		t.Fatalf("preflight journalled a run: %+v", runs)
	}
	if _, err := b.Preflight(ctx, "no-such-plan"); err == nil {
		t.Error("preflight of an unknown plan must fail")
	}
	ch, _, err := b.StartWorkflow(ctx, pv)
	if err != nil {
		t.Fatal(err)
	}
	evs := drain(t, ch)
	if f := finishedOf(t, evs); f.Err == "" || f.Status != "failed" {
		t.Fatalf("run with a failing repair on cassandra-2 finished with %q %v, want failed", f.Status, f.Err)
	}
	var failedHost string
	for _, e := range evs {
		if f, ok := e.(*workflow.StepFailed); ok {
			failedHost = f.Host
		}
	}
	if !strings.HasPrefix(failedHost, "cassandra-2") {
		t.Errorf("failed step host = %q", failedHost)
	}

	runs, err := b.Runs(ctx, 10)
	if err != nil || len(runs) != 1 || !runs[0].Unfinished() {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	if runs[0].State != "failed" || runs[0].Ended.IsZero() {
		t.Errorf("failed run: state %q, ended %v; TOOK must stop at the end", runs[0].State, runs[0].Ended)
	}
	det, err := b.RunDetail(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if det.Run.ID != runs[0].ID || len(det.Steps) != 6 || det.Error == "" {
		t.Fatalf("detail = %+v", det)
	}
	var failedStep vm.RunStepView
	for _, s := range det.Steps {
		if s.Status == "failed" {
			failedStep = s
		}
	}
	if !strings.HasPrefix(failedStep.Host, "cassandra-2") || failedStep.Error == "" || !strings.Contains(det.Error, failedStep.Error) {
		t.Errorf("failed step = %+v, run error %q", failedStep, det.Error)
	}
	outHosts := map[string]int{}
	for _, o := range det.Output {
		outHosts[o.Host] = len(o.Lines)
	}
	if outHosts["cassandra-2.internal.scalar-labs.com"] == 0 || outHosts["bastion"] == 0 {
		t.Errorf("detail output per host = %v, want cassandra-2's and the bastion's (lock)", outHosts)
	}
	// The run's notices are kept after it: the lock, the preflight results.
	var notes []string
	for _, o := range det.Output {
		if o.Host == "cluster" {
			notes = o.Lines
		}
	}
	if j := strings.Join(notes, "\n"); !strings.Contains(j, " note: cluster lock taken") || !strings.Contains(j, " note: preflight ") {
		t.Errorf("run detail's notes = %q, want the lock and the preflight results", notes)
	}
	if err := sim.ClearFault(d.SimState, "cassandra-2.internal.scalar-labs.com", "repair-fails"); err != nil {
		t.Fatal(err)
	}
	rpv, ch, _, err := b.ResumeWorkflow(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rpv.DoneSteps) != 2 {
		t.Errorf("done steps before resume = %v, want cassandra-1's two", rpv.DoneSteps)
	}
	evs = drain(t, ch)
	if f := finishedOf(t, evs); f.Err != "" {
		t.Fatalf("resume: %v", f.Err)
	}
	for _, e := range evs {
		if s, ok := e.(*workflow.StepStarted); ok && strings.HasPrefix(s.Host, "cassandra-1") {
			t.Errorf("resume repeated a cassandra-1 step: %+v", s)
		}
	}
	audit, err := b.Audit(ctx, vm.AuditQuery{Host: "cassandra-1.internal.scalar-labs.com", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	for _, a := range audit {
		if strings.Contains(a.Command, "nodetool repair -full -pr scalar") && strings.Contains(a.Command, "setsid") {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("cassandra-1 repair of scalar started %d times, want 1", starts)
	}
	if _, _, _, err := b.ResumeWorkflow(ctx, runs[0].ID); err == nil {
		t.Error("resuming a finished run must be refused")
	}
}
