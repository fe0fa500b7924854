package main

// Issue 16's runbook tests on the lab: for each runbook workflow, the fault
// is injected (the simulator's faults, or `docker kill` on the host as an
// operator's mistake would be), the REAL alert is awaited on the lab's real
// Prometheus (the deployment's rules, read from /api/v1/alerts through the
// bastion), the runbook runs headless (--yes --json) and the alert clears
// with health green. The Envoy case runs from the console in tmux instead.
//
// The lab's node exporters are real and report this machine's disks, not
// the simulator's data volume, so CassandraDriveSpaceLow cannot be made to
// fire on the lab: free-disk is tested here on its refusal (the newest
// complete backup) and its --force path; the alert → free-disk path is on
// the demo (cmd_runbook_test.go, ops/workflow/drill).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// alertWait bounds every wait for Prometheus: discovery takes ~5 s, then a
// change shows within a scrape and a rule evaluation (1 s each in the lab,
// with `for:` durations of a few seconds).
const alertWait = 90 * time.Second

// promAlert is one entry of Prometheus' /api/v1/alerts.
type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// promAlerts reads the lab Prometheus' alerts API through the bastion.
func promAlerts(ctx context.Context, c *sshx.Client, inv *inventory.Inventory) ([]promAlert, error) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: c.DialContext}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+inv.Endpoints.Prometheus+"/api/v1/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" {
		return nil, fmt.Errorf("alerts API: %v: %.300s", err, b)
	}
	return r.Data.Alerts, nil
}

// alertOn reports whether a names the inventory host h (its instance label
// is the host's name or address, with a port).
func alertOn(a promAlert, h inventory.Host) bool {
	inst := a.Labels["instance"]
	if i := strings.LastIndex(inst, ":"); i >= 0 {
		inst = inst[:i]
	}
	return inst != "" && (inst == h.Name || inst == h.Short || inst == h.PrivateIP)
}

// describeAlerts is a one-line list for failure messages.
func describeAlerts(as []promAlert) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Labels["alertname"]+"@"+a.Labels["instance"]+"="+a.State)
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

// waitAlert polls the alerts API until alert name on host is firing (firing
// true) or neither pending nor firing (firing false), within alertWait.
func (w *wfLab) waitAlert(c *sshx.Client, name, host string, firing bool) {
	w.t.Helper()
	h, ok := w.n.Inventory.Find(host)
	if !ok {
		w.t.Fatalf("no host %s in the lab inventory", host)
	}
	var last []promAlert
	var lastErr error
	for deadline := time.Now().Add(alertWait); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		as, err := promAlerts(ctx, c, w.n.Inventory)
		cancel()
		last, lastErr = as, err
		if err != nil {
			continue
		}
		seen := false
		for _, a := range as {
			if a.Labels["alertname"] == name && alertOn(a, h) && (a.State == "firing" || !firing) {
				seen = true
			}
		}
		if seen == firing {
			return
		}
	}
	w.t.Fatalf("%s on %s: never became firing=%v within %s; last error %v; alerts: %s", name, host, firing, alertWait, lastErr, describeAlerts(last))
}

// machineAlert is the one alert the lab cannot keep quiet: its real node
// exporters all report this machine's CPU, which a shared 2-core machine
// running tests saturates. Nothing a runbook does touches it.
const machineAlert = "InstanceHighCPUUtilization"

