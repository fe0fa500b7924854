package gates_test

import (
	"context"
	"errors"
	"testing"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow/gates"
)

type staticSource struct {
	snap *health.Snapshot
	err  error
}

func (s staticSource) Snapshot(context.Context) (*health.Snapshot, error) { return s.snap, s.err }

func TestAlertClear(t *testing.T) {
	h := inventory.Host{Name: "cassandra-2.internal.scalar-labs.com", Short: "cassandra-2", PrivateIP: "10.42.2.11"}
	other := inventory.Host{Name: "cassandra-1.internal.scalar-labs.com", Short: "cassandra-1"}
	active := true
	snap := func(alerts ...health.Alert) *health.Snapshot {
		return &health.Snapshot{Alerts: alerts, Hosts: []health.HostHealth{{Host: h, CassandraActive: &active}}}
	}
	names := []string{"CassandraProcessStopped"}
	for _, c := range []struct {
		name string
		src  health.Source
		want bool
		err  bool
	}{
		{"none firing", staticSource{snap: snap()}, true, false},
		{"firing by instance", staticSource{snap: snap(health.Alert{Name: names[0], Instance: h.Name + ":9100"})}, false, false},
		{"firing by IP instance", staticSource{snap: snap(health.Alert{Name: names[0], Instance: "10.42.2.11:9100"})}, false, false},
		{"firing by matched host", staticSource{snap: snap(health.Alert{Name: names[0], Host: h.Name})}, false, false},
		{"another host's", staticSource{snap: snap(health.Alert{Name: names[0], Host: other.Name})}, true, false},
		{"another alert", staticSource{snap: snap(health.Alert{Name: "InstanceHighCPUUtilization", Host: h.Name})}, true, false},
		{"source error fails closed", staticSource{err: errors.New("down")}, false, true},
	} {
		ok, why, err := gates.AlertClear(context.Background(), c.src, h, names, nil)
		if ok != c.want || (err != nil) != c.err {
			t.Errorf("%s: ok %v (%s), err %v", c.name, ok, why, err)
		}
	}
	// The check on the host's health must pass too.
	ok, _, _ := gates.AlertClear(context.Background(), staticSource{snap: snap()}, h, names, func(hh health.HostHealth) (bool, string) {
		return false, "no"
	})
	if ok {
		t.Error("failed check passed")
	}
	if ok, _, err := gates.AlertClear(context.Background(), nil, h, names, nil); ok || err == nil {
		t.Error("nil source passed")
	}
}
