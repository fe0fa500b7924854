package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sim"
)

// TestUpgradeCLIEndToEnd runs `upgrade --canary` then `resume` against the
// demo (startOpsEnv in cmd_backup_test.go), copying the image tarball over SSH.
func TestUpgradeCLIEndToEnd(t *testing.T) {
	e := startOpsEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte("image: ghcr.io/scalar-labs/scalar-ledger:2.2.0\n"))
	_ = zw.Close()
	name := "scalar-ledger-2.2.0-" + filepath.Base(e.state) + ".tar.gz"
	tb := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(tb, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove("/tmp/" + name) }) // the demo hosts share this machine's /tmp

	out, errOut, code := e.opsCLI(ctx, "upgrade", "--to", "2.2.0", "--image-tarball", tb, "--dry-run")
	if code != 0 || !strings.Contains(out, "ghcr.io/scalar-labs/scalar-ledger:2.1.0 → ghcr.io/scalar-labs/scalar-ledger:2.2.0") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = e.opsCLI(ctx, "upgrade", "--to", "2.2.0", "--image-tarball", tb, "--yes", "--json",
		"--gate-interval", "200ms", "--gate-deadline", "20s", "--canary", "--health-gate", "scrape")
	if code != 0 {
		t.Fatalf("upgrade: %d\n%s\n%s", code, out, errOut)
	}
	run, st := finished(t, out)
	if st != "canary-wait" {
		t.Fatalf("status %s", st)
	}
	imgs := func() map[string]string {
		m := map[string]string{}
		for _, h := range e.simState().HostsByRole("scalardl") {
			m[h.Short] = h.ScalarContainer().Image
		}
		return m
	}
	if m := imgs(); m["scalardl-blue-1"] != "ghcr.io/scalar-labs/scalar-ledger:2.2.0" || m["scalardl-blue-2"] != sim.DefaultScalarImg {
		t.Fatalf("after canary: %v", m)
	}
	out, errOut, code = e.opsCLI(ctx, "resume", run, "--yes", "--json")
	if code != 0 {
		t.Fatalf("resume: %d\n%s\n%s", code, out, errOut)
	}
	for h, img := range imgs() {
		if img != "ghcr.io/scalar-labs/scalar-ledger:2.2.0" {
			t.Errorf("%s runs %s", h, img)
		}
	}
}

// upgradeTarball writes a tarball the simulated `docker load` accepts.
func upgradeTarball(t *testing.T, e *repairEnv, ref, tag string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte("image: " + ref + "\n"))
	_ = zw.Close()
	name := "scalar-ledger-" + tag + "-" + filepath.Base(e.state) + ".tar.gz"
	tb := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(tb, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove("/tmp/" + name) }) // the demo hosts share this machine's /tmp
	return tb
}

// scalarContainers maps each Scalar DL node to its container's image and ID.
func (e *repairEnv) scalarContainers() map[string]string {
	m := map[string]string{}
	for _, h := range e.simState().HostsByRole("scalardl") {
		c := h.ScalarContainer()
		m[h.Short] = c.Image + " " + c.ID
	}
	return m
}

