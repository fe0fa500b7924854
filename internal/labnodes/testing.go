package labnodes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
)

// BuildSimBinary builds scalar-sim (cmd/scalar-sim) into dir and returns its path, for
// Options.SimBinary in tests (build it once per test binary, e.g. with
// sync.Once). dir must not be under /root (t.TempDir() is fine).
func BuildSimBinary(dir string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("labnodes: cannot find the module root")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := filepath.Join(dir, "scalar-sim")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/scalar-sim")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("labnodes: go build ./cmd/scalar-sim: %w: %s", err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// Available reports why the lab's nodes cannot run here (the lab itself
// cannot, or prometheus / prometheus-node-exporter is missing), or nil.
func Available() error {
	if err := lab.Available(); err != nil {
		return err
	}
	for _, bin := range []string{"prometheus-node-exporter", "prometheus", "prometheus-alertmanager"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s missing (apt-get install prometheus prometheus-node-exporter prometheus-alertmanager)", bin)
		}
	}
	return nil
}

// SkipUnlessAvailable skips the test when Available reports a reason, or
// fails it when SCALAR_TUI_REQUIRE_LAB=1 (CI). Call it before expensive
// set-up such as BuildSimBinary.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv(lab.RequireEnv) == "1" {
			t.Fatalf("lab nodes required (%s=1) but unavailable: %v", lab.RequireEnv, err)
		}
		t.Skipf("lab nodes unavailable, skipping (set %s=1 to fail instead): %v", lab.RequireEnv, err)
	}
}

// ForTest starts a lab (lab.ForTest) and its nodes, after SkipUnlessAvailable.
// The lab's Stop in t.Cleanup ends every node process.
func ForTest(t testing.TB, cfg lab.Config, opts Options) (*lab.Lab, *Nodes) {
	t.Helper()
	SkipUnlessAvailable(t)
	l := lab.ForTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := Start(ctx, l, opts)
	if err != nil {
		t.Fatalf("start lab nodes: %v", err)
	}
	return l, n
}
