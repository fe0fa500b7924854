package health

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

var update = flag.Bool("update", false, "rewrite testdata/health/snapshot.json from the real Prometheus")

const emptyPromConfig = "global:\n  scrape_interval: 15s\n"

// TestPrometheusBackfilled runs the real Prometheus over backfilled series for
// the small inventory and checks every computed figure and state.
func TestPrometheusBackfilled(t *testing.T) {
	inv, om := smallScenario()
	data := backfill(t, om)
	base := startPrometheus(t, data, emptyPromConfig)

	// Reach Prometheus by the inventory's name through the dial hook, as the
	// bastion dialer will: monitor.<domain>:9090 -> the loopback port.
	var dials atomic.Int32
	real := strings.TrimPrefix(base, "http://")
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		if addr != inv.Endpoints.Prometheus {
			return nil, fmt.Errorf("unexpected dial to %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, real)
	}
	src, err := NewPrometheusSource(inv, "", PrometheusOptions{Dial: dial, Clock: func() time.Time { return evalTime }})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if *update {
		snap.Took = 0 // varies run to run
		b, _ := json.MarshalIndent(snap, "", "  ")
		if err := os.WriteFile(filepath.Join("..", "..", "testdata", "health", "snapshot.json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if dials.Load() == 0 {
		t.Error("the dial function was not used")
	}
	for _, e := range snap.Errors {
		t.Errorf("unexpected query error: %v", e)
	}
	if snap.Queries != len(wireQueries) || snap.Queries != 12 {
		t.Errorf("Queries = %d, want 12", snap.Queries)
	}
	if !snap.At.Equal(evalTime) {
		t.Errorf("At = %v, want %v", snap.At, evalTime)
	}

	want := map[string]struct {
		state  State
		reason string // substring of one reason
	}{
		"bastion-1":       {StateHealthy, ""},
		"cassandra-1":     {StateHealthy, ""},
		"cassandra-2":     {StateDegraded, "cassandra.service not active"},
		"cassandra-3":     {StateDown, "up=0"},
		"cassy-1":         {StateHealthy, ""},
		"reaper-1":        {StateDegraded, "container reaper last seen 1m0s ago"},
		"scalardl-blue-1": {StateHealthy, ""},
		"scalardl-blue-2": {StateDegraded, "/ 95.0% used (InstanceDriveSpaceLow"},
		"envoy-1":         {StateDegraded, "envoy: 1/2 scalar-service members healthy"},
		"monitor-1":       {StateHealthy, ""},
	}
	for short, w := range want {
		h, ok := snap.Host(short)
		if !ok {
			t.Errorf("%s missing", short)
			continue
		}
		if h.State != w.state {
			t.Errorf("%s: state %s, want %s (reasons %q)", short, h.State, w.state, h.Reasons)
		}
		if w.reason != "" && !strings.Contains(strings.Join(h.Reasons, "|"), w.reason) {
			t.Errorf("%s: reasons %q, want one containing %q", short, h.Reasons, w.reason)
		}
	}

	c1, _ := snap.Host("cassandra-1")
	near(t, "cassandra-1 CPU", c1.CPU, 60)
	near(t, "cassandra-1 Mem", c1.Mem, 40)
	near(t, "cassandra-1 DiskRoot", c1.DiskRoot, 50)
	near(t, "cassandra-1 DiskData", c1.DiskData, 80)
	near(t, "cassandra-1 Load1", c1.Load1, 0.5)
	near(t, "cassandra-1 load bytes", c1.CassandraLoadBytes, 1.5e9)
	near(t, "cassandra-1 pending", c1.PendingCompactions, 2)
	if c1.CassandraActive == nil || !*c1.CassandraActive {
		t.Errorf("cassandra-1 CassandraActive = %v", c1.CassandraActive)
	}
	b1, _ := snap.Host("scalardl-blue-1")
	near(t, "scalardl-blue-1 CPU", b1.CPU, 25)
	if b1.DiskData != nil {
		t.Errorf("scalardl-blue-1 has no /data, got %v", *b1.DiskData)
	}
	if b1.ContainerFresh == nil || !*b1.ContainerFresh || b1.ContainerAge == nil || *b1.ContainerAge != 0 {
		t.Errorf("scalardl-blue-1 container: fresh %v age %v", b1.ContainerFresh, b1.ContainerAge)
	}
	b2, _ := snap.Host("scalardl-blue-2")
	if len(b2.Alerts) != 1 || b2.Alerts[0].Name != "InstanceDriveSpaceLow" {
		t.Errorf("scalardl-blue-2 alerts = %+v", b2.Alerts)
	}
	if m, _ := snap.Host("monitor-1"); m.Up == nil || !*m.Up {
		t.Errorf("monitor-1 (instance = IP:port) not matched: %+v", m)
	}
	if b, _ := snap.Host("bastion-1"); b.CPU == nil {
		t.Errorf("bastion-1 (instance without port) not matched: %+v", b)
	}

	// Unmatched: every series of ghost-1 is listed, none dropped.
	ghost := 0
	for _, u := range snap.Unmatched {
		if strings.HasPrefix(u.Labels["instance"], "ghost-1.") {
			ghost++
		} else {
			t.Errorf("unexpected unmatched series %+v", u)
		}
	}
	if ghost != 6 { // up, cpu, memory, disk (/), load1, sample_age
		t.Errorf("unmatched ghost series = %d, want 6: %+v", ghost, snap.Unmatched)
	}

	// Firing alerts only: the pending EnvoyClusterDown is not listed.
	var names []string
	for _, a := range snap.Alerts {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "CassandraClusterDown,CassandraProcessStopped,InstanceDriveSpaceLow" {
		t.Errorf("alerts = %s", got)
	}

	c := snap.Cluster
	if c.CassandraActive != 1 || c.CassandraTotal != 3 {
		t.Errorf("cassandra %d/%d, want 1/3", c.CassandraActive, c.CassandraTotal)
	}
	if c.ScalarDLBlueActive != 2 || c.ScalarDLBlueTotal != 2 || c.ScalarDLGreenActive != 0 || c.EnvoyActive != 1 || c.EnvoyTotal != 1 {
		t.Errorf("cluster counts %+v", c)
	}
	if c.CountsFrom != "mixed" { // green has no recording-rule series
		t.Errorf("CountsFrom = %q", c.CountsFrom)
	}
	if c.Healthy != 5 || c.Degraded != 4 || c.Down != 1 || c.Unknown != 0 {
		t.Errorf("state counts %+v", c)
	}

	// Gates.
	if ok, why := snap.AllCassandraActive(); ok || !strings.Contains(why, "cassandra-2") || !strings.Contains(why, "cassandra-3") {
		t.Errorf("AllCassandraActive = %v %q", ok, why)
	}
	if ok, why := snap.ScalarDLServing("scalardl-blue-1"); ok || !strings.Contains(why, "1/2") {
		t.Errorf("ScalarDLServing(blue-1) = %v %q (envoy reports 1/2)", ok, why)
	}
	if ok, _ := snap.HostHealthy("cassandra-1." + domain); !ok {
		t.Error("HostHealthy(cassandra-1) = false")
	}
	if ok, why := snap.HostHealthy("cassandra-3"); ok || !strings.Contains(why, "down") {
		t.Errorf("HostHealthy(cassandra-3) = %v %q", ok, why)
	}

	// History: the same number of range queries whatever the hosts.
	hist, err := src.History(context.Background(), 4*time.Minute, 30*time.Second)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if hist.Queries != 4 || len(hist.Errors) != 0 {
		t.Errorf("history queries %d errors %v", hist.Queries, hist.Errors)
	}
	if pts := hist.CPU["cassandra-1."+domain]; len(pts) < 5 || math.Abs(pts[len(pts)-1].V-60) > 0.5 {
		t.Errorf("history CPU cassandra-1 = %+v", pts)
	}
	if len(hist.CassandraActive) == 0 || hist.CassandraActive[0].V != 1 {
		t.Errorf("history cassandra active = %+v", hist.CassandraActive)
	}
	if len(hist.ScalarDLBlue) == 0 || hist.ScalarDLBlue[0].V != 2 {
		t.Errorf("history blue = %+v", hist.ScalarDLBlue)
	}
}

func near(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no data, want %g", what, want)
		return
	}
	if math.Abs(*got-want) > 0.01*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %g, want %g", what, *got, want)
	}
}

// TestWireQueriesAnswerAsSeparate: the merged selectors that Snapshot sends
// (wireQueries) answer, for every named query, exactly the series the named
// query sent alone answers, in the same order, and the Snapshots built from
// the two are the same, against the real Prometheus over the small scenario
// with a few series that must not be picked up (another Cassandra stat, an
// Envoy cluster other than scalar-service, a labelled recording rule).
func TestWireQueriesAnswerAsSeparate(t *testing.T) {
	inv, om := smallScenario()
	om = strings.TrimSuffix(om, "# EOF\n")
	w := newOM()
	for _, short := range []string{"cassandra-1", "cassandra-2"} {
		cs := []string{"job=cassandra", "instance=" + short + "." + domain + ":7070", "role=cassandra"}
		everyStep(w, "cassandra_stats", append(cs, "name=org:apache:cassandra:metrics:storage:exceptions:count"), 7)
		everyStep(w, "cassandra_stats", append(cs, "name=org:apache:cassandra:metrics:compaction:pendingtasks:value", "keyspace=scalar"), 9)
	}
	everyStep(w, "envoy_cluster_membership_total", []string{"job=envoy", "instance=envoy-1." + domain + ":9001", "envoy_cluster_name=admin"}, 1)
	everyStep(w, "envoy_cluster_membership_healthy", []string{"job=envoy", "instance=envoy-2." + domain + ":9001", "envoy_cluster_name=scalar-service"}, 2)
	everyStep(w, "job:active_scalardl_green_nodes:count", []string{"dc=b"}, 4)
	everyStep(w, "job:active_scalardl_green_nodes:count", []string{"dc=a"}, 5)
	data := backfill(t, om+w.String())
	base := startPrometheus(t, data, emptyPromConfig)
	src, err := NewPrometheusSource(inv, base, PrometheusOptions{Clock: func() time.Time { return evalTime }})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.wire) >= len(snapshotQueries) {
		t.Fatalf("%d wire queries for %d named ones: nothing merged", len(src.wire), len(snapshotQueries))
	}
	ctx := context.Background()
	merged := map[string]model.Vector{}
	for _, q := range src.wire {
		vec, err := src.query(ctx, q.expr, evalTime)
		if err != nil {
			t.Fatalf("%s: %v", q.expr, err)
		}
		q.split(vec, merged)
	}
	for _, q := range snapshotQueries {
		alone, err := src.query(ctx, q.expr, evalTime)
		if err != nil {
			t.Fatalf("%s: %v", q.expr, err)
		}
		if got := merged[q.name]; !reflect.DeepEqual(got, alone) && !(len(got) == 0 && len(alone) == 0) {
			t.Errorf("%s: merged selector answers\n%v\nalone:\n%v", q.name, got, alone)
		}
	}
	if len(merged[QScalarDLGreen]) != 2 || len(merged[QPendingCompactions]) != 4 {
		t.Errorf("the extra series were not answered: green %v pending %v", merged[QScalarDLGreen], merged[QPendingCompactions])
	}

	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src.wire = nil
	for _, q := range snapshotQueries {
		src.wire = append(src.wire, wireQuery{expr: q.expr, names: []string{q.name}})
	}
	sep, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Queries != len(wireQueries) || sep.Queries != len(snapshotQueries) {
		t.Errorf("queries %d and %d", snap.Queries, sep.Queries)
	}
	snap.Took, sep.Took, snap.Queries, sep.Queries = 0, 0, 0, 0
	if !reflect.DeepEqual(snap, sep) {
		a, _ := json.MarshalIndent(snap, "", " ")
		b, _ := json.MarshalIndent(sep, "", " ")
		t.Errorf("snapshots differ:\nmerged %s\nseparate %s", a, b)
	}
}
