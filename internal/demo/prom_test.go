package demo_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
)

// promThroughBastion is the console's own Prometheus client on the demo's
// monitor:9090, reached through the bastion as on a real deployment.
func promThroughBastion(t *testing.T, d *demo.Demo) *health.PrometheusSource {
	t.Helper()
	cl, inv := client(t, d)
	src, err := health.NewPrometheusSource(inv, "http://"+inv.Endpoints.Prometheus, health.PrometheusOptions{Dial: cl.DialContext, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// firing lists "alertname host" of the snapshot's firing alerts.
func firing(s *health.Snapshot) []string {
	var out []string
	for _, a := range s.Alerts {
		out = append(out, strings.TrimSpace(a.Name+" "+a.Host))
	}
	sort.Strings(out)
	return out
}

// waitSnapshot polls the demo's Prometheus until ok holds for a snapshot
// without errors, or fails with the last one.
func waitSnapshot(t *testing.T, src *health.PrometheusSource, what string, within time.Duration, ok func(*health.Snapshot) bool) *health.Snapshot {
	t.Helper()
	var last *health.Snapshot
	var lastErr error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		s, err := src.Snapshot(context.Background())
		if err == nil && len(s.Errors) == 0 && ok(s) {
			return s
		}
		last, lastErr = s, err
	}
	if last != nil {
		t.Fatalf("%s: not within %s; last alerts %v, errors %v, err %v", what, within, firing(last), last.Errors, lastErr)
	}
	t.Fatalf("%s: not within %s: %v", what, within, lastErr)
	return nil
}

// The demo's monitor runs Prometheus's own engine on the real rules: with
// Cassandra stopped on one node the real CassandraProcessStopped alert fires
// for that host within the rule's `for:`, and starting Cassandra clears it.
func TestDemoPrometheusFiresAndClearsRealAlert(t *testing.T) {
	d := start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Prom: demo.PromOptions{ScrapeInterval: time.Second, EvalInterval: time.Second, For: 3 * time.Second}})
	src := promThroughBastion(t, d)
	s := waitSnapshot(t, src, "every host up", 20*time.Second, func(s *health.Snapshot) bool {
		for _, h := range s.Hosts {
			if h.Up == nil || !*h.Up {
				return false
			}
		}
		return s.Cluster.ScalarDLBlueActive == 1 && s.Cluster.EnvoyActive == 1 && s.Cluster.CountsFrom != "container_last_seen"
	})
	if got := firing(s); len(got) != 0 {
		t.Errorf("healthy demo fires %v", got)
	}
	if err := sim.InjectFault(d.SimState, "cassandra-2", "cassandra-stopped", ""); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, src, "CassandraProcessStopped on cassandra-2", 30*time.Second, func(s *health.Snapshot) bool {
		for _, a := range firing(s) {
			if a == "CassandraProcessStopped cassandra-2."+demo.Domain {
				return true
			}
		}
		return false
	})
	// The runbook's fix, as an operator types it.
	cl, _ := client(t, d)
	if out, errOut, code := run(t, cl, "cassandra-2."+demo.Domain, "sudo systemctl start cassandra"); code != 0 {
		t.Fatalf("systemctl start cassandra: exit %d: %s%s", code, out, errOut)
	}
	waitSnapshot(t, src, "the alert clears", 30*time.Second, func(s *health.Snapshot) bool { return len(firing(s)) == 0 })
	// History works against the demo: the sparklines' range queries.
	h, err := src.History(context.Background(), time.Minute, 5*time.Second)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if h == nil || len(h.CPU) == 0 || len(h.CassandraActive) == 0 {
		t.Fatalf("History has no CPU or Cassandra series: %+v", h)
	}
}

