package main

// Issue 15 item 7: the upgrade, both backup routes and the Alertmanager
// silence, end to end on the real-sshd lab (internal/lab + internal/labnodes):
// real sshd hosts in network namespaces behind a real bastion, the
// simulator's tools on each host, its endpoints (Envoy admin, cadvisor,
// rpc.Admin, rpc.Cassy) served inside the hosts' namespaces, and the real
// Prometheus and Alertmanager on monitor-1. Each has a failure case. One lab
// serves every subtest, in order (the upgrade's tag carries over). Skips
// without root, openssh-server, iproute2, prometheus,
// prometheus-node-exporter and prometheus-alertmanager unless
// SCALAR_TUI_REQUIRE_LAB=1.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
	"scalar-tui/ops/workflow/silence"
)

// wfLab is the lab of TestLabWorkflows and what its subtests share.
type wfLab struct {
	t        *testing.T
	l        *lab.Lab
	n        *labnodes.Nodes
	lockPath string
}

// cli runs a scalar-tui command against the lab with the run lock on a
// per-test path, and returns stdout, stderr and the exit code.
func (w *wfLab) cli(ctx context.Context, words ...string) (string, string, int) {
	w.t.Helper()
	a := append(labGlobalArgs(w.t, w.l), words...)
	// The workflows take the run lock (on the bastion, whose /tmp this
	// machine shares); the read-only commands have no --lock-path.
	switch {
	case words[0] == "inventory" || words[0] == "health":
	case words[0] == "backups" && (len(words) < 2 || words[1] != "clear"):
	default:
		a = append(a, "--lock-path", w.lockPath)
	}
	out, errOut, err := runCLI(ctx, a...)
	return out, errOut, exitCodeOf(err)
}

func (w *wfLab) sim() *sim.State {
	w.t.Helper()
	st, err := sim.Load(w.n.SimState)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

// images maps each Scalar DL node to the image its container runs.
func (w *wfLab) images() map[string]string {
	m := map[string]string{}
	for _, h := range w.sim().HostsByRole("scalardl") {
		m[h.Short] = h.ScalarContainer().Image
	}
	return m
}

func (w *wfLab) paused() []string {
	var out []string
	for _, h := range w.sim().HostsByRole("scalardl") {
		if h.Paused {
			out = append(out, h.Short)
		}
	}
	return out
}

// snapshotHosts lists the Cassandra nodes holding snapshot tag.
func (w *wfLab) snapshotHosts(tag string) []string {
	var out []string
	for _, h := range w.sim().HostsByRole(sim.RoleCassandra) {
		for _, s := range h.Cassandra.Snapshots {
			if s.Tag == tag {
				out = append(out, h.Short)
				break
			}
		}
	}
	return out
}

// allSnapshots lists every snapshot tag on the Cassandra nodes.
func (w *wfLab) allSnapshots() []string {
	seen := map[string]bool{}
	for _, h := range w.sim().HostsByRole(sim.RoleCassandra) {
		for _, s := range h.Cassandra.Snapshots {
			seen[s.Tag] = true
		}
	}
	var out []string
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (w *wfLab) fault(host, kind, param string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.n.InjectFault(ctx, host, kind, param); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.n.ClearFault(ctx, host, kind); err != nil {
			w.t.Errorf("clear fault %s on %s: %v", kind, host, err)
		}
	})
}

// client is an sshx client of the lab, as the console makes one.
func (w *wfLab) client() *sshx.Client {
	w.t.Helper()
	c, err := sshx.New(sshx.Config{BastionAddr: w.l.BastionAddr, User: w.l.User, IdentityFile: w.l.KeyPath,
		KnownHostsFile: w.l.KnownHosts, NoAgent: true})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c
}

// labTarball writes a tarball the simulated `docker load` accepts; the lab
// hosts share this machine's /tmp, where the upgrade copies it.
func labTarball(t *testing.T, ref, tag string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte("image: " + ref + "\n"))
	_ = zw.Close()
	name := fmt.Sprintf("scalar-ledger-%s-lab%d-%d.tar.gz", tag, os.Getpid(), time.Now().UnixNano())
	tb := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(tb, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove("/tmp/" + name) })
	return tb
}