// TestUpgradeCLIRefusedWithoutPrometheus is issue 12 item 2: with the default
// health gate (prometheus) and no Prometheus (the demo has none), the upgrade
// is refused before any node is touched.
func TestUpgradeCLIRefusedWithoutPrometheus(t *testing.T) {
	// The monitor host is down: the default gate's Prometheus cannot be read.
	e := startOpsEnv(t, "monitor-1:node-down")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tb := upgradeTarball(t, e, "ghcr.io/scalar-labs/scalar-ledger:2.2.0", "2.2.0")
	before := e.scalarContainers()
	// --no-silence: the monitor's Alertmanager is down too, and its own
	// preflight would refuse first.
	out, errOut, code := e.opsCLI(ctx, "upgrade", "--to", "2.2.0", "--image-tarball", tb, "--yes", "--json",
		"--gate-interval", "200ms", "--gate-deadline", "3s", "--no-silence")
	if code != 1 {
		t.Fatalf("upgrade: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if _, st := finished(t, out); st != "refused" || !strings.Contains(out+errOut, "health-source") {
		t.Fatalf("status %s, want refused by health-source\n%s\n%s", st, out, errOut)
	}
	if after := e.scalarContainers(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("nodes touched: %v -> %v", before, after)
	}
}

// TestUpgradeCLITerraformAlignment is issue 15 item 1 end to end: the plan
// shows the tfvars edit, a headless run writes it only with --tfvars, and an
// upgrade is refused while drift is unresolved.
func TestUpgradeCLITerraformAlignment(t *testing.T) {
	e := startOpsEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	example, err := os.ReadFile(filepath.Join("..", "..", "ops", "tfvars", "testdata", "example.tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	tfv := filepath.Join(e.d.TFRoot, "scalardl", "example.tfvars")
	if err := os.WriteFile(tfv, example, 0o644); err != nil {
		t.Fatal(err)
	}
	run := []string{"--yes", "--json", "--gate-interval", "200ms", "--gate-deadline", "20s", "--health-gate", "scrape"}
	tb := upgradeTarball(t, e, "ghcr.io/scalar-labs/scalar-ledger:2.2.0", "2.2.0")

	out, errOut, code := e.opsCLI(ctx, "upgrade", "--to", "2.2.0", "--image-tarball", tb, "--dry-run", "--health-gate", "scrape")
	if code != 0 || !strings.Contains(out, "Terraform records ghcr.io/scalar-labs/scalar-ledger:2.1.0 for the blue nodes") ||
		!strings.Contains(out, "-  # blue_image_tag               = \"2.1.0\"") || !strings.Contains(out, "+  blue_image_tag               = \"2.2.0\"") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errOut)
	}
	// Headless without --tfvars: shown, not written.
	out, errOut, code = e.opsCLI(ctx, append([]string{"upgrade", "--to", "2.2.0", "--image-tarball", tb}, run...)...)
	if code != 0 || !strings.Contains(errOut, "not written (headless: pass --tfvars "+tfv) {
		t.Fatalf("upgrade: %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(tfv); string(b) != string(example) {
		t.Fatalf("tfvars written without --tfvars:\n%s", b)
	}
	// The drift is unresolved: the next upgrade is refused, nothing touched.
	tb3 := upgradeTarball(t, e, "ghcr.io/scalar-labs/scalar-ledger:2.3.0", "2.3.0")
	before := e.scalarContainers()
	out, errOut, code = e.opsCLI(ctx, append([]string{"upgrade", "--to", "2.3.0", "--image-tarball", tb3}, run...)...)
	if _, st := finished(t, out); code != 1 || st != "refused" || !strings.Contains(out, "no-drift") || !strings.Contains(out, "--allow-drift") {
		t.Fatalf("upgrade with drift: %d %s\n%s\n%s", code, st, out, errOut)
	}
	if after := e.scalarContainers(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("nodes touched: %v -> %v", before, after)
	}
	// --tfvars with --yes: the drift check accepts the run (the file is
	// aligned at the end), and the file records the target afterwards.
	out, errOut, code = e.opsCLI(ctx, append([]string{"upgrade", "--to", "2.3.0", "--image-tarball", tb3, "--tfvars", tfv, "--allow-drift"}, run...)...)
	if code != 0 || !strings.Contains(errOut, "wrote "+tfv) {
		t.Fatalf("upgrade --tfvars: %d\n%s\n%s", code, out, errOut)
	}
	b, _ := os.ReadFile(tfv)
	want := strings.Replace(string(example), `  # blue_image_tag               = "2.1.0"`, `  blue_image_tag               = "2.3.0"`, 1)
	if string(b) != want {
		t.Errorf("tfvars after the run:\n%s\nwant:\n%s", b, want)
	}
	// The tfvars now say what runs: the next upgrade is not refused for drift.
	tb4 := upgradeTarball(t, e, "ghcr.io/scalar-labs/scalar-ledger:2.4.0", "2.4.0")
	out, errOut, code = e.opsCLI(ctx, append([]string{"upgrade", "--to", "2.4.0", "--image-tarball", tb4, "--no-tfvars"}, run...)...)
	if _, st := finished(t, out); code != 1 || st != "refused" {
		t.Fatalf("--no-tfvars ignores the file, so the drift shows: %d %s\n%s\n%s", code, st, out, errOut)
	}
	out, errOut, code = e.opsCLI(ctx, append([]string{"upgrade", "--to", "2.4.0", "--image-tarball", tb4}, run...)...)
	if code != 0 {
		t.Fatalf("upgrade after alignment: %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := e.opsCLI(ctx, "upgrade", "--to", "2.5.0", "--tfvars", tfv, "--no-tfvars", "--dry-run"); code != 2 {
		t.Errorf("--tfvars with --no-tfvars: %d\n%s\n%s", code, out, errOut)
	}
}

// TestUpgradeCLIResumeOffersTFVars: a canary stop leaves the tfvars alone
// (one node upgraded); the resume that finishes the run writes them.
func TestUpgradeCLIResumeOffersTFVars(t *testing.T) {
	e := startOpsEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	example, err := os.ReadFile(filepath.Join("..", "..", "ops", "tfvars", "testdata", "example.tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	tfv := filepath.Join(t.TempDir(), "prod.tfvars")
	if err := os.WriteFile(tfv, example, 0o644); err != nil {
		t.Fatal(err)
	}
	tb := upgradeTarball(t, e, "ghcr.io/scalar-labs/scalar-ledger:2.2.0", "2.2.0")
	out, errOut, code := e.opsCLI(ctx, "upgrade", "--to", "2.2.0", "--image-tarball", tb, "--tfvars", tfv, "--canary",
		"--yes", "--json", "--gate-interval", "200ms", "--gate-deadline", "20s", "--health-gate", "scrape")
	run, st := finished(t, out)
	if code != 0 || st != "canary-wait" {
		t.Fatalf("upgrade: %d %s\n%s\n%s", code, st, out, errOut)
	}
	if b, _ := os.ReadFile(tfv); string(b) != string(example) {
		t.Fatalf("tfvars written at the canary stop:\n%s", b)
	}
	out, errOut, code = e.opsCLI(ctx, "resume", run, "--yes", "--json")
	if code != 0 || !strings.Contains(errOut, "wrote "+tfv) {
		t.Fatalf("resume: %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(tfv); !strings.Contains(string(b), "\n  blue_image_tag               = \"2.2.0\"\n") {
		t.Errorf("tfvars after resume:\n%s", b)
	}
}
