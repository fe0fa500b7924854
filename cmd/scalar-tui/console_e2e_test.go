package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxSession drives the real binary in a private tmux server, as an
// operator's terminal would: keys in, the screen as text out.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", "t") }

func (s *tmuxSession) keys(k ...string) { s.tmux(append([]string{"send-keys", "-t", "t"}, k...)...) }

// failureWords on the screen end a wait at once: the run has ended some
// other way than the one waited for, and waiting out the timeout only hides it.
var failureWords = []string{"✗ failed", "✗ refused", "✗ canceled", "cluster is locked by", "scalar-tui: "}

// settled returns a screen showing want that two captures 100 ms apart agree
// on (a few tries): a capture can catch a frame that tmux has only half
// drawn, which a test then reads as lines missing.
func (s *tmuxSession) settled(scr, want string) string {
	for i := 0; i < 5; i++ {
		time.Sleep(100 * time.Millisecond)
		next := s.screen()
		if next == scr || !strings.Contains(next, want) {
			return scr
		}
		scr = next
	}
	return scr
}

// waitFor polls the screen until it contains want, or fails with the screen
// as soon as it shows a failure or when timeout has passed.
func (s *tmuxSession) waitFor(want string, timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := s.screen()
		if strings.Contains(scr, want) {
			return s.settled(scr, want)
		}
		for _, f := range failureWords {
			if strings.Contains(scr, f) && !strings.Contains(want, f) {
				s.t.Fatalf("waiting for %q, the screen shows %q:\n%s", want, f, scr)
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q within %s; last screen:\n%s", want, timeout, scr)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestConsoleRepairInTmux runs `scalar-tui demo` in tmux at 120x35 and does
// the one-key repair from the keyboard: R shows the plan, Enter opens the
// confirm dialog (on Cancel), Enter alone does not run it, y does; the run
// finishes on every Cassandra node and q leaves the demo cleaned up.
func TestConsoleRepairInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			t.Fatalf("tmux is required (SCALAR_TUI_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skip("tmux not installed")
	}
	bin := cliBinary(t)
	state, demoDir := t.TempDir(), t.TempDir()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("stui-e2e-%d", os.Getpid())}
	marker := filepath.Join(t.TempDir(), "exited")
	// The demo keeps its journal, audit log and cluster lock in its own
	// directory: never the machine-wide /tmp/scalar-tui.lock.
	cmd := fmt.Sprintf("XDG_STATE_HOME=%s %s demo --state %s; echo $? > %s; sleep 60", state, bin, demoDir, marker)
	s.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "35", cmd)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })

	s.waitFor("Cassandra 3/3 active", 60*time.Second)
	s.keys("R")
	plan := s.waitFor("nodetool repair -full -pr coordinator", 30*time.Second)
	for _, h := range []string{"cassandra-1", "cassandra-2", "cassandra-3"} {
		if !strings.Contains(plan, h) {
			t.Errorf("plan does not name %s:\n%s", h, plan)
		}
	}
	s.keys("Enter")
	s.waitFor("[ Cancel ]", 10*time.Second)
	s.keys("Enter") // the default button is Cancel: this must not start the run
	time.Sleep(time.Second)
	// The run view's header shows "elapsed"; the plan (whose preflight
	// names such as no-repair-running say "running") stays, not confirmed.
	if scr := s.screen(); strings.Contains(scr, "elapsed") || !strings.Contains(scr, "not confirmed") {
		t.Fatalf("Enter on the default button started the run:\n%s", scr)
	}
	s.keys("Enter")
	s.waitFor("[ Cancel ]", 10*time.Second)
	s.keys("y")
	final := s.waitFor("✓ done", 3*time.Minute)
	for _, h := range []string{"✓ cassandra-1", "✓ cassandra-2", "✓ cassandra-3"} {
		if !strings.Contains(final, h) {
			t.Errorf("final screen lacks %q:\n%s", h, final)
		}
	}
	if !strings.Contains(final, "Repair completed successfully") {
		t.Errorf("final screen lacks the repair output:\n%s", final)
	}
	s.keys("Escape")
	s.waitFor("[overview]", 10*time.Second)
	s.keys("q")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(marker)
		if err == nil {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Fatalf("scalar-tui demo exited %s; screen:\n%s", code, s.screen())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("console did not exit after q; screen:\n%s", s.screen())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(s.screen(), "demo stopped; files kept in "+demoDir) {
		t.Errorf("demo did not report its clean-up:\n%s", s.screen())
	}
	// The run is in the demo's journal and every repair command in its
	// audit log; nothing went to $XDG_STATE_HOME.
	auditPaths, _ := filepath.Glob(filepath.Join(demoDir, "state", "deployments", "*", "audit.jsonl"))
	if len(auditPaths) != 1 {
		t.Fatalf("audit logs in the demo dir: %v", auditPaths)
	}
	audit, err := os.ReadFile(auditPaths[0])
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("the demo wrote into $XDG_STATE_HOME: %v", ents)
	}
	if strings.Contains(string(audit), "/tmp/scalar-tui.lock") {
		t.Error("the demo took the machine-wide lock /tmp/scalar-tui.lock")
	}
	if n := strings.Count(string(audit), "nodetool repair -full -pr"); n < 6 {
		t.Errorf("audit log has %d repair commands, want >= 6", n)
	}
}