// waitGreen polls the console's health reading of the real Prometheus until
// every host is healthy and no alert fires (but machineAlert).
func (w *wfLab) waitGreen(c *sshx.Client) {
	w.t.Helper()
	src, err := health.NewPrometheusSource(w.n.Inventory, "", health.PrometheusOptions{Dial: c.DialContext, Timeout: 5 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	var why string
	for deadline := time.Now().Add(alertWait); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		snap, err := src.Snapshot(ctx)
		cancel()
		if err != nil {
			why = err.Error()
			continue
		}
		why = ""
		for _, h := range snap.Hosts {
			var reasons []string
			for _, r := range h.Reasons {
				if !strings.HasPrefix(r, "alert "+machineAlert+" ") {
					reasons = append(reasons, r)
				}
			}
			if h.State != health.StateHealthy && (len(reasons) > 0 || len(h.Reasons) == 0) {
				why += fmt.Sprintf("%s %s (%s); ", h.Host.Short, h.State, strings.Join(reasons, ", "))
			}
		}
		for _, a := range snap.Alerts {
			if a.Name != machineAlert {
				why += "firing " + a.Name + "@" + a.Instance + "; "
			}
		}
		if why == "" {
			return
		}
	}
	w.t.Fatalf("health never green: %s", why)
}

// remote runs a command on a lab host through the bastion and fails on a
// non-zero exit.
func (w *wfLab) remote(c *sshx.Client, host, command string) {
	w.t.Helper()
	h, ok := w.n.Inventory.Find(host)
	if !ok {
		w.t.Fatalf("no host %s", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.Run(ctx, h.Name, command, sshx.RunOptions{})
	if err != nil || r.ExitCode != 0 {
		w.t.Fatalf("%s on %s: exit %d, %v", command, host, r.ExitCode, err)
	}
}

// runbook runs a runbook command headless and wants it done.
func (w *wfLab) runbook(words ...string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	words = append(words, "--yes", "--json", "--gate-interval", "500ms", "--gate-deadline", "90s")
	begin := time.Now()
	out, errOut, code := w.cli(ctx, words...)
	w.t.Logf("%s: %s", words[0], time.Since(begin).Round(time.Millisecond))
	if run, st := finished(w.t, out); code != exitOK || st != "done" {
		w.t.Fatalf("%v: exit %d, run %s %s\nstdout:\n%s\nstderr:\n%s", words, code, run, st, out, errOut)
	}
	return out
}

func TestLabRunbooks(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.ServingDelay = sim.Duration(500 * time.Millisecond)
	cfg.CassandraStartDelay = sim.Duration(time.Second)
	cfg.PauseDrain = sim.Duration(100 * time.Millisecond)
	begin := time.Now()
	l, n := labnodes.ForTest(t, lab.Config{Hosts: lab.DefaultHosts()}, labnodes.Options{SimBinary: bin, SimConfig: &cfg})
	t.Logf("full lab of %d hosts with nodes up in %s", len(l.Hosts)+1, time.Since(begin).Round(time.Millisecond))
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	w := &wfLab{t: t, l: l, n: n, lockPath: labLockPath(t, "rblab")}
	c := w.client()
	w.waitGreen(c)

	// CassandraProcessStopped → restart-cassandra: the node is started
	// inside a silence, gated on UN and on the alert clearing.
	t.Run("RestartCassandra", func(t *testing.T) {
		w.t = t
		w.fault("cassandra-2", sim.FaultCassandraStopped, "")
		w.waitAlert(c, "CassandraProcessStopped", "cassandra-2", true)
		out := w.runbook("restart-cassandra", "--host", "cassandra-2")
		for _, want := range []string{`"step":"cassandra-2/start-cassandra"`, `"step":"cassandra-2/alert-clear"`} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %s:\n%s", want, out)
			}
		}
		if h := w.sim().Host("cassandra-2"); h == nil || !h.Cassandra.Active {
			t.Error("cassandra-2 is not active after the runbook")
		}
		w.waitAlert(c, "CassandraProcessStopped", "cassandra-2", false)
		w.waitGreen(c)
	})

	// ScalarDLContainerDown → restart-container on a Scalar DL node: the
	// container runs again, SERVING and back in Envoy's cluster.
	t.Run("RestartContainerScalarDL", func(t *testing.T) {
		w.t = t
		w.remote(c, "scalardl-blue-1", "docker kill provision_scalar_1")
		w.waitAlert(c, "ScalarDLContainerDown", "scalardl-blue-1", true)
		out := w.runbook("restart-container", "--host", "scalardl-blue-1")
		if !strings.Contains(out, "docker-compose up -d scalar") {
			t.Errorf("the run did not start the scalar service:\n%s", out)
		}
		w.waitAlert(c, "ScalarDLContainerDown", "scalardl-blue-1", false)
		w.waitGreen(c)
	})

	// The rolling restart has no alert of its own: on a healthy ring it
	// drains and restarts every node, one at a time, and ends green.
	t.Run("RollingRestart", func(t *testing.T) {
		w.t = t
		before := map[string]time.Time{}
		for _, h := range w.sim().HostsByRole(sim.RoleCassandra) {
			before[h.Short] = h.Cassandra.StartedAt
		}
		out := w.runbook("rolling-restart")
		for _, h := range []string{"cassandra-1", "cassandra-2", "cassandra-3"} {
			for _, step := range []string{"/drain", "/stop", "/start"} {
				if !strings.Contains(out, `"step":"`+h+step) {
					t.Errorf("output lacks %s%s:\n%s", h, step, out)
				}
			}
		}
		for _, h := range w.sim().HostsByRole(sim.RoleCassandra) {
			if !h.Cassandra.StartedAt.After(before[h.Short]) || !h.Cassandra.Active {
				t.Errorf("%s: started %s, then %s, active %v: not restarted", h.Short, before[h.Short], h.Cassandra.StartedAt, h.Cassandra.Active)
			}
		}
		w.waitGreen(c)
	})

	// free-disk: the newest complete backup is refused without --force, and
	// cleared with it (see the file comment for why not from the alert).
	t.Run("FreeDisk", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		out, errOut, code := w.cli(ctx, "backup", "--tag", "rb-newest", "--yes", "--json")
		if _, st := finished(t, out); code != exitOK || st != "done" {
			t.Fatalf("backup: exit %d %s\n%s\n%s", code, st, out, errOut)
		}
		out, errOut, code = w.cli(ctx, "free-disk", "--host", "cassandra-2", "--snapshot", "rb-newest", "--yes", "--json", "--gate-interval", "500ms", "--gate-deadline", "60s")
		if code == exitOK {
			t.Fatalf("clearing the newest complete backup was not refused:\n%s\n%s", out, errOut)
		}
		if !strings.Contains(out+errOut, "--force") {
			t.Errorf("the refusal does not name --force:\n%s\n%s", out, errOut)
		}
		if hs := w.snapshotHosts("rb-newest"); len(hs) != 3 {
			t.Fatalf("after the refusal the tag is on %v, want all 3 nodes", hs)
		}
		w.runbook("free-disk", "--host", "cassandra-2", "--snapshot", "rb-newest", "--force")
		if hs := w.snapshotHosts("rb-newest"); strings.Join(hs, ",") != "cassandra-1,cassandra-3" {
			t.Errorf("after --force the tag is on %v, want cassandra-1 and cassandra-3 only", hs)
		}
		w.waitGreen(c)
	})

	// InstanceDown → reachability: the node's link is down, the real
	// node_exporter stops answering, the alert fires; reachability says what
	// can be known from here and the cloud-side next step; when the instance
	// comes back (the fault cleared, as a reboot would) the alert clears.
	t.Run("Reachability", func(t *testing.T) {
		w.t = t
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.InjectFault(ctx, "cassandra-3", sim.FaultNodeDown, ""); err != nil {
			t.Fatal(err)
		}
		cleared := false
		t.Cleanup(func() {
			if !cleared {
				_ = n.ClearFault(context.Background(), "cassandra-3", sim.FaultNodeDown)
			}
		})
		w.waitAlert(c, "InstanceDown", "cassandra-3", true)
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer rcancel()
		a := append(labGlobalArgs(t, l), "reachability", "--host", "cassandra-3")
		out, errOut, err := runCLI(rctx, a...)
		t.Logf("reachability:\n%s", out)
		if !strings.Contains(out, "verdict:") || strings.Contains(out, "is reachable now") {
			t.Errorf("reachability of a downed node (exit %d):\n%s\n%s", exitCodeOf(err), out, errOut)
		}
		for _, want := range []string{"cassandra-3 does not answer on port 22 from the bastion", "see the instance state: "} {
			if !strings.Contains(out, want) {
				t.Errorf("reachability lacks %q (the verdict and the cloud-side next step):\n%s", want, out)
			}
		}
		if err := n.ClearFault(ctx, "cassandra-3", sim.FaultNodeDown); err != nil {
			t.Fatal(err)
		}
		cleared = true
		w.waitAlert(c, "InstanceDown", "cassandra-3", false)
		out, errOut, err = runCLI(rctx, a...)
		if !strings.Contains(out, "verdict: cassandra-3 is reachable now") {
			t.Errorf("reachability after recovery (exit %d):\n%s\n%s", exitCodeOf(err), out, errOut)
		}
		w.waitGreen(c)
	})

	// EnvoyContainerDown → restart-container from the console in tmux: the
	// alert in :alerts, Enter on it opens envoy-1, a opens the plan, Enter
	// then y runs it, and the alert clears on the host's detail.
	t.Run("ConsoleRestartEnvoy", func(t *testing.T) {
		w.t = t
		if _, err := exec.LookPath("tmux"); err != nil {
			if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
				t.Fatalf("tmux is required (SCALAR_TUI_REQUIRE_TOOLS=1): %v", err)
			}
			t.Skip("tmux not installed")
		}
		cli := cliBinary(t)
		// The console takes the deployment's own lock on the bastion.
		lock := workflow.DeploymentLockPath(n.Inventory.NetworkName)
		t.Cleanup(func() { _ = os.RemoveAll(lock); _ = os.RemoveAll(lock + ".runs") })
		w.remote(c, "envoy-1", "docker kill provision_envoy_1")
		w.waitAlert(c, "EnvoyContainerDown", "envoy-1", true)

		s := &tmuxSession{t: t, socket: fmt.Sprintf("stui-rblab-%d", os.Getpid())}
		cmd := fmt.Sprintf("SSH_AUTH_SOCK= XDG_STATE_HOME=%s XDG_CONFIG_HOME=%s %s %s; sleep 60", t.TempDir(), t.TempDir(), cli,
			strings.Join(labGlobalArgs(t, l), " "))
		s.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "35", cmd)
		t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
		s.waitFor("[overview]", 60*time.Second)
		deadline := time.Now().Add(alertWait)
		for !strings.Contains(s.screen(), "EnvoyContainerDown") {
			if time.Now().After(deadline) {
				t.Fatalf("the alert never showed; screen:\n%s", s.screen())
			}
			s.keys("r")
			time.Sleep(2 * time.Second)
		}
		s.keys(":")
		s.keys("alerts", "Enter")
		list := s.waitFor("Firing alerts", 10*time.Second)
		if !strings.Contains(list, "EnvoyContainerDown") || !strings.Contains(list, "envoy-1") {
			t.Fatalf(":alerts lacks EnvoyContainerDown on envoy-1:\n%s", list)
		}
		for i := 0; i < 10 && !strings.Contains(s.screen(), "> ! EnvoyContainerDown"); i++ {
			s.keys("j")
			time.Sleep(200 * time.Millisecond)
		}
		s.keys("Enter")
		s.waitFor("[host]", 10*time.Second)
		s.keys("a")
		plan := s.waitFor("Plan: ", 30*time.Second)
		for _, want := range []string{"restart-container", "envoy-1", "docker-compose up -d envoy"} {
			if !strings.Contains(plan, want) {
				t.Errorf("plan lacks %q:\n%s", want, plan)
			}
		}
		begin := time.Now()
		s.keys("Enter")
		s.waitFor("[ Cancel ]", 30*time.Second)
		s.keys("y")
		s.waitFor("✓ done", 3*time.Minute)
		t.Logf("restart-container from the console: %s", time.Since(begin).Round(time.Millisecond))
		w.waitAlert(c, "EnvoyContainerDown", "envoy-1", false)
		s.keys("Escape")
		s.waitFor("[host]", 10*time.Second)
		deadline = time.Now().Add(alertWait)
		for {
			s.keys("r")
			time.Sleep(2 * time.Second)
			scr := s.screen()
			if !strings.Contains(scr, "EnvoyContainerDown") && (strings.Contains(scr, "none firing") || strings.Contains(scr, machineAlert)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the console never showed the alert cleared:\n%s", scr)
			}
		}
		w.waitGreen(c)
	})
}
