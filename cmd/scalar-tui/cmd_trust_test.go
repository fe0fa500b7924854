package main

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
)

// trustEnv is an in-process bastion with one host, known_hosts trusting both.
type trustEnv struct {
	cl   *sshtest.Cluster
	kh   string
	c    *sshx.Client
	host string
}

func newTrustEnv(t *testing.T) *trustEnv {
	t.Helper()
	host := "cassandra-1.internal"
	cl, err := sshtest.NewCluster(sshtest.ClusterOptions{Hosts: []string{host}, Exec: func(context.Context, sshtest.Session) int { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	kh, id, err := cl.WriteClientFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := sshx.New(sshx.Config{BastionAddr: cl.Bastion.Addr, User: "centos", IdentityFile: id, KnownHostsFile: kh, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &trustEnv{cl: cl, kh: kh, c: c, host: host}
}

// rebuild gives the host a new key and returns its fingerprint.
func (e *trustEnv) rebuild(t *testing.T) string {
	t.Helper()
	k, err := sshtest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e.cl.Hosts[e.host].SetHostKey(k)
	return ssh.FingerprintSHA256(k.PublicKey())
}

// sideBySide reports whether one line of out shows old then new.
func sideBySide(out, old, new string) bool {
	return regexp.MustCompile(`(?m)^.*` + regexp.QuoteMeta(old) + `\s+.*` + regexp.QuoteMeta(new) + `\s*$`).MatchString(out)
}

// Issue 15 item 6: `trust --replace` shows the old and the new fingerprint
// side by side, keeps the entry on any answer but yes, and replaces it on yes.
func TestTrustReplaceChangedKey(t *testing.T) {
	e := newTrustEnv(t)
	old := ssh.FingerprintSHA256(e.cl.Hosts[e.host].HostKey())
	now := e.rebuild(t)
	before, _ := os.ReadFile(e.kh)
	ctx := context.Background()

	// Plain trust still refuses, and points to --replace.
	var out strings.Builder
	err := runTrust(ctx, e.c, e.kh, trustOptions{yes: true}, []string{e.host}, strings.NewReader(""), &out)
	if exitCodeOf(err) != exitFailed || !strings.Contains(out.String(), "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
		!strings.Contains(out.String(), "`scalar-tui trust --replace "+e.host+"`") {
		t.Fatalf("trust on a changed key: %v\n%s", err, out.String())
	}
	// --replace without a terminal or --yes: bad input, nothing asked.
	out.Reset()
	err = runTrust(ctx, e.c, e.kh, trustOptions{replace: true}, []string{e.host}, strings.NewReader("yes\n"), &out)
	if exitCodeOf(err) != exitBadInput {
		t.Fatalf("--replace from a pipe: exit %d (%v)\n%s", exitCodeOf(err), err, out.String())
	}
	// At a terminal, anything but yes keeps the old entry.
	for _, answer := range []string{"no\n", "y\n", ""} {
		out.Reset()
		err = runTrust(ctx, e.c, e.kh, trustOptions{replace: true, terminal: true}, []string{e.host}, strings.NewReader(answer), &out)
		if exitCodeOf(err) != exitFailed || !strings.Contains(out.String(), "not replaced") {
			t.Fatalf("answer %q: exit %d\n%s", answer, exitCodeOf(err), out.String())
		}
		if !sideBySide(out.String(), old, now) {
			t.Errorf("the old (%s) and new (%s) fingerprints are not side by side:\n%s", old, now, out.String())
		}
		if after, _ := os.ReadFile(e.kh); string(after) != string(before) {
			t.Fatalf("answer %q changed known_hosts:\n%s", answer, after)
		}
	}
	if _, err := e.c.Run(ctx, e.host, "true", sshx.RunOptions{}); !errors.As(err, new(*sshx.ChangedHostKeyError)) {
		t.Fatalf("before the replacement: %v", err)
	}
	// yes replaces it; the host is reachable again.
	out.Reset()
	err = runTrust(ctx, e.c, e.kh, trustOptions{replace: true, terminal: true}, []string{e.host}, strings.NewReader("yes\n"), &out)
	if err != nil || !strings.Contains(out.String(), "replaced in "+e.kh) {
		t.Fatalf("answer yes: %v\n%s", err, out.String())
	}
	t.Logf("trust --replace:\n%s", out.String())
	if _, err := e.c.Run(ctx, e.host, "true", sshx.RunOptions{}); err != nil {
		t.Fatalf("after the replacement: %v", err)
	}
	if b, _ := os.ReadFile(e.kh); strings.Count(string(b), "\n") != strings.Count(string(before), "\n") {
		t.Errorf("the replacement added or lost lines:\n%s\nbefore:\n%s", b, before)
	}
	// Again: already trusted, nothing to do.
	out.Reset()
	if err := runTrust(ctx, e.c, e.kh, trustOptions{replace: true, yes: true}, []string{e.host}, strings.NewReader(""), &out); err != nil || !strings.Contains(out.String(), "already trusted") {
		t.Errorf("second --replace: %v\n%s", err, out.String())
	}
}

// --replace adds nothing: an unknown key is sent to plain trust.
func TestTrustReplaceUnknownKey(t *testing.T) {
	e := newTrustEnv(t)
	if err := os.WriteFile(e.kh, []byte(sshtestBastionLine(e)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err := runTrust(context.Background(), e.c, e.kh, trustOptions{replace: true, yes: true}, []string{e.host}, strings.NewReader(""), &out)
	if exitCodeOf(err) != exitFailed || !strings.Contains(out.String(), "nothing to replace") || !strings.Contains(out.String(), "`scalar-tui trust "+e.host) {
		t.Fatalf("--replace on an unknown key: %v\n%s", err, out.String())
	}
	if b, _ := os.ReadFile(e.kh); string(b) != sshtestBastionLine(e) {
		t.Errorf("known_hosts changed:\n%s", b)
	}
}

// A replaced bastion (--replace --bastion): the same flow for its key.
func TestTrustReplaceBastion(t *testing.T) {
	e := newTrustEnv(t)
	old := ssh.FingerprintSHA256(e.cl.Bastion.HostKey())
	k, err := sshtest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e.cl.Bastion.SetHostKey(k)
	now := ssh.FingerprintSHA256(k.PublicKey())
	var out strings.Builder
	err = runTrust(context.Background(), e.c, e.kh, trustOptions{replace: true, bastion: true, yes: true}, nil, strings.NewReader(""), &out)
	if err != nil || !sideBySide(out.String(), old, now) {
		t.Fatalf("--replace --bastion: %v\n%s", err, out.String())
	}
	if _, err := e.c.Run(context.Background(), e.host, "true", sshx.RunOptions{}); err != nil {
		t.Fatalf("through the replaced bastion: %v", err)
	}
}

func sshtestBastionLine(e *trustEnv) string { return e.cl.KnownHostsLines()[0] + "\n" }