// BenchmarkDemoStart measures demo.Start with and without the monitor's
// embedded Prometheus (TSDB, engine, rules), the start-up cost it adds.
func BenchmarkDemoStart(b *testing.B) {
	for _, c := range []struct {
		name string
		prom demo.PromOptions
	}{{"without-prometheus", demo.PromOptions{Disabled: true}}, {"with-prometheus", demo.PromOptions{}}} {
		b.Run(c.name, func(b *testing.B) {
			exe, err := os.Executable()
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				d, err := demo.Start(context.Background(), demo.Options{SimBinary: exe, Prom: c.prom})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				d.Close()
				b.StartTimer()
			}
		})
	}
}

// A silence made through the bastion on the demo's Alertmanager mutes the
// alert the demo's Prometheus sends for that host, and only that one.
func TestDemoSilenceMutesAlert(t *testing.T) {
	d := start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Prom: demo.PromOptions{ScrapeInterval: time.Second, EvalInterval: time.Second, For: 2 * time.Second}})
	cl, _ := client(t, d)
	am, err := alertmanager.New("http://monitor."+demo.Domain+":9093", alertmanager.Options{Dial: cl.DialContext, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c2 := "cassandra-2." + demo.Domain
	now := time.Now().UTC()
	id, err := am.Create(context.Background(), alertmanager.Silence{Matchers: alertmanager.HostMatchers([]string{c2}),
		StartsAt: now, EndsAt: now.Add(time.Hour), CreatedBy: "test", Comment: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"cassandra-2", "cassandra-3"} {
		if err := sim.InjectFault(d.SimState, h, "cassandra-stopped", ""); err != nil {
			t.Fatal(err)
		}
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := httpThrough(cl, "http://monitor."+demo.Domain+":9093/api/v2/alerts")
		if err == nil {
			body = resp
			if strings.Contains(body, "cassandra-3") && strings.Contains(body, id) {
				break
			}
		}
	}
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State      string   `json:"state"`
			SilencedBy []string `json:"silencedBy"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &alerts); err != nil {
		t.Fatalf("alerts: %v: %s", err, body)
	}
	got := map[string]string{}
	for _, a := range alerts {
		if a.Labels["alertname"] == "CassandraProcessStopped" {
			got[strings.SplitN(a.Labels["instance"], ".", 2)[0]] = a.Status.State + " " + strings.Join(a.Status.SilencedBy, ",")
		}
	}
	if got["cassandra-2"] != "suppressed "+id || got["cassandra-3"] != "active " {
		t.Errorf("alerts = %v, want cassandra-2 suppressed by %s and cassandra-3 active", got, id)
	}
	if err := am.Expire(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

// httpThrough GETs url through the bastion.
func httpThrough(cl *sshx.Client, url string) (string, error) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: cl.DialContext}}
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// From the monitor's first scrapes on, the CPU the console shows is the
// simulated load (5–34% of each CPU at rest), not the near-100% that
// rate(…[1m]) gives while its window holds only a few seconds of samples.
func TestDemoCPUTrueFromTheFirstScrapes(t *testing.T) {
	begin := time.Now()
	d := start(t, demo.Options{Cassandra: 3, Blue: 2, Envoy: 1, Prom: demo.PromOptions{ScrapeInterval: time.Second, EvalInterval: time.Second}})
	src := promThroughBastion(t, d)
	s := waitSnapshot(t, src, "CPU on every host", 20*time.Second, func(s *health.Snapshot) bool {
		for _, h := range s.Hosts {
			if h.CPU == nil {
				return false
			}
		}
		return len(s.Hosts) > 0
	})
	if age := time.Since(begin); age > 30*time.Second {
		t.Fatalf("the first snapshot with CPU came %s after start: the [1m] window was already full, the test shows nothing", age)
	}
	for _, h := range s.Hosts {
		// The simulated counters follow the wall clock at the moment each
		// exporter answers, Prometheus stamps the scrape's start: on a
		// loaded machine the two differ by tens of ms, so irate wobbles
		// around the simulated 5–34%. rate over the unfilled window gives
		// 90–99% on every host.
		if *h.CPU < 0 || *h.CPU > 60 {
			t.Errorf("%s: CPU %.1f%%, want about the simulated 5–34%%", h.Host.Name, *h.CPU)
		}
	}
}
