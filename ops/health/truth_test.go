package health

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
)

// simCluster runs the project's node simulator (its exporters, Envoy admin and
// cadvisor) for the default deployment, reachable through the returned dial
// function by "<fqdn>:<port>" as through the bastion; other addresses are
// dialled for real (a local Prometheus stand-in).
type simCluster struct {
	dir  string
	inv  *inventory.Inventory
	dial DialFunc
}

func newSimCluster(t *testing.T, faults ...[3]string) *simCluster {
	t.Helper()
	dir := t.TempDir()
	specs := sim.DefaultHosts(domain)
	if err := sim.Init(dir, specs); err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		if err := sim.InjectFault(dir, f[0], f[1], f[2]); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	listeners := map[string]*sim.ConnListener{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	inv := &inventory.Inventory{InternalDomain: domain}
	for _, h := range specs {
		idx := 0
		if i := strings.LastIndexByte(h.Short, '-'); i >= 0 {
			idx, _ = strconv.Atoi(h.Short[i+1:])
		}
		ih := inventory.Host{Name: h.Name, Short: h.Short, Role: inventory.Role(h.Role), Index: idx, PrivateIP: h.IP}
		if ih.Role.IsScalarDL() {
			ih.Image, ih.ImageTag = "ghcr.io/scalar-labs/scalar-ledger", "2.1.0"
		}
		inv.Hosts = append(inv.Hosts, ih)
		name, ip := h.Name, h.IP
		listen := func(port int) (net.Listener, error) {
			addr := net.JoinHostPort(name, strconv.Itoa(port))
			l := sim.NewConnListener(net.JoinHostPort(ip, strconv.Itoa(port))) // an IP: no DNS lookup
			mu.Lock()
			listeners[addr] = l
			mu.Unlock()
			return l, nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sim.Serve(ctx, dir, name, listen, sim.ServeOptions{}); err != nil && ctx.Err() == nil {
				t.Errorf("sim serve %s: %v", name, err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			l := listeners[addr]
			mu.Unlock()
			if l != nil {
				return l.Dial()
			}
			if !strings.Contains(addr, "."+domain) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			// Serve registers its listeners asynchronously; a port that
			// never appears is refused like a closed one.
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("dial %s: connection refused", addr)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return &simCluster{dir: dir, inv: inv, dial: dial}
}

// TestSimulatedNotServing: a Scalar DL node whose running tag never becomes
// SERVING (the bad-tag fault) is degraded with Envoy's reason, the serving
// count drops, and the upgrade gate refuses it. On the old code the node was
// "healthy" and the blue line said 3/3 serving.
func TestSimulatedNotServing(t *testing.T) {
	c := newSimCluster(t, [3]string{"scalardl-blue-1", sim.FaultBadTag, "2.1.0"})
	snap, err := NewScrapeSource(c.inv, ScrapeOptions{Dial: c.dial}).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := snap.Host("scalardl-blue-1")
	if b1.State != StateDegraded || !strings.Contains(strings.Join(b1.Reasons, "|"), "not SERVING: envoy-1, envoy-2, envoy-3 mark it /failed_active_hc") {
		t.Errorf("scalardl-blue-1: %s %q", b1.State, b1.Reasons)
	}
	if b1.Serving == nil || *b1.Serving || b1.ServingFrom != ServingFromClusters || len(b1.EnvoyView) != 3 {
		t.Errorf("serving = %v from %q, view %+v", b1.Serving, b1.ServingFrom, b1.EnvoyView)
	}
	if ok, why := snap.ScalarDLServing("scalardl-blue-1"); ok || !strings.Contains(why, "not SERVING") {
		t.Errorf("gate: %v %q", ok, why)
	}
	b2, _ := snap.Host("scalardl-blue-2")
	if b2.State != StateHealthy || b2.Serving == nil || !*b2.Serving {
		t.Errorf("scalardl-blue-2: %s %q serving %v", b2.State, b2.Reasons, b2.Serving)
	}
	if ok, why := snap.ScalarDLServing("scalardl-blue-2"); !ok {
		t.Errorf("gate refuses a serving node: %s", why)
	}
	if snap.Cluster.ScalarDLBlueServing != 2 || snap.Cluster.ScalarDLBlueServingUnknown != 0 {
		t.Errorf("cluster = %+v", snap.Cluster)
	}
}

// TestSimulatedDiskAgainstRules: the disk-full fault degrades the node with
// the rule that fires, in used %.
func TestSimulatedDiskAgainstRules(t *testing.T) {
	c := newSimCluster(t, [3]string{"cassandra-1", sim.FaultDiskFull, ""})
	snap, err := NewScrapeSource(c.inv, ScrapeOptions{Dial: c.dial}).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h, _ := snap.Host("cassandra-1")
	if h.State != StateDegraded || !strings.Contains(strings.Join(h.Reasons, "|"), "CassandraDriveSpaceLow") {
		t.Errorf("cassandra-1: %s %q", h.State, h.Reasons)
	}
	if h.DiskDataUsed == nil || *h.DiskDataUsed < 98 {
		t.Errorf("disk used = %v", h.DiskDataUsed)
	}
	if h2, _ := snap.Host("cassandra-2"); h2.State != StateHealthy {
		t.Errorf("cassandra-2: %s %q", h2.State, h2.Reasons)
	}
}

// TestPrometheusSourceReadsEnvoyClusters: with EnvoyAdmin, the Prometheus
// source learns per-member health from every Envoy's /clusters, although
// Prometheus only counts members.
func TestPrometheusSourceReadsEnvoyClusters(t *testing.T) {
	c := newSimCluster(t, [3]string{"scalardl-blue-3", sim.FaultBadTag, "2.1.0"})
	url := fakeProm(t, func(name string, w http.ResponseWriter, _ *http.Request) {
		w.Write(fixture(t, "empty_vector.json"))
	})
	src, err := NewPrometheusSource(c.inv, url, PrometheusOptions{Dial: c.dial, EnvoyAdmin: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b3, _ := snap.Host("scalardl-blue-3")
	if b3.Serving == nil || *b3.Serving || len(b3.EnvoyView) != 3 {
		t.Errorf("scalardl-blue-3 serving %v view %+v (errors %v)", b3.Serving, b3.EnvoyView, snap.Errors)
	}
	if b1, _ := snap.Host("scalardl-blue-1"); b1.Serving == nil || !*b1.Serving {
		t.Errorf("scalardl-blue-1 serving %v", b1.Serving)
	}
}

// TestCassandraDataBelowRuleThreshold: 20% free on a Cassandra /data fires the
// real CassandraDriveSpaceLow (< 25%), so the host is degraded; the old code
// only looked at 10%.
func TestCassandraDataBelowRuleThreshold(t *testing.T) {
	inv := smallInventory()
	inst := "cassandra-1." + domain + ":9100"
	v := map[string]model.Vector{
		QUp:               {sample(1, "instance", inst)},
		QCassandraService: {sample(1, "instance", inst)},
		QDisk:             {sample(20, "instance", inst, "mountpoint", "/data"), sample(20, "instance", "envoy-1."+domain+":9100", "mountpoint", "/data")},
	}
	snap := build(inv, time.Unix(0, 0), "t", observations{vectors: v, failed: map[string]bool{}})
	h, _ := snap.Host("cassandra-1")
	if h.State != StateDegraded || !strings.Contains(strings.Join(h.Reasons, "|"), "/data 80.0% used (CassandraDriveSpaceLow fires above 75% used)") {
		t.Errorf("cassandra-1: %s %q", h.State, h.Reasons)
	}
}

// TestNonFiniteSamples: NaN and ±Inf samples never become figures or counts
// (no -9223372036854775808), and the snapshot still encodes as JSON.
func TestNonFiniteSamples(t *testing.T) {
	inv := smallInventory()
	e := "envoy-1." + domain + ":9001"
	v := map[string]model.Vector{
		QUp:           {sample(1, "instance", "envoy-1."+domain+":9100"), sample(math.NaN(), "instance", "cassandra-1."+domain+":9100")},
		QCPU:          {sample(math.Inf(1), "instance", "envoy-1."+domain+":9100")},
		QDisk:         {sample(math.NaN(), "instance", "envoy-1."+domain+":9100", "mountpoint", "/")},
		QEnvoyHealthy: {sample(math.Inf(1), "instance", e)},
		QEnvoyTotal:   {sample(3, "instance", e)},
		QContainerAge: {sample(math.Inf(-1), "instance", "envoy-1."+domain+":18080", "container_label_com_docker_compose_service", "envoy")},
		QScalarDLBlue: {sample(math.Inf(1))},
		QLoad1:        {sample(math.Inf(1), "instance", "ghost-1."+domain+":9100")},
	}
	snap := build(inv, time.Unix(0, 0), "t", observations{vectors: v, failed: map[string]bool{}})
	h, _ := snap.Host("envoy-1")
	if h.CPU != nil || h.DiskRoot != nil || h.EnvoyHealthyMembers != nil || h.ContainerAge != nil {
		t.Errorf("non-finite figures kept: cpu %v disk %v members %v age %v", h.CPU, h.DiskRoot, h.EnvoyHealthyMembers, h.ContainerAge)
	}
	if c, _ := snap.Host("cassandra-1"); c.State != StateUnknown {
		t.Errorf("cassandra-1 with up=NaN: %s", c.State)
	}
	if snap.Cluster.ScalarDLBlueActive < 0 || snap.Cluster.ScalarDLBlueActive > 2 {
		t.Errorf("blue active = %d", snap.Cluster.ScalarDLBlueActive)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	if !strings.Contains(string(b), `"value":"+Inf"`) {
		t.Errorf("unmatched +Inf not written as Prometheus does: %s", b)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil || len(back.Unmatched) != 1 || !math.IsInf(back.Unmatched[0].Value, 1) {
		t.Errorf("round trip: %v %+v", err, back.Unmatched)
	}
}

func TestParseEnvoyClusters(t *testing.T) {
	page := "scalar-service::default_priority::max_connections::1024\n" +
		"scalar-service::added_via_api::false\n" +
		"scalar-service::10.42.3.5:50051::cx_active::2\n" +
		"scalar-service::10.42.3.5:50051::health_flags::healthy\n" +
		"scalar-service::10.42.3.6:50051::health_flags::/failed_active_hc\n" +
		"scalar-privileged::10.42.3.6:50052::health_flags::healthy\n"
	m, err := ParseEnvoyClusters(strings.NewReader(page), EnvoyCluster)
	if err != nil || len(m) != 2 || m[0].IP != "10.42.3.5" || m[0].Flags != "healthy" || m[1].Flags != "/failed_active_hc" {
		t.Errorf("members = %+v, %v", m, err)
	}
	if _, err := ParseEnvoyClusters(strings.NewReader("<html>502 Bad Gateway</html>"), EnvoyCluster); err == nil {
		t.Error("garbage accepted as /clusters")
	}
	if m, err := ParseEnvoyClusters(strings.NewReader("scalar-service::added_via_api::false\n"), EnvoyCluster); err != nil || len(m) != 0 {
		t.Errorf("no members: %+v %v", m, err)
	}
}

// endless answers 200 with an endless body (a 300 MB answer, or worse) until
// the client goes away, and counts what it managed to send.
func endless(sent *atomic.Int64, line string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat(line, 1000))
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
}

// TestPrometheusAnswerTooLarge: an endless answer fails each query with
// "response larger than N bytes" after reading about N bytes, instead of
// reading it all into memory.
func TestPrometheusAnswerTooLarge(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(endless(&sent, `{"status":"success","data":{"resultType":"vector","result":[]}}`))
	t.Cleanup(srv.Close)
	src, err := NewPrometheusSource(smallInventory(), srv.URL, PrometheusOptions{MaxResponseBytes: 1 << 20, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Snapshot(context.Background())
	if err == nil || !strings.Contains(err.Error(), "response larger than 1048576 bytes") {
		t.Fatalf("err = %v", err)
	}
	if len(snap.Errors) != len(snapshotQueries) || !strings.Contains(snap.Errors[0].Message, "response larger than") {
		t.Errorf("errors = %v", snap.Errors)
	}
	allUnknown(t, snap)
	// Each of the queries stops reading after 1 MiB (plus what the
	// connection buffers): far from an endless answer.
	if n := sent.Load(); n > int64(len(snapshotQueries))*8<<20 {
		t.Errorf("server sent %d bytes before the client stopped reading", n)
	}
}

// TestScrapeAnswerTooLargeOr5xxOrGarbage: each bad exporter answer fails its
// target with its own clear reason; the other targets still count.
func TestScrapeAnswerTooLargeOr5xxOrGarbage(t *testing.T) {
	var sent atomic.Int64
	big := httptest.NewServer(endless(&sent, "node_load1 0.5\n"))
	t.Cleanup(big.Close)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Host, "garbage") {
			w.Write([]byte("<html>\x00\x01 not metrics {{{\n"))
			return
		}
		http.Error(w, "upstream exploded", http.StatusBadGateway)
	}))
	t.Cleanup(bad.Close)
	inv := &inventory.Inventory{Hosts: []inventory.Host{
		{Name: "big.d", Short: "big", Role: inventory.RoleBastion},
		{Name: "five.d", Short: "five", Role: inventory.RoleBastion},
		{Name: "garbage.d", Short: "garbage", Role: inventory.RoleBastion},
	}}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		if strings.HasPrefix(addr, "big.") {
			return d.DialContext(ctx, network, big.Listener.Addr().String())
		}
		return d.DialContext(ctx, network, bad.Listener.Addr().String())
	}
	snap, err := NewScrapeSource(inv, ScrapeOptions{Dial: dial, MaxResponseBytes: 1 << 20, Timeout: 20 * time.Second}).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string]string{}
	for _, e := range snap.Errors {
		msgs[strings.SplitN(strings.TrimPrefix(e.Target, "http://"), ".", 2)[0]] = e.Message
	}
	for host, want := range map[string]string{"big": "response larger than 1048576 bytes", "five": "HTTP 502", "garbage": "parse metrics"} {
		if !strings.Contains(msgs[host], want) {
			t.Errorf("%s: %q, want %q", host, msgs[host], want)
		}
	}
	if n := sent.Load(); n > 8<<20 {
		t.Errorf("endless exporter sent %d bytes", n)
	}
}

// TestStaleSamplesAreNotFresh: Prometheus answers an instant query with the
// last sample of the past five minutes; a host whose newest sample is older
// than StaleAfter is unknown with the age in its reason, not healthy.
func TestStaleSamplesAreNotFresh(t *testing.T) {
	inv := smallInventory()
	inst := func(h string) string { return h + "." + domain + ":9100" }
	v := map[string]model.Vector{
		QUp:        {sample(1, "instance", inst("bastion-1")), sample(1, "instance", inst("monitor-1"))},
		QSampleAge: {sample(180, "instance", inst("bastion-1")), sample(14.6, "instance", inst("monitor-1"))},
	}
	snap := build(inv, time.Unix(0, 0), "t", observations{vectors: v, failed: map[string]bool{}, staleAfter: time.Minute})
	b, _ := snap.Host("bastion-1")
	if b.State != StateUnknown || b.SampleAge == nil || *b.SampleAge != 3*time.Minute || !strings.Contains(b.Reasons[0], "last sample 3m0s old") {
		t.Errorf("bastion-1: %s %q age %v", b.State, b.Reasons, b.SampleAge)
	}
	if m, _ := snap.Host("monitor-1"); m.State != StateHealthy || m.SampleAge == nil || *m.SampleAge != 15*time.Second {
		t.Errorf("monitor-1: %s %q age %v", m.State, m.Reasons, m.SampleAge)
	}
}

// TestScrapeHistoryRing: the scrape source keeps its own CPU and count
// samples, oldest first, bounded per series, so sparklines work while
// Prometheus is down.
func TestScrapeHistoryRing(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := float64(n.Add(1))
		// Each scrape adds 10 s of CPU time, 2.5 s of it busy: 25% CPU.
		fmt.Fprintf(w, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} %g\nnode_cpu_seconds_total{cpu=\"0\",mode=\"user\"} %g\n", i*7.5, i*2.5)
	}))
	t.Cleanup(srv.Close)
	inv := &inventory.Inventory{Hosts: []inventory.Host{{Name: "bastion-1.d", Short: "bastion-1", Role: inventory.RoleBastion}}}
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := NewScrapeSource(inv, ScrapeOptions{Dial: dial, HistorySamples: 3, Clock: func() time.Time { return at }})
	if h := src.History(); h == nil || !h.End.IsZero() || len(h.CPU) != 0 {
		t.Fatalf("history before any scrape = %+v", h)
	}
	for i := 0; i < 5; i++ {
		at = at.Add(5 * time.Second)
		if _, err := src.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	h := src.History()
	cpu := h.CPU["bastion-1.d"]
	// 5 scrapes give 4 CPU rates; the ring keeps the newest 3.
	if len(cpu) != 3 || !cpu[0].T.Equal(at.Add(-10*time.Second)) || !cpu[2].T.Equal(at) || math.Abs(cpu[2].V-25) > 1e-9 {
		t.Errorf("cpu = %+v", cpu)
	}
	if !h.Scraped || !h.Start.Equal(at.Add(-20*time.Second)) || !h.End.Equal(at) {
		t.Errorf("history = start %v end %v scraped %v", h.Start, h.End, h.Scraped)
	}
	if none := NewScrapeSource(inv, ScrapeOptions{Dial: dial, HistorySamples: -1}); none.History() != nil {
		t.Error("HistorySamples < 0 keeps history")
	}
}
