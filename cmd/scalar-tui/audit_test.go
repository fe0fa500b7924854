package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/workflow"
)

// TestExecIsAudited: `exec` through the CLI's SSH client leaves one audit
// entry per host, with the operator and the deployment.
func TestExecIsAudited(t *testing.T) {
	cl, err := sshtest.NewCluster(sshtest.ClusterOptions{
		Hosts: []string{"cassandra-1.internal", "cassandra-2.internal"},
		Exec:  func(ctx context.Context, s sshtest.Session) int { return len(s.Command) % 7 },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kh, id, err := cl.WriteClientFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	inv := testInventory()
	inv.NetworkName = "example-aws-0j5y83k"
	_, port, _ := net.SplitHostPort(cl.Bastion.Addr)
	inv.BastionPort, _ = strconv.Atoi(port)
	g := &globalOptions{knownHosts: kh, identity: id}
	c, err := g.sshClient(inv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	targets, err := selectExecTargets(inv, []string{"cassandra"}, []string{"bastion-1"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_ = runExec(context.Background(), c, targets, "nodetool status --password=hunter2", 2, &out, &out)
	entries, err := workflow.ReadAudit(g.deploymentOf(inv, "").dir, workflow.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]bool{}
	for _, e := range entries {
		hosts[e.Host] = true
		if e.Deployment != "example-aws-0j5y83k via "+cl.Bastion.Addr || e.Operator != workflow.Operator() || e.Kind != "command" ||
			e.Command != "nodetool status --password=***" || e.ExitCode != len("nodetool status --password=hunter2")%7 || e.Run != "" {
			t.Errorf("entry %+v", e)
		}
	}
	if len(entries) != 3 || !hosts["bastion"] || !hosts["cassandra-1.internal"] || !hosts["cassandra-2.internal"] {
		t.Errorf("want one entry for the bastion and each Cassandra host, got %+v\n%s", entries, out.String())
	}
}

// TestUpgradeTarballCopyIsAudited: the upgrade's copy of the image tarball
// (its Transfer goes around the engine's Env) is an upload entry of the run,
// with the bytes sent, and no command of the run is logged twice.
func TestUpgradeTarballCopyIsAudited(t *testing.T) {
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
	out, errOut, code := e.opsCLI(ctx, "upgrade", "--to", "2.2.0", "--image-tarball", tb, "--yes", "--json",
		"--gate-interval", "200ms", "--gate-deadline", "20s", "--canary", "--health-gate", "scrape")
	if code != 0 {
		t.Fatalf("upgrade: %d\n%s\n%s", code, out, errOut)
	}
	run, _ := finished(t, out)
	entries, err := workflow.ReadAudit(e.stateDir(), workflow.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	uploads := 0
	for _, a := range entries {
		if a.Kind == "upload" && strings.Contains(a.Command, ".lock.runs/") {
			// The journal's copy beside the lock: audited under the run.
			if a.Run != run {
				t.Errorf("journal copy audited outside its run: %+v", a)
			}
			continue
		}
		if a.Kind == "upload" {
			uploads++
			if a.Run != run || a.Bytes != int64(b.Len()) || a.ExitCode != 0 || !strings.Contains(a.Command, name) {
				t.Errorf("upload entry %+v, want run %s, %d bytes, exit 0", a, run, b.Len())
			}
		}
		if a.Deployment == "" {
			t.Errorf("entry written by the engine itself, a second entry for the command: %+v", a)
		}
	}
	if uploads != 1 {
		t.Errorf("%d upload entries, want 1 (the canary host's copy)", uploads)
	}
}
