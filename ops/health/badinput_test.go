package health

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// These tests need failure modes a real Prometheus cannot be made to produce on
// demand (a proxy's 502 page, broken JSON, 401), so they use an HTTP server that
// answers with fixtures from testdata/health in the Prometheus API format.

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "health", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeProm answers each query through handle, keyed by query name.
func fakeProm(t *testing.T, handle func(name string, w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	byExpr := map[string]string{}
	for _, q := range snapshotQueries {
		byExpr[q.expr] = q.name
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		handle(byExpr[r.Form.Get("query")], w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func allUnknown(t *testing.T, snap *Snapshot) {
	t.Helper()
	if snap == nil {
		t.Fatal("nil snapshot")
	}
	for _, h := range snap.Hosts {
		if h.State != StateUnknown {
			t.Errorf("%s: state %s, want unknown (fail closed)", h.Host.Short, h.State)
		}
	}
}

func TestPrometheusUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	src, err := NewPrometheusSource(smallInventory(), addr, PrometheusOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Snapshot(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "--source scrape") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error should name the address and suggest --source scrape: %v", err)
	}
	if len(snap.Errors) != len(snapshotQueries) {
		t.Errorf("errors = %d, want one per query", len(snap.Errors))
	}
	allUnknown(t, snap)
	if ok, _ := snap.AllCassandraActive(); ok {
		t.Error("AllCassandraActive true without data")
	}
}

func TestPrometheusHTTPErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		body     []byte
		is       error
		contains string
	}{
		{"401", http.StatusUnauthorized, []byte("Unauthorized\n"), ErrUnauthorized, "HTTP 401"},
		{"403", http.StatusForbidden, []byte("Forbidden\n"), ErrUnauthorized, "HTTP 403"},
		{"502 from nginx", http.StatusBadGateway, fixture(t, "bad_gateway.html"), nil, "502"},
		{"503", http.StatusServiceUnavailable, []byte("Service Unavailable"), nil, "503"},
		{"malformed JSON", http.StatusOK, fixture(t, "malformed.json"), nil, "not valid API JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := fakeProm(t, func(_ string, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write(tc.body)
			})
			src, err := NewPrometheusSource(smallInventory(), url, PrometheusOptions{BasicAuthUser: "u", BasicAuthPassword: "p"})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := src.Snapshot(context.Background())
			if err == nil {
				t.Fatal("no error when every query failed")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
			if tc.is == nil && !strings.Contains(err.Error(), "--source scrape") {
				t.Errorf("err should suggest --source scrape: %v", err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %q, want it to contain %q", err, tc.contains)
			}
			if len(snap.Errors) != len(snapshotQueries) || !strings.Contains(snap.Errors[0].Message, tc.contains) {
				t.Errorf("snapshot errors = %v", snap.Errors)
			}
			allUnknown(t, snap)
		})
	}
}

