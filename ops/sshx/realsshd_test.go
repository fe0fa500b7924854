package sshx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// realSSHD starts OpenSSH's sshd on 127.0.0.1 (foreground, killed at
// cleanup) and returns its address and host key. It skips the test when
// sshd is not installed or we are not root (sshd needs root to log users in).
func realSSHD(t *testing.T, dir, name string, authorized []byte) (string, *sshtest.ClientKey) {
	t.Helper()
	required := os.Getenv("SCALAR_TUI_REQUIRE_LAB") == "1"
	if testing.Short() && !required {
		t.Skip("starts real sshd processes")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil || os.Geteuid() != 0 {
		if required {
			t.Fatalf("real sshd required (SCALAR_TUI_REQUIRE_LAB=1) but unavailable: needs /usr/sbin/sshd and root (euid %d, %v)", os.Geteuid(), err)
		}
		t.Skip("needs /usr/sbin/sshd and root")
	}
	os.MkdirAll("/run/sshd", 0o755)
	hostKey, err := sshtest.NewClientKey("")
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o700)
	os.WriteFile(filepath.Join(d, "host_key"), hostKey.PEM, 0o600)
	os.WriteFile(filepath.Join(d, "authorized_keys"), authorized, 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s/host_key
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
PermitRootLogin prohibit-password
PrintMotd no
`, port, d, d, d)
	os.WriteFile(filepath.Join(d, "sshd_config"), []byte(conf), 0o600)
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(d, "sshd_config"))
	log, _ := os.Create(filepath.Join(d, "sshd.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); log.Close() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			b, _ := os.ReadFile(filepath.Join(d, "sshd.log"))
			t.Fatalf("sshd did not start: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, hostKey
}

// TestRealSSHD checks the process-group kill and detached commands against
// OpenSSH's sshd, which ignores "signal" requests: a bastion and a host, both
// on loopback.
func TestRealSSHD(t *testing.T) {
	dir := shortTempDir(t)
	client, err := sshtest.NewClientKey("")
	if err != nil {
		t.Fatal(err)
	}
	auth := []byte(strings.TrimSpace(string(marshalAuthorized(client))) + "\n")
	bastion, bKey := realSSHD(t, dir, "bastion", auth)
	host, hKey := realSSHD(t, dir, "node", auth)
	kh := filepath.Join(dir, "known_hosts")
	lines := knownhosts.Line([]string{knownhosts.Normalize(bastion)}, bKey.Signer.PublicKey()) + "\n" +
		knownhosts.Line([]string{knownhosts.Normalize(host)}, hKey.Signer.PublicKey()) + "\n"
	os.WriteFile(kh, []byte(lines), 0o600)
	id := filepath.Join(dir, "id")
	os.WriteFile(id, client.PEM, 0o600)
	u, _ := user.Current()
	c, err := sshx.New(sshx.Config{BastionAddr: bastion, User: u.Username, IdentityFile: id, KnownHostsFile: kh, NoAgent: true, DialTimeout: 5 * time.Second},
		sshx.WithKillGrace(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	out, got := collect()
	res, err := c.Run(ctx, host, "echo hi; exit 4", sshx.RunOptions{Stdout: out})
	if err != nil || res.ExitCode != 4 || strings.Join(got(), "") != "hi" {
		t.Fatalf("run: %+v %v %q", res, err, got())
	}

	// Cancel: the child must die although sshd ignores signal requests.
	pidFile := filepath.Join(dir, "child.pid")
	cctx, cancel := context.WithCancel(ctx)
	_, err = c.Run(cctx, host, "sleep 300 & echo $! > "+pidFile+"; echo started; wait", sshx.RunOptions{
		Stdout: func(l string) {
			if l == "started" {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want Canceled, got %v", err)
	}
	b, _ := os.ReadFile(pidFile)
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			exec.Command("kill", "-KILL", pid).Run()
			t.Fatalf("child %s survived the cancel", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Detached (the workflow's runner): survives dropping every client
	// connection, and Follow picks up after the lines already seen.
	goFile := filepath.Join(dir, "go")
	d := workflow.DetachedHandle{Host: host, Dir: filepath.Join(dir, "runs", "1"), Command: "echo one; while [ ! -f " + goFile + " ]; do sleep 0.05; done; echo two; exit 5"}
	if err := (workflow.ShellDetacher{R: c}).Start(ctx, d); err != nil {
		t.Fatal(err)
	}
	c.Close() // every connection gone
	c2, err := sshx.New(sshx.Config{BastionAddr: bastion, User: u.Username, IdentityFile: id, KnownHostsFile: kh, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	det := workflow.ShellDetacher{R: c2}
	if st, err := det.Status(ctx, d); err != nil || !st.Running {
		t.Fatalf("status after drop: %+v %v", st, err)
	}
	os.WriteFile(goFile, nil, 0o600)
	aout, alines := collect()
	err = det.Follow(ctx, d, 0, 0, sshx.RunOptions{Stdout: aout})
	st, serr := det.Status(ctx, d)
	if err != nil || serr != nil || st.ExitCode != 5 || !st.Exited || strings.Join(alines(), ",") != "one,two" {
		t.Fatalf("follow: %v; status %+v %v; lines %q", err, st, serr, alines())
	}
	// RunBastion works on a real bastion too.
	if res, err := c2.RunBastion(ctx, "true", sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
		t.Fatalf("bastion: %+v %v", res, err)
	}
}
