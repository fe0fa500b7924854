package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"scalar-tui/ops/workflow"
)

func TestConfirmPlan(t *testing.T) {
	old := stdinIsTerminal
	defer func() { stdinIsTerminal = old }()
	p := &workflow.Plan{ID: "20261124-2231-repair-3fa2", Workflow: "repair",
		Steps: []workflow.Step{{ID: "cassandra-1/repair-scalar", Host: "cassandra-1", Commands: []string{"nodetool repair -full -pr scalar"}}}}
	for _, tc := range []struct {
		name  string
		tty   bool
		flags workflowFlags
		input string
		code  int // -1: no error
	}{
		{"yes flag", false, workflowFlags{yes: true}, "", -1},
		{"yes flag json", false, workflowFlags{yes: true, json: true}, "", -1},
		{"not a terminal", false, workflowFlags{}, "repair\n", exitBadInput},
		{"typed name", true, workflowFlags{}, "repair\n", -1},
		{"typed yes", true, workflowFlags{}, " YES \n", -1},
		{"typed other", true, workflowFlags{}, "y\n", exitFailed},
		{"empty", true, workflowFlags{}, "\n", exitFailed},
		{"eof", true, workflowFlags{}, "", exitFailed},
		{"json prompt on stderr", true, workflowFlags{json: true}, "repair\n", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdinIsTerminal = func(io.Reader) bool { return tc.tty }
			var out, errOut bytes.Buffer
			err := confirmPlan(tc.flags, cmdStreams{in: strings.NewReader(tc.input), out: &out, err: &errOut}, p, "repair", "run")
			if tc.code < 0 {
				if err != nil {
					t.Fatalf("err %v", err)
				}
			} else if c := exitCodeOf(err); c != tc.code {
				t.Fatalf("exit %d (%v), want %d", c, err, tc.code)
			}
			switch {
			case tc.flags.json && out.Len() > 0:
				t.Errorf("--json wrote text to stdout: %q", out.String())
			case !tc.flags.json && tc.code != exitBadInput && !strings.Contains(out.String(), "$ nodetool repair -full -pr scalar"):
				t.Errorf("plan not shown:\n%s", out.String())
			case tc.tty && !strings.Contains(out.String()+errOut.String(), `Type "repair" or "yes"`):
				t.Errorf("no prompt:\n%s%s", out.String(), errOut.String())
			}
		})
	}
}

func TestExitCodeOfCanceled(t *testing.T) {
	err := errors.Join(errors.New("x"), context.Canceled)
	if exitCodeOf(err) != exitCanceled {
		t.Error("a canceled run must exit 130")
	}
}

func TestRepairCanaryThenResume(t *testing.T) {
	e := startRepairEnv(t, "", 500*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code := e.cli(ctx, append(fastRepair, "--health-gate", "off", "--canary")...)
	if code != 0 {
		t.Fatalf("canary run: exit %d\n%s\n%s", code, out, errOut)
	}
	run, status := finished(t, out)
	if status != "canary-wait" {
		t.Fatalf("finished %s %s", run, status)
	}
	e.wantRepairs("cassandra-1", "scalar", "completed")
	e.wantRepairs("cassandra-1", "coordinator", "completed")
	e.wantRepairs("cassandra-2", "")
	e.wantRepairs("cassandra-3", "")
	if e.lockHeld() {
		t.Error("canary-wait left the lock")
	}
	out, errOut, code = e.cli(ctx, "resume", run, "--yes")
	if code != 0 || !strings.Contains(out, "run "+run+" done") || !strings.Contains(out, "Run "+run+" (repair) is canary-wait") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, h := range cassandras {
		e.wantRepairs(h, "scalar", "completed")
		e.wantRepairs(h, "coordinator", "completed")
	}
}
