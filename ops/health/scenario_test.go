package health

import (
	"fmt"
	"time"

	"scalar-tui/inventory"
)

// evalTime is the fixed evaluation time of the backfilled scenarios. Retention
// is measured from the newest block, so an old fixed time is fine.
var evalTime = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// scenarioWindow is how far back before evalTime the scenarios write samples.
var scenarioWindow = 5 * time.Minute

// hostSpec describes the series written for one host.
type hostSpec struct {
	instHost    string  // host part of the instance label; "" = the FQDN
	noPort      bool    // write the instance label without a port
	up          float64 // up{job="host"}
	idlePerCPU  float64 // idle seconds per second per CPU (2 CPUs): CPU% = 100*(1-idle)
	memUsedPct  float64
	rootFreePct float64
	dataFreePct float64 // 0 = no /data mount
	load1       float64
	cassActive  float64 // cassandra hosts: 1 or 0; -1 = no series
	container   float64 // docker roles: age in seconds of container_last_seen; -1 = no series
	envoyHealth [2]float64
	cassLoad    float64
	pending     float64
}

func defaultSpec(r inventory.Role) hostSpec {
	s := hostSpec{up: 1, idlePerCPU: 0.75, memUsedPct: 40, rootFreePct: 50, load1: 0.5, cassActive: -1, container: -1}
	if r == inventory.RoleCassandra {
		s.cassActive, s.dataFreePct, s.cassLoad, s.pending = 1, 80, 1.5e9, 2
	}
	if containerService(r) != "" {
		s.container = 0
	}
	if r == inventory.RoleEnvoy {
		s.envoyHealth = [2]float64{3, 3}
	}
	return s
}

// writeHost adds the series of one host for the 5 minutes up to evalTime, every 15s.
func writeHost(w *omWriter, h inventory.Host, s hostSpec) {
	ih := s.instHost
	if ih == "" {
		ih = h.Name
	}
	inst := func(port int) string {
		if s.noPort {
			return ih
		}
		return fmt.Sprintf("%s:%d", ih, port)
	}
	role := "role=" + string(h.Role)
	node := []string{"job=host", "instance=" + inst(9100), role}
	with := func(extra ...string) []string { return append(append([]string{}, node...), extra...) }
	start := evalTime.Add(-scenarioWindow)
	for t := start; !t.After(evalTime); t = t.Add(15 * time.Second) {
		el := t.Sub(start).Seconds() + 1000
		w.add("up", node, t, s.up)
		if s.up == 0 { // a failed scrape stores only up
			continue
		}
		for _, cpu := range []string{"0", "1"} {
			w.add("node_cpu_seconds_total", with("cpu="+cpu, "mode=idle"), t, s.idlePerCPU*el)
			w.add("node_cpu_seconds_total", with("cpu="+cpu, "mode=user"), t, (1-s.idlePerCPU)*el)
		}
		w.add("node_memory_MemTotal_bytes", node, t, 8e9)
		w.add("node_memory_MemAvailable_bytes", node, t, 8e9*(1-s.memUsedPct/100))
		root := with("mountpoint=/", "device=/dev/nvme0n1p1", "fstype=xfs")
		w.add("node_filesystem_size_bytes", root, t, 100e9)
		w.add("node_filesystem_avail_bytes", root, t, 100e9*s.rootFreePct/100)
		if s.dataFreePct > 0 {
			data := with("mountpoint=/data", "device=/dev/nvme1n1", "fstype=xfs")
			w.add("node_filesystem_size_bytes", data, t, 500e9)
			w.add("node_filesystem_avail_bytes", data, t, 500e9*s.dataFreePct/100)
		}
		w.add("node_load1", node, t, s.load1)
		if s.cassActive >= 0 {
			w.add("node_systemd_unit_state", with("name=cassandra.service", "state=active", "type=simple"), t, s.cassActive)
			cs := []string{"job=cassandra", "instance=" + inst(7070), role, "cluster=ScalarDL", "datacenter=dc1"}
			w.add("cassandra_stats", append(cs, "name=org:apache:cassandra:metrics:storage:load:count"), t, s.cassLoad)
			w.add("cassandra_stats", append(cs, "name=org:apache:cassandra:metrics:compaction:pendingtasks:value"), t, s.pending)
		}
		if svc := containerService(h.Role); svc != "" && s.container >= 0 {
			w.add("container_last_seen", []string{"job=cadvisor", "instance=" + inst(18080), role,
				"container_label_com_docker_compose_service=" + svc, "name=provision_" + svc + "_1"},
				t, float64(t.Unix())-s.container)
		}
		if h.Role == inventory.RoleEnvoy {
			el := []string{"job=envoy", "instance=" + inst(9001), role, "envoy_cluster_name=scalar-service"}
			w.add("envoy_cluster_membership_healthy", el, t, s.envoyHealth[0])
			w.add("envoy_cluster_membership_total", el, t, s.envoyHealth[1])
		}
	}
}

// everyStep adds a series with a constant value over the scenario's 5 minutes.
func everyStep(w *omWriter, name string, labels []string, v float64) {
	for t := evalTime.Add(-scenarioWindow); !t.After(evalTime); t = t.Add(15 * time.Second) {
		w.add(name, labels, t, v)
	}
}

// smallScenario is the deterministic fixture: see TestPrometheusBackfilled for
// what each host is meant to show.
func smallScenario() (*inventory.Inventory, string) {
	inv := smallInventory()
	w := newOM()
	for _, h := range inv.Hosts {
		s := defaultSpec(h.Role)
		switch h.Short {
		case "bastion-1":
			s.noPort = true
		case "cassandra-1":
			s.idlePerCPU = 0.4 // 60% CPU
		case "cassandra-2":
			s.cassActive = 0
		case "cassandra-3":
			s.up = 0
		case "reaper-1":
			s.container = 60
		case "scalardl-blue-2":
			s.rootFreePct = 5
		case "envoy-1":
			s.envoyHealth = [2]float64{1, 2}
		case "monitor-1":
			s.instHost = h.PrivateIP
		}
		writeHost(w, h, s)
	}
	ghost := inventory.Host{Name: "ghost-1." + domain, Role: "ghost"}
	writeHost(w, ghost, hostSpec{up: 1, idlePerCPU: 0.5, memUsedPct: 10, rootFreePct: 90, cassActive: -1, container: -1})
	everyStep(w, "ALERTS", []string{"alertname=CassandraProcessStopped", "alertstate=firing", "severity=warning",
		"instance=cassandra-2." + domain + ":9100", "job=host", "role=cassandra"}, 1)
	everyStep(w, "ALERTS", []string{"alertname=InstanceDriveSpaceLow", "alertstate=firing", "severity=warning",
		"instance=scalardl-blue-2." + domain + ":9100", "job=host", "role=scalardl-blue"}, 1)
	everyStep(w, "ALERTS", []string{"alertname=EnvoyClusterDown", "alertstate=pending", "severity=critical"}, 1)
	everyStep(w, "ALERTS", []string{"alertname=CassandraClusterDown", "alertstate=firing", "severity=critical"}, 1)
	everyStep(w, "job:active_scalardl_blue_nodes:count", nil, 2)
	everyStep(w, "job:active_envoy_nodes:count", nil, 1)
	return inv, w.String()
}
