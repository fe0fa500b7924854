package workflow

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
)

// TestEngineOverAuditedClientLogsEachCommandOnce runs a plan over a real
// sshx client whose auditor writes the engine's audit log: every command,
// the lock's included, is one entry, carrying the run ID and deployment.
func TestEngineOverAuditedClientLogsEachCommandOnce(t *testing.T) {
	hosts := []string{"h1", "h2"}
	cl, err := sshtest.NewCluster(sshtest.ClusterOptions{Hosts: hosts, RealShellDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	dir := t.TempDir()
	kh, id, err := cl.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	c, err := sshx.New(sshx.Config{BastionAddr: cl.Bastion.Addr, User: cl.User, IdentityFile: id, KnownHostsFile: kh, NoAgent: true, DialTimeout: 5 * time.Second},
		sshx.WithAuditor(NewAuditLog(AuditPath(state), "ops@test", "net-1@bastion:22", NewRedactor("s3cr3t"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e := New(c, state, WithOperator("ops@test"), WithLockPath(filepath.Join(dir, "lock")), WithRedactor(NewRedactor("t0psecret")))
	p := hostPlan(hosts...)
	p.Steps[0].Commands = append(p.Steps[0].Commands, "echo t0psecret >/dev/null")
	if status, err := e.Run(context.Background(), p); err != nil || status != StatusDone {
		t.Fatalf("Run = %s, %v", status, err)
	}
	if _, err := e.ForceUnlock(context.Background()); err == nil {
		t.Fatal("ForceUnlock of a free lock succeeded")
	}
	all, err := ReadAudit(state, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	bastion, outside := 0, 0
	for _, a := range all {
		// Commands, and the uploads that copy the journal beside the lock.
		mirror := a.Kind == "upload" && strings.Contains(a.Command, "lock.runs/")
		if a.Deployment != "net-1@bastion:22" || (a.Kind != "command" && !mirror) || a.Operator != "ops@test" {
			t.Errorf("entry not written by the client's audit log (a double?): %+v", a)
		}
		if strings.Contains(a.Command, "t0psecret") {
			t.Errorf("the engine's secret reached the audit log: %q", a.Command)
		}
		switch {
		case a.Run == "":
			outside++
		case a.Run != p.ID:
			t.Errorf("entry with run %q, want %q: %+v", a.Run, p.ID, a)
		}
		if a.Host == sshx.BastionHost {
			bastion++
		}
		seen[a.Host+" "+a.Command]++
	}
	for _, h := range hosts {
		if n := seen[h+" "+workCmd]; n != 1 {
			t.Errorf("%s: the step's command has %d entries, want 1", h, n)
		}
	}
	if n := seen["h1 echo *** >/dev/null"]; n != 1 {
		t.Errorf("the redacted command has %d entries, want 1: %v", n, seen)
	}
	if bastion < 3 || outside != 1 {
		t.Errorf("bastion entries %d (want take, check, release and the unlock), outside a run %d (want the unlock): %+v", bastion, outside, all)
	}
}