// TestPrometheusPartial: one query times out, one fails, the others answer;
// the answered figures still show and each failure has its own message.
func TestPrometheusPartial(t *testing.T) {
	url := fakeProm(t, func(name string, w http.ResponseWriter, r *http.Request) {
		switch name {
		case QCPU:
			select { // hang until the client gives up
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		case QDisk:
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		case QUp, QLoad1, QCassandraService:
			w.Write(fixture(t, "query_"+name+".json"))
		default:
			w.Write(fixture(t, "empty_vector.json"))
		}
	})
	src, err := NewPrometheusSource(smallInventory(), url, PrometheusOptions{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("partial failure must not be a total failure: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Snapshot took %s; the timeout is 500ms", took)
	}
	msgs := map[string]string{}
	for _, e := range snap.Errors {
		msgs[e.Query] = e.Message
	}
	if len(msgs) != 2 || !strings.Contains(msgs[QCPU], "timed out") || !strings.Contains(msgs[QDisk], "500") {
		t.Errorf("errors = %v", snap.Errors)
	}
	c1, _ := snap.Host("cassandra-1")
	if c1.Up == nil || !*c1.Up || c1.Load1 == nil || *c1.Load1 != 0.42 || c1.CassandraActive == nil || !*c1.CassandraActive {
		t.Errorf("answered figures missing: %+v", c1)
	}
	if c1.State != StateUnknown || !strings.Contains(strings.Join(c1.Reasons, ""), "disk") {
		t.Errorf("cassandra-1: %s %q, want unknown because the disk query failed", c1.State, c1.Reasons)
	}
	if c2, _ := snap.Host("cassandra-2"); c2.State != StateDown {
		t.Errorf("cassandra-2 (up=0): %s", c2.State)
	}
	if b, _ := snap.Host("bastion-1"); b.Up == nil {
		t.Error("instance without a port not matched")
	}
	if m, _ := snap.Host("monitor-1"); m.Up == nil {
		t.Error("instance IP:port not matched")
	}
	if len(snap.Unmatched) != 1 || snap.Unmatched[0].Labels["instance"] != "ghost-1.internal.scalar-labs.com:9100" {
		t.Errorf("unmatched = %+v", snap.Unmatched)
	}
}

func TestPrometheusEmptyResult(t *testing.T) {
	url := fakeProm(t, func(_ string, w http.ResponseWriter, _ *http.Request) {
		w.Write(fixture(t, "empty_vector.json"))
	})
	src, err := NewPrometheusSource(smallInventory(), url, PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Snapshot(context.Background())
	if err != nil || len(snap.Errors) != 0 {
		t.Fatalf("err %v errors %v", err, snap.Errors)
	}
	allUnknown(t, snap)
	if !strings.Contains(snap.Hosts[0].Reasons[0], "no up") {
		t.Errorf("reason = %q", snap.Hosts[0].Reasons)
	}
	if snap.Cluster.CountsFrom != "container_last_seen" || snap.Cluster.Unknown != len(snap.Hosts) {
		t.Errorf("cluster = %+v", snap.Cluster)
	}
}

func TestPrometheusAuthHeaders(t *testing.T) {
	for _, tc := range []struct {
		opts PrometheusOptions
		want string
	}{
		{PrometheusOptions{BasicAuthUser: "admin", BasicAuthPassword: "s3cret"}, "Basic YWRtaW46czNjcmV0"},
		{PrometheusOptions{BearerToken: "tok"}, "Bearer tok"},
		{PrometheusOptions{}, ""},
	} {
		got := make(chan string, 32)
		url := fakeProm(t, func(_ string, w http.ResponseWriter, r *http.Request) {
			got <- r.Header.Get("Authorization")
			w.Write(fixture(t, "empty_vector.json"))
		})
		src, err := NewPrometheusSource(smallInventory(), url, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		if h := <-got; h != tc.want {
			t.Errorf("Authorization = %q, want %q", h, tc.want)
		}
	}
	if _, err := NewPrometheusSource(nil, "http://x:9090", PrometheusOptions{BasicAuthUser: "a", BearerToken: "b"}); err == nil {
		t.Error("basic auth and bearer together accepted")
	}
	if _, err := NewPrometheusSource(nil, "", PrometheusOptions{}); err == nil {
		t.Error("no address accepted")
	}
	if _, err := NewPrometheusSource(nil, "http://x:9090", PrometheusOptions{CAFile: "/nonexistent/ca.pem"}); err == nil {
		t.Error("missing CA file accepted")
	}
}

func TestScrapeTargetDown(t *testing.T) {
	inv := smallInventory()
	refused := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, fmt.Errorf("dial %s: connection refused", addr)
	}
	snap, err := NewScrapeSource(inv, ScrapeOptions{Dial: refused}).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range snap.Hosts {
		if h.State != StateDown {
			t.Errorf("%s: %s, want down (node exporter unreachable)", h.Host.Short, h.State)
		}
	}
	// 10 node exporters, 6 cadvisors, 3 cassandra exporters, 1 envoy admin
	// (/stats/prometheus and /clusters).
	if snap.Queries != 21 || len(snap.Errors) != 21 {
		t.Errorf("targets %d errors %d", snap.Queries, len(snap.Errors))
	}
}

func TestPrometheusTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write(fixture(t, "empty_vector.json"))
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pemCert(srv.Certificate().Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts PrometheusOptions
		ok   bool
	}{
		{"unknown CA refused", PrometheusOptions{}, false},
		{"CA file", PrometheusOptions{CAFile: ca}, true},
		{"insecure skip verify", PrometheusOptions{InsecureSkipTLSVerify: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Timeout = 2 * time.Second
			src, err := NewPrometheusSource(smallInventory(), srv.URL, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Snapshot(context.Background())
			if (err == nil) != tc.ok {
				t.Errorf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	if _, err := NewPrometheusSource(nil, srv.URL, PrometheusOptions{CAFile: bad}); err == nil {
		t.Error("CA file without PEM accepted")
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestScrapeConcurrencyBounded(t *testing.T) {
	inv := bigInventory(200)
	var inFlight, peak atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		return nil, fmt.Errorf("dial %s: connection refused", addr)
	}
	snap, err := NewScrapeSource(inv, ScrapeOptions{Dial: dial, Concurrency: 4}).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 4 || p == 0 {
		t.Errorf("peak concurrent dials = %d, want 1..4", p)
	}
	if snap.Cluster.Down != 200 {
		t.Errorf("cluster = %+v", snap.Cluster)
	}
}

func TestPrometheusCanceled(t *testing.T) {
	url := fakeProm(t, func(_ string, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	src, err := NewPrometheusSource(smallInventory(), url, PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := src.Snapshot(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
