package health

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func BenchmarkScratchExpr(b *testing.B) {
	raw, err := os.ReadFile(os.Getenv("SCRATCH_EXPRS"))
	if err != nil {
		b.Skip(err)
	}
	at := evalTime
	if os.Getenv("SCRATCH_ONEBLOCK") != "" {
		at = at.Add(-15 * time.Second)
	}
	src, base := fixture1000(b, at)
	ctx := context.Background()
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		name, expr, _ := strings.Cut(line, "\t")
		b.Run(name, func(b *testing.B) {
			series := 0
			var took []time.Duration
			server, client := serverCPU(b, base), clientCPU()
			for b.Loop() {
				start := time.Now()
				vec, err := src.query(ctx, expr, at)
				if err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
				series = len(vec)
			}
			server, client = serverCPU(b, base)-server, clientCPU()-client
			reportP50(b, took, "ms-p50/op")
			n := float64(len(took))
			b.ReportMetric(float64(server)/float64(time.Millisecond)/n, "server-cpu-ms/op")
			b.ReportMetric(float64(client)/float64(time.Millisecond)/n, "client-cpu-ms/op")
			b.ReportMetric(float64(series), "series")
		})
	}
}
