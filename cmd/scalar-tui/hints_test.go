package main

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
)

// After a backup that already paused fails, the hint must not send the
// operator to a resume that refuses; and a refused resume must not repeat it.
func TestBackupFailureAfterPauseHint(t *testing.T) {
	e := startOpsEnv(t, "scalardl-blue-3:pause-refused")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _, err := runCLI(ctx, append(e.global(), "backup", "--yes", "--json", "--tag", "t9", "--min-free-percent=-1", "--lock-path", e.lockPath)...)
	if exitCodeOf(err) != exitFailed {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	run, _ := finished(t, out)
	for i, msg := range []string{err.Error(), ""} {
		if i == 1 {
			out, _, err = runCLI(ctx, append(e.global(), "resume", run, "--yes", "--json", "--lock-path", e.lockPath)...)
			if exitCodeOf(err) != exitFailed {
				t.Fatalf("resume: %v\n%s", err, out)
			}
			msg = err.Error()
		}
		if strings.Contains(msg, "fix the cause, then") || !strings.Contains(msg, "cannot be resumed") || !strings.Contains(msg, "backups clear t9") {
			t.Errorf("hint #%d misleads:\n%s", i+1, msg)
		}
	}
}

// trust without --yes reads the operator's answer: piped input is refused
// (exit 2) before anything is fetched.
func TestTrustWithoutYesNeedsTerminal(t *testing.T) {
	flags, accepts := silentDeployment(t, "5s")
	root := newRootCmd()
	var out, errOut strings.Builder
	root.SetIn(strings.NewReader("yes\nyes\n"))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(flags, "trust", "--bastion"))
	err := root.ExecuteContext(context.Background())
	if code := exitCodeOf(err); code != exitBadInput || !strings.Contains(err.Error(), "terminal") {
		t.Fatalf("exit %d, %v; want %d asking for a terminal\n%s", code, err, exitBadInput, out.String())
	}
	if n := accepts.Load(); n != 0 {
		t.Errorf("the bastion was contacted %d times before the refusal", n)
	}
}

// A changed bastion key points to `trust --bastion`, not to the address.
func TestTrustChangedBastionKeyHint(t *testing.T) {
	cl, err := sshtest.NewCluster(sshtest.ClusterOptions{Hosts: []string{"cassandra-1.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dir := t.TempDir()
	_, id, err := cl.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "changed_known_hosts")
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := sshx.AppendKnownHost(kh, cl.Bastion.Addr, old); err != nil {
		t.Fatal(err)
	}
	c, err := sshx.New(sshx.Config{BastionAddr: cl.Bastion.Addr, User: "centos", IdentityFile: id, KnownHostsFile: kh, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out strings.Builder
	err = runTrust(context.Background(), c, kh, trustOptions{bastion: true, yes: true}, nil, strings.NewReader(""), &out)
	if err == nil || !strings.Contains(out.String(), "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Fatalf("runTrust = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "`scalar-tui trust --replace --bastion`") || strings.Contains(out.String(), "scalar-tui trust 127.0.0.1") {
		t.Errorf("hint:\n%s", out.String())
	}
}
