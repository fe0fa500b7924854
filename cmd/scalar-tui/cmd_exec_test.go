package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sshtest"
	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
)

func testInventory() *inventory.Inventory {
	return &inventory.Inventory{
		BastionIP: "127.0.0.1",
		UserName:  "centos",
		Hosts: []inventory.Host{
			{Name: "bastion-1.internal", Short: "bastion-1", Role: inventory.RoleBastion, Index: 1, PublicIP: "127.0.0.1"},
			{Name: "bastion-2.internal", Short: "bastion-2", Role: inventory.RoleBastion, Index: 2, PublicIP: "192.0.2.7"},
			{Name: "cassandra-1.internal", Short: "cassandra-1", Role: inventory.RoleCassandra, Index: 1, PrivateIP: "10.42.2.10"},
			{Name: "cassandra-2.internal", Short: "cassandra-2", Role: inventory.RoleCassandra, Index: 2},
			{Name: "scalardl-blue-1.internal", Short: "scalardl-blue-1", Role: inventory.RoleScalarDLBlue, Index: 1},
		},
	}
}

func TestSelectExecTargets(t *testing.T) {
	inv := testInventory()
	tests := []struct {
		roles, hosts []string
		want         string
		wantErr      string
	}{
		{roles: []string{"cassandra"}, want: "cassandra-1,cassandra-2"},
		{roles: []string{"cassandra"}, hosts: []string{"10.42.2.10", "scalardl-blue-1"}, want: "cassandra-1,cassandra-2,scalardl-blue-1"},
		{hosts: []string{"bastion-1"}, want: "bastion-1(bastion)"},
		{roles: []string{"bastion"}, want: "bastion-1(bastion),bastion-2"},
		{wantErr: "--role"},
		{roles: []string{"kafka"}, wantErr: "unknown role"},
		{roles: []string{"monitor"}, wantErr: "no monitor hosts"},
		{hosts: []string{"nope"}, wantErr: `no host "nope"`},
	}
	for _, tt := range tests {
		got, err := selectExecTargets(inv, tt.roles, tt.hosts)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v %v: err %v, want %q", tt.roles, tt.hosts, err, tt.wantErr)
			}
			continue
		}
		var labels []string
		for _, g := range got {
			l := g.label
			if g.bastion {
				l += "(bastion)"
			}
			labels = append(labels, l)
		}
		if s := strings.Join(labels, ","); err != nil || s != tt.want {
			t.Errorf("%v %v: %s %v, want %s", tt.roles, tt.hosts, s, err, tt.want)
		}
	}
}

func TestRemoteCommand(t *testing.T) {
	if got := remoteCommand([]string{"nodetool status | grep UN"}); got != "nodetool status | grep UN" {
		t.Errorf("single word: %q", got)
	}
	if got := remoteCommand([]string{"echo", "a b", "$HOME"}); got != "echo 'a b' '$HOME'" {
		t.Errorf("several words: %q", got)
	}
}

func TestRunExec(t *testing.T) {
	cl, err := sshtest.NewCluster(sshtest.ClusterOptions{
		Hosts: []string{"cassandra-1.internal", "cassandra-2.internal", "scalardl-blue-1.internal"},
		Exec: func(ctx context.Context, s sshtest.Session) int {
			for i := 0; i < 50; i++ {
				fmt.Fprintf(s.Stdout, "line %d of a somewhat long output line %s\n", i, strings.Repeat("x", 100))
			}
			return 0
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kh, id, err := cl.WriteClientFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := sshx.New(sshx.Config{BastionAddr: cl.Bastion.Addr, User: "centos", IdentityFile: id, KnownHostsFile: kh, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inv := testInventory()
	targets, err := selectExecTargets(inv, []string{"cassandra", "scalardl-blue"}, []string{"bastion-1"})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := runExec(context.Background(), c, targets, "ok", 2, &out, &errOut); err != nil {
		t.Fatalf("runExec: %v\n%s%s", err, out.String(), errOut.String())
	}
	lineRE := regexp.MustCompile(`^(bastion-1|cassandra-1|cassandra-2|scalardl-blue-1) *\| line \d+ of a somewhat long output line x{100}$`)
	body, summary, _ := strings.Cut(out.String(), "\nHOST")
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		if !lineRE.MatchString(l) {
			t.Fatalf("mixed or malformed line %q", l)
		}
	}
	if strings.Count(summary, "\n") != 5 || !strings.Contains(summary, "cassandra-2      0") {
		t.Errorf("summary:\n%s", summary)
	}

	// One failing host fails the whole run with exit code 1.
	cl.Bastion.Remove("cassandra-2.internal:22")
	cl.Hosts["cassandra-2.internal"].KillConnections()
	out.Reset()
	errOut.Reset()
	err = runExec(context.Background(), c, targets, "ok", 10, &out, &errOut)
	var ee *exitError
	if !asExit(err, &ee) || ee.code != exitFailed {
		t.Fatalf("want exit code 1, got %v", err)
	}
	_, summary, _ = strings.Cut(out.String(), "\nHOST")
	t.Logf("summary with a host down:\nHOST%s\nstderr:\n%s", summary, errOut.String())
	if !strings.Contains(errOut.String(), "cassandra-2") || !strings.Contains(out.String(), "cassandra-2      -") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
}

func asExit(err error, ee **exitError) bool {
	for err != nil {
		if e, ok := err.(*exitError); ok {
			*ee = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestRunTrust(t *testing.T) {
	cl, err := sshtest.NewCluster(sshtest.ClusterOptions{Hosts: []string{"cassandra-1.internal", "cassandra-2.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dir := t.TempDir()
	_, id, err := cl.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	kh := dir + "/fresh_known_hosts"
	c, err := sshx.New(sshx.Config{BastionAddr: cl.Bastion.Addr, User: "centos", IdentityFile: id, KnownHostsFile: kh, NoAgent: true, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	// terminal: true stands for an operator typing at a terminal.
	var out bytes.Buffer
	// Declining adds nothing and fails.
	err = runTrust(ctx, c, kh, trustOptions{bastion: true, terminal: true}, nil, strings.NewReader("no\n"), &out)
	if err == nil || !strings.Contains(out.String(), "not trusted") {
		t.Fatalf("decline: %v\n%s", err, out.String())
	}
	// Accepting the bastion, then the hosts.
	out.Reset()
	if err := runTrust(ctx, c, kh, trustOptions{bastion: true, terminal: true}, []string{"cassandra-1.internal", "cassandra-2.internal"}, strings.NewReader("yes\nyes\nyes\n"), &out); err != nil {
		t.Fatalf("accept: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "SHA256:") || strings.Count(out.String(), "added to") != 3 {
		t.Errorf("output:\n%s", out.String())
	}
	if _, err := c.Run(ctx, "cassandra-2.internal", "true", sshx.RunOptions{}); err == nil {
		// No exec handler: the command is refused, but the connection worked.
	} else if strings.Contains(err.Error(), "unknown") {
		t.Fatalf("still unknown after trust: %v", err)
	}
	out.Reset()
	if err := runTrust(ctx, c, kh, trustOptions{yes: true}, []string{"cassandra-1.internal"}, strings.NewReader(""), &out); err != nil || !strings.Contains(out.String(), "already trusted") {
		t.Fatalf("again: %v\n%s", err, out.String())
	}
}
