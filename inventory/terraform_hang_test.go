package inventory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hungTerraform writes a terraform wrapper that ignores SIGTERM and SIGINT
// and waits on a child that holds its output open (as a wrapper around a
// hung backend does). It returns the script and the file where the child's
// pid appears.
func hungTerraform(t *testing.T) (bin, pidFile string) {
	t.Helper()
	dir := t.TempDir()
	pidFile = filepath.Join(dir, "child.pid")
	bin = filepath.Join(dir, "terraform")
	script := "#!/bin/sh\ntrap '' TERM INT\nsleep 1000 &\necho $! > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "\nwait\nwait\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, pidFile
}

// gone reports whether pid no longer runs (a zombie counts as gone).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist) || syscall.Kill(pid, 0) == syscall.ESRCH
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// loadHung runs Load with the hung wrapper and returns its error; a Load that
// does not return within a minute fails the test (it would hang forever).
func loadHung(t *testing.T, ctx context.Context, opts Options) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(ctx, opts)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Load still waits for a terraform that ignores SIGTERM, a minute later")
		return nil
	}
}

// checkChildKilled fails unless the wrapper's child ends (it ignores SIGTERM:
// only SIGKILL to the process group ends it).
func checkChildKilled(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the wrapper never started its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && !gone(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if !gone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the wrapper's child %d survived: the process group was not killed", pid)
	}
}

// Cancelling a load stops a terraform wrapper that ignores SIGTERM, and
// its children.
func TestLoadTerraformCancelKillsProcessGroup(t *testing.T) {
	bin, pidFile := hungTerraform(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for i := 0; i < 600; i++ {
			if _, err := os.Stat(pidFile); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	err := loadHung(t, ctx, Options{TFDirs: []string{dir}, Terraform: bin, TerraformKillGrace: 200 * time.Millisecond})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load = %v, want context.Canceled", err)
	}
	checkChildKilled(t, pidFile)
}

// A terraform that never finishes is stopped after TerraformTimeout with an
// error that says so.
// A terraform that never finishes is stopped after TerraformTimeout with an
// error that says so.
func TestLoadTerraformTimeout(t *testing.T) {
	bin, pidFile := hungTerraform(t)
	dir := t.TempDir()
	err := loadHung(t, context.Background(), Options{TFDirs: []string{dir}, Terraform: bin,
		TerraformTimeout: 300 * time.Millisecond, TerraformKillGrace: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "still running after 300ms") || !strings.Contains(err.Error(), dir) {
		t.Errorf("Load = %v, want a timeout error naming the directory", err)
	}
	checkChildKilled(t, pidFile)
}
