package main

import (
	"context"
	"strings"
	"testing"
)

// A password inside --reaper-url is refused (exit 2) with a pointer to
// --reaper-password-file, and is not echoed back.
func TestReaperURLWithCredentialsIsBadInput(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	_, _, err := runCLI(context.Background(), "repair", "--via", "reaper", "--reaper-url", "http://admin:pw-in-url@reaper-1:8080", "--dry-run")
	if code := exitCodeOf(err); code != exitBadInput {
		t.Fatalf("exit %d (%v), want %d", code, err, exitBadInput)
	}
	if !strings.Contains(err.Error(), "--reaper-password-file") || strings.Contains(err.Error(), "pw-in-url") {
		t.Errorf("error = %v", err)
	}
}
