package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"

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
	entries, err := workflow.ReadAudit(stateDir(), workflow.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]bool{}
	for _, e := range entries {
		hosts[e.Host] = true
		if e.Deployment != "example-aws-0j5y83k@"+cl.Bastion.Addr || e.Operator != workflow.Operator() || e.Kind != "command" ||
			e.Command != "nodetool status --password=***" || e.ExitCode != len("nodetool status --password=hunter2")%7 || e.Run != "" {
			t.Errorf("entry %+v", e)
		}
	}
	if len(entries) != 3 || !hosts["bastion"] || !hosts["cassandra-1.internal"] || !hosts["cassandra-2.internal"] {
		t.Errorf("want one entry for the bastion and each Cassandra host, got %+v\n%s", entries, out.String())
	}
}
