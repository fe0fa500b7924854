package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns "skip" into "fail" in
// ForTest: CI, which runs as root with the packages installed, sets it to 1.
const RequireEnv = "SCALAR_TUI_REQUIRE_LAB"

// Available reports why a lab cannot run here (not root, a tool missing, no
// network namespaces), or nil when it can.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("lab needs root (it creates network namespaces and runs sshd)")
	}
	if err := checkTools(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// `ip netns list` works without namespace support; adding one does not.
	probe := fmt.Sprintf("labprobe%d", os.Getpid())
	if _, err := run(ctx, "ip", "netns", "add", probe); err != nil {
		return fmt.Errorf("ip netns unavailable: %w", err)
	}
	_, _ = run(ctx, "ip", "netns", "del", probe)
	if _, err := exec.LookPath("ssh"); err != nil {
		return fmt.Errorf("OpenSSH client missing (package openssh-client)")
	}
	return nil
}

// ForTest starts a lab for a test and stops it in t.Cleanup. It skips the test
// when the lab cannot run here (see Available), unless SCALAR_TUI_REQUIRE_LAB=1,
// in which case the test fails. A Start failure always fails the test.
// cfg.Dir defaults to t.TempDir() and cfg.Ephemeral is set.
func ForTest(t testing.TB, cfg Config) *Lab {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("lab required (%s=1) but unavailable: %v", RequireEnv, err)
		}
		t.Skipf("lab unavailable, skipping (set %s=1 to fail instead): %v", RequireEnv, err)
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Ephemeral = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Stop(); err != nil {
			t.Errorf("stop lab: %v", err)
		}
	})
	return l
}
