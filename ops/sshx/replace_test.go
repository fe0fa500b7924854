package sshx_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
)

func newPub(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func authLine(k ssh.PublicKey) string { return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) }

// changedErr is what a connection to addr presenting key reports.
func changedErr(t *testing.T, file, addr string, key ssh.PublicKey) *sshx.ChangedHostKeyError {
	t.Helper()
	var ch *sshx.ChangedHostKeyError
	if err := sshx.CheckKnownHost(file, addr, key); !errors.As(err, &ch) {
		t.Fatalf("CheckKnownHost(%s) = %v, want *ChangedHostKeyError", addr, err)
	}
	return ch
}

// ReplaceKnownHost keeps every other byte of the file, keeps the replaced
// entry's names (all of them meant the rebuilt machine), removes the host's
// other old keys and keeps the file's mode.
func TestReplaceKnownHost(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "known_hosts")
	oldKey, oldSecond, other, newKey := newPub(t), newPub(t), newPub(t), newPub(t)
	hashed := knownhosts.HashHostname("cassandra-2.internal")
	src := "# managed by hand\n" +
		"bastion.example " + authLine(other) + "\n" +
		"cassandra-1.internal,cassandra-1,10.42.2.10 " + authLine(oldKey) + " old comment\n" +
		"\n" +
		"cassandra-1.internal " + authLine(oldSecond) + "\n" +
		hashed + " " + authLine(oldKey) + "\n" +
		"cassandra-3.internal " + authLine(other) + "\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ch := changedErr(t, file, "cassandra-1.internal", newKey)
	if len(ch.Want) != 2 {
		t.Fatalf("want two old entries, got %v", ch.Want)
	}
	if err := sshx.ReplaceKnownHost(file, ch.Want, newKey); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	want := "# managed by hand\n" +
		"bastion.example " + authLine(other) + "\n" +
		"cassandra-1.internal,cassandra-1,10.42.2.10 " + authLine(newKey) + "\n" +
		"\n" +
		hashed + " " + authLine(oldKey) + "\n" +
		"cassandra-3.internal " + authLine(other) + "\n"
	if string(b) != want {
		t.Fatalf("known_hosts after the replacement:\n%s\nwant:\n%s", b, want)
	}
	for _, name := range []string{"cassandra-1.internal", "cassandra-1", "10.42.2.10"} {
		if err := sshx.CheckKnownHost(file, name, newKey); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	// A hashed entry keeps its hash and gets the new key.
	ch = changedErr(t, file, "cassandra-2.internal", newKey)
	if err := sshx.ReplaceKnownHost(file, ch.Want, newKey); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(file)
	if !strings.Contains(string(b), hashed+" "+authLine(newKey)+"\n") {
		t.Errorf("hashed entry not replaced in place:\n%s", b)
	}
	if err := sshx.CheckKnownHost(file, "cassandra-2.internal", newKey); err != nil {
		t.Error(err)
	}
	if err := sshx.CheckKnownHost(file, "cassandra-3.internal", other); err != nil {
		t.Errorf("another host's entry changed: %v", err)
	}
}

