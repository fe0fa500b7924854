package main

// `restore` over the real lab (internal/lab + internal/labnodes): real sshd
// hosts in network namespaces behind a real bastion, real mv/ln/find/cksum
// on each node's data directory (real files in its home), the simulator's
// nodetool, systemctl and docker, rpc.Admin on the Scalar DL hosts and the
// real Alertmanager on monitor-1. Issue 17's "Done when": write, back up,
// write more, restore; then undo. Skips like the other lab tests.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow/restore"
)

// labLiveFiles maps host/ks/table-dir/file to content on every Cassandra node.
func labLiveFiles(t *testing.T, l *lab.Lab) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range l.Hosts {
		if h.Role != sim.RoleCassandra {
			continue
		}
		for _, ks := range []string{"scalar", "coordinator"} {
			tds, _ := filepath.Glob(filepath.Join(h.HomeDir, "data", ks, "*-*"))
			for _, td := range tds {
				ents, _ := os.ReadDir(td)
				for _, f := range ents {
					if f.Type().IsRegular() {
						b, _ := os.ReadFile(filepath.Join(td, f.Name()))
						out[h.Short+"/"+ks+"/"+filepath.Base(td)+"/"+f.Name()] = string(b)
					}
				}
			}
		}
	}
	return out
}

func TestLabRestore(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	hosts, err := lab.ParseHosts("cassandra=3,scalardl-blue=2,envoy=1,monitor=1")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.ServingDelay = sim.Duration(500 * time.Millisecond)
	cfg.CassandraStartDelay = sim.Duration(500 * time.Millisecond)
	cfg.PauseDrain = sim.Duration(100 * time.Millisecond)
	l, n := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: bin, SimConfig: &cfg})
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	lockPath := labLockPath(t, "labtest")
	name := n.Inventory.NetworkName
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cli := func(words ...string) (string, string) {
		t.Helper()
		args := append(append(labGlobalArgs(t, l), words...), "--lock-path", lockPath)
		out, errOut, err := runCLI(ctx, args...)
		if code := exitCodeOf(err); code != 0 {
			t.Fatalf("%v: exit %d: %v\n%s\n%s", words, code, err, out, errOut)
		}
		return out, errOut
	}

	time.Sleep(time.Second) // Scalar DL serves after ServingDelay
	if _, err := sim.Write(n.SimState, 5, time.Now()); err != nil {
		t.Fatal(err)
	}
	cli("backup", "--tag", "lab-b1", "--yes", "--min-free-percent", "-1")
	atBackup := labLiveFiles(t, l)
	if _, err := sim.Write(n.SimState, 9, time.Now()); err != nil {
		t.Fatal(err)
	}
	before := labLiveFiles(t, l)

	begin := time.Now()
	out, _ := cli("restore", "--tag", "lab-b1", "--yes", "--confirm-deployment", name, "--json",
		"--data-dir", "~/data", "--commitlog-dir", "~/commitlog", "--gate-interval", "300ms", "--gate-deadline", "60s")
	t.Logf("restore of 3 lab nodes: %s", time.Since(begin).Round(time.Millisecond))
	run, status := finished(t, out)
	if status != "done" {
		t.Fatalf("restore %s ended %s", run, status)
	}
	if got := labLiveFiles(t, l); !sameMaps(atBackup, got) {
		t.Fatalf("after the restore the live files are not the snapshot's: %d vs %d files", len(got), len(atBackup))
	}
	st, err := sim.Load(n.SimState)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.HostsByRole(sim.RoleCassandra) {
		if !st.CassandraUp(h, time.Now()) {
			t.Errorf("%s is not up after the restore", h.Short)
		}
	}
	for _, h := range st.HostsByRole("scalardl") {
		if st.Health(h, h.ScalarContainer(), time.Now()) != sim.Serving {
			t.Errorf("%s does not serve after the restore", h.Short)
		}
	}
	// The data written after the backup sits in the run's directory.
	for _, h := range l.Hosts {
		if h.Role != sim.RoleCassandra {
			continue
		}
		kept := filepath.Join(h.HomeDir, "data", restore.RunDirName, run, "data", "scalar", "asset-"+sim.TableID("scalar", "asset"))
		if ss, err := sim.ReadSSTables(kept); err != nil || len(ss) != 3 {
			t.Errorf("%s keeps %d asset SSTables in %s (%v), want 3", h.Short, len(ss), kept, err)
		}
	}
	if !strings.Contains(out, "silence") {
		t.Errorf("no alert silence in the run:\n%s", out)
	}

	begin = time.Now()
	out, _ = cli("restore", "--undo", run, "--yes", "--confirm-deployment", name, "--json", "--gate-interval", "300ms", "--gate-deadline", "60s")
	t.Logf("undo on 3 lab nodes: %s", time.Since(begin).Round(time.Millisecond))
	if _, status := finished(t, out); status != "done" {
		t.Fatalf("undo ended %s", status)
	}
	if got := labLiveFiles(t, l); !sameMaps(before, got) {
		t.Fatalf("after the undo the live files are not the pre-restore ones: %d vs %d files", len(got), len(before))
	}
}
