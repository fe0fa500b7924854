package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow"
)

// TestLabRepairSignalsEndCleanly: on the real-sshd lab, SIGTERM and then
// SIGHUP to the CLI during a repair stop the remote repair through the real
// bastion, journal `canceled`, release the lock (the second run is not
// refused) and exit 130.
func TestLabRepairSignalsEndCleanly(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	bin := cliBinary(t)
	hosts, err := lab.ParseHosts("cassandra=3,monitor=1")
	if err != nil {
		t.Fatal(err)
	}
	simBin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.RepairDuration = sim.Duration(20 * time.Second)
	l, n := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: simBin, SimConfig: &cfg})
	state := t.TempDir()
	lockPath := labLockPath(t, "labsig")
	depDir := workflow.DeploymentDir(filepath.Join(state, "scalar-tui"), n.Inventory.NetworkName, n.Inventory.BastionAddr())
	env := &repairEnv{t: t, state: state, lockPath: lockPath}

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		args := append(labGlobalArgs(t, l), "repair", "--yes", "--json", "--health-gate", "off",
			"--gate-interval", "500ms", "--lock-path", lockPath)
		p := env.startArgs(bin, args...)
		waitFor(t, 90*time.Second, "a repair in progress", func() bool { return strings.Contains(p.output(), "progress: ") })
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t, 90*time.Second); code != exitCanceled {
			t.Fatalf("%s: exit %d, want 130:\n%s", sig, code, p.output())
		}
		run, status := finished(t, p.output())
		if status != "canceled" {
			t.Errorf("%s: finished %s %s", sig, run, status)
		}
		st, err := workflow.LoadRun(depDir, run)
		if err != nil || st.Status != workflow.StatusCanceled {
			t.Errorf("%s: journal %+v %v", sig, st, err)
		}
		if _, err := os.Stat(lockPath); err == nil {
			t.Fatalf("%s left the cluster lock %s on the lab bastion", sig, lockPath)
		}
		// The detached repair was stopped on the node: it never completes.
		sst, err := sim.Load(n.SimState)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range sst.HostsByRole(sim.RoleCassandra) {
			for _, r := range h.Cassandra.Repairs {
				if r.Outcome == "completed" {
					t.Errorf("%s: %s completed a repair after the cancel", sig, h.Short)
				}
			}
		}
		// Cassandra's own repair outlives the client; the next run waits.
		waitServerSideRepairsEnd(t, n.SimState, 90*time.Second)
	}
}
