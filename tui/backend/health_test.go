package backend

import (
	"strings"
	"testing"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/tui/vm"
)

func ptr[T any](v T) *T { return &v }

func TestHealthView(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cass := inventory.Host{Name: "cassandra-1.internal.scalar-labs.com", Role: inventory.RoleCassandra}
	blue := inventory.Host{Name: "scalardl-blue-1.internal.scalar-labs.com", Role: inventory.RoleScalarDLBlue}
	envoy := inventory.Host{Name: "envoy-1.internal.scalar-labs.com", Role: inventory.RoleEnvoy}
	snap := &health.Snapshot{
		At: at, Source: "prometheus http://monitor:9090",
		Hosts: []health.HostHealth{
			{Host: cass, State: health.StateDegraded, Reasons: []string{"cassandra.service not active"},
				CassandraActive: ptr(false), DiskRoot: ptr(70.0), Alerts: []health.Alert{{Name: "CassandraProcessStopped", Severity: "warning", Host: cass.Name}}},
			{Host: blue, State: health.StateDegraded, ContainerService: "scalar", ContainerFresh: ptr(false), ContainerAge: ptr(42 * time.Second),
				ContainerImage: "ghcr.io/scalar-labs/scalar-ledger:2.1.1"},
			{Host: envoy, State: health.StateHealthy, ContainerService: "envoy", ContainerFresh: ptr(true), EnvoyHealthyMembers: ptr(2), EnvoyTotalMembers: ptr(3)},
		},
		Cluster: health.Cluster{CassandraActive: 2, CassandraTotal: 3, ScalarDLBlueActive: 3, ScalarDLBlueServing: 2, ScalarDLBlueTotal: 3, EnvoyActive: 0, EnvoyTotal: 3},
		Errors:  []health.QueryError{{Query: "cpu", Message: "timeout"}},
	}
	v := HealthView(snap)
	if v.At != at || v.Source != snap.Source {
		t.Errorf("header = %v %q", v.At, v.Source)
	}
	if len(v.Hosts) != 3 {
		t.Fatalf("hosts = %d", len(v.Hosts))
	}
	c := v.Hosts[0]
	if c.State != vm.StateDegraded || c.Service != "cassandra inactive" || c.ServiceState != vm.StateDegraded {
		t.Errorf("cassandra row = %+v", c)
	}
	if c.DiskRoot == nil || *c.DiskRoot != 30 {
		t.Errorf("disk used = %v, want 30 (70%% free)", c.DiskRoot)
	}
	if len(c.Alerts) != 1 || c.Alerts[0].Instance != cass.Name {
		t.Errorf("alerts = %+v", c.Alerts)
	}
	if b := v.Hosts[1]; b.Service != "scalar stale 42s" || b.ServiceState != vm.StateDegraded || b.ImageTag != "2.1.1" {
		t.Errorf("scalardl row service = %q %s, running tag %q", b.Service, b.ServiceState, b.ImageTag)
	}
	if e := v.Hosts[2]; e.Service != "envoy 2/3" || e.ServiceState != vm.StateDegraded {
		t.Errorf("envoy row service = %q %s", e.Service, e.ServiceState)
	}
	want := []vm.ClusterLine{
		{Name: "Cassandra", Summary: "2/3 active", State: vm.StateDegraded},
		// The recording rule counts 3 containers running; Envoy serves 2.
		{Name: "Scalar DL blue", Summary: "2/3 serving, 3 running", State: vm.StateDegraded},
		{Name: "Envoy", Summary: "0/3 running", State: vm.StateDown},
	}
	if len(v.Cluster) != len(want) {
		t.Fatalf("cluster = %+v", v.Cluster)
	}
	for i := range want {
		if v.Cluster[i] != want[i] {
			t.Errorf("cluster[%d] = %+v, want %+v", i, v.Cluster[i], want[i])
		}
	}
	if v.Overall() != vm.StateDown {
		t.Errorf("overall = %s", v.Overall())
	}
	if len(v.Errors) != 1 || v.Errors[0] != "cpu: timeout" {
		t.Errorf("errors = %v", v.Errors)
	}
	if got := HealthView(nil); got.State != vm.StateUnknown {
		t.Errorf("nil snapshot state = %s", got.State)
	}
}