// waitPrometheusServing waits until the lab's Prometheus, read through the
// bastion as the console reads it, sees every Scalar DL node serving and
// every Cassandra node active: until then the default health gate refuses.
func (w *wfLab) waitPrometheusServing() {
	w.t.Helper()
	c := w.client()
	src, err := health.NewPrometheusSource(w.n.Inventory, "", health.PrometheusOptions{Dial: c.DialContext, Timeout: 5 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	var why string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		snap, err := src.Snapshot(ctx)
		cancel()
		if err != nil {
			why = err.Error()
			continue
		}
		why = ""
		for _, h := range w.n.Inventory.ByRole(inventory.RoleScalarDLBlue) {
			if ok, r := snap.ScalarDLServing(h.Name); !ok {
				why += r + "; "
			}
		}
		for _, h := range w.n.Inventory.ByRole(inventory.RoleCassandra) {
			if hh, ok := snap.Host(h.Name); !ok || hh.CassandraActive == nil || !*hh.CassandraActive {
				why += h.Short + " not active; "
			}
		}
		if why == "" {
			return
		}
	}
	w.t.Fatalf("Prometheus never saw the deployment healthy: %s", why)
}

// amSilences lists Alertmanager's silences as "state comment" lines, through
// the bastion.
func amSilences(t *testing.T, c *sshx.Client, url string) []string {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: c.DialContext}}
	resp, err := hc.Get(url + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ss []struct {
		Comment string `json:"comment"`
		Status  struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &ss); err != nil {
		t.Fatalf("silences: %v: %s", err, b)
	}
	var out []string
	for _, s := range ss {
		out = append(out, s.Status.State+" "+s.Comment)
	}
	return out
}

