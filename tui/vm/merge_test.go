package vm

import (
	"testing"

	"scalar-tui/inventory"
)

func TestMerge(t *testing.T) {
	inv := &inventory.Inventory{Hosts: []inventory.Host{
		{Name: "envoy-1.d", Short: "envoy-1", Role: inventory.RoleEnvoy, Index: 1},
		{Name: "cassandra-2.d", Short: "cassandra-2", Role: inventory.RoleCassandra, Index: 2},
		{Name: "cassandra-1.d", Short: "cassandra-1", Role: inventory.RoleCassandra, Index: 1, PrivateIP: "10.42.2.10"},
	}}
	hv := HealthView{
		Hosts: []HostRow{
			{Host: inventory.Host{Name: "cassandra-1.d"}, State: StateDown, Service: "cassandra inactive"},
			{Host: inventory.Host{Name: "ghost-1.d"}, State: StateDown},
		},
		Alerts: []AlertView{{Name: "CassandraProcessStopped", Instance: "cassandra-1.d"}},
	}
	rows := Merge(inv, hv)
	var names []string
	for _, r := range rows {
		names = append(names, r.Host.Name)
	}
	want := []string{"cassandra-1.d", "cassandra-2.d", "envoy-1.d", "ghost-1.d"}
	if len(names) != len(want) {
		t.Fatalf("names %v", names)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("order %v, want %v", names, want)
		}
	}
	if rows[0].State != StateDown || rows[0].Host.PrivateIP != "10.42.2.10" || len(rows[0].Alerts) != 1 {
		t.Errorf("joined row %+v", rows[0])
	}
	if rows[1].State != StateUnknown {
		t.Errorf("host without health: %q, want unknown", rows[1].State)
	}
}

func TestWorstAndOverall(t *testing.T) {
	if w := Worst(StateHealthy, StateUnknown, StateDegraded); w != StateDegraded {
		t.Errorf("Worst = %s", w)
	}
	if w := Worst(); w != StateUnknown {
		t.Errorf("Worst() = %s", w)
	}
	hv := HealthView{Cluster: []ClusterLine{{State: StateHealthy}, {State: StateDown}}}
	if s := hv.Overall(); s != StateDown {
		t.Errorf("Overall = %s", s)
	}
}
