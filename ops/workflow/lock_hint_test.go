package workflow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scalar-tui/ops/workflow/workflowtest"
)

// A lock that cannot be made, or a lock directory without an owner, is said
// as what it is, never as "locked by unknown operator" (issue 12 item 9).
func TestLockHintsForMissingParentAndOwnerlessDir(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	missing := ClusterLock{R: lr, Path: filepath.Join(lr.Dir("bastion"), "no-such-dir", "scalar-tui.lock")}
	err := missing.Acquire(context.Background(), "ops@a", "run-1", fixedTime)
	var le *LockedError
	if err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), "cannot create the cluster lock directory") ||
		!strings.Contains(err.Error(), "No such file or directory") {
		t.Errorf("missing parent: %v", err)
	}
	ownerless := ClusterLock{R: lr, Path: filepath.Join(lr.Dir("bastion"), "half.lock")}
	if err := os.MkdirAll(ownerless.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	err = ownerless.Acquire(context.Background(), "ops@a", "run-1", fixedTime)
	if err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), "without an owner file") {
		t.Errorf("ownerless dir: %v", err)
	}
}
