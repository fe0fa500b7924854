package health_test

// End-to-end tests against the lab's nodes (internal/labnodes): real sshd
// hosts in network namespaces, real node exporters, a real Prometheus on
// monitor-1 with the lab rules, and the simulator behind them. Everything is
// reached the way the console reaches a deployment: ops/sshx through the
// bastion. They need root, openssh-server, iproute2, prometheus and
// prometheus-node-exporter; they skip without them unless
// SCALAR_TUI_REQUIRE_LAB=1 (CI), where they fail instead.

import (
	"context"
	"errors"
	"fmt"
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
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/sshx"
)

// pollFor is how long a test waits for Prometheus to show a change. The
// first discovery takes about 5 s; after that a change shows within a scrape
// and an evaluation (1 s each).
const pollFor = 30 * time.Second

// labEnv is one lab with nodes shared by the subtests of TestLabHealth.
type labEnv struct {
	lab    *lab.Lab
	nodes  *labnodes.Nodes
	bin    string
	inv    *inventory.Inventory
	ssh    *sshx.Client
	prom   *health.PrometheusSource
	domain string
}

func startLabEnv(t *testing.T) *labEnv {
	t.Helper()
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("lab test: skipped with -short")
	}
	labnodes.SkipUnlessAvailable(t)
	begin := time.Now()
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built the simulator binary in %s", time.Since(begin).Round(time.Millisecond))
	begin = time.Now()
	domain := lab.DefaultDomain
	l, n := labnodes.ForTest(t, lab.Config{Hosts: lab.DefaultHosts()}, labnodes.Options{
		SimBinary: bin,
		// A second bastion Prometheus scrapes but the Terraform state does not
		// list: its series must end up in Snapshot.Unmatched.
		// It scrapes bastion-1's exporter.
		ExtraTargets: []inventory.Host{{Name: "bastion-2." + domain, Short: "bastion-2", Role: inventory.RoleBastion,
			Index: 2, PrivateIP: "bastion-1"}},
	})
	t.Logf("lab + nodes (%d hosts) started in %s", len(l.Hosts)+1, time.Since(begin).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: l.TFRoot})
	if err != nil {
		t.Fatalf("inventory of the lab: %v", err)
	}
	c, err := sshx.New(sshx.Config{BastionAddr: l.BastionAddr, User: l.User, IdentityFile: l.KeyPath,
		KnownHostsFile: l.KnownHosts, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ps, err := health.NewPrometheusSource(inv, "http://monitor."+l.Domain+":9090",
		health.PrometheusOptions{Dial: c.DialContext, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &labEnv{lab: l, nodes: n, bin: bin, inv: inv, ssh: c, prom: ps, domain: l.Domain}
}

// fqdn returns the lab FQDN of a short name.
func (e *labEnv) fqdn(short string) string { return short + "." + e.domain }

// waitSnapshot polls src until ok accepts a snapshot, and fails with the last
// snapshot's states when pollFor passes.
func waitSnapshot(t *testing.T, src health.Source, what string, ok func(*health.Snapshot) bool) *health.Snapshot {
	t.Helper()
	deadline := time.Now().Add(pollFor)
	var (
		last    *health.Snapshot
		lastErr error
	)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		snap, err := src.Snapshot(ctx)
		cancel()
		last, lastErr = snap, err
		if err == nil && snap != nil && ok(snap) {
			return snap
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: not seen within %s; last error %v; last states:\n%s", what, pollFor, lastErr, describe(last))
	return nil
}

func describe(s *health.Snapshot) string {
	if s == nil {
		return "  (no snapshot)"
	}
	var b strings.Builder
	for _, h := range s.Hosts {
		fmt.Fprintf(&b, "  %-16s %-9s %s\n", h.Host.Short, h.State, strings.Join(h.Reasons, "; "))
	}
	for _, e := range s.Errors {
		fmt.Fprintf(&b, "  error: %s\n", e.Error())
	}
	return b.String()
}

func state(s *health.Snapshot, short string) health.HostHealth {
	h, _ := s.Host(short)
	return h
}

func allHealthy(s *health.Snapshot) bool {
	for _, h := range s.Hosts {
		if h.State != health.StateHealthy {
			return false
		}
	}
	return len(s.Hosts) > 0
}

func hasAlert(h health.HostHealth, name string) bool {
	for _, a := range h.Alerts {
		if a.Name == name {
			return true
		}
	}
	return false
}

// TestLabHealth runs the console's health reading against the lab's real
// Prometheus and exporters through the SSH bastion, breaking things in turn.
// The subtests share one lab and run in order.
func TestLabHealth(t *testing.T) {
	start := time.Now()
	e := startLabEnv(t)

	t.Run("AllHealthy", func(t *testing.T) {
		// The recording rules (job:active_*_nodes:count) lag the first scrape
		// of the last target by an evaluation: wait for them too.
		snap := waitSnapshot(t, e.prom, "every host healthy and every node counted", func(s *health.Snapshot) bool {
			c := s.Cluster
			return allHealthy(s) && c.CassandraActive == 3 && c.EnvoyActive == 3 && c.ScalarDLBlueActive == 3
		})
		if got, want := len(snap.Hosts), len(e.inv.Hosts); got != want {
			t.Errorf("snapshot has %d hosts, inventory %d", got, want)
		}
		if c := snap.Cluster; c.CassandraActive != 3 || c.CassandraTotal != 3 || c.EnvoyActive != 3 || c.ScalarDLBlueActive != 3 {
			t.Errorf("cluster counts = %+v", c)
		}
		if len(snap.Errors) > 0 {
			t.Errorf("query errors: %v", snap.Errors)
		}
	})

	t.Run("UnknownHostUnmatched", func(t *testing.T) {
		ghost := e.fqdn("bastion-2") + ":9100"
		snap := waitSnapshot(t, e.prom, "the extra target's series", func(s *health.Snapshot) bool {
			for _, se := range s.Unmatched {
				if se.Labels["instance"] == ghost {
					return true
				}
			}
			return false
		})
		for _, h := range snap.Hosts {
			if strings.HasPrefix(h.Host.Name, "bastion-2") {
				t.Errorf("bastion-2 joined to an inventory host: %+v", h.Host)
			}
		}
		for _, se := range snap.Unmatched {
			if h := health.InstanceHost(se.Labels["instance"]); h != e.fqdn("bastion-2") {
				t.Errorf("unexpected unmatched series %s %v", se.Query, se.Labels)
			}
		}
	})

	t.Run("NodetoolStatusOverSSH", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var out, errOut []string
		res, err := e.ssh.Run(ctx, e.fqdn("cassandra-1"), "nodetool status", sshx.RunOptions{
			Stdout: func(l string) { out = append(out, l) },
			Stderr: func(l string) { errOut = append(errOut, l) },
		})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("nodetool status on cassandra-1: exit %d, %v; stderr %q", res.ExitCode, err, errOut)
		}
		nodes, err := nodetool.ParseStatus(strings.Join(out, "\n"))
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, strings.Join(out, "\n"))
		}
		if len(nodes) != 3 {
			t.Fatalf("%d nodes, want 3:\n%s", len(nodes), strings.Join(out, "\n"))
		}
		want := map[string]bool{}
		for _, h := range e.lab.Hosts {
			if h.Role == "cassandra" {
				want[h.IP] = true
			}
		}
		for _, nd := range nodes {
			if !nd.UN() || !want[nd.Address] {
				t.Errorf("node %s: %s%s, want UN at a lab cassandra IP", nd.Address, nd.Status, nd.State)
			}
		}
	})

	t.Run("CassandraStopped", func(t *testing.T) {
		// As an operator would: the hidden simulator CLI.
		cmd := exec.Command(e.bin, "--log-file", "/dev/null", "fault", "--state", e.nodes.SimState, "cassandra-2", "cassandra-stopped")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scalar-sim fault: %v: %s", err, b)
		}
		snap := waitSnapshot(t, e.prom, "cassandra-2 degraded with CassandraProcessStopped firing", func(s *health.Snapshot) bool {
			h := state(s, "cassandra-2")
			return h.State == health.StateDegraded && hasAlert(h, "CassandraProcessStopped")
		})
		h := state(snap, "cassandra-2")
		if h.CassandraActive == nil || *h.CassandraActive {
			t.Errorf("cassandra-2 CassandraActive = %v, want false", h.CassandraActive)
		}
		if !strings.Contains(strings.Join(h.Reasons, "; "), "cassandra.service") {
			t.Errorf("cassandra-2 reasons %q lack cassandra.service", h.Reasons)
		}
		if snap.Cluster.CassandraActive != 2 {
			t.Errorf("CassandraActive = %d, want 2", snap.Cluster.CassandraActive)
		}
		for _, o := range []string{"cassandra-1", "cassandra-3"} {
			if st := state(snap, o).State; st != health.StateHealthy {
				t.Errorf("%s is %s, want healthy", o, st)
			}
		}

		// Start it again through SSH, with sudo, as the runbook says.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var errOut []string
		res, err := e.ssh.Run(ctx, e.fqdn("cassandra-2"), "sudo systemctl start cassandra", sshx.RunOptions{
			Stderr: func(l string) { errOut = append(errOut, l) },
		})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("sudo systemctl start cassandra: exit %d, %v: %q", res.ExitCode, err, errOut)
		}
		waitSnapshot(t, e.prom, "cassandra-2 healthy again", func(s *health.Snapshot) bool {
			return state(s, "cassandra-2").State == health.StateHealthy
		})
	})

	t.Run("ScalarDLNotServing", func(t *testing.T) {
		// Envoy's gRPC health check fails on scalardl-blue-2 (the image it runs
		// never answers SERVING). Prometheus' Envoy metrics only count members;
		// the per-member answer comes from every Envoy's admin /clusters,
		// read through the bastion.
		ps, err := health.NewPrometheusSource(e.inv, "http://monitor."+e.domain+":9090",
			health.PrometheusOptions{Dial: e.ssh.DialContext, Timeout: 5 * time.Second, EnvoyAdmin: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.nodes.InjectFault(ctx, "scalardl-blue-2", sim.FaultBadTag, health.ImageTag(sim.DefaultScalarImg)); err != nil {
			t.Fatal(err)
		}
		snap := waitSnapshot(t, ps, "scalardl-blue-2 degraded, not SERVING as Envoy sees it", func(s *health.Snapshot) bool {
			h := state(s, "scalardl-blue-2")
			return h.State == health.StateDegraded && h.Serving != nil && !*h.Serving
		})
		h := state(snap, "scalardl-blue-2")
		if !strings.Contains(strings.Join(h.Reasons, "; "), "gRPC health not SERVING") || h.ServingFrom != health.ServingFromClusters {
			t.Errorf("scalardl-blue-2: %q from %q", h.Reasons, h.ServingFrom)
		}
		if ok, _ := snap.ScalarDLServing(e.fqdn("scalardl-blue-2")); ok {
			t.Error("the upgrade gate passes a node Envoy does not serve")
		}
		if b1 := state(snap, "scalardl-blue-1"); b1.State != health.StateHealthy || b1.Serving == nil || !*b1.Serving {
			t.Errorf("scalardl-blue-1: %s %q serving %v", b1.State, b1.Reasons, b1.Serving)
		}
		if snap.Cluster.ScalarDLBlueServing != snap.Cluster.ScalarDLBlueTotal-1 {
			t.Errorf("blue serving %d of %d", snap.Cluster.ScalarDLBlueServing, snap.Cluster.ScalarDLBlueTotal)
		}
		if err := e.nodes.ClearFault(ctx, "scalardl-blue-2", sim.FaultBadTag); err != nil {
			t.Fatal(err)
		}
		waitSnapshot(t, ps, "scalardl-blue-2 serving again", func(s *health.Snapshot) bool {
			h := state(s, "scalardl-blue-2")
			return h.State == health.StateHealthy && h.Serving != nil && *h.Serving
		})
	})

	t.Run("HostDown", func(t *testing.T) {
		// One host's node exporter stops; another host dies (the simulator's
		// node-down fault, which also takes its network link down).
		if err := e.nodes.StopNodeExporter("cassandra-3"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.nodes.InjectFault(ctx, "reaper-1", sim.FaultNodeDown, ""); err != nil {
			t.Fatal(err)
		}
		snap := waitSnapshot(t, e.prom, "cassandra-3 and reaper-1 down", func(s *health.Snapshot) bool {
			return state(s, "cassandra-3").State == health.StateDown && state(s, "reaper-1").State == health.StateDown
		})
		if snap.Cluster.Down != 2 {
			t.Errorf("Cluster.Down = %d, want 2:\n%s", snap.Cluster.Down, describe(snap))
		}
		if h := state(snap, "cassandra-3"); h.Up == nil || *h.Up {
			t.Errorf("cassandra-3 Up = %v, want false", h.Up)
		}
		if err := e.nodes.StartNodeExporter(ctx, "cassandra-3"); err != nil {
			t.Fatal(err)
		}
		if err := e.nodes.ClearFault(ctx, "reaper-1", sim.FaultNodeDown); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("PrometheusStoppedScrapeFallback", func(t *testing.T) {
		if err := e.nodes.StopPrometheus(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		snap, err := e.prom.Snapshot(ctx)
		if err == nil {
			t.Fatalf("Snapshot with Prometheus stopped: no error (%d errors in snapshot)", len(snap.Errors))
		}
		// Clear: it names the address, what happened and the fallback.
		msg := err.Error()
		for _, want := range []string{"monitor." + e.domain + ":9090", "refused", "--source scrape"} {
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(want)) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		// Through the bastion a refused port is an SSH "connect failed"
		// channel error; it must still count as unreachable, which is what
		// makes the console fall back.
		if !errors.Is(err, health.ErrUnreachable) {
			t.Errorf("error is not health.ErrUnreachable: %v", err)
		}
		if snap != nil {
			for _, h := range snap.Hosts {
				if h.State != health.StateUnknown {
					t.Errorf("%s is %s without Prometheus, want unknown", h.Host.Short, h.State)
				}
			}
		}

		scrape := health.NewScrapeSource(e.inv, health.ScrapeOptions{Dial: e.ssh.DialContext, Timeout: 3 * time.Second})
		snap = waitSnapshot(t, scrape, "every host healthy by scraping", allHealthy)
		if c := snap.Cluster; c.CassandraActive != 3 || c.EnvoyActive != 3 {
			t.Errorf("scrape cluster counts = %+v", c)
		}

		// What the console uses: Prometheus first, the scrape while it is unreachable.
		fb := &health.FallbackSource{Primary: e.prom, Fallback: scrape}
		snap = waitSnapshot(t, fb, "every host healthy through the fallback", allHealthy)
		if !strings.Contains(snap.Source, "Prometheus unreachable") || fb.PrimaryError() == nil {
			t.Errorf("fallback snapshot from %q, primary error %v: want it to say Prometheus is unreachable", snap.Source, fb.PrimaryError())
		}
	})
	t.Run("ProvisionOnScalarDL", func(t *testing.T) {
		// What the upgrade workflow runs: ~/provision/env and docker-compose.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var out, errOut []string
		res, err := e.ssh.Run(ctx, e.fqdn("scalardl-blue-1"),
			"cd ~/provision && . ./env && echo \"$SCALAR_IMAGE\" && sudo docker-compose up -d && docker ps --filter name=provision_scalar_1 --format '{{.Image}}'",
			sshx.RunOptions{Stdout: func(l string) { out = append(out, l) }, Stderr: func(l string) { errOut = append(errOut, l) }})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("exit %d, %v: %q %q", res.ExitCode, err, out, errOut)
		}
		if len(out) != 2 || out[0] != out[1] || !strings.Contains(out[0], "scalar-ledger") {
			t.Errorf("env image and running image: %q (stderr %q)", out, errOut)
		}
	})
	t.Logf("TestLabHealth body took %s", time.Since(start).Round(time.Millisecond))
}
