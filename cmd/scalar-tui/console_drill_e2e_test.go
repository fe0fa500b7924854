package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestConsoleDrillInTmux runs `scalar-tui demo` in tmux at 120x35 and the
// cassandra-stopped drill on cassandra-2 from the console: :drill lists the
// catalog, :drill cassandra-stopped cassandra-2 opens the drill's plan (the
// demo's simulator state makes it a lab), confirmed it runs to done and the
// workflow screen shows the measured times with PASS.
func TestConsoleDrillInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			t.Fatalf("tmux is required (SCALAR_TUI_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skip("tmux not installed")
	}
	bin := cliBinary(t)
	state := t.TempDir()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("stui-drill-%d", os.Getpid())}
	cmd := fmt.Sprintf("XDG_STATE_HOME=%s %s demo; sleep 60", state, bin)
	s.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "35", cmd)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })

	s.waitFor("[overview]", 60*time.Second)
	s.keys(":")
	s.keys("drill", "Enter")
	list := s.waitFor("Drills:", 10*time.Second)
	for _, want := range []string{"cassandra-stopped", "Cassandra stopped on one node", "envoy-killed", "node-unreachable", "disk-low"} {
		if !strings.Contains(list, want) {
			t.Errorf(":drill list lacks %q:\n%s", want, list)
		}
	}
	s.keys("Escape")
	s.waitFor("[overview]", 10*time.Second)

	s.keys(":")
	s.keys("drill cassandra-stopped cassandra-2", "Enter")
	plan := s.waitFor("Plan: ", 30*time.Second)
	for _, want := range []string{"drill", "cassandra-2", "inject the fault"} {
		if !strings.Contains(plan, want) {
			t.Errorf("drill plan lacks %q:\n%s", want, plan)
		}
	}
	// The demo's Prometheus needs a few scrapes before the cluster counts as
	// fully healthy; a refused preflight is retried from the plan.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s.keys("Enter")
		s.waitFor("[ Cancel ]", 30*time.Second)
		s.keys("y")
		scr := s.waitFor("", time.Second)
		for i := 0; i < 200 && !strings.Contains(scr, "✓ done") && !strings.Contains(scr, "✗"); i++ {
			time.Sleep(time.Second)
			scr = s.screen()
		}
		if strings.Contains(scr, "✓ done") {
			for _, want := range []string{"drill cassandra-stopped on cassandra-2: PASS · detect: alert ", "recover: alert "} {
				if !strings.Contains(scr, want) {
					t.Errorf("workflow screen lacks %q:\n%s", want, scr)
				}
			}
			t.Logf("workflow screen after the drill:\n%s", scr)
			return
		}
		if !strings.Contains(scr, "not fully healthy") || time.Now().After(deadline) {
			t.Fatalf("the drill did not finish done:\n%s", scr)
		}
		time.Sleep(3 * time.Second)
		s.keys(":")
		s.keys("drill cassandra-stopped cassandra-2", "Enter")
		s.waitFor("Plan: ", 30*time.Second)
	}
}
