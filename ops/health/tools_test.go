package health

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"scalar-tui/inventory"
)

// needTool returns the path of a binary, skipping the test when it is absent
// unless SCALAR_TUI_REQUIRE_TOOLS=1 (then the test fails).
func needTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			tb.Fatalf("%s not found and SCALAR_TUI_REQUIRE_TOOLS=1: %v", name, err)
		}
		tb.Skipf("%s not installed (apt-get install prometheus prometheus-node-exporter)", name)
	}
	return p
}

// freePort returns a loopback port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startDaemon starts a process, logs to dir/name.log, and kills it by PID on cleanup.
func startDaemon(tb testing.TB, dir, name, bin string, args ...string) {
	tb.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	pid := cmd.Process.Pid
	tb.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
		_ = cmd.Wait()
		logf.Close()
	})
}

// waitHTTP polls url until it answers 200 or the timeout passes.
func waitHTTP(tb testing.TB, url string, timeout time.Duration, logPath string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	tb.Fatalf("%s not ready after %s; log:\n%s", url, timeout, tail(string(b), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// startPrometheus runs a real Prometheus on a free loopback port over dataDir
// with the given config and returns its base URL.
func startPrometheus(tb testing.TB, dataDir, config string, extra ...string) string {
	tb.Helper()
	bin := needTool(tb, "prometheus")
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	port := freePort(tb)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startDaemon(tb, dir, "prometheus", bin, append([]string{
		"--config.file=" + cfg, "--storage.tsdb.path=" + dataDir, "--web.listen-address=" + addr,
		"--storage.tsdb.retention.time=100y", "--log.level=warn"}, extra...)...)
	waitHTTP(tb, "http://"+addr+"/-/ready", 30*time.Second, filepath.Join(dir, "prometheus.log"))
	return "http://" + addr
}

// backfill writes an OpenMetrics file and turns it into TSDB blocks with promtool.
func backfill(tb testing.TB, om string) string {
	tb.Helper()
	promtool := needTool(tb, "promtool")
	dir := tb.TempDir()
	f := filepath.Join(dir, "series.om")
	if err := os.WriteFile(f, []byte(om), 0o644); err != nil {
		tb.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool, "tsdb", "create-blocks-from", "openmetrics", f, data).CombinedOutput()
	if err != nil {
		tb.Fatalf("promtool create-blocks-from: %v\n%s", err, tail(string(out), 2000))
	}
	return data
}

// omWriter builds an OpenMetrics text: series are grouped by metric name and
// samples are written in time order, as promtool requires.
type omWriter struct {
	series map[string]map[string][]omSample // name -> labels -> samples
	pairs  map[string][]string              // name{labels} -> the sorted "k=v" pairs (for remoteWrite)
}

type omSample struct {
	t time.Time
	v float64
}

func newOM() *omWriter {
	return &omWriter{series: map[string]map[string][]omSample{}, pairs: map[string][]string{}}
}

// add appends one sample; labels are "k=v" pairs.
func (w *omWriter) add(name string, labels []string, t time.Time, v float64) {
	sort.Strings(labels)
	var parts []string
	for _, kv := range labels {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	ls := strings.Join(parts, ",")
	if w.series[name] == nil {
		w.series[name] = map[string][]omSample{}
	}
	w.series[name][ls] = append(w.series[name][ls], omSample{t, v})
	w.pairs[name+"{"+ls] = append([]string(nil), labels...)
}

func (w *omWriter) String() string {
	var b strings.Builder
	bw := bufio.NewWriter(&b)
	names := make([]string, 0, len(w.series))
	for n := range w.series {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		lss := make([]string, 0, len(w.series[n]))
		for ls := range w.series[n] {
			lss = append(lss, ls)
		}
		sort.Strings(lss)
		for _, ls := range lss {
			for _, s := range w.series[n][ls] {
				if ls == "" {
					fmt.Fprintf(bw, "%s %g %d\n", n, s.v, s.t.Unix())
				} else {
					fmt.Fprintf(bw, "%s{%s} %g %d\n", n, ls, s.v, s.t.Unix())
				}
			}
		}
	}
	bw.WriteString("# EOF\n")
	bw.Flush()
	return b.String()
}

const domain = "internal.scalar-labs.com"

func host(short string, role inventory.Role, idx int, ip string) inventory.Host {
	return inventory.Host{Name: short + "." + domain, Short: short, Role: role, Index: idx, PrivateIP: ip}
}

// smallInventory is the fixture deployment used by the deterministic tests.
func smallInventory() *inventory.Inventory {
	return &inventory.Inventory{
		NetworkName:    "example-aws-test",
		InternalDomain: domain,
		Hosts: []inventory.Host{
			host("bastion-1", inventory.RoleBastion, 1, "10.42.0.10"),
			host("cassandra-1", inventory.RoleCassandra, 1, "10.42.2.10"),
			host("cassandra-2", inventory.RoleCassandra, 2, "10.42.2.11"),
			host("cassandra-3", inventory.RoleCassandra, 3, "10.42.2.12"),
			host("cassy-1", inventory.RoleCassy, 1, "10.42.2.20"),
			host("reaper-1", inventory.RoleReaper, 1, "10.42.2.21"),
			host("scalardl-blue-1", inventory.RoleScalarDLBlue, 1, "10.42.3.10"),
			host("scalardl-blue-2", inventory.RoleScalarDLBlue, 2, "10.42.3.11"),
			host("envoy-1", inventory.RoleEnvoy, 1, "10.42.1.10"),
			host("monitor-1", inventory.RoleMonitor, 1, "10.42.1.20"),
		},
		Endpoints: inventory.Endpoints{Prometheus: "monitor." + domain + ":9090"},
	}
}

// remoteWrite sends every sample of w to the remote-write receiver of the
// Prometheus at base (started with --web.enable-remote-write-receiver), in
// batches of series, each series' samples in time order. The timestamps are
// the OpenMetrics file's (whole seconds), so the head holds exactly what
// promtool would have backfilled.
func (w *omWriter) remoteWrite(tb testing.TB, base string) {
	tb.Helper()
	var batch []prompb.TimeSeries
	flush := func() {
		if len(batch) == 0 {
			return
		}
		req := &prompb.WriteRequest{Timeseries: batch}
		raw, err := req.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		hr, err := http.NewRequest(http.MethodPost, base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, raw)))
		if err != nil {
			tb.Fatal(err)
		}
		hr.Header.Set("Content-Encoding", "snappy")
		hr.Header.Set("Content-Type", "application/x-protobuf")
		hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			tb.Fatalf("remote write: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			tb.Fatalf("remote write: %s: %s", resp.Status, body)
		}
		batch = batch[:0]
	}
	for name, byLabels := range w.series {
		for ls, samples := range byLabels {
			b := labels.NewScratchBuilder(0)
			b.Add(labels.MetricName, name)
			for _, kv := range w.pairs[name+"{"+ls] {
				k, v, _ := strings.Cut(kv, "=")
				b.Add(k, v)
			}
			b.Sort()
			ts := prompb.TimeSeries{}
			b.Labels().Range(func(l labels.Label) { ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value}) })
			for _, s := range samples {
				ts.Samples = append(ts.Samples, prompb.Sample{Value: s.v, Timestamp: s.t.Unix() * 1000})
			}
			batch = append(batch, ts)
			if len(batch) == 2000 {
				flush()
			}
		}
	}
	flush()
}
