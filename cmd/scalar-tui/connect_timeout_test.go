package main

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"scalar-tui/internal/tfgen"
)

// silentBastion accepts TCP and never speaks SSH; it counts connections.
func silentBastion(t *testing.T) (port int, accepts *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepts = &atomic.Int32{}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port, accepts
}

// silentDeployment writes a default deployment whose bastion is a silent
// listener on loopback, plus a client key, and returns the global flags.
func silentDeployment(t *testing.T, timeout string) ([]string, *atomic.Int32) {
	t.Helper()
	port, accepts := silentBastion(t)
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := tfgen.Default("aws")
	spec.BastionIP, spec.BastionPort, spec.KeyPath = "127.0.0.1", port, key
	if err := tfgen.Write(filepath.Join(dir, "tf"), spec); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	return []string{"--tf-root", filepath.Join(dir, "tf"), "--known-hosts", filepath.Join(dir, "known_hosts"),
		"--identity", key, "--connect-timeout", timeout}, accepts
}

// exec on a bastion that never speaks SSH fails every host after one bounded
// handshake, even one host at a time.
func TestExecSilentBastionFailsAllHostsAtOnce(t *testing.T) {
	flags, accepts := silentDeployment(t, "300ms")
	// A safety net only: --connect-timeout must end the command first.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := runCLI(ctx, append(flags, "exec", "--role", "cassandra", "--role", "envoy", "--parallel", "1", "--", "true")...)
	if code := exitCodeOf(err); code != exitFailed || ctx.Err() != nil {
		t.Fatalf("exit %d (%v, ctx %v), want %d\n%s%s", code, err, ctx.Err(), exitFailed, out, errOut)
	}
	if !strings.Contains(out, "6 of 6") && !strings.Contains(err.Error(), "6 of 6") {
		t.Errorf("want all 6 hosts failed: %v\n%s", err, out)
	}
	if !strings.Contains(errOut, "--connect-timeout") {
		t.Errorf("the error does not name --connect-timeout:\n%s", errOut)
	}
	if n := accepts.Load(); n != 1 {
		t.Errorf("the silent bastion was dialled %d times for 6 hosts, want once", n)
	}
}

// trust --bastion --yes on a silent bastion fails (exit 1) instead of hanging.
func TestTrustSilentBastionFails(t *testing.T) {
	flags, accepts := silentDeployment(t, "300ms")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, err := runCLI(ctx, append(flags, "trust", "--bastion", "--yes", "cassandra-1", "cassandra-2")...)
	if code := exitCodeOf(err); code != exitFailed || ctx.Err() != nil {
		t.Fatalf("exit %d (%v, ctx %v), want %d\n%s%s", code, err, ctx.Err(), exitFailed, out, errOut)
	}
	if !strings.Contains(out, "no SSH handshake") {
		t.Errorf("output does not say the handshake timed out:\n%s", out)
	}
	if n := accepts.Load(); n != 1 {
		t.Errorf("the silent bastion was dialled %d times, want once", n)
	}
}

func TestConnectTimeoutMustBePositive(t *testing.T) {
	for _, v := range []string{"0s", "-1s"} {
		flags, _ := silentDeployment(t, v)
		_, _, err := runCLI(context.Background(), append(flags, "exec", "--role", "cassandra", "--", "true")...)
		if code := exitCodeOf(err); code != exitBadInput {
			t.Errorf("--connect-timeout %s: exit %d (%v), want %d", v, code, err, exitBadInput)
		}
	}
}
