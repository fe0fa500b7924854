package health

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"scalar-tui/inventory"
)

// bigInventory returns n hosts spread over the roles like a (very) large deployment.
func bigInventory(n int) *inventory.Inventory {
	mix := []struct {
		role inventory.Role
		per  int // per 100 hosts
	}{
		{inventory.RoleCassandra, 30}, {inventory.RoleScalarDLBlue, 30}, {inventory.RoleScalarDLGreen, 20},
		{inventory.RoleEnvoy, 10}, {inventory.RoleCassy, 4}, {inventory.RoleReaper, 4}, {inventory.RoleMonitor, 2},
	}
	inv := &inventory.Inventory{NetworkName: "bench", InternalDomain: domain,
		Endpoints: inventory.Endpoints{Prometheus: "monitor." + domain + ":9090"}}
	idx := map[inventory.Role]int{}
	for len(inv.Hosts) < n {
		for _, m := range mix {
			for k := 0; k < m.per && len(inv.Hosts) < n; k++ {
				idx[m.role]++
				i := idx[m.role]
				inv.Hosts = append(inv.Hosts, host(fmt.Sprintf("%s-%d", m.role, i), m.role, i,
					fmt.Sprintf("10.%d.%d.%d", 42+len(inv.Hosts)/65536, len(inv.Hosts)/256%256, len(inv.Hosts)%256)))
			}
		}
	}
	return inv
}

// BenchmarkRefresh1000 measures one Snapshot of a 1,000-host inventory against
// the real Prometheus over backfilled series (promtool create-blocks-from
// openmetrics). queries/refresh must stay len(wireQueries) whatever the
// host count; ms-p50/refresh is the median of this run's refreshes (ns/op is
// their mean, which one slow refresh on a shared machine drags up), and the
// CPU each refresh cost Prometheus and this process is reported beside it.
//
// evalTime lies on a 2h block boundary, so promtool puts each series' last
// sample in a block of its own and Prometheus merges two blocks for every
// series it selects; BenchmarkRefresh1000OneBlock is the same deployment
// with the window ending 15s earlier, inside one block, as a scraping
// Prometheus would mostly answer from its head.
func BenchmarkRefresh1000(b *testing.B) { benchRefresh1000(b, evalTime) }

// BenchmarkRefresh1000OneBlock is BenchmarkRefresh1000 evaluated 15s before
// the block boundary: every series is read from a single block.
func BenchmarkRefresh1000OneBlock(b *testing.B) { benchRefresh1000(b, evalTime.Add(-15*time.Second)) }

// BenchmarkRefresh1000Head is BenchmarkRefresh1000 with the same samples sent
// to Prometheus's remote-write receiver instead of backfilled into blocks:
// they sit in its head, where a live Prometheus holds the last hour or more
// of what it scraped, so this is what a refresh at "now" costs a real
// monitor. The same evalTime, series and answers as BenchmarkRefresh1000.
func BenchmarkRefresh1000Head(b *testing.B) { benchRefresh1000Loaded(b, evalTime, loadHead) }

// fixture1000 backfills the 1,000-host deployment (every host healthy, 90s
// of samples every 15s up to evalTime), starts the real Prometheus over it
// and returns a source evaluating at at, warmed up by one checked Snapshot.
func fixture1000(b *testing.B, at time.Time) (src *PrometheusSource, base string) {
	return fixture1000Loaded(b, at, loadBlocks)
}

// A loader puts the samples of an OpenMetrics writer into a real Prometheus
// and returns its base URL.
type loader func(b *testing.B, w *omWriter) string

// loadBlocks backfills the samples into TSDB blocks with promtool and starts
// Prometheus over them.
func loadBlocks(b *testing.B, w *omWriter) string {
	return startPrometheus(b, backfill(b, w.String()), emptyPromConfig)
}

// loadHead starts Prometheus on an empty data directory with its
// remote-write receiver and sends the samples there: they stay in its head.
func loadHead(b *testing.B, w *omWriter) string {
	base := startPrometheus(b, b.TempDir(), emptyPromConfig, "--web.enable-remote-write-receiver")
	w.remoteWrite(b, base)
	return base
}