// A pattern that may name other hosts, or a file changed since the check,
// is refused with the file untouched.
func TestReplaceKnownHostRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	oldKey, newKey := newPub(t), newPub(t)
	for _, tc := range []struct {
		name, src, host string
		edit            func()
		want            string
	}{
		{name: "wildcard", src: "*.internal " + authLine(oldKey) + "\n", host: "cassandra-1.internal", want: "may cover other hosts"},
		{name: "negation", src: "cassandra-1.internal,!cassandra-9.internal " + authLine(oldKey) + "\n", host: "cassandra-1.internal", want: "may cover other hosts"},
		{name: "changed since", src: "cassandra-1.internal " + authLine(oldKey) + "\n", host: "cassandra-1.internal",
			edit: func() {
				_ = os.WriteFile(file, []byte("# new first line\ncassandra-1.internal "+authLine(oldKey)+"\n"), 0o600)
			},
			want: "changed since it was read"},
		{name: "line gone", src: "x " + authLine(newKey) + "\ncassandra-1.internal " + authLine(oldKey) + "\n", host: "cassandra-1.internal",
			edit: func() { _ = os.WriteFile(file, []byte("x "+authLine(newKey)+"\n"), 0o600) },
			want: "changed since it was read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(file, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			ch := changedErr(t, file, tc.host, newKey)
			if tc.edit != nil {
				tc.edit()
			}
			before, _ := os.ReadFile(file)
			err := sshx.ReplaceKnownHost(file, ch.Want, newKey)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReplaceKnownHost = %v, want an error with %q", err, tc.want)
			}
			if after, _ := os.ReadFile(file); string(after) != string(before) {
				t.Errorf("file changed by a refused replacement:\n%s", after)
			}
		})
	}
	if err := sshx.ReplaceKnownHost(file, nil, newKey); err == nil {
		t.Error("no old entries: want an error")
	}
}

// Over the in-process servers: a rebuilt host is refused with an error that
// names `trust --replace`; the key it presents, put in place of the old
// entry, lets the client in again; other hosts were never affected.
func TestChangedHostKeyReplaced(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	k, err := sshtest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e.cl.Hosts[hosts3[0]].SetHostKey(k)
	c := e.client(t)
	ctx := context.Background()
	_, err = c.Run(ctx, hosts3[0], "echo x", sshx.RunOptions{})
	var ch *sshx.ChangedHostKeyError
	if !errors.As(err, &ch) {
		t.Fatalf("want ChangedHostKeyError, got %v", err)
	}
	if !strings.Contains(err.Error(), "`scalar-tui trust --replace "+hosts3[0]+"`") || strings.Contains(err.Error(), "ssh-keygen") {
		t.Errorf("the changed-key error does not point to trust --replace:\n%s", err)
	}
	got, err := c.HostKey(ctx, hosts3[0])
	if err != nil {
		t.Fatal(err)
	}
	if ssh.FingerprintSHA256(got) != ssh.FingerprintSHA256(k.PublicKey()) {
		t.Fatalf("HostKey = %s, the host presents %s", ssh.FingerprintSHA256(got), ssh.FingerprintSHA256(k.PublicKey()))
	}
	if err := sshx.ReplaceKnownHost(e.knownHosts, ch.Want, got); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts3 {
		if _, err := c.Run(ctx, h, "echo x", sshx.RunOptions{}); err != nil {
			t.Errorf("%s after the replacement: %v", h, err)
		}
	}
}

// known_hosts holds an ECDSA key for a host that (rebuilt) offers only
// ed25519: the fetch asks for ECDSA first, gets no common algorithm, and
// falls back to the other types, so the operator still sees the new key.
func TestHostKeyFallsBackFromKnownType(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	old, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(e.knownHosts)
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, hosts3[0]) {
			keep = append(keep, l)
		}
	}
	keep = append(keep, knownhosts.Line([]string{hosts3[0]}, old))
	if err := os.WriteFile(e.knownHosts, []byte(strings.Join(keep, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	got, err := c.HostKey(context.Background(), hosts3[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := e.cl.Hosts[hosts3[0]].HostKey(); ssh.FingerprintSHA256(got) != ssh.FingerprintSHA256(want) {
		t.Fatalf("HostKey = %s %s, the host presents %s %s", got.Type(), ssh.FingerprintSHA256(got), want.Type(), ssh.FingerprintSHA256(want))
	}
	ch := changedErr(t, e.knownHosts, hosts3[0], got)
	if err := sshx.ReplaceKnownHost(e.knownHosts, ch.Want, got); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background(), hosts3[0], "echo x", sshx.RunOptions{}); err != nil {
		t.Fatalf("after the replacement: %v", err)
	}
}
