package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"scalar-tui/internal/labnodes"
)

// runLabVia runs scalar-tui's command tree with args, stdout and stderr
// apart, and returns the exit code run() would give.
func runLabVia(t *testing.T, args ...string) (string, string, int, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--log-file", filepath.Join(t.TempDir(), "log")}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), exitCodeOf(err), err
}

// `scalar-tui lab ...` is `scalar-sim lab ...`: same output, same exit
// status, flags and --help included; without scalar-sim it says how to get it.
func TestLabRunsScalarSim(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv("PATH", t.TempDir()) // no scalar-sim, not even the machine's
	_, _, code, err := runLabVia(t, "lab", "down", "--dir", t.TempDir())
	if code != exitBadInput || err == nil || !strings.Contains(err.Error(), "scalar-sim not found") || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("without scalar-sim: exit %d, %v; want %d and how to build it", code, err, exitBadInput)
	}

	t.Setenv("PATH", filepath.Dir(bin))
	_, errOut, code, err := runLabVia(t, "lab", "down", "--dir", t.TempDir())
	if code != exitBadInput || !strings.Contains(errOut, "scalar-sim: lab: no lab in") || !errors.Is(err, errSimReported) {
		t.Errorf("lab down without a lab: exit %d, stderr %q, err %v; want %d and scalar-sim's own message", code, errOut, err, exitBadInput)
	}
	_, errOut, code, _ = runLabVia(t, "lab", "up", "--dir", t.TempDir(), "--prefix", "a;b", "--nodes=false")
	if code != exitBadInput || !strings.Contains(errOut, "prefix") {
		t.Errorf("lab up --prefix 'a;b': exit %d, stderr %q; want %d", code, errOut, exitBadInput)
	}
	out, _, code, _ := runLabVia(t, "lab", "up", "--help")
	if code != exitOK || !strings.Contains(out, "--hosts-from") || !strings.Contains(out, "--nodes") {
		t.Errorf("lab up --help: exit %d:\n%s", code, out)
	}
}
