package health_test

// TestPrometheusLive is an external test: the lab's Prometheus configuration
// comes from internal/labprom, which imports this package.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"scalar-tui/internal/labprom"
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
)

// TestPrometheusLive scrapes a real node exporter with a real Prometheus whose
// config comes from internal/labprom (instance relabelled to the FQDN, role
// label, the lab rule files loaded), then reads it through PrometheusSource,
// and reads the same node exporter through the ScrapeSource fallback.
func TestPrometheusLive(t *testing.T) {
	if testing.Short() && os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") != "1" {
		t.Skip("live Prometheus takes ~10s")
	}
	ne := health.NeedTool(t, "prometheus-node-exporter")
	health.NeedTool(t, "prometheus")
	dir := t.TempDir()
	textDir := filepath.Join(dir, "textfile")
	if err := os.MkdirAll(textDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The lab has no systemd: the textfile collector provides the unit state.
	if err := os.WriteFile(filepath.Join(textDir, "cassandra.prom"),
		[]byte("node_systemd_unit_state{name=\"cassandra.service\",state=\"active\",type=\"simple\"} 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	neAddr := fmt.Sprintf("127.0.0.1:%d", health.FreePort(t))
	health.StartDaemon(t, dir, "node-exporter", ne, "--web.listen-address="+neAddr,
		"--collector.textfile.directory="+textDir)
	health.WaitHTTP(t, "http://"+neAddr+"/metrics", 15*time.Second, filepath.Join(dir, "node-exporter.log"))

	inv := &inventory.Inventory{NetworkName: "lab", InternalDomain: health.Domain,
		Hosts: []inventory.Host{health.Host("cassandra-1", inventory.RoleCassandra, 1, "127.0.0.1")}}
	ruleDir := filepath.Join(dir, "rules")
	if _, err := labprom.WriteRules(ruleDir, inv, labprom.Options{For: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	cfg := labprom.Config(inv, labprom.Options{
		ScrapeInterval: time.Second, EvaluationInterval: time.Second, RuleDir: ruleDir,
		Address: func(h inventory.Host, port int) string {
			if port == health.DefaultPorts.NodeExporter {
				return neAddr
			}
			return "127.0.0.1:1" // nothing listens: up=0 for the other jobs
		},
	})
	base := health.StartPrometheus(t, filepath.Join(dir, "data"), string(cfg))
	src, err := health.NewPrometheusSource(inv, base, health.PrometheusOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var snap *health.Snapshot
	deadline := time.Now().Add(40 * time.Second)
	for {
		snap, err = src.Snapshot(context.Background())
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		h := snap.Hosts[0]
		if h.State == health.StateHealthy && h.CPU != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cassandra-1 not healthy with CPU data after 40s: %+v reasons %q errors %v", h, h.Reasons, snap.Errors)
		}
		time.Sleep(500 * time.Millisecond)
	}
	h := snap.Hosts[0]
	if h.Mem == nil || h.DiskRoot == nil || h.Load1 == nil || h.CassandraActive == nil || !*h.CassandraActive {
		t.Errorf("live figures missing: %+v", h)
	}
	if *h.CPU < 0 || *h.CPU > 100 || *h.Mem <= 0 || *h.Mem > 100 || *h.DiskRoot <= 0 || *h.DiskRoot > 100 {
		t.Errorf("live figures out of range: cpu %g mem %g disk %g", *h.CPU, *h.Mem, *h.DiskRoot)
	}
	// Series for the jobs whose exporters do not exist carry the FQDN too, so nothing is unmatched.
	for _, u := range snap.Unmatched {
		t.Errorf("unmatched: %+v", u)
	}
	// The lab's real rules ran: no Scalar DL or Envoy containers, so their cluster alerts fire.
	fired := map[string]bool{}
	for _, a := range snap.Alerts {
		fired[a.Name] = true
	}
	deadline = time.Now().Add(20 * time.Second)
	for !fired["ScalarDLClusterDown"] && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if snap, err = src.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, a := range snap.Alerts {
			fired[a.Name] = true
		}
	}
	if !fired["ScalarDLClusterDown"] || !fired["EnvoyClusterDown"] {
		t.Errorf("lab rules: firing = %v, want ScalarDLClusterDown and EnvoyClusterDown", fired)
	}

	t.Run("scrape fallback", func(t *testing.T) {
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			if addr == "cassandra-1."+health.Domain+":9100" {
				return d.DialContext(ctx, network, neAddr)
			}
			return d.DialContext(ctx, network, "127.0.0.1:1") // refused
		}
		ss := health.NewScrapeSource(inv, health.ScrapeOptions{Dial: dial, Timeout: 3 * time.Second})
		first, err := ss.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		h := first.Hosts[0]
		if first.Queries != 2 { // node exporter + cassandra exporter
			t.Errorf("scrape targets = %d, want 2", first.Queries)
		}
		if h.State != health.StateHealthy || h.Up == nil || !*h.Up || h.CassandraActive == nil || !*h.CassandraActive {
			t.Errorf("scrape: %+v reasons %q", h, h.Reasons)
		}
		if h.CPU != nil {
			t.Errorf("first scrape cannot have CPU%%, got %g", *h.CPU)
		}
		if h.Mem == nil || h.DiskRoot == nil || h.Load1 == nil {
			t.Errorf("scrape figures missing: %+v", h)
		}
		if len(first.Errors) != 1 || first.Errors[0].Query != "scrape cassandra" {
			t.Errorf("scrape errors = %v, want the cassandra exporter's", first.Errors)
		}
		time.Sleep(1100 * time.Millisecond)
		second, err := ss.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c := second.Hosts[0].CPU; c == nil || *c < 0 || *c > 100 {
			t.Errorf("second scrape CPU = %v", c)
		}
	})
}
