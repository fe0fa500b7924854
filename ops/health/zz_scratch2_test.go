package health

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func BenchmarkScratchSets(b *testing.B) {
	src, base := fixture1000(b, evalTime)
	ctx := context.Background()
	var sets [][]string
	var names []string
	for _, f := range strings.Fields(os.Getenv("SCRATCH_SETS")) {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var exprs []string
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			_, e, _ := strings.Cut(l, "\t")
			exprs = append(exprs, e)
		}
		sets = append(sets, exprs)
		names = append(names, f)
	}
	rounds := 20
	took := make([][]time.Duration, len(sets))
	srv := make([]time.Duration, len(sets))
	cli := make([]time.Duration, len(sets))
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		for i, exprs := range sets {
			s0, c0 := serverCPU(b, base), clientCPU()
			start := time.Now()
			var wg sync.WaitGroup
			for _, e := range exprs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := src.query(ctx, e, evalTime); err != nil {
						b.Error(err)
					}
				}()
			}
			wg.Wait()
			took[i] = append(took[i], time.Since(start))
			srv[i] += serverCPU(b, base) - s0
			cli[i] += clientCPU() - c0
		}
	}
	for i := range sets {
		d := took[i]
		sortDur(d)
		b.Logf("%s: %d queries p50 %.1fms server %.1fms client %.1fms", names[i], len(sets[i]), float64(d[len(d)/2])/1e6, float64(srv[i])/1e6/float64(rounds), float64(cli[i])/1e6/float64(rounds))
	}
}

func sortDur(d []time.Duration) {
	for i := range d {
		for j := i + 1; j < len(d); j++ {
			if d[j] < d[i] {
				d[i], d[j] = d[j], d[i]
			}
		}
	}
}
