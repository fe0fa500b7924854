package backend

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/tui/vm"
)

// testRunbooks stands in for ops/runbook.For: the one alert the tests fire.
func testRunbooks(a health.Alert) (vm.Runbook, bool) {
	switch a.Name {
	case "CassandraProcessStopped":
		host := a.Host
		if host == "" {
			host = health.InstanceHost(a.Instance)
		}
		return RunbookView(RunbookAction{Alert: a.Name, Title: "Restart Cassandra on " + host, Workflow: "restart-cassandra",
			HostOption: "host", Host: host, Doc: "docs/CassandraProcessStopped.md",
			Commands: []string{"ssh -F ssh.cfg " + host, "sudo systemctl start cassandra"}}), true
	case "CassandraClusterDown":
		return RunbookView(RunbookAction{Alert: a.Name, Title: "Start Cassandra on every stopped node", Doc: "docs/CassandraClusterDown.md",
			Commands: []string{"sudo systemctl restart cassandra"}}), true
	}
	return vm.Runbook{}, false
}

// The ALERTS series lack the rule's annotations and the time the alert
// became active: both come from /api/v1/alerts (its real answer format),
// matched by labels; the runbook comes from the mapping.
func TestAnnotateAlerts(t *testing.T) {
	body, err := os.ReadFile("testdata/alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	details, err := parseAlertDetails(body)
	if err != nil {
		t.Fatal(err)
	}
	c2 := "cassandra-2.internal.scalar-labs.com"
	stopped := health.Alert{Name: "CassandraProcessStopped", Severity: "warning", Instance: c2 + ":9100", Host: c2,
		Labels: map[string]string{"alertname": "CassandraProcessStopped", "alertstate": "firing", "instance": c2 + ":9100", "job": "host",
			"name": "cassandra.service", "role": "cassandra", "severity": "warning", "state": "active"}}
	cluster := health.Alert{Name: "CassandraClusterDown", Severity: "critical",
		Labels: map[string]string{"alertname": "CassandraClusterDown", "alertstate": "firing", "severity": "critical"}}
	other := health.Alert{Name: "InstanceHighCPUUtilization", Instance: "envoy-1:9100",
		Labels: map[string]string{"alertname": "InstanceHighCPUUtilization", "alertstate": "firing", "instance": "envoy-1:9100"}}
	snap := &health.Snapshot{
		Hosts:  []health.HostHealth{{Host: inventory.Host{Name: c2, Role: inventory.RoleCassandra}, Alerts: []health.Alert{stopped}}},
		Alerts: []health.Alert{cluster, stopped, other},
	}
	v := HealthView(snap)
	annotateAlerts(&v, snap, details, testRunbooks)

	host := v.Hosts[0].Alerts[0]
	if host.Summary != "Cassandra process stopped on "+c2+":9100" {
		t.Errorf("summary = %q", host.Summary)
	}
	if want := time.Date(2026, 11, 24, 11, 57, 30, 123456789, time.UTC); !host.Since.Equal(want) {
		t.Errorf("since = %v, want %v", host.Since, want)
	}
	if host.Runbook == nil || host.Runbook.Workflow != "restart-cassandra" || host.Runbook.Host != c2 {
		t.Fatalf("runbook = %+v", host.Runbook)
	}
	if p := host.Runbook.Params(); len(p.Hosts) != 1 || p.Hosts[0] != c2 || p.Options["host"] != c2 {
		t.Errorf("plan params = %+v", p)
	}
	if got := v.Alerts[0]; got.Summary != "Cassandra cluster down" || got.Since.IsZero() || got.Runbook == nil || got.Runbook.Runnable() {
		t.Errorf("cluster alert = %+v (runbook %+v)", got, got.Runbook)
	}
	if got := v.Alerts[1]; got.Runbook == nil || got.Since.IsZero() {
		t.Errorf("host alert in the cluster list = %+v", got)
	}
	if got := v.Alerts[2]; got.Runbook != nil || !got.Since.IsZero() || got.Summary != "" {
		t.Errorf("alert without details or runbook = %+v", got)
	}
}

func TestParseAlertDetailsErrors(t *testing.T) {
	for _, body := range []string{`{"status":"error","error":"bad"}`, `not json`} {
		if _, err := parseAlertDetails([]byte(body)); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
}

func TestRunbookView(t *testing.T) {
	r := RunbookView(RunbookAction{Title: "Restart the alertmanager container on monitor-1", Workflow: "restart-container",
		HostOption: "host", Host: "monitor-1.d", Options: map[string]string{"service": "alertmanager"}, NoSilence: true, Doc: "docs/AlertmanagerContainerDown.md"})
	want := map[string]string{"host": "monitor-1.d", "service": "alertmanager", "no-silence": "true"}
	if len(r.Options) != len(want) {
		t.Fatalf("options = %v, want %v", r.Options, want)
	}
	for k, v := range want {
		if r.Options[k] != v {
			t.Errorf("option %s = %q, want %q", k, r.Options[k], v)
		}
	}
	if r.Workflow != "restart-container" || !r.Runnable() {
		t.Errorf("runbook = %+v", r)
	}
	manual := RunbookView(RunbookAction{Title: "x", Doc: "docs/EnvoyClusterDown.md", Commands: []string{"docker ps"}})
	if manual.Runnable() || manual.Options != nil || len(manual.Commands) != 1 {
		t.Errorf("manual runbook = %+v", manual)
	}
}

// newFaultBackend is a backend over a demo started with fault, its alert
// details read from the demo's Prometheus and runbooks from rb.
func newFaultBackend(t *testing.T, fault string, rb RunbookFunc) (*Backend, *demo.Demo) {
	t.Helper()
	d, err := demo.Start(context.Background(), demo.Options{SimBinary: os.Args[0], Fault: fault})
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	b, err := New(Config{
		LoadInventory: func(ctx context.Context) (*inventory.Inventory, error) {
			return inventory.Load(ctx, inventory.Options{TFRoot: d.TFRoot})
		},
		Connect: func(inv *inventory.Inventory) (*sshx.Client, error) {
			return sshx.New(sshx.Config{BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: d.Identity,
				KnownHostsFile: d.KnownHosts, NoAgent: true})
		},
		HealthSource: func(inv *inventory.Inventory, dial health.DialFunc) (health.Source, error) {
			return health.NewPrometheusSource(inv, "", health.PrometheusOptions{Dial: dial, Timeout: 2 * time.Second})
		},
		StateDir: t.TempDir(),
		Runbooks: rb,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, d
}

// On the demo with Cassandra stopped on cassandra-2, the real rule fires in
// the demo's Prometheus and the backend shows it on cassandra-2 with the
// rule's summary, since when, and the restart runbook for that host.
func TestAlertWithRunbookOnDemo(t *testing.T) {
	b, _ := newFaultBackend(t, "cassandra-2:cassandra-stopped", testRunbooks)
	c2 := "cassandra-2.internal.scalar-labs.com"
	var last vm.HealthView
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		hv, err := b.Health(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		last = hv
		for _, r := range hv.Hosts {
			for _, a := range r.Alerts {
				if r.Host.Name != c2 || a.Name != "CassandraProcessStopped" {
					continue
				}
				if !strings.Contains(a.Summary, "Cassandra process stopped on cassandra-2") || a.Since.IsZero() {
					t.Fatalf("alert without the rule's summary or since: %+v (errors %v)", a, hv.Errors)
				}
				if a.Runbook == nil || a.Runbook.Workflow != "restart-cassandra" || a.Runbook.Host != c2 {
					t.Fatalf("runbook = %+v", a.Runbook)
				}
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("CassandraProcessStopped never fired on %s; alerts %+v, errors %v", c2, last.Alerts, last.Errors)
}
