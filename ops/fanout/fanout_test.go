package fanout

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestEachRunsEveryPieceWithinTheBound(t *testing.T) {
	const n, limit = 40, 3
	var cur, peak atomic.Int32
	done := make([]bool, n)
	Each(context.Background(), n, limit, func(i int) {
		c := cur.Add(1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		for k := 0; k < 100; k++ {
			runtime.Gosched()
		}
		done[i] = true
		cur.Add(-1)
	}, func(i int, err error) { t.Errorf("piece %d skipped: %v", i, err) })
	for i, d := range done {
		if !d {
			t.Errorf("piece %d not run", i)
		}
	}
	if p := peak.Load(); p > limit || p < 1 {
		t.Errorf("peak concurrency %d, want 1..%d", p, limit)
	}
}

// Pieces still waiting for a slot when ctx ends are skipped with its error,
// and every piece is either run or skipped, once.
func TestEachSkipsWhatWaitsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	const n = 10
	var mu sync.Mutex
	seen := map[int]string{}
	first := make(chan struct{})
	Each(ctx, n, 1, func(i int) {
		mu.Lock()
		seen[i] += "run"
		mu.Unlock()
		// The first piece to run cancels while holding the only slot.
		select {
		case <-first:
		default:
			close(first)
			cancel()
		}
	}, func(i int, err error) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("skip %d: %v", i, err)
		}
		mu.Lock()
		seen[i] += "skip"
		mu.Unlock()
	})
	runs := 0
	for i := 0; i < n; i++ {
		switch seen[i] {
		case "run":
			runs++
		case "skip":
		default:
			t.Errorf("piece %d: %q, want run or skip once", i, seen[i])
		}
	}
	if runs != 1 {
		t.Errorf("%d of %d pieces ran; want the first only, the rest skipped", runs, n)
	}
}
