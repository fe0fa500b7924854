package health

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"scalar-tui/inventory"
)

func TestInstanceHost(t *testing.T) {
	for in, want := range map[string]string{
		"cassandra-1.internal.scalar-labs.com:9100": "cassandra-1.internal.scalar-labs.com",
		"cassandra-1.internal.scalar-labs.com":      "cassandra-1.internal.scalar-labs.com",
		"10.42.2.10:9100":                           "10.42.2.10",
		"10.42.2.10":                                "10.42.2.10",
		"[::1]:9100":                                "::1",
		"::1":                                       "::1",
		"":                                          "",
	} {
		if got := InstanceHost(in); got != want {
			t.Errorf("InstanceHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostIndexMatch(t *testing.T) {
	ix := newHostIndex(smallInventory().Hosts)
	for inst, want := range map[string]string{
		"cassandra-2.internal.scalar-labs.com:9100":  "cassandra-2",
		"CASSANDRA-2.internal.scalar-labs.com.:9100": "cassandra-2",
		"cassandra-2.internal.scalar-labs.com":       "cassandra-2",
		"10.42.2.11:7070":                            "cassandra-2",
		"10.42.2.11":                                 "cassandra-2",
		"cassandra-2:9100":                           "cassandra-2",
		"cassandra-9.internal.scalar-labs.com:9100":  "",
		"scalardl-blue-1.other-domain:9100":          "",
	} {
		i, ok := ix.match(inst)
		got := ""
		if ok {
			got = smallInventory().Hosts[i].Short
		}
		if got != want {
			t.Errorf("match(%q) = %q, want %q", inst, got, want)
		}
	}
}

func TestStateText(t *testing.T) {
	for s, want := range map[State]string{StateUnknown: "unknown", StateHealthy: "healthy", StateDegraded: "degraded", StateDown: "down", State(42): "unknown"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
	b, _ := json.Marshal(struct{ S State }{StateDegraded})
	if string(b) != `{"S":"degraded"}` {
		t.Errorf("json = %s", b)
	}
	var back struct{ S State }
	if err := json.Unmarshal(b, &back); err != nil || back.S != StateDegraded {
		t.Errorf("round trip: %v %v", back.S, err)
	}
	var zero HostHealth
	if zero.State != StateUnknown {
		t.Error("zero HostHealth must be unknown, never healthy")
	}
}

func sample(v float64, kv ...string) *model.Sample {
	m := model.Metric{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
	}
	return &model.Sample{Metric: m, Value: model.SampleValue(v)}
}

// TestJudgeRules pins the state rules of the package comment, one case each.
func TestJudgeRules(t *testing.T) {
	inv := &inventory.Inventory{Hosts: []inventory.Host{
		host("cassandra-1", inventory.RoleCassandra, 1, "10.42.2.10"),
		host("scalardl-green-1", inventory.RoleScalarDLGreen, 1, "10.42.4.10"),
		host("envoy-1", inventory.RoleEnvoy, 1, "10.42.1.10"),
	}}
	up := func(hosts ...string) model.Vector {
		var v model.Vector
		for _, h := range hosts {
			v = append(v, sample(1, "instance", h+"."+domain+":9100", "job", "host"))
		}
		return v
	}
	base := func() map[string]model.Vector {
		return map[string]model.Vector{
			QUp:               up("cassandra-1", "scalardl-green-1", "envoy-1"),
			QCassandraService: {sample(1, "instance", "cassandra-1."+domain+":9100")},
			QContainerAge: {
				sample(3, "instance", "scalardl-green-1."+domain+":18080", "container_label_com_docker_compose_service", "scalar"),
				sample(2, "instance", "envoy-1."+domain+":18080", "container_label_com_docker_compose_service", "envoy"),
			},
			QEnvoyHealthy: {sample(3, "instance", "envoy-1."+domain+":9001")},
			QEnvoyTotal:   {sample(3, "instance", "envoy-1."+domain+":9001")},
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(v map[string]model.Vector, failed map[string]bool)
		host   string
		state  State
		reason string
	}{
		{"all good", func(map[string]model.Vector, map[string]bool) {}, "envoy-1", StateHealthy, ""},
		{"no up series", func(v map[string]model.Vector, _ map[string]bool) { v[QUp] = up("envoy-1") }, "cassandra-1", StateUnknown, "no up"},
		{"up query failed", func(v map[string]model.Vector, f map[string]bool) { delete(v, QUp); f[QUp] = true }, "envoy-1", StateUnknown, "up query failed"},
		{"up=0", func(v map[string]model.Vector, _ map[string]bool) { v[QUp][0].Value = 0 }, "cassandra-1", StateDown, "up=0"},
		{"cassandra inactive", func(v map[string]model.Vector, _ map[string]bool) { v[QCassandraService][0].Value = 0 }, "cassandra-1", StateDegraded, "cassandra.service not active"},
		{"cassandra no series", func(v map[string]model.Vector, _ map[string]bool) { delete(v, QCassandraService) }, "cassandra-1", StateDegraded, "no cassandra.service state"},
		{"cassandra query failed", func(v map[string]model.Vector, f map[string]bool) {
			delete(v, QCassandraService)
			f[QCassandraService] = true
		}, "cassandra-1", StateUnknown, "cassandra_service"},
		{"container stale", func(v map[string]model.Vector, _ map[string]bool) { v[QContainerAge][0].Value = 16 }, "scalardl-green-1", StateDegraded, "container scalar last seen 16s ago"},
		{"container exactly 15s is fresh", func(v map[string]model.Vector, _ map[string]bool) { v[QContainerAge][0].Value = 15 }, "scalardl-green-1", StateHealthy, ""},
		{"container missing", func(v map[string]model.Vector, _ map[string]bool) { v[QContainerAge] = v[QContainerAge][1:] }, "scalardl-green-1", StateDegraded, "no container_last_seen for scalar"},
		{"wrong service ignored", func(v map[string]model.Vector, _ map[string]bool) {
			v[QContainerAge][0].Metric["container_label_com_docker_compose_service"] = "cqlsh"
		}, "scalardl-green-1", StateDegraded, "no container_last_seen"},
		{"envoy member ejected", func(v map[string]model.Vector, _ map[string]bool) { v[QEnvoyHealthy][0].Value = 2 }, "envoy-1", StateDegraded, "2/3"},
		{"envoy no members", func(v map[string]model.Vector, _ map[string]bool) {
			v[QEnvoyHealthy][0].Value = 0
			v[QEnvoyTotal][0].Value = 0
		}, "envoy-1", StateDegraded, "no scalar-service members"},
		{"disk low", func(v map[string]model.Vector, _ map[string]bool) {
			v[QDisk] = model.Vector{sample(9.5, "instance", "envoy-1."+domain+":9100", "mountpoint", "/")}
		}, "envoy-1", StateDegraded, "/ 90.5% used (InstanceDriveSpaceLow fires above 90% used)"},
		{"critical alert only degrades", func(v map[string]model.Vector, _ map[string]bool) {
			v[QAlerts] = model.Vector{sample(1, "__name__", "ALERTS", "alertname", "TdAgentDown", "severity", "critical", "instance", "envoy-1."+domain+":9100")}
		}, "envoy-1", StateDegraded, "alert TdAgentDown firing (critical)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, failed := base(), map[string]bool{}
			tc.mutate(v, failed)
			snap := build(inv, time.Unix(0, 0), "test", observations{vectors: v, failed: failed})
			h, _ := snap.Host(tc.host)
			if h.State != tc.state {
				t.Errorf("%s: %s %q, want %s", tc.host, h.State, h.Reasons, tc.state)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(h.Reasons, "|"), tc.reason) {
				t.Errorf("reasons %q lack %q", h.Reasons, tc.reason)
			}
		})
	}
}

func TestGatesWithoutData(t *testing.T) {
	var empty Snapshot
	if ok, why := empty.AllCassandraActive(); ok || why == "" {
		t.Error("AllCassandraActive on empty snapshot")
	}
	if ok, why := empty.HostHealthy("x"); ok || !strings.Contains(why, "not in the inventory") {
		t.Errorf("HostHealthy = %v %q", ok, why)
	}
	if ok, _ := empty.ScalarDLServing("x"); ok {
		t.Error("ScalarDLServing on empty snapshot")
	}
	snap := build(smallInventory(), time.Unix(100, 0), "t", observations{})
	if ok, why := snap.ScalarDLServing("cassandra-1"); ok || !strings.Contains(why, "not Scalar DL") {
		t.Errorf("ScalarDLServing(cassandra) = %v %q", ok, why)
	}
	if got := snap.Age(time.Unix(130, 0)); got != 30*time.Second {
		t.Errorf("Age = %s", got)
	}
}

func FuzzInstanceMatch(f *testing.F) {
	for _, s := range []string{"cassandra-1.internal.scalar-labs.com:9100", "[::1]:1", "10.42.2.10", ":", "[", "]:", ""} {
		f.Add(s)
	}
	ix := newHostIndex(smallInventory().Hosts)
	f.Fuzz(func(t *testing.T, inst string) {
		_ = InstanceHost(inst)
		ix.match(inst)
		build(smallInventory(), time.Unix(0, 0), "fuzz", observations{vectors: map[string]model.Vector{
			QUp:           {sample(1, "instance", inst)},
			QAlerts:       {sample(1, "instance", inst, "alertname", "X")},
			QContainerAge: {sample(1, "instance", inst)},
		}})
	})
}

func TestHostsFromSeries(t *testing.T) {
	hosts := HostsFromSeries([]Series{
		{Query: QUp, Labels: map[string]string{"instance": "scalardl-blue-2." + domain + ":9100", "role": "scalardl-blue"}},
		{Query: QUp, Labels: map[string]string{"instance": "cassandra-1." + domain + ":9100", "role": "cassandra"}},
		{Query: QCPU, Labels: map[string]string{"instance": "cassandra-1." + domain + ":9100"}},
		{Query: QUp, Labels: map[string]string{"instance": "10.42.1.20:9100", "role": "monitor"}},
		{Query: QUp, Labels: map[string]string{"instance": "cassandra-1." + domain + ":9100", "role": "cassandra"}},
	})
	if len(hosts) != 3 || hosts[0].Short != "cassandra-1" || hosts[0].Index != 1 || hosts[1].Short != "10.42.1.20" || hosts[2].Index != 2 {
		t.Errorf("hosts = %+v", hosts)
	}
}
