package backend

import (
	"context"
	"strings"
	"testing"
	"time"

	"scalar-tui/ops/sshx"
	"scalar-tui/tui/vm"
)

// The console's `/` filter outlives an SSH drop: a filter set before the
// connection is lost keeps matching the lines that arrive after the
// reconnect, each shown once, and lines it does not match stay hidden.
func TestLogFilterKeepsMatchingAcrossReconnect(t *testing.T) {
	b, d := newFaultBackend(t, "", nil)
	ctx := context.Background()
	host := "cassandra-1.internal.scalar-labs.com"
	s, err := b.OpenLogs(ctx, host, vm.LogOptions{Follow: true, Tail: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nextUntil(t, s, "the last 20 lines", 20*time.Second, func(snap vm.LogSnapshot, _ []string) bool { return len(snap.Lines) == 20 })
	if err := s.SetFilter(`Starting repair command #\d+`); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Snapshot().Lines); n != 0 {
		t.Fatalf("the filter shows %d lines before any repair", n)
	}
	_, client, err := b.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	repair := func(ks string) {
		t.Helper()
		if res, err := client.Run(ctx, host, "nodetool repair -full -pr "+ks, sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
			t.Fatalf("repair %s: %v exit %d", ks, err, res.ExitCode)
		}
	}
	repair("scalar")
	nextUntil(t, s, "the first repair through the filter", 20*time.Second, func(snap vm.LogSnapshot, _ []string) bool {
		return len(snap.Lines) == 1
	})

	d.Bastion().KillConnections()
	nextUntil(t, s, "the drop and the reconnect said", 30*time.Second, func(_ vm.LogSnapshot, n []string) bool {
		j := strings.Join(n, "\n")
		return strings.Contains(j, "connection lost") && strings.Contains(j, "reconnected")
	})
	// The console's client reconnects too (the repair goes through it).
	_, client, err = b.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	repair("coordinator")
	snap := s.Snapshot()
	nextUntil(t, s, "the second repair through the same filter after the reconnect", 30*time.Second, func(sn vm.LogSnapshot, _ []string) bool {
		snap = sn
		return len(sn.Lines) >= 2
	})
	if len(snap.Lines) != 2 {
		t.Fatalf("filtered lines after the reconnect: %d, want 2 (each repair's start once):\n%v", len(snap.Lines), snap.Lines)
	}
	for _, l := range snap.Lines {
		if !strings.Contains(l.Text, "Starting repair command #") {
			t.Errorf("a line the filter does not match is shown: %s", l.Text)
		}
	}
	if snap.Lines[0].Text == snap.Lines[1].Text {
		t.Errorf("the first repair's line is shown twice: %s", snap.Lines[0].Text)
	}
	if snap.Kept <= 20 {
		t.Errorf("kept %d lines: the follow did not go on after the reconnect", snap.Kept)
	}
}
