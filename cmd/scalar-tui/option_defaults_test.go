package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/tui/backend"
	"scalar-tui/tui/vm"
)

// A deployment's option defaults reach both the console and the CLI. The
// demo keeps Cassandra's files in ~/data and ~/commitlog: its console's
// restore, planned from `:backups` with scalar-terraform's /data, failed
// every preflight (no manifest.json, no /commitlog) and could never run.
// With the demo's defaults every check passes; a value the operator gives
// still wins; a config environment's `options:` set the CLI's flags.
func TestRestoreUsesTheDeploymentsOptionDefaults(t *testing.T) {
	if err := checkOptionDefaults(demo.OptionDefaults()); err != nil {
		t.Fatalf("the demo's defaults are not the catalog's options: %v", err)
	}
	e := startOpsEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	time.Sleep(600 * time.Millisecond) // Scalar DL serves after its delay
	if out, errOut, code := e.opsCLI(ctx, "backup", "--tag", "b1", "--yes", "--min-free-percent", "-1"); code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}

	// preflight plans the console's restore of b1 with g's defaults and
	// opts, and returns each check's error by name.
	preflight := func(g *globalOptions, opts map[string]string) map[string]error {
		t.Helper()
		inv, cl, err := openDeployment(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		dep := g.deploymentOf(inv, e.lockPath)
		o := map[string]string{"tag": "b1", "confirm-deployment": inv.NetworkName}
		for n, x := range opts {
			o[n] = x
		}
		p, err := backend.PlanKind(ctx, consoleWorkflows(g, dep), inv, cl, vm.WorkflowKind("restore"), vm.WorkflowParams{Options: o})
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		res, err := newEngine(cl, workflowFlags{dep: dep}).Preflight(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]error{}
		for _, r := range res {
			got[r.Name] = r.Err
		}
		return got
	}
	g := &globalOptions{tfRoot: e.d.TFRoot, knownHosts: e.d.KnownHosts, identity: e.d.Identity, kindDefaults: demo.OptionDefaults()}
	for name, err := range preflight(g, nil) {
		if err != nil {
			t.Errorf("demo console, check %s: %v", name, err)
		}
	}
	if got := preflight(g, map[string]string{"data-dir": "/data"}); got["tag-complete"] == nil || !strings.Contains(got["tag-complete"].Error(), "no manifest.json") {
		t.Errorf("the operator's --data-dir /data did not win over the demo's default: %v", got)
	}
	g.kindDefaults = nil
	if got := preflight(g, nil); got["tag-complete"] == nil || got["free-space"] == nil {
		t.Errorf("without the demo's defaults the restore looked under /data and passed: %v", got)
	}

	// The CLI takes an environment's options from the config; a flag wins.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(`environments:
  demo:
    tf_root: `+e.d.TFRoot+`
    known_hosts: `+e.d.KnownHosts+`
    identity: `+e.d.Identity+`
    options:
      restore: {data-dir: ~/data, commitlog-dir: ~/commitlog}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	dry := []string{"--config", cfg, "--env", "demo", "restore", "--tag", "b1", "--dry-run", "--lock-path", e.lockPath}
	out, errOut, err := runCLI(ctx, dry...)
	if code := exitCodeOf(err); code != 0 || !strings.Contains(out, `"$HOME"/data`) || strings.Contains(out, "'/data'") {
		t.Fatalf("dry run with the config's options: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, err = runCLI(ctx, append(dry, "--data-dir", "/srv/data")...)
	if code := exitCodeOf(err); code != 0 || !strings.Contains(out, "/srv/data") || strings.Contains(out, `"$HOME"/data`) {
		t.Fatalf("dry run with --data-dir: exit %d\n%s\n%s", code, out, errOut)
	}
}