func TestLabWorkflows(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	hosts, err := lab.ParseHosts("cassandra=3,cassy=1,scalardl-blue=3,envoy=1,monitor=1")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.ServingDelay = sim.Duration(500 * time.Millisecond)
	cfg.PauseDrain = sim.Duration(100 * time.Millisecond)
	begin := time.Now()
	l, n := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: bin, SimConfig: &cfg})
	t.Logf("lab of %d hosts with nodes up in %s", len(l.Hosts)+1, time.Since(begin).Round(time.Millisecond))
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	w := &wfLab{t: t, l: l, n: n, lockPath: labLockPath(t, "wflab")}
	w.waitPrometheusServing()
	gate := []string{"--yes", "--json", "--health-gate", "prometheus", "--gate-interval", "500ms"}
	const (
		img21 = "ghcr.io/scalar-labs/scalar-ledger:2.1.0"
		img22 = "ghcr.io/scalar-labs/scalar-ledger:2.2.0"
	)
	example, err := os.ReadFile(filepath.Join("..", "..", "ops", "tfvars", "testdata", "example.tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	tfv := filepath.Join(l.TFRoot, "scalardl", "example.tfvars")
	if err := os.WriteFile(tfv, example, 0o644); err != nil {
		t.Fatal(err)
	}

	// The upgrade with a tarball, gated on the real Prometheus, ends with
	// the tfvars edit written; after the operator's `terraform apply` (the
	// lab's state rewritten as apply would) no drift is shown.
	t.Run("Upgrade", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		tb := labTarball(t, img22, "2.2.0")
		begin := time.Now()
		out, errOut, code := w.cli(ctx, append([]string{"upgrade", "--to", "2.2.0", "--image-tarball", tb, "--tfvars", tfv,
			"--gate-deadline", "60s"}, gate...)...)
		t.Logf("upgrade of 3 lab nodes: %s", time.Since(begin).Round(time.Millisecond))
		if run, st := finished(t, out); code != 0 || st != "done" {
			t.Fatalf("upgrade: exit %d, run %s %s\n%s\n%s", code, run, st, out, errOut)
		}
		if !strings.Contains(out, "preflight health-source: ok") {
			t.Errorf("the Prometheus health source was not checked before the run:\n%s", out)
		}
		for h, img := range w.images() {
			if img != img22 {
				t.Errorf("%s runs %s, want %s", h, img, img22)
			}
		}
		if !strings.Contains(errOut, "wrote "+tfv) {
			t.Errorf("the tfvars edit was not written:\n%s", errOut)
		}
		b, _ := os.ReadFile(tfv)
		want := strings.Replace(string(example), `  # blue_image_tag               = "2.1.0"`, `  blue_image_tag               = "2.2.0"`, 1)
		if string(b) != want {
			t.Errorf("tfvars after the run:\n%s\nwant:\n%s", b, want)
		}
		// Before apply the state still records 2.1.0: drift is shown.
		if drift := w.inventoryDrift(ctx); len(drift) != 3 {
			t.Errorf("before terraform apply: drift on %v, want all 3 blue nodes", drift)
		}
		if err := l.SetImageTag("scalardl-blue", "2.2.0"); err != nil {
			t.Fatal(err)
		}
		if drift := w.inventoryDrift(ctx); len(drift) != 0 {
			t.Errorf("after terraform apply: drift shown on %v", drift)
		}
		// health, from the real Prometheus: every blue node runs 2.2.0, none drifts.
		out, errOut, code = w.cli(ctx, "health", "--json")
		var snap struct {
			Hosts []struct {
				Host struct {
					Short string `json:"short"`
				} `json:"host"`
				Running string `json:"running_image_tag"`
				Drift   bool   `json:"image_drift"`
			} `json:"hosts"`
		}
		if err := json.Unmarshal([]byte(out), &snap); err != nil {
			t.Fatalf("health --json (exit %d): %v\n%s\n%s", code, err, out, errOut)
		}
		running := 0
		for _, h := range snap.Hosts {
			if h.Drift {
				t.Errorf("health shows drift on %s (runs %s) after apply", h.Host.Short, h.Running)
			}
			if h.Running == "2.2.0" {
				running++
			}
		}
		if running != 3 {
			t.Errorf("health sees %d nodes running 2.2.0, want 3:\n%s", running, out)
		}
	})

	// A tag whose containers never serve: the first node is rolled back to
	// what it ran, the run fails, no other node is touched and the tfvars
	// are left alone.
	t.Run("UpgradeBadTagRolledBack", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		w.waitPrometheusServing()
		const bad = "2.3.0-broken"
		w.fault("*", sim.FaultBadTag, bad)
		tb := labTarball(t, "ghcr.io/scalar-labs/scalar-ledger:"+bad, bad)
		before := w.images()
		tfBefore, _ := os.ReadFile(tfv)
		out, errOut, code := w.cli(ctx, append([]string{"upgrade", "--to", bad, "--image-tarball", tb, "--tfvars", tfv,
			"--gate-deadline", "8s"}, gate...)...)
		run, st := finished(t, out)
		if code != exitFailed || st != "failed" {
			t.Fatalf("upgrade to a bad tag: exit %d, run %s %s, want 1 failed\n%s\n%s", code, run, st, out, errOut)
		}
		if !strings.Contains(out+errOut, "rolled scalardl-blue-1 back to "+img22+"; it is SERVING again") {
			t.Errorf("no rollback of the first node reported:\n%s\n%s", out, errOut)
		}
		if after := w.images(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("images after the rollback %v, want as before %v", after, before)
		}
		if b, _ := os.ReadFile(tfv); string(b) != string(tfBefore) {
			t.Errorf("a failed upgrade wrote the tfvars:\n%s", b)
		}
		st2, err := workflow.LoadRun(workflow.DeploymentDir(filepath.Join(os.Getenv("XDG_STATE_HOME"), "scalar-tui"),
			n.Inventory.NetworkName, n.Inventory.BastionAddr()), run)
		if err != nil {
			t.Fatal(err)
		}
		steps := map[string]workflow.Status{}
		for _, s := range st2.Steps {
			steps[s.ID] = s.Status
		}
		if steps["scalardl-blue-1/switch"] != workflow.StatusFailed || steps["scalardl-blue-2/switch"] != workflow.StatusSkipped || steps["scalardl-blue-3/switch"] != workflow.StatusSkipped {
			t.Errorf("switch steps %v, want the first failed and the others skipped", steps)
		}
	})

	// The nodetool route: pause every node through the bastion (rpc.Admin
	// over the real network path), snapshot, unpause.
	t.Run("BackupNodetool", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, errOut, code := w.cli(ctx, "backup", "--yes", "--json", "--tag", "lab1")
		if _, st := finished(t, out); code != 0 || st != "done" {
			t.Fatalf("backup: exit %d %s\n%s\n%s", code, st, out, errOut)
		}
		if !strings.Contains(errOut, "Scalar DL was paused for") {
			t.Errorf("pause window not reported:\n%s", errOut)
		}
		if p := w.paused(); len(p) != 0 {
			t.Errorf("left paused: %v", p)
		}
		if s := w.snapshotHosts("lab1"); len(s) != 3 {
			t.Errorf("snapshot lab1 on %v, want the 3 Cassandra nodes", s)
		}
		out, errOut, code = w.cli(ctx, "backups")
		if code != 0 || !strings.Contains(out, "complete on 3/3") {
			t.Errorf("backups: exit %d\n%s\n%s", code, out, errOut)
		}
	})

	// A node refuses the pause: the run fails naming it, every node is
	// unpaused, and no snapshot is taken.
	t.Run("BackupNodetoolPauseRefused", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		w.fault("scalardl-blue-3", sim.FaultPauseRefused, "")
		out, errOut, code := w.cli(ctx, "backup", "--yes", "--json", "--tag", "lab2")
		if _, st := finished(t, out); code != exitFailed || st != "failed" || !strings.Contains(out+errOut, "scalardl-blue-3") {
			t.Fatalf("backup with a refused pause: exit %d %s, want 1 failed naming scalardl-blue-3\n%s\n%s", code, st, out, errOut)
		}
		if p := w.paused(); len(p) != 0 {
			t.Errorf("left paused: %v", p)
		}
		if s := w.snapshotHosts("lab2"); len(s) != 0 {
			t.Errorf("snapshots although not every node was paused: %v", s)
		}
	})

	// Cassy would delete the nodetool route's snapshots: the route is refused
	// while they exist; once cleared, the Cassy route runs through rpc.Cassy
	// on cassy-1 behind the bastion.
	t.Run("BackupCassy", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cassy := []string{"backup", "--via", "cassy", "--yes", "--json", "--cassy-poll-interval", "200ms", "--cassy-deadline", "60s"}
		out, errOut, code := w.cli(ctx, cassy...)
		if _, st := finished(t, out); code != exitFailed || st != "refused" || !strings.Contains(out+errOut, "--allow-mixed-routes") {
			t.Fatalf("Cassy with nodetool snapshots present: exit %d %s, want refused\n%s\n%s", code, st, out, errOut)
		}
		if s := w.snapshotHosts("lab1"); len(s) != 3 {
			t.Fatalf("the refused Cassy run touched the nodetool snapshots: lab1 on %v", s)
		}
		if out, errOut, code := w.cli(ctx, "backups", "clear", "lab1", "--yes", "--json"); code != 0 {
			t.Fatalf("backups clear: exit %d\n%s\n%s", code, out, errOut)
		}
		out, errOut, code = w.cli(ctx, cassy...)
		if _, st := finished(t, out); code != 0 || st != "done" {
			t.Fatalf("Cassy backup: exit %d %s\n%s\n%s", code, st, out, errOut)
		}
		snaps := w.allSnapshots()
		if len(snaps) != 1 || !backup.IsUUID(snaps[0]) || len(w.snapshotHosts(snaps[0])) != 3 {
			t.Errorf("snapshots after the Cassy backup: %v, want one Cassy-picked UUID on the 3 nodes", snaps)
		}
		if !strings.Contains(out+errOut, "COMPLETED on all 3 nodes") {
			t.Errorf("no completion notice:\n%s\n%s", out, errOut)
		}
		if p := w.paused(); len(p) != 0 {
			t.Errorf("left paused: %v", p)
		}
	})

	// Cassy's pause fails on one node and Cassy answers STARTED anyway (no
	// finally): the console sees the FAILED rows, unpauses every node
	// itself through the bastion and says so.
	t.Run("BackupCassyPauseRefused", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		w.fault("scalardl-blue-2", sim.FaultPauseRefused, "")
		out, errOut, code := w.cli(ctx, "backup", "--via", "cassy", "--yes", "--json", "--cassy-poll-interval", "200ms", "--cassy-deadline", "60s")
		if _, st := finished(t, out); code != exitFailed || st != "failed" {
			t.Fatalf("Cassy backup with a refused pause: exit %d %s, want 1 failed\n%s\n%s", code, st, out, errOut)
		}
		if !strings.Contains(out+errOut, "unpaused all 3 Scalar DL admin targets itself") {
			t.Errorf("the console does not say it unpaused every node:\n%s\n%s", out, errOut)
		}
		if p := w.paused(); len(p) != 0 {
			t.Errorf("left paused: %v", p)
		}
	})

	// The silence around a run that fails: the run's silence is created in
	// the real Alertmanager and expired although the run failed; with
	// Alertmanager down the run is refused before anything is touched.
	// (The silence holding a real alert suppressed is ops/workflow/silence's
	// TestLabSilenceMutesRealAlert.)
	t.Run("SilenceAroundFailedRun", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		c := w.client()
		inv, err := inventory.Load(ctx, inventory.Options{TFRoot: l.TFRoot})
		if err != nil {
			t.Fatal(err)
		}
		am, err := alertmanager.New(n.AlertmanagerURL, alertmanager.Options{Dial: c.DialContext})
		if err != nil {
			t.Fatal(err)
		}
		var touched []string
		for _, h := range append(inv.ByRole(inventory.RoleScalarDLBlue), inv.ByRole(inventory.RoleCassandra)...) {
			touched = append(touched, h.Name)
		}
		plan := func(tag string) *workflow.Plan {
			p, err := backup.BuildPlan(workflow.Deps{Inventory: inv, Client: c}, backup.Options{Tag: tag, AllowMixedRoutes: true})
			if err != nil {
				t.Fatal(err)
			}
			silence.Wrap(p, silence.Options{Client: am, Hosts: touched, Window: 10 * time.Minute})
			return p
		}
		w.fault("scalardl-blue-1", sim.FaultPauseRefused, "")
		p := plan("lab3")
		st, err := workflow.New(c, t.TempDir(), workflow.WithoutLock()).Run(ctx, p)
		if st != workflow.StatusFailed || err == nil {
			t.Fatalf("run: %s %v, want failed", st, err)
		}
		var mine []string
		for _, s := range amSilences(t, c, n.AlertmanagerURL) {
			if strings.Contains(s, "run "+p.ID+" (") { // not the CLI runs' suffixed IDs
				mine = append(mine, s)
			}
		}
		if len(mine) != 1 || !strings.HasPrefix(mine[0], "expired ") {
			t.Errorf("the failed run's silence: %q, want one, expired", mine)
		}
		if pz := w.paused(); len(pz) != 0 {
			t.Errorf("left paused: %v", pz)
		}

		if err := n.StopAlertmanager(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := n.StartAlertmanager(ctx); err != nil {
				t.Errorf("start Alertmanager again: %v", err)
			}
		})
		p = plan("lab4")
		st, err = workflow.New(c, t.TempDir(), workflow.WithoutLock()).Run(ctx, p)
		if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "--no-silence") {
			t.Fatalf("run with Alertmanager down: %s %v, want refused naming --no-silence", st, err)
		}
		if s := w.snapshotHosts("lab4"); len(s) != 0 {
			t.Errorf("the refused run snapshotted %v", s)
		}
	})
}

// inventoryDrift lists the nodes `inventory --running --json` shows with
// image drift.
func (w *wfLab) inventoryDrift(ctx context.Context) []string {
	w.t.Helper()
	out, errOut, code := w.cli(ctx, "inventory", "--running", "--json")
	if code != 0 {
		w.t.Fatalf("inventory --running: exit %d\n%s\n%s", code, out, errOut)
	}
	var inv struct {
		Hosts []struct {
			Short   string `json:"short"`
			Running string `json:"running_image_tag"`
			Drift   bool   `json:"image_drift"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		w.t.Fatalf("inventory --json: %v\n%s", err, out)
	}
	var drift []string
	for _, h := range inv.Hosts {
		if h.Drift {
			drift = append(drift, h.Short+"="+h.Running)
		}
	}
	return drift
}
