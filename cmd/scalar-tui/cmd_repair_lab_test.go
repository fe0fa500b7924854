package main

// `repair` over the real lab (internal/lab + internal/labnodes): real sshd
// hosts in network namespaces behind a real bastion, the simulator's nodetool
// on each Cassandra node, and a real Prometheus on monitor-1 for the health
// gate. Skips without root, openssh-server, iproute2, prometheus and
// prometheus-node-exporter unless SCALAR_TUI_REQUIRE_LAB=1.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

func TestLabRepair(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	hosts, err := lab.ParseHosts("cassandra=3,monitor=1")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.RepairDuration = sim.Duration(time.Second)
	begin := time.Now()
	l, n := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: bin, SimConfig: &cfg})
	t.Logf("lab with nodes up in %s", time.Since(begin).Round(time.Millisecond))
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	// The lab bastion's /tmp may be shared with other test processes.
	lockPath := fmt.Sprintf("/tmp/scalar-tui-labtest-%d-%d.lock", os.Getpid(), time.Now().UnixNano())

	// Prometheus needs a few seconds to discover and scrape its targets;
	// until then the health gate fails closed and the run would be refused.
	waitPrometheusCassandra(t, l, n)

	args := append(labGlobalArgs(t, l), "repair", "--yes", "--json", "--health-gate", "prometheus",
		"--gate-interval", "500ms", "--gate-deadline", "60s", "--lock-path", lockPath)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin = time.Now()
	out, errOut, err := runCLI(ctx, args...)
	t.Logf("repair of 3 lab nodes x 2 keyspaces: %s", time.Since(begin).Round(time.Millisecond))
	if code := exitCodeOf(err); code != 0 {
		t.Fatalf("repair on the lab: exit %d: %v\n%s\n%s", code, err, out, errOut)
	}
	run, status := finished(t, out)
	if status != "done" {
		t.Fatalf("finished %s %s", run, status)
	}
	if !strings.Contains(out, "preflight health-prometheus: ok") {
		t.Errorf("the Prometheus health preflight did not run:\n%s", out)
	}
	st, err := sim.Load(n.SimState)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.HostsByRole(sim.RoleCassandra) {
		var got []string
		for _, r := range h.Cassandra.Repairs {
			got = append(got, strings.Join(r.Keyspaces, ",")+"="+r.Outcome)
		}
		if strings.Join(got, " ") != "scalar=completed coordinator=completed" {
			t.Errorf("%s repairs: %v", h.Short, got)
		}
	}
	depDir := workflow.DeploymentDir(filepath.Join(state, "scalar-tui"), n.Inventory.NetworkName, n.Inventory.BastionAddr())
	ents, err := workflow.ReadAudit(depDir, workflow.AuditFilter{Run: run})
	if err != nil || len(ents) == 0 {
		t.Errorf("audit log: %d entries, %v", len(ents), err)
	}
	released := false
	for _, a := range ents {
		if a.Host == "bastion" && strings.Contains(a.Command, "then rm -rf "+lockPath) && a.ExitCode == 0 {
			released = true
		}
	}
	if !released {
		t.Errorf("the audit log shows no release of the lock %s on the lab bastion", lockPath)
	}
}

// waitPrometheusCassandra waits until the lab's Prometheus reports every
// Cassandra node active, through the bastion as the console reads it.
func waitPrometheusCassandra(t *testing.T, l *lab.Lab, n *labnodes.Nodes) {
	t.Helper()
	c, err := sshx.New(sshx.Config{BastionAddr: l.BastionAddr, User: l.User, IdentityFile: l.KeyPath,
		KnownHostsFile: l.KnownHosts, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src, err := health.NewPrometheusSource(n.Inventory, "", health.PrometheusOptions{Dial: c.DialContext, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	check := cassandraActive(src)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ok, reason, err := check(ctx)
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never reported every Cassandra node active: %s %v", reason, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