// TestHealthViewHeaderFromHostStates: one degraded host (a disk past its alert
// rule) makes the header degraded although every cluster line is healthy; a
// Scalar DL node Envoy does not serve says so in its service cell and in the
// blue line, and its running tag is the one cadvisor reports. On the old code
// the header stayed healthy and the line said 3/3 serving.
func TestHealthViewHeaderFromHostStates(t *testing.T) {
	cass := inventory.Host{Name: "cassandra-1.internal.scalar-labs.com", Role: inventory.RoleCassandra}
	blue := inventory.Host{Name: "scalardl-blue-1.internal.scalar-labs.com", Role: inventory.RoleScalarDLBlue, ImageTag: "2.1.0"}
	snap := &health.Snapshot{
		Hosts: []health.HostHealth{
			{Host: cass, State: health.StateDegraded, Reasons: []string{"/data 80.0% used (CassandraDriveSpaceLow fires above 75% used)"},
				CassandraActive: ptr(true), DiskData: ptr(20.0), DiskDataUsed: ptr(80.0)},
			{Host: blue, State: health.StateHealthy, ContainerService: "scalar", ContainerFresh: ptr(true), ContainerAge: ptr(time.Second),
				ContainerImage: "ghcr.io/scalar-labs/scalar-ledger:2.2.0", RunningImageTag: "2.2.0", ImageDrift: true, Serving: ptr(true)},
		},
		Cluster: health.Cluster{CassandraActive: 1, CassandraTotal: 1, ScalarDLBlueActive: 1, ScalarDLBlueServing: 1, ScalarDLBlueTotal: 1},
	}
	v := HealthView(snap)
	for _, l := range v.Cluster {
		if l.State != vm.StateHealthy {
			t.Fatalf("cluster line %+v should be healthy for this test", l)
		}
	}
	if v.Overall() != vm.StateDegraded {
		t.Errorf("header = %s, want degraded (one degraded host)", v.Overall())
	}
	if d := v.Hosts[0].DiskData; d == nil || *d != 80 {
		t.Errorf("disk used = %v", d)
	}
	if b := v.Hosts[1]; b.Service != "scalar serving" || b.ImageTag != "2.2.0" || b.TagText() != "2.2.0 ≠ state 2.1.0" {
		t.Errorf("blue row = %q, tag %q (%q)", b.Service, b.ImageTag, b.TagText())
	}

	snap.Hosts[1].State, snap.Hosts[1].Serving = health.StateDegraded, ptr(false)
	snap.Cluster.ScalarDLBlueServing = 0
	v = HealthView(snap)
	if b := v.Hosts[1]; b.Service != "scalar NOT SERVING" || b.ServiceState != vm.StateDegraded {
		t.Errorf("not serving row = %q %s", b.Service, b.ServiceState)
	}
	if l := v.Cluster[1]; l.Summary != "0/1 serving, 1 running" || l.State != vm.StateDown {
		t.Errorf("blue line = %+v", l)
	}
}

// TestScrapedHistoryLabelled: while Prometheus is down the host detail gets
// the console's own scraped samples, labelled as such (before: "no history").
func TestScrapedHistoryLabelled(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &health.History{Start: t0, End: t0.Add(time.Minute), Scraped: true,
		CPU:          map[string][]health.Point{"a.d": {{T: t0.Add(30 * time.Second), V: 10}, {T: t0.Add(time.Minute), V: 20}}},
		ScalarDLBlue: []health.Point{{T: t0, V: 3}}}
	v, err := scrapedHistory(h, "a.d")
	if err != nil || v.Label != "since start, scraped" || v.Window != time.Minute || len(v.CPU) != 2 || v.CPU[1] != 20 || len(v.Cluster["Scalar DL blue"]) != 1 {
		t.Errorf("history = %+v, %v", v, err)
	}
	if _, err := scrapedHistory(&health.History{}, "a.d"); err == nil || !strings.Contains(err.Error(), "no history yet") {
		t.Errorf("empty: %v", err)
	}
}