func fixture1000Loaded(b *testing.B, at time.Time, load loader) (src *PrometheusSource, base string) {
	b.Helper()
	savedWindow, savedAt := scenarioWindow, evalTime
	scenarioWindow, evalTime = 90*time.Second, at
	defer func() { scenarioWindow, evalTime = savedWindow, savedAt }()
	inv := bigInventory(1000)
	w := newOM()
	for _, h := range inv.Hosts {
		writeHost(w, h, defaultSpec(h.Role))
	}
	everyStep(w, "job:active_scalardl_blue_nodes:count", nil, 300)
	base = load(b, w)
	src, err := NewPrometheusSource(inv, base, PrometheusOptions{Clock: func() time.Time { return at }, Timeout: 60 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if snap.Cluster.Healthy != 1000 || len(snap.Errors) > 0 {
		b.Fatalf("warm-up snapshot: %+v errors %v", snap.Cluster, snap.Errors)
	}
	// The fixture's hundreds of MB of OpenMetrics text and maps are garbage
	// now: collect them and hand the memory back before the timer starts,
	// or the collector and the scavenger run during the refreshes measured,
	// stealing this machine's CPU from Prometheus and counting as the
	// console's (client-cpu).
	runtime.GC()
	debug.FreeOSMemory()
	return src, base
}

func benchRefresh1000(b *testing.B, at time.Time) { benchRefresh1000Loaded(b, at, loadBlocks) }

func benchRefresh1000Loaded(b *testing.B, at time.Time, load loader) {
	src, base := fixture1000Loaded(b, at, load)
	b.ResetTimer()
	queries := 0
	var took []time.Duration
	server, client := serverCPU(b, base), clientCPU()
	for b.Loop() {
		start := time.Now()
		snap, err := src.Snapshot(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		queries = snap.Queries
	}
	server, client = serverCPU(b, base)-server, clientCPU()-client
	b.StopTimer()
	profileServer(b, base, func() { _, _ = src.Snapshot(context.Background()) })()
	reportP50(b, took, "ms-p50/refresh")
	n := float64(len(took))
	b.ReportMetric(float64(server)/float64(time.Millisecond)/n, "server-cpu-ms/refresh")
	b.ReportMetric(float64(client)/float64(time.Millisecond)/n, "client-cpu-ms/refresh")
	b.ReportMetric(float64(queries), "queries/refresh")
	b.ReportMetric(1000, "hosts")
}

// reportP50 reports the median of took in ms as unit: ns/op is the mean,
// which one slow run on a shared machine drags up.
func reportP50(b *testing.B, took []time.Duration, unit string) {
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/float64(time.Millisecond), unit)
}

// BenchmarkRefreshFloor1000 sends the queries of a refresh as
// BenchmarkRefresh1000 does, concurrently, each wrapped in count(): Prometheus
// selects and evaluates the same series but answers one number, and nothing
// is decoded or joined. Its server-cpu-ms/refresh is what selecting the
// series costs Prometheus (reading them from its index, merging blocks), the
// floor no rewording of the answers can go below.
func BenchmarkRefreshFloor1000(b *testing.B) {
	src, base := fixture1000(b, evalTime)
	ctx := context.Background()
	var took []time.Duration
	server, client := serverCPU(b, base), clientCPU()
	for b.Loop() {
		start := time.Now()
		var wg sync.WaitGroup
		for _, q := range src.wire {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := src.query(ctx, "count("+q.expr+")", evalTime); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		took = append(took, time.Since(start))
	}
	server, client = serverCPU(b, base)-server, clientCPU()-client
	reportP50(b, took, "ms-p50/refresh")
	n := float64(len(took))
	b.ReportMetric(float64(server)/float64(time.Millisecond)/n, "server-cpu-ms/refresh")
	b.ReportMetric(float64(client)/float64(time.Millisecond)/n, "client-cpu-ms/refresh")
	b.ReportMetric(float64(len(src.wire)), "queries/refresh")
}

// BenchmarkQuery1000 sends each query a refresh sends (wireQueries; a merged
// one is named after all it answers, "a+b") on its own, one at a time,
// against the BenchmarkRefresh1000 deployment: what each costs Prometheus
// (server-cpu-ms/op) and this process (decoding, client-cpu-ms/op), and how
// many series it answers with.
func BenchmarkQuery1000(b *testing.B) {
	src, base := fixture1000(b, evalTime)
	ctx := context.Background()
	for _, q := range src.wire {
		b.Run(strings.Join(q.names, "+"), func(b *testing.B) {
			series := 0
			var took []time.Duration
			server, client := serverCPU(b, base), clientCPU()
			for b.Loop() {
				start := time.Now()
				vec, err := src.query(ctx, q.expr, evalTime)
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

var promCPUProfile = flag.String("prom.cpuprofile", "", "write a 5s CPU profile of the Prometheus that BenchmarkRefresh1000* runs against to this file")

// profileServer starts a 5s CPU profile of Prometheus (its /debug/pprof) when
// -prom.cpuprofile is given. The returned func keeps calling work until the
// profile is taken, so that it holds nothing but refreshes, then writes it.
func profileServer(b *testing.B, base string, work func()) (stop func()) {
	if *promCPUProfile == "" {
		return func() {}
	}
	done := make(chan struct{})
	var body []byte
	var err error
	go func() {
		defer close(done)
		resp, e := http.Get(base + "/debug/pprof/profile?seconds=5")
		if e != nil {
			err = e
			return
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
	}()
	return func() {
		for {
			select {
			case <-done:
				if err != nil {
					b.Fatalf("Prometheus CPU profile: %v", err)
				}
				if err := os.WriteFile(*promCPUProfile, body, 0o644); err != nil {
					b.Fatal(err)
				}
				return
			default:
				work()
			}
		}
	}
}

// serverCPU is the CPU time Prometheus has used, from its own
// process_cpu_seconds_total: on a shared machine the CPU each refresh costs
// varies less than its wall time.
func serverCPU(b *testing.B, base string) time.Duration {
	b.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			return time.Duration(f * float64(time.Second))
		}
	}
	b.Fatal("no process_cpu_seconds_total in Prometheus' /metrics")
	return 0
}

// clientCPU is the CPU time this process has used (user and system).
func clientCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuild1000 measures only the client side of a refresh: joining the
// answers of the fixed query set for 1,000 hosts and applying the state rules.
func BenchmarkBuild1000(b *testing.B) {
	inv := bigInventory(1000)
	v := map[string]model.Vector{}
	for _, h := range inv.Hosts {
		inst := func(port string) model.LabelValue { return model.LabelValue(h.Name + ":" + port) }
		for _, q := range []string{QUp, QCPU, QMemory, QLoad1} {
			v[q] = append(v[q], &model.Sample{Metric: model.Metric{"instance": inst("9100")}, Value: 1})
		}
		v[QDisk] = append(v[QDisk], &model.Sample{Metric: model.Metric{"instance": inst("9100"), "mountpoint": "/"}, Value: 50})
		if svc := containerService(h.Role); svc != "" {
			v[QContainerAge] = append(v[QContainerAge], &model.Sample{Metric: model.Metric{"instance": inst("18080"),
				"container_label_com_docker_compose_service": model.LabelValue(svc)}, Value: 1})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		build(inv, evalTime, "bench", observations{vectors: v})
	}
}
