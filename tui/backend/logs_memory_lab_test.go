package backend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/tui/vm"
)

// logGiB is the size of the log the memory test follows.
const logGiB = 1 << 30

// logLineBytes is the length of each line with its newline: 1 GiB is 1 Mi
// lines. A Cassandra line is shorter, but what the console keeps is bounded
// in lines, so longer lines make the bound harder to meet.
const logLineBytes = 1024

// maxLogHeapGrowth is the generous bound on what following the 1 GiB log may
// add to the console's heap (the buffer itself holds LogBufferLines lines:
// 5,000 KiB here).
const maxLogHeapGrowth = 64 << 20

// A 1 GiB log followed over real SSH (a lab host's sshd, through the lab's
// bastion) does not grow the console's memory: the log view's buffer keeps
// the newest LogBufferLines lines and lets the rest go. The remote `tail`
// on the host (first on its PATH) writes 1 GiB of 1 KiB lines and then keeps
// following, as tail -F on a big system.log would. The heap is read while
// the log streams (its peak) and after it (live), against a generous bound.
func TestLogFollowGiBBoundedMemoryOnLab(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("streams 1 GiB over SSH")
	}
	l := lab.ForTest(t, lab.Config{Hosts: lab.SmallHosts()})
	var h lab.Host
	for _, x := range l.Hosts {
		if x.Short == "cassandra-1" {
			h = x
		}
	}
	if h.Name == "" {
		t.Fatalf("no cassandra-1 in the lab: %+v", l.Hosts)
	}
	// sudo runs its command as is (sessions are root); tail writes the log.
	pad := strings.Repeat("x", logLineBytes-1-len("INFO  [CompactionExecutor:1] 2026-01-01 00:00:00,000 CompactionTask.java:255 - ")-8)
	line := "INFO  [CompactionExecutor:1] 2026-01-01 00:00:00,000 CompactionTask.java:255 - " + pad
	if len(line)+8+1 != logLineBytes {
		t.Fatalf("line of %d bytes", len(line)+9)
	}
	scripts := map[string]string{
		"sudo": "#!/bin/sh\nwhile [ $# -gt 0 ]; do case \"$1\" in -*) shift ;; *) break ;; esac; done\nexec \"$@\"\n",
		// awk numbers the lines (the last one must be the last shown), then
		// the follow goes on with nothing new.
		"tail": fmt.Sprintf("#!/bin/sh\nawk 'BEGIN { for (i = 0; i < %d; i++) printf \"%s %%07d\\n\", i }'\nexec sleep 3600\n",
			logGiB/logLineBytes, line),
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(h.BinDir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := New(Config{
		LoadInventory: func(ctx context.Context) (*inventory.Inventory, error) {
			return inventory.Load(ctx, inventory.Options{TFRoot: l.TFRoot})
		},
		Connect: func(inv *inventory.Inventory) (*sshx.Client, error) {
			return sshx.New(sshx.Config{BastionAddr: l.BastionAddr, User: l.User, IdentityFile: l.KeyPath,
				KnownHostsFile: l.KnownHosts, NoAgent: true})
		},
		// Never asked: this test reads no health.
		HealthSource: func(inv *inventory.Inventory, dial health.DialFunc) (health.Source, error) {
			return health.NewPrometheusSource(inv, "", health.PrometheusOptions{Dial: dial})
		},
		StateDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	// Connect first, so the SSH client's own memory is in the baseline.
	if _, _, err := b.session(context.Background()); err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var (
		mu   sync.Mutex
		peak uint64
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	begin := time.Now()
	s, err := b.OpenLogs(context.Background(), h.Name, vm.LogOptions{Follow: true, Tail: LogBufferLines})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := logGiB / logLineBytes
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var snap vm.LogSnapshot
	for {
		u := s.Next(ctx)
		snap = s.Snapshot()
		if snap.Kept+snap.Dropped >= want {
			break
		}
		if u.Done {
			t.Fatalf("the stream ended after %d of %d lines: %v %q", snap.Kept+snap.Dropped, want, u.Err, u.Notices)
		}
	}
	close(stop)
	<-sampled
	elapsed := time.Since(begin)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	if snap.Kept != LogBufferLines || snap.Kept+snap.Dropped != want {
		t.Errorf("kept %d, dropped %d; want %d kept of %d", snap.Kept, snap.Dropped, LogBufferLines, want)
	}
	if last := snap.Lines[len(snap.Lines)-1].Text; !strings.HasSuffix(last, fmt.Sprintf(" %07d", want-1)) {
		t.Errorf("the last line kept is not the log's last: %.40s…%s", last, last[max(0, len(last)-10):])
	}
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	peakGrowth := int64(peak) - int64(before.HeapInuse)
	t.Logf("1 GiB (%d lines) over SSH in %s (%.0f MiB/s); heap: live %+.1f MiB after, peak in use %+.1f MiB while streaming; bound %d MiB",
		want, elapsed.Round(time.Millisecond), float64(logGiB)/(1<<20)/elapsed.Seconds(),
		float64(live)/(1<<20), float64(peakGrowth)/(1<<20), maxLogHeapGrowth>>20)
	if live > maxLogHeapGrowth {
		t.Errorf("the heap grew by %.1f MiB following a 1 GiB log (bound %d MiB)", float64(live)/(1<<20), maxLogHeapGrowth>>20)
	}
	if peakGrowth > maxLogHeapGrowth {
		t.Errorf("the heap in use peaked %.1f MiB above the start while following a 1 GiB log (bound %d MiB)", float64(peakGrowth)/(1<<20), maxLogHeapGrowth>>20)
	}
}
