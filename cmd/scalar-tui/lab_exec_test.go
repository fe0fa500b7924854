package main

// Integration tests of `exec` and `trust` against the lab (internal/lab): real
// sshd hosts behind a real bastion, found through the lab's Terraform state.
// One lab serves every subtest of TestLabCLI; each subtest undoes its faults.
// Skips without root/iproute2/openssh-server unless SCALAR_TUI_REQUIRE_LAB=1.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
)

// labCLI runs the command tree against l as run() does (same exit codes) and
// returns stdout, stderr (with the final error) and the exit code.
func labCLI(t *testing.T, l *lab.Lab, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(labGlobalArgs(t, l), args...))
	err := root.ExecuteContext(ctx)
	code := exitOK
	if err != nil {
		fmt.Fprintln(&errOut, "scalar-tui:", err)
		var ee *exitError
		switch {
		case errors.As(err, &ee):
			code = ee.code
		case errors.Is(err, context.Canceled):
			code = exitCanceled
		default:
			code = exitBadInput
		}
	}
	return out.String(), errOut.String(), code
}

// labGlobalArgs are the flags `lab up` tells the operator to use.
func labGlobalArgs(t *testing.T, l *lab.Lab) []string {
	return []string{
		"--log-file", filepath.Join(t.TempDir(), "scalar-tui.log"),
		"--tf-root", l.TFRoot, "--known-hosts", l.KnownHosts, "--identity", l.KeyPath,
	}
}

// hasLine reports whether exec printed line for the host labelled label
// (labels are padded to the longest one).
func hasLine(out, label, line string) bool {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + ` *\| ` + regexp.QuoteMeta(line) + `$`).MatchString(out)
}

// labCLIReset restores sshd everywhere and known_hosts at the end of a subtest.
func labCLIReset(t *testing.T, l *lab.Lab) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.StartBastion(ctx); err != nil {
			t.Errorf("reset: start bastion: %v", err)
		}
		for _, h := range l.Hosts {
			if err := l.StartSSH(ctx, h.Short); err != nil {
				t.Errorf("reset: start sshd on %s: %v", h.Short, err)
			}
		}
		if err := l.ResetKnownHosts(); err != nil {
			t.Errorf("reset: known_hosts: %v", err)
		}
	})
}

