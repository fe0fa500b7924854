package workflow

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"scalar-tui/ops/workflow/workflowtest"
)

// crashPlan's first step runs detached on h1 until the file "release" exists.
func crashPlan(root string) *Plan {
	h1 := filepath.Join(root, "h1")
	p := &Plan{ID: "20261124-2231-crash", Workflow: "test", Fingerprint: "fp1"}
	p.Steps = []Step{
		{
			ID: "h1/repair", Title: "long repair", Host: "h1", Detached: true,
			Commands: []string{"echo start >> " + filepath.Join(h1, "starts") + "; echo 'progress: 10%'; " +
				"while [ ! -e " + filepath.Join(h1, "release") + " ]; do sleep 0.05; done; echo 'progress: 100%'; echo finished"},
			Progress: func(line string) (float64, bool) {
				v, ok := strings.CutPrefix(line, "progress: ")
				if !ok {
					return 0, false
				}
				f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
				return f, err == nil
			},
		},
		{ID: "h2/work", Title: "work", Host: "h2", Commands: []string{workCmd}},
	}
	return p
}

func crashEngine(root, state string, opts ...Option) *Engine {
	lr := &workflowtest.LocalRunner{Root: root}
	base := []Option{WithOperator("ops@test"), WithLockPath(filepath.Join(lr.Dir("bastion"), "scalar-tui.lock"))}
	return New(lr, state, append(base, opts...)...)
}

// TestHelperCrashProcess is the console that gets killed -9 by
// TestCrashThenResumeReattaches. It does nothing in a normal test run.
func TestHelperCrashProcess(t *testing.T) {
	if os.Getenv("WORKFLOW_CRASH_HELPER") != "1" {
		t.Skip("helper process for TestCrashThenResumeReattaches")
	}
	root, state := os.Getenv("WF_ROOT"), os.Getenv("WF_STATE")
	_, _ = crashEngine(root, state).Run(context.Background(), crashPlan(root))
	t.Error("the helper run finished; it should have been killed")
}

func TestCrashThenResumeReattaches(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WORKFLOW_CRASH_HELPER=1", "WF_ROOT="+root, "WF_STATE="+state)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p := crashPlan(root)
	starts := filepath.Join(root, "h1", "starts")
	// Wait (no deadline but the test's) until the detached command runs and
	// the journal holds its handle.
	for ready := false; !ready; {
		select {
		case err := <-exited:
			t.Fatalf("helper exited early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if countLines(t, starts) == 0 {
			continue
		}
		if st, err := LoadRun(state, p.ID); err == nil && st.Steps[0].Status == StatusRunning && st.Steps[0].Detached != nil {
			ready = true
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup at all
		t.Fatal(err)
	}
	<-exited

	st, err := LoadRun(state, p.ID)
	if err != nil || st.Status != StatusRunning {
		t.Fatalf("journal after crash: %+v, %v", st, err)
	}
	// The remote command outlived the console; let it finish.
	if err := os.WriteFile(filepath.Join(root, "h1", "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	e := crashEngine(root, state, WithEvents(rec.add))
	status, err := e.Resume(context.Background(), p.ID, crashPlan(root))
	if status != StatusDone || err != nil {
		t.Fatalf("Resume = %s, %v", status, err)
	}
	if n := countLines(t, starts); n != 1 {
		t.Errorf("the detached command started %d times", n)
	}
	if n := countLines(t, filepath.Join(root, "h2", "ran.txt")); n != 1 {
		t.Errorf("h2 ran %d times", n)
	}
	var reattached, finished bool
	var last float64
	for _, ev := range rec.events() {
		switch ev := ev.(type) {
		case *StepStarted:
			if ev.Step == "h1/repair" && ev.Reattach {
				reattached = true
			}
		case *OutputLine:
			if ev.Line == "finished" {
				finished = true
			}
		case *Progress:
			last = ev.Percent
		}
	}
	if !reattached || !finished || last != 100 {
		t.Errorf("reattached %v, saw finished %v, last progress %v", reattached, finished, last)
	}
	if lockExists(&workflowtest.LocalRunner{Root: root}) {
		t.Error("lock not released after resume")
	}
}
