package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/drill"
	"scalar-tui/tui/backend"
	"scalar-tui/tui/vm"
)

// A drill through the CLI on the demo: without a lab marker the deployment
// counts as production and the drill is refused (nothing injected); with
// the production flags and the typed name, or with --sim-state, it runs,
// passes and is listed by `drills --json` with its timings.
func TestDrillCLIOnDemo(t *testing.T) {
	e := startRunbookEnv(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 2})
	_, errOut, code := drillCLI(e, "drill", "envoy-killed", "--host", "envoy-1", "--yes", "--interval", "200ms", "--deadline", "60s")
	if code != exitFailed || !strings.Contains(errOut, "--allow-production") {
		t.Fatalf("production-like deployment: exit %d, %s", code, errOut)
	}
	_, errOut, code = drillCLI(e, "drill", "envoy-killed", "--host", "envoy-1", "--yes", "--allow-production", "--confirm-deployment", "wrong")
	if code != exitFailed || !strings.Contains(errOut, "does not match") {
		t.Fatalf("wrong typed name: exit %d, %s", code, errOut)
	}
	if ct := e.Sim(t).Host("envoy-1").Container("provision_envoy_1"); ct == nil || !ct.Running {
		t.Fatal("a refused drill killed the container")
	}
	// Simulator-only drill without the simulator: refused.
	_, errOut, code = drillCLI(e, "drill", "disk-low", "--host", "cassandra-1", "--yes", "--allow-production", "--confirm-deployment", e.Inv.NetworkName)
	if code != exitBadInput || !strings.Contains(errOut, "demo and the lab only") {
		t.Fatalf("disk-low without the simulator: exit %d, %s", code, errOut)
	}
	// A simulator state that is not this deployment's is refused.
	other := filepath.Join(t.TempDir(), "sim")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = drillCLI(e, "drill", "disk-low", "--host", "cassandra-1", "--yes", "--sim-state", other)
	if code != exitBadInput {
		t.Fatalf("foreign --sim-state: exit %d, %s", code, errOut)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errOut, code := drillCLI(e, "drill", "disk-low", "--host", "cassandra-1", "--yes", "--json", "--sim-state", e.D.SimState, "--interval", "200ms", "--deadline", "60s")
		if code == exitOK {
			if !strings.Contains(out, `"kind":"drill-result","pass":true`) {
				t.Fatalf("no passing result line:\n%s", out)
			}
			break
		}
		// The demo may not be fully healthy yet right after start.
		if !strings.Contains(errOut, "not fully healthy") || time.Now().After(deadline) {
			t.Fatalf("disk-low: exit %d\n%s\n%s", code, out, errOut)
		}
		time.Sleep(500 * time.Millisecond)
	}
	out, errOut, code := drillCLI(e, "drills", "--json")
	if code != exitOK {
		t.Fatalf("drills: exit %d %s", code, errOut)
	}
	var got struct {
		Results []struct {
			Drill       string `json:"drill"`
			Status      string `json:"status"`
			DetectAlert int64  `json:"detect_alert_ns"`
		} `json:"results"`
		Trends []struct {
			Drill string `json:"drill"`
			Pass  int    `json:"pass"`
		} `json:"trends"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Results) != 1 || got.Results[0].Drill != "disk-low" || got.Results[0].Status != "done" || got.Results[0].DetectAlert <= 0 ||
		len(got.Trends) != 1 || got.Trends[0].Pass != 1 {
		t.Fatalf("drills --json: %s", out)
	}
}

// drillCLI runs a command on e's demo; the error's text is appended to stderr.
func drillCLI(e *runbookEnv, words ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--tf-root", e.D.TFRoot, "--known-hosts", e.D.KnownHosts, "--identity", e.D.Identity}, words...)
	if words[0] == "drill" {
		args = append(args, "--lock-path", e.lockPath)
	}
	out, errOut, err := runCLI(ctx, args...)
	if err != nil {
		errOut += err.Error()
	}
	return out, errOut, exitCodeOf(err)
}

func TestConfigKind(t *testing.T) {
	path := writeConfig(t, "environments:\n  p:\n    tf_root: /x\n    kind: prod\n")
	if _, err := loadConfig(path); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Fatalf("bad kind accepted: %v", err)
	}
	path = writeConfig(t, "current: s\nenvironments:\n  s:\n    tf_root: /x\n    kind: staging\n")
	g := &globalOptions{configPath: path}
	if k, err := envKind(g); err != nil || k != "staging" {
		t.Fatalf("kind %q, %v", k, err)
	}
}

// The exercise on the demo: every step passes and the report names them in
// order; with Scalar DL refusing to pause, it stops at the backup, skips the
// rest and exits 1 with the report.
func TestExerciseOnDemo(t *testing.T) {
	e := startRunbookEnv(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Config: func(c *sim.Config) {
		c.RepairDuration = sim.Duration(200 * time.Millisecond)
		c.CassandraStartDelay = sim.Duration(200 * time.Millisecond)
	}})
	waitDemoHealthy(t, e)
	out, errOut, code := drillCLI(e, "exercise", "--yes", "--json", "--lock-path", e.lockPath, "--health-wait", "60s")
	var rep exerciseReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, report: %v\n%s\n%s", code, err, out, errOut)
	}
	var names []string
	for _, s := range rep.Steps {
		names = append(names, s.Name+":"+s.Status)
	}
	if code != exitOK || !rep.Pass || strings.Join(names, " ") != "backup:done verify-backup:done repair:done rolling-restart:done health:done" {
		t.Fatalf("exit %d, steps %v\n%s", code, names, errOut)
	}

	if err := sim.InjectFault(e.D.SimState, "scalardl-blue-1", sim.FaultPauseRefused, ""); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = drillCLI(e, "exercise", "--yes", "--json", "--lock-path", e.lockPath)
	rep = exerciseReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, report: %v\n%s\n%s", code, err, out, errOut)
	}
	names = nil
	for _, s := range rep.Steps {
		names = append(names, s.Name+":"+s.Status)
	}
	if code != exitFailed || rep.Pass || strings.Join(names, " ") != "backup:failed verify-backup:skipped repair:skipped rolling-restart:skipped health:skipped" {
		t.Fatalf("exit %d, steps %v\n%s", code, names, errOut)
	}
	if _, _, code := drillCLI(e, "exercise", "--json"); code != exitBadInput {
		t.Fatalf("exercise without --yes: exit %d", code)
	}
}

// waitDemoHealthy waits until `health --json` shows every host healthy.
func waitDemoHealthy(t *testing.T, e *runbookEnv) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		snap, err := e.Health.Snapshot(context.Background())
		if err == nil && len(snap.Alerts) == 0 && snap.Cluster.Healthy == len(snap.Hosts) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo never healthy: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// The console's :drill plans through the drill command with the demo's
// simulator state (without it the demo counts as production and the plan is
// refused), runs like any console workflow, and its last step reports the
// measured times as notices and keeps the result for `drills`.
func TestDrillPlannedByConsole(t *testing.T) {
	e := startRunbookEnv(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 2})
	g := &globalOptions{tfRoot: e.D.TFRoot, knownHosts: e.D.KnownHosts, identity: e.D.Identity}
	plan := func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, kind vm.WorkflowKind, p vm.WorkflowParams) (*workflow.Plan, error) {
		return backend.PlanKind(ctx, consoleWorkflows(g, g.deploymentOf(e.Inv, "")), inv, cl, kind, p)
	}
	params := vm.WorkflowParams{Args: []string{"cassandra-stopped"}, Hosts: []string{"cassandra-2"},
		Options: map[string]string{"interval": "200ms", "deadline": "60s"}}
	ctx := context.Background()
	if _, err := plan(ctx, e.Inv, e.Cl, "drill", params); err == nil || !strings.Contains(err.Error(), "--allow-production") {
		t.Fatalf("console drill without the demo's sim state: %v", err)
	}
	g.simState = e.D.SimState
	if _, err := plan(ctx, e.Inv, e.Cl, "drill", vm.WorkflowParams{Args: []string{"no-such-drill"}, Hosts: []string{"cassandra-2"}}); err == nil || !strings.Contains(err.Error(), "unknown drill") {
		t.Fatalf("unknown drill: %v", err)
	}
	p, err := plan(ctx, e.Inv, e.Cl, "drill", params)
	if err != nil {
		t.Fatal(err)
	}
	if last := p.Steps[len(p.Steps)-1]; last.ID != "cassandra-2/report" || !last.Cleanup {
		t.Fatalf("last step %s (cleanup %v), want cassandra-2/report", last.ID, last.Cleanup)
	}
	for _, s := range p.Steps {
		if s.ID == "silence-alerts" {
			t.Fatal("a console drill silenced its own alert")
		}
	}
	// A console drill whose console died resumes with the same steps.
	raw, err := json.Marshal(p.Params)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := workflow.Lookup(drill.Workflow)
	rp, err := k.Resume(ctx, kindDeps(e.Inv, e.Cl, workflowFlags{}, cmdStreams{}), raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Steps) != len(p.Steps) || rp.Steps[len(rp.Steps)-1].ID != "cassandra-2/report" {
		t.Fatalf("rebuilt plan has %d steps, want %d ending with the report", len(rp.Steps), len(p.Steps))
	}
	waitDemoHealthy(t, e)
	var events []workflow.Event
	st, err := e.Engine(t, &events).Run(ctx, p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("drill run: %s %v", st, err)
	}
	var notices []string
	for _, ev := range events {
		if n, ok := ev.(*workflow.Notice); ok {
			notices = append(notices, n.Message)
		}
	}
	text := strings.Join(notices, "\n")
	if !strings.HasPrefix(notices[len(notices)-1], "drill cassandra-stopped on cassandra-2: PASS · detect: alert ") || !strings.Contains(text, "clients: not affected") {
		t.Fatalf("no measured times in the run's notices:\n%s", text)
	}
	rs, err := drill.List(drill.ResultsDir(g.deploymentOf(e.Inv, "").dir))
	if err != nil || len(rs) != 1 || !rs[0].Pass() || rs[0].DetectAlert <= 0 || rs[0].RecoverHealthy <= 0 {
		t.Fatalf("kept results: %+v %v", rs, err)
	}
}
