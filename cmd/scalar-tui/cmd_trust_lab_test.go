package main

// `trust --replace` on the real-sshd lab (internal/lab): a host whose sshd
// got a new host key, as after the documented node replacement. Skips
// without root/iproute2/openssh-server unless SCALAR_TUI_REQUIRE_LAB=1.

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"scalar-tui/internal/lab"
)

// knownLine returns the known_hosts line that lists name first.
func knownLine(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+",") || strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	t.Fatalf("no known_hosts line for %s in:\n%s", name, b)
	return ""
}

func fingerprintOf(t *testing.T, authorized string) string {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorized))
	if err != nil {
		t.Fatalf("parse %q: %v", authorized, err)
	}
	return ssh.FingerprintSHA256(k)
}

func TestLabTrustReplaceAfterNodeReplacement(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	l := lab.ForTest(t, lab.Config{Hosts: lab.SmallHosts()})
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	h := l.Hosts[0]
	line := knownLine(t, l.KnownHosts, h.Name)
	names := strings.Fields(line)[0]
	old := fingerprintOf(t, strings.SplitN(line, " ", 2)[1])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := l.ChangeHostKey(ctx, h.Short)
	if err != nil {
		t.Fatal(err)
	}
	now := fingerprintOf(t, pub)

	// The console refuses the host and says what to run.
	out, errOut, code := labCLI(t, l, "exec", "--host", h.Short, "--", "echo", "must-not-run")
	if code != exitFailed || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, "`scalar-tui trust --replace "+h.Name+"`") {
		t.Fatalf("exec on a changed key: exit %d, want 1 and a pointer to trust --replace\n%s%s", code, out, errOut)
	}
	// Without a terminal and without --yes nothing is asked or written.
	before, _ := os.ReadFile(l.KnownHosts)
	if out, errOut, code := labCLI(t, l, "trust", "--replace", h.Short); code != exitBadInput {
		t.Fatalf("trust --replace from a pipe: exit %d, want 2\n%s%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(l.KnownHosts); string(after) != string(before) {
		t.Fatal("known_hosts changed without a confirmation")
	}
	out, errOut, code = labCLI(t, l, "trust", "--replace", "--yes", h.Short)
	if code != exitOK || !sideBySide(out, old, now) || !strings.Contains(out, "replaced in "+l.KnownHosts) {
		t.Fatalf("trust --replace --yes: exit %d, want 0 with %s and %s side by side\n%s%s", code, old, now, out, errOut)
	}
	t.Logf("trust --replace:\n%s", out)
	// Same names, new key; every other host's entry as it was.
	if got := knownLine(t, l.KnownHosts, h.Name); got != names+" "+strings.TrimSpace(pub) {
		t.Errorf("known_hosts entry after the replacement:\n%s\nwant:\n%s %s", got, names, pub)
	}
	for _, o := range append([]lab.Host{l.Bastion}, l.Hosts[1:]...) {
		if !strings.Contains(string(before), knownLineOrEmpty(l.KnownHosts, o.Name, o.IP)) {
			t.Errorf("the entry of %s changed", o.Short)
		}
	}
	out, errOut, code = labCLI(t, l, "exec", "--host", h.Short, "--", "hostname")
	if code != exitOK || !hasLine(out, h.Short, h.Short) {
		t.Fatalf("exec after the replacement: exit %d\n%s%s", code, out, errOut)
	}
	// OpenSSH itself accepts the rewritten file (StrictHostKeyChecking yes).
	if b, err := exec.CommandContext(ctx, "ssh", "-F", l.SSHConfig, h.Name, "hostname").CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != h.Short {
		t.Errorf("OpenSSH after the replacement: %v: %s", err, b)
	}

	// A host with several host keys whose known_hosts entry holds its ECDSA
	// key (what older OpenSSH clients recorded): trust compares like for
	// like, so the unchanged host is not reported changed for showing its
	// ed25519 key, and after a rebuild the ECDSA keys are compared.
	h2 := l.Hosts[1]
	ecdsa, err := l.AddECDSAHostKey(ctx, h2.Short)
	if err != nil {
		t.Fatal(err)
	}
	line2 := knownLine(t, l.KnownHosts, h2.Name)
	b, _ := os.ReadFile(l.KnownHosts)
	names2 := strings.Fields(line2)[0]
	if err := os.WriteFile(l.KnownHosts, []byte(strings.Replace(string(b), line2, names2+" "+ecdsa, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = labCLI(t, l, "trust", "--yes", h2.Short)
	if code != exitOK || !strings.Contains(out, "ecdsa-sha2-nistp256 key "+fingerprintOf(t, ecdsa)+" is already trusted") {
		t.Fatalf("trust of an unchanged host known by its ECDSA key: exit %d\n%s%s", code, out, errOut)
	}
	rebuilt, err := l.AddECDSAHostKey(ctx, h2.Short) // the rebuild: a new ECDSA key
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code = labCLI(t, l, "trust", "--replace", "--yes", h2.Short)
	if code != exitOK || !sideBySide(out, "ecdsa-sha2-nistp256 "+fingerprintOf(t, ecdsa), "ecdsa-sha2-nistp256 "+fingerprintOf(t, rebuilt)) {
		t.Fatalf("trust --replace of a rebuilt host known by its ECDSA key: exit %d, want the ECDSA keys side by side\n%s%s", code, out, errOut)
	}
	if got := knownLine(t, l.KnownHosts, h2.Name); got != names2+" "+rebuilt {
		t.Errorf("entry after the replacement: %s, want %s %s", got, names2, rebuilt)
	}
	out, errOut, code = labCLI(t, l, "exec", "--host", h2.Short, "--", "hostname")
	if code != exitOK || !hasLine(out, h2.Short, h2.Short) {
		t.Fatalf("exec after the ECDSA replacement: exit %d\n%s%s", code, out, errOut)
	}
}

// knownLineOrEmpty is the known_hosts line naming name (or ip, for the
// bastion), "" when none.
func knownLineOrEmpty(file, name, ip string) string {
	b, _ := os.ReadFile(file)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (strings.HasPrefix(f[0], name+",") || f[0] == name || f[0] == ip) {
			return l
		}
	}
	return "\x00missing " + name
}
