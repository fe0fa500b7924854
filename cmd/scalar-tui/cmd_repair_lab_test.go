package main

// `repair` over the real lab (internal/lab + internal/labnodes): real sshd
// hosts in network namespaces behind a real bastion, the simulator's nodetool
// on each Cassandra node, and a real Prometheus on monitor-1 for the health
// gate. Skips without root, openssh-server, iproute2, prometheus and
// prometheus-node-exporter unless SCALAR_TUI_REQUIRE_LAB=1.

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/health"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/repair"
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
	lockPath := labLockPath(t, "labtest")

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
	check := repair.CassandraActive(src)
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

// TestLabRepairNoCollision is issue 12 item 1 on real sshd hosts: Ctrl-C
// stops the nodetool client while the simulator's Cassandra goes on
// repairing; the cancel says so, resume is refused until it has ended; a dead
// console's orphaned detached repair (its run directory and its lock, as a
// SIGKILL leaves them) is shown by `unlock --force` and refuses a new repair.
func TestLabRepairNoCollision(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	hosts, err := lab.ParseHosts("cassandra=3")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	// The canceled repair goes on server-side: it must outlast the cancel's
	// cleanup and the resume's preflight, which took over 15 s, and once
	// over 40 s, on a loaded machine (the resume then found no repair
	// running and repaired again).
	cfg.RepairDuration = sim.Duration(90 * time.Second)
	l, n := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: bin, SimConfig: &cfg})
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	lockPath := labLockPath(t, "labtest")
	global := labGlobalArgs(t, l)
	repairArgs := func(extra ...string) []string {
		return append(append(append([]string(nil), global...), "repair", "--yes", "--json", "--health-gate", "off",
			"--gate-interval", "500ms", "--gate-deadline", "60s", "--lock-path", lockPath, "--keyspace", "scalar"), extra...)
	}
	status := func(ctx context.Context, args ...string) (string, int) {
		out, errOut, err := runCLI(ctx, append(append(append([]string(nil), global...), "repair", "status"), args...)...)
		return out + errOut, exitCodeOf(err)
	}
	repairsOf := func(short string) []sim.Repair {
		st, err := sim.Load(n.SimState)
		if err != nil {
			t.Fatal(err)
		}
		return st.Host(short).Cassandra.Repairs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// Ctrl-C mid-repair.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetOut(&out)
		root.SetErr(io.Discard)
		root.SetArgs(repairArgs("--host", "cassandra-1"))
		done <- root.ExecuteContext(runCtx)
	}()
	waitFor(t, 90*time.Second, "cassandra-1's repair at 10%", func() bool { return strings.Contains(out.String(), "progress: 10%") })
	stopRun()
	var runErr error
	select {
	case runErr = <-done:
	case <-ctx.Done():
		t.Fatal("the canceled run did not return")
	}
	if exitCodeOf(runErr) != exitCanceled || !strings.Contains(runErr.Error(), "Cassandra goes on repairing on the server side") ||
		!strings.Contains(runErr.Error(), "cassandra-1: Cassandra is validating scalar.asset") {
		t.Fatalf("cancel on the lab: exit %d: %v", exitCodeOf(runErr), runErr)
	}
	run := runStarted(t, out.String())
	o, _, err := runCLI(ctx, append(append([]string(nil), global...), "resume", run, "--yes", "--json", "--lock-path", lockPath)...)
	if exitCodeOf(err) != exitFailed || !strings.Contains(o, "a repair is already running") {
		t.Fatalf("resume while the server-side repair runs: exit %d\n%s", exitCodeOf(err), o)
	}
	if rs := repairsOf("cassandra-1"); len(rs) != 1 {
		t.Fatalf("cassandra-1 coordinated %d repairs, want 1", len(rs))
	}
	if o, code := status(ctx, "--wait", "--interval", "500ms", "--timeout", "3m"); code != 0 {
		t.Fatalf("repair status --wait: exit %d\n%s", code, o)
	}

	// What a SIGKILLed console leaves: its detached repair on cassandra-2
	// (started the engine's way, in the engine's run directory layout) and
	// its lock on the bastion.
	c, err := sshx.New(sshx.Config{BastionAddr: l.BastionAddr, User: l.User, IdentityFile: l.KeyPath, KnownHostsFile: l.KnownHosts, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dead := "20261124-2231-repair-dead01"
	// The orphan's repair must outlast unlock --force's probes and the next
	// repair's preflight, which take longer than 15 s on a loaded machine.
	if err := sim.SetConfig(n.SimState, func(c *sim.Config) { c.RepairDuration = sim.Duration(45 * time.Second) }); err != nil {
		t.Fatal(err)
	}
	c2 := n.Inventory.ByRole("cassandra")[1]
	h := workflow.DetachedHandle{Host: c2.Name, Dir: workflow.DefaultRemoteDir + "/" + dead + "/cassandra-2_repair-scalar-0-1",
		Command: "nodetool repair -full -pr scalar", Started: time.Now().UTC()}
	if err := (workflow.ShellDetacher{R: c}).Start(ctx, h); err != nil {
		t.Fatal(err)
	}
	lock := "mkdir " + shell.Quote(lockPath) + " && printf '%s\\n' 'operator=ghost@dead-laptop' " + shell.Quote("run="+dead) + " 'since=2026-11-24T22:31:00Z' > " + shell.Quote(lockPath+"/owner")
	if r, err := c.RunBastion(ctx, lock, sshx.RunOptions{}); err != nil || r.ExitCode != 0 {
		t.Fatalf("leave a lock: %v %+v", err, r)
	}
	waitFor(t, 30*time.Second, "the orphan's repair to start", func() bool { return len(repairsOf("cassandra-2")) == 1 })

	o, _, err = runCLI(ctx, append(append([]string(nil), global...), "unlock", "--force", "--lock-path", lockPath)...)
	shown := strings.Index(o, "cassandra-2: `nodetool repair -full -pr scalar` of scalar-tui run "+dead+" is still running")
	if exitCodeOf(err) != 0 || shown < 0 || shown > strings.Index(o, "broke the cluster lock held by ghost@dead-laptop") {
		t.Fatalf("unlock --force on the lab: exit %d\n%s", exitCodeOf(err), o)
	}
	o, _, err = runCLI(ctx, repairArgs()...)
	if exitCodeOf(err) != exitFailed || !strings.Contains(o, "of scalar-tui run "+dead+" is still running") {
		t.Fatalf("a repair next to the orphan: exit %d\n%s", exitCodeOf(err), o)
	}
	if rs := repairsOf("cassandra-2"); len(rs) != 1 {
		t.Errorf("cassandra-2 coordinated %d repairs, want only the orphan's", len(rs))
	}
	if rs := repairsOf("cassandra-3"); len(rs) != 0 {
		t.Errorf("cassandra-3 coordinated %d repairs after the refusal", len(rs))
	}
	if o, code := status(ctx, "--wait", "--interval", "500ms", "--timeout", "3m"); code != 0 || !strings.Contains(o, "no repair is running on the cluster") {
		t.Fatalf("repair status --wait: exit %d\n%s", code, o)
	}
}
