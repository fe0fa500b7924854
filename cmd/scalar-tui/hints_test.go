package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// After a backup that already paused fails, the hint must not send the
// operator to a resume that refuses; and a refused resume must not repeat it.
func TestBackupFailureAfterPauseHint(t *testing.T) {
	e := startOpsEnv(t, "scalardl-blue-3:pause-refused")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _, err := runCLI(ctx, append(e.global(), "backup", "--yes", "--json", "--tag", "t9", "--min-free-percent=-1", "--lock-path", e.lockPath)...)
	if exitCodeOf(err) != exitFailed {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	run, _ := finished(t, out)
	for i, msg := range []string{err.Error(), ""} {
		if i == 1 {
			out, _, err = runCLI(ctx, append(e.global(), "resume", run, "--yes", "--json", "--lock-path", e.lockPath)...)
			if exitCodeOf(err) != exitFailed {
				t.Fatalf("resume: %v\n%s", err, out)
			}
			msg = err.Error()
		}
		if strings.Contains(msg, "fix the cause, then") || !strings.Contains(msg, "cannot be resumed") || !strings.Contains(msg, "backups clear t9") {
			t.Errorf("hint #%d misleads:\n%s", i+1, msg)
		}
	}
}
