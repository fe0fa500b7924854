package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestConsoleAlertRunbookInTmux runs `scalar-tui demo --fault
// cassandra-2:cassandra-stopped` in tmux at 120x35: the demo's Prometheus
// fires the real CassandraProcessStopped rule, the alert shows on
// cassandra-2's detail with the rule's summary and since when, and in
// :alerts; l opens cassandra-2's log through the bastion and esc closes it;
// a on the alert asks for the restart plan for cassandra-2.
//
// The last step needs the runbook table (ops/runbook) wired into the
// console's backend (backend.Config.Runbooks) and the restart-cassandra
// workflow in the console's plans; until both are merged the console says
// "no runbook known" and the test stops there, saying so.
func TestConsoleAlertRunbookInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			t.Fatalf("tmux is required (SCALAR_TUI_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skip("tmux not installed")
	}
	bin := cliBinary(t)
	state := t.TempDir()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("stui-alerts-%d", os.Getpid())}
	cmd := fmt.Sprintf("XDG_STATE_HOME=%s %s demo --fault cassandra-2:cassandra-stopped; sleep 60", state, bin)
	s.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "35", cmd)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })

	s.waitFor("[overview]", 60*time.Second)
	// The rule fires a few seconds after the demo's Prometheus starts;
	// the console refreshes every 15 s, r refreshes now.
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(s.screen(), "CassandraProcessStopped") {
		if time.Now().After(deadline) {
			t.Fatalf("the alert never showed; screen:\n%s", s.screen())
		}
		s.keys("r")
		time.Sleep(2 * time.Second)
	}

	s.keys(":")
	s.keys("alerts", "Enter")
	list := s.waitFor("Firing alerts", 10*time.Second)
	if !strings.Contains(list, "CassandraProcessStopped [warning] cassandra-2 for ") {
		t.Fatalf(":alerts lacks the alert on cassandra-2 with its age:\n%s", list)
	}
	// Open cassandra-2 from the alert.
	for i := 0; i < 10 && !strings.Contains(s.screen(), "> ! CassandraProcessStopped"); i++ {
		s.keys("j")
		time.Sleep(200 * time.Millisecond)
	}
	s.keys("Enter")
	detail := s.waitFor("[host]", 10*time.Second)
	for _, want := range []string{"cassandra-2  cassandra-2.internal.scalar-labs.com", "Alerts (", "CassandraProcessStopped [warning] cassandra-2 for ", "Cassandra process stopped on cassandra-2"} {
		if !strings.Contains(detail, want) {
			t.Errorf("host detail lacks %q:\n%s", want, detail)
		}
	}

	// Its log, through the bastion, then back.
	s.keys("l")
	logs := s.waitFor("/var/log/cassandra/system.log", 15*time.Second)
	if !strings.Contains(logs, "Logs cassandra-2") {
		t.Errorf("log view:\n%s", logs)
	}
	s.waitFor("lines kept", 15*time.Second)
	s.keys("Escape")
	s.waitFor("[host]", 10*time.Second)

	s.keys("a")
	// Wait for the steps, not only the title: under load the preflight
	// runs long and a capture can catch a frame half drawn by tmux (seen
	// in a clean-clone CI run: the title and checks, no steps, no footer).
	s.waitFor("Plan: ", 30*time.Second)
	plan := s.waitFor("Silence the alerts of cassandra-2", 30*time.Second)
	for _, want := range []string{"restart-cassandra", "cassandra-2", "systemctl start cassandra", "Silence the alerts of cassandra-2"} {
		if !strings.Contains(plan, want) {
			t.Errorf("restart plan lacks %q:\n%s", want, plan)
		}
	}
	// Confirm it from the console: the node comes back and the alert clears.
	s.keys("Enter")
	s.waitFor("[ Cancel ]", 30*time.Second)
	s.keys("y")
	s.waitFor("✓ done", 2*time.Minute)
	s.keys("Escape") // back to cassandra-2's detail, where the plan was opened
	s.waitFor("[host]", 10*time.Second)
	deadline = time.Now().Add(90 * time.Second)
	for {
		time.Sleep(2 * time.Second)
		scr := s.screen()
		if strings.Contains(scr, "none firing") && strings.Contains(scr, "Service: cassandra active") && !strings.Contains(scr, "CassandraProcessStopped") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the alert did not clear after the restart:\n%s", scr)
		}
	}
}