func TestLabCLI(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	l := lab.ForTest(t, lab.Config{Hosts: lab.SmallHosts()})
	// Deterministic credentials: the key file only, whatever agent the caller has.
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())

	t.Run("ExecAllHosts", func(t *testing.T) {
		out, errOut, code := labCLI(t, l, "exec", "--role", "bastion", "--role", "cassandra", "--parallel", "4", "--", "hostname")
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		for _, h := range append([]lab.Host{l.Bastion}, l.Hosts...) {
			if !hasLine(out, h.Short, h.Short) {
				t.Errorf("no hostname line for %s:\n%s", h.Short, out)
			}
		}
		if !strings.Contains(out, "HOST") || !strings.Contains(out, "EXIT") {
			t.Errorf("no summary table:\n%s", out)
		}
	})

	t.Run("OneHostDownExits1", func(t *testing.T) {
		labCLIReset(t, l)
		down := l.Hosts[1]
		if err := l.StopSSH(down.Short); err != nil {
			t.Fatal(err)
		}
		// The real entry point: its exit code is what the operator's shell sees.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if code := run(ctx, append(labGlobalArgs(t, l), "exec", "--role", "cassandra", "--", "true")); code != exitFailed {
			t.Errorf("run(exec) with %s down = %d, want %d", down.Short, code, exitFailed)
		}
		out, errOut, code := labCLI(t, l, "exec", "--role", "cassandra", "--", "echo", "ok")
		if code != exitFailed {
			t.Fatalf("exit %d, want %d\n%s%s", code, exitFailed, out, errOut)
		}
		for _, h := range l.Hosts {
			if h.Name == down.Name {
				if hasLine(out, h.Short, "ok") || !strings.Contains(errOut, h.Short) {
					t.Errorf("%s is down but:\nstdout:\n%s\nstderr:\n%s", h.Short, out, errOut)
				}
				continue
			}
			if !hasLine(out, h.Short, "ok") {
				t.Errorf("%s did not run:\n%s%s", h.Short, out, errOut)
			}
		}
		if !strings.Contains(errOut, "1 of 3 hosts failed") {
			t.Errorf("stderr lacks the failure count:\n%s", errOut)
		}
	})

	t.Run("UnknownKeyTrustThenExec", func(t *testing.T) {
		labCLIReset(t, l)
		h := l.Hosts[2]
		if err := l.RemoveKnownHost(h.Short); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := labCLI(t, l, "exec", "--host", h.Short, "--", "hostname")
		if code != exitFailed || !strings.Contains(errOut, "unknown") || !strings.Contains(errOut, "SHA256:") || !strings.Contains(errOut, "scalar-tui trust") {
			t.Fatalf("exec on an unknown host: exit %d\n%s%s", code, out, errOut)
		}
		out, errOut, code = labCLI(t, l, "trust", "--yes", h.Short)
		if code != exitOK || !strings.Contains(out, "SHA256:") || !strings.Contains(out, "added to "+l.KnownHosts) {
			t.Fatalf("trust: exit %d\n%s%s", code, out, errOut)
		}
		out, errOut, code = labCLI(t, l, "exec", "--host", h.Short, "--", "hostname")
		if code != exitOK || !hasLine(out, h.Short, h.Short) {
			t.Fatalf("exec after trust: exit %d\n%s%s", code, out, errOut)
		}
		// Trusting again is a no-op.
		out, errOut, code = labCLI(t, l, "trust", "--yes", h.Short)
		if code != exitOK || !strings.Contains(out, "already trusted") {
			t.Errorf("second trust: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("ChangedKeyRefusedEvenByTrust", func(t *testing.T) {
		labCLIReset(t, l)
		h := l.Hosts[0]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := l.ChangeHostKey(ctx, h.Short); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := labCLI(t, l, "exec", "--host", h.Short, "--", "echo", "must-not-run")
		if code != exitFailed || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, "REMOTE HOST IDENTIFICATION HAS CHANGED") {
			t.Fatalf("exec on a changed key: exit %d\n%s%s", code, out, errOut)
		}
		out, errOut, code = labCLI(t, l, "trust", "--yes", h.Short)
		if code != exitFailed || !strings.Contains(out, "REMOTE HOST IDENTIFICATION HAS CHANGED") {
			t.Fatalf("trust --yes on a changed key must refuse: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("BastionDown", func(t *testing.T) {
		labCLIReset(t, l)
		if err := l.StopBastion(); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := labCLI(t, l, "exec", "--role", "cassandra", "--", "true")
		if code != exitFailed || !strings.Contains(errOut, "bastion "+l.BastionAddr) {
			t.Fatalf("exec with the bastion down: exit %d, want 1 and an error naming bastion %s\n%s%s", code, l.BastionAddr, out, errOut)
		}
	})

	t.Run("ForwardingOff", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.SetBastionForwarding(ctx, false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := l.SetBastionForwarding(ctx, true); err != nil {
				t.Errorf("reset forwarding: %v", err)
			}
		})
		out, errOut, code := labCLI(t, l, "exec", "--host", l.Hosts[0].Short, "--", "true")
		if code != exitFailed || !strings.Contains(errOut, "AllowTcpForwarding") {
			t.Fatalf("exec with forwarding off: exit %d\n%s%s", code, out, errOut)
		}
	})
}

// labLockPath is a cluster lock path of this test's own on the lab bastion
// (whose /tmp is this machine's), removed with its journal mirror
// (<lock>.runs) when the test ends.
func labLockPath(t *testing.T, kind string) string {
	t.Helper()
	p := fmt.Sprintf("/tmp/scalar-tui-%s-%d-%d.lock", kind, os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		_ = os.RemoveAll(p)
		_ = os.RemoveAll(p + ".runs")
	})
	return p
}
