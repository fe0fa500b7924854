package backend

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/logs"
	"scalar-tui/ops/sshx"
	"scalar-tui/tui/vm"
)

// nextUntil calls Next until ok holds for the snapshot and the notices seen,
// or the stream ends, or within passes.
func nextUntil(t *testing.T, s vm.LogStream, what string, within time.Duration, ok func(vm.LogSnapshot, []string) bool) vm.LogUpdate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var notices []string
	for {
		u := s.Next(ctx)
		notices = append(notices, u.Notices...)
		snap := s.Snapshot()
		if ok(snap, notices) {
			return u
		}
		if u.Done {
			t.Fatalf("waiting for %s: stream ended (%v); %d lines, notices %q", what, u.Err, len(snap.Lines), notices)
		}
	}
}

// The console's log view of a Cassandra node on the demo: the last lines
// of system.log through the bastion, new lines while following, a filter
// that keeps matching new lines, the drop of the SSH connection said and
// survived, and Close ending the read.
func TestLogStreamOnDemo(t *testing.T) {
	b, d := newFaultBackend(t, "", nil)
	ctx := context.Background()
	s, err := b.OpenLogs(ctx, "cassandra-1.internal.scalar-labs.com", vm.LogOptions{Follow: true, Tail: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Desc() != logs.CassandraSystemLog {
		t.Errorf("desc = %q", s.Desc())
	}
	nextUntil(t, s, "the last 20 lines", 20*time.Second, func(snap vm.LogSnapshot, _ []string) bool { return len(snap.Lines) == 20 })

	if err := s.SetFilter("Starting repair command"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFilter("(unclosed"); err == nil {
		t.Error("a bad filter was accepted")
	}
	_, client, err := b.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := client.Run(ctx, "cassandra-1.internal.scalar-labs.com", "nodetool repair -full -pr scalar", sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
		t.Fatalf("repair: %v exit %d", err, res.ExitCode)
	}
	nextUntil(t, s, "the repair's first line through the filter", 20*time.Second, func(snap vm.LogSnapshot, _ []string) bool {
		return len(snap.Lines) == 1 && strings.Contains(snap.Lines[0].Text, "Starting repair command #")
	})

	d.Bastion().KillConnections()
	nextUntil(t, s, "the drop and the reconnect said", 30*time.Second, func(_ vm.LogSnapshot, n []string) bool {
		j := strings.Join(n, "\n")
		return strings.Contains(j, "connection lost") && strings.Contains(j, "reconnected")
	})

	done := make(chan vm.LogUpdate, 1)
	go func() { done <- s.Next(ctx) }()
	s.Close()
	select {
	case u := <-done:
		if !u.Done {
			// An update that was already due; the next one must be the end.
			if u = s.Next(ctx); !u.Done {
				t.Errorf("Next after Close: %+v", u)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after Close")
	}
}

func TestOpenLogsUnknownHost(t *testing.T) {
	b, _ := newFaultBackend(t, "", nil)
	if _, err := b.OpenLogs(context.Background(), "nowhere-1", vm.LogOptions{}); err == nil || !strings.Contains(err.Error(), "not in the inventory") {
		t.Errorf("err = %v", err)
	}
}

// floodRunner writes n numbered lines as one log command would.
type floodRunner struct{ n int }

func (r floodRunner) Run(_ context.Context, _, _ string, o sshx.RunOptions) (sshx.Result, error) {
	for i := 0; i < r.n; i++ {
		o.Stdout(fmt.Sprintf("line %d", i))
	}
	return sshx.Result{}, nil
}

// A log far larger than the buffer keeps only the newest lines, and says
// how many older ones it let go.
func TestLogStreamBounded(t *testing.T) {
	src, err := logs.For(inventory.Host{Name: "envoy-1.d", Short: "envoy-1", Role: inventory.RoleEnvoy}, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := startLogStream(context.Background(), &logs.Follower{R: floodRunner{n: 100000}, Source: src}, 100)
	defer s.Close()
	if u := s.Next(context.Background()); u.New == 0 {
		t.Errorf("first update: %+v", u)
	}
	<-s.done
	snap := s.Snapshot()
	if snap.Kept != 100 || snap.Dropped != 99900 || len(snap.Lines) != 100 {
		t.Fatalf("kept %d, dropped %d, lines %d; want 100, 99900, 100", snap.Kept, snap.Dropped, len(snap.Lines))
	}
	if snap.Lines[0].Text != "line 99900" || snap.Lines[99].Text != "line 99999" {
		t.Errorf("lines %q … %q", snap.Lines[0].Text, snap.Lines[99].Text)
	}
}

// BenchmarkLogStreamSnapshot measures what one update costs the console: a
// filtered snapshot of a full buffer.
func BenchmarkLogStreamSnapshot(b *testing.B) {
	src, _ := logs.For(inventory.Host{Name: "envoy-1.d", Short: "envoy-1", Role: inventory.RoleEnvoy}, logs.Options{})
	s := startLogStream(context.Background(), &logs.Follower{R: floodRunner{n: LogBufferLines}, Source: src}, LogBufferLines)
	defer s.Close()
	<-s.done
	_ = s.SetFilter("line [0-9]*7$")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.Snapshot()
	}
}
