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

// Every numeric flag is range-checked before anything is attempted: exit 2
// and an error naming the flag.
func TestNumericFlagsRangeChecked(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	for _, args := range [][]string{
		{"backup", "--min-free-percent", "NaN", "--dry-run"},
		{"backup", "--min-free-percent", "+Inf", "--dry-run"},
		{"backup", "--min-free-percent", "101", "--dry-run"},
		{"backup", "--snapshot-timeout", "-1s", "--dry-run"},
		{"backup", "--cassy-poll-interval", "0s", "--via", "cassy", "--dry-run"},
		{"upgrade", "--to", "2.2.0", "--gate-deadline", "-3m", "--dry-run"},
		{"upgrade", "--to", "2.2.0", "--gate-interval", "0s", "--dry-run"},
		{"repair", "--timeout", "-1m", "--dry-run"},
		{"exec", "--parallel", "-2", "--role", "cassandra", "--", "true"},
		{"--connect-timeout", "-1s", "inventory"},
		{"--refresh", "0s"},
		{"demo", "--hosts", "-1"},
	} {
		flag := ""
		for _, a := range args {
			if strings.HasPrefix(a, "--") && flag == "" && a != "--dry-run" && a != "--to" && a != "--role" && a != "--via" && a != "--state" {
				flag = a
			}
		}
		_, _, err := runCLI(context.Background(), args...)
		if code := exitCodeOf(err); code != exitBadInput || err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%v: exit %d, %v; want %d naming %s", args, code, err, exitBadInput, flag)
		}
	}
}

// A fault on a host the demo does not have is bad input, found before the
// demo starts.
func TestDemoFaultOnUnknownHostIsBadInput(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	_, _, err := runCLI(context.Background(), "demo", "--no-tui", "--fault", "cassandra-99:cassandra-stopped")
	if code := exitCodeOf(err); code != exitBadInput || !strings.Contains(err.Error(), `no host "cassandra-99"`) {
		t.Fatalf("exit %d, %v; want %d and the unknown host named", code, err, exitBadInput)
	}
	_, _, err = runCLI(context.Background(), "demo", "--no-tui", "--hosts", "2", "--fault", "cassandra-3:cassandra-stopped")
	if code := exitCodeOf(err); code != exitBadInput {
		t.Errorf("cassandra-3 with --hosts 2: exit %d, %v; want %d", code, err, exitBadInput)
	}
}
