package sim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Ports returns the HTTP ports the host serves in the simulator (see Handler).
func Ports(role string) []int {
	ports := []int{PortNodeExporter}
	switch {
	case role == RoleCassandra:
		ports = append(ports, PortCassExporter)
	case role == RoleEnvoy:
		ports = append(ports, PortEnvoyAdmin, PortCadvisor)
	case role == RoleReaper:
		ports = append(ports, PortCadvisor, PortReaper)
	case isScalarDL(role) || role == RoleCassy || role == RoleMonitor:
		ports = append(ports, PortCadvisor)
	}
	return ports
}

// Handler returns the HTTP handler for host:port, or nil when nothing
// listens there: 8080 Reaper's REST API (see reaper.go), 9001 envoy admin
// (/clusters, /stats/prometheus), 18080
// cadvisor (/metrics), 7070 criteo cassandra_exporter (/metrics), 9100
// node_exporter (/metrics, the systemd and filesystem series only). The
// handler reads the state on every request.
func Handler(dir, host string, port int) http.Handler {
	st, err := Load(dir)
	if err != nil {
		return nil
	}
	h := st.Host(host)
	if h == nil {
		return nil
	}
	found := false
	for _, p := range Ports(h.Role) {
		found = found || p == port
	}
	if !found {
		return nil
	}
	name := h.Name
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := Load(dir)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h := st.Host(name)
		if h.Down() || !serviceUp(st, h, port) {
			// The process is gone: drop the connection like a refused/reset one.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			http.Error(w, "connection refused", http.StatusServiceUnavailable)
			return
		}
		now := time.Now().UTC()
		if port == PortReaper {
			serveReaper(w, r, st, now)
			return
		}
		var buf bytes.Buffer
		switch {
		case port == PortEnvoyAdmin && r.URL.Path == "/clusters":
			writeEnvoyClusters(&buf, st, now)
		case port == PortEnvoyAdmin && r.URL.Path == "/stats/prometheus":
			writeEnvoyStats(&buf, st, now)
		case port == PortEnvoyAdmin && r.URL.Path == "/ready":
			buf.WriteString("LIVE\n")
		case port == PortCadvisor && r.URL.Path == "/metrics":
			writeCadvisor(&buf, h, now)
		case port == PortCassExporter && r.URL.Path == "/metrics":
			writeCassandraExporter(&buf, st, h, now)
		case port == PortNodeExporter && r.URL.Path == "/metrics":
			writeNodeExporter(&buf, st, h, true)
		default:
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(r.URL.Path, "metrics") || strings.HasSuffix(r.URL.Path, "prometheus") {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "text/plain")
		}
		_, _ = w.Write(buf.Bytes())
	})
}

// serviceUp reports whether the process behind port runs on h.
func serviceUp(st *State, h *Host, port int) bool {
	switch port {
	case PortEnvoyAdmin:
		ct := h.Container("provision_envoy_1")
		return ct != nil && ct.Running
	case PortScalarAdmin:
		ct := h.ScalarContainer()
		return ct != nil && ct.Running
	case PortReaper:
		ct := h.Container("provision_reaper_1")
		return ct != nil && ct.Running
	}
	return true // node_exporter, cadvisor and cassandra_exporter are systemd units that keep running
}

func writeEnvoyClusters(w io.Writer, st *State, now time.Time) {
	for _, cluster := range []struct {
		name string
		port int
	}{{"scalar-service", 50051}, {"scalar-privileged", 50052}} {
		n := cluster.name
		fmt.Fprintf(w, "%s::default_priority::max_connections::1024\n%s::default_priority::max_pending_requests::1024\n", n, n)
		fmt.Fprintf(w, "%s::default_priority::max_requests::1024\n%s::default_priority::max_retries::3\n", n, n)
		fmt.Fprintf(w, "%s::high_priority::max_connections::1024\n%s::high_priority::max_pending_requests::1024\n", n, n)
		fmt.Fprintf(w, "%s::high_priority::max_requests::1024\n%s::high_priority::max_retries::3\n", n, n)
		fmt.Fprintf(w, "%s::added_via_api::false\n", n)
		for _, m := range st.EnvoyMembers(now) {
			addr := fmt.Sprintf("%s:%d", m.IP, cluster.port)
			flags := "healthy"
			active := 2
			if !m.Healthy {
				flags, active = "/failed_active_hc", 0
			}
			for _, kv := range []string{"cx_active::" + fmt.Sprint(active), "cx_connect_fail::0", "cx_total::" + fmt.Sprint(active+10),
				"rq_active::0", "rq_error::0", "rq_success::" + fmt.Sprint(active*100), "rq_timeout::0", "rq_total::" + fmt.Sprint(active*100),
				"hostname::scalardl.internal.scalar-labs.com", "health_flags::" + flags, "weight::1", "region::", "zone::", "sub_zone::",
				"canary::false", "priority::0", "success_rate::-1", "local_origin_success_rate::-1"} {
				fmt.Fprintf(w, "%s::%s::%s\n", n, addr, kv)
			}
		}
	}
}

func writeEnvoyStats(w io.Writer, st *State, now time.Time) {
	members := st.EnvoyMembers(now)
	healthy := 0
	for _, m := range members {
		if m.Healthy {
			healthy++
		}
	}
	clusters := []string{"scalar-privileged", "scalar-service"}
	gauge := func(name string, val int) {
		fmt.Fprintf(w, "# TYPE %s gauge\n", name)
		for _, c := range clusters {
			fmt.Fprintf(w, "%s{envoy_cluster_name=%q} %d\n", name, c, val)
		}
	}
	gauge("envoy_cluster_membership_healthy", healthy)
	gauge("envoy_cluster_membership_total", len(members))
	gauge("envoy_cluster_membership_degraded", 0)
	fmt.Fprintf(w, "# TYPE envoy_cluster_health_check_healthy gauge\n")
	for _, c := range clusters {
		fmt.Fprintf(w, "envoy_cluster_health_check_healthy{envoy_cluster_name=%q} %d\n", c, healthy)
	}
	fmt.Fprintf(w, "# TYPE envoy_server_live gauge\nenvoy_server_live 1\n")
}

func writeCadvisor(w io.Writer, h *Host, now time.Time) {
	fmt.Fprintf(w, "# HELP container_last_seen Last time a container was seen by the exporter\n# TYPE container_last_seen gauge\n")
	for _, ct := range h.Containers {
		if !ct.Running {
			continue // cadvisor stops reporting a container once it is gone
		}
		fmt.Fprintf(w, "container_last_seen{container_label_com_docker_compose_config_hash=%q,container_label_com_docker_compose_container_number=\"1\",container_label_com_docker_compose_oneoff=\"False\",container_label_com_docker_compose_project=\"provision\",container_label_com_docker_compose_service=%q,container_label_com_docker_compose_version=\"1.26.1\",id=%q,image=%q,name=%q} %d\n",
			ct.ID[:64], ct.Service, "/docker/"+ct.ID, ct.Image, ct.Name, now.Unix())
	}
	fmt.Fprintf(w, "# HELP container_start_time_seconds Start time of the container since unix epoch in seconds.\n# TYPE container_start_time_seconds gauge\n")
	for _, ct := range h.Containers {
		if ct.Running {
			fmt.Fprintf(w, "container_start_time_seconds{container_label_com_docker_compose_service=%q,id=%q,image=%q,name=%q} %d\n",
				ct.Service, "/docker/"+ct.ID, ct.Image, ct.Name, ct.StartedAt.Unix())
		}
	}
}

// writeCassandraExporter renders criteo cassandra_exporter 2.x style
// cassandra_stats series; it exports nothing while Cassandra is down (JMX unreachable).
func writeCassandraExporter(w io.Writer, st *State, h *Host, now time.Time) {
	fmt.Fprintf(w, "# HELP cassandra_stats node_stats\n# TYPE cassandra_stats gauge\n")
	if !st.CassandraUp(h, now) {
		return
	}
	cl := st.Config.ClusterName
	// Label order, the trailing comma and Java's Double.toString values are
	// as criteo's exporter prints them, e.g.
	// cassandra_stats{cluster="Test Cluster",datacenter="dc1",keyspace="",table="",name="java:lang:runtime:uptime",} 458763.0
	stat := func(ks, table, name string, v float64) {
		fmt.Fprintf(w, "cassandra_stats{cluster=%q,datacenter=\"dc1\",keyspace=%q,table=%q,name=%q,} %s\n", cl, ks, table, name, javaDouble(v))
	}
	stat("", "", "java:lang:runtime:uptime", float64(now.Sub(h.Cassandra.StartedAt).Milliseconds()))
	stat("", "", "org:apache:cassandra:metrics:storage:load:count", h.Cassandra.LoadBytes)
	stat("", "", "org:apache:cassandra:metrics:compaction:pendingtasks:value", float64(pendingCompactions(st, h, now)))
	stat("", "", "org:apache:cassandra:metrics:compaction:completedtasks:value", 1234)
	exc := 0.0
	if h.HasFault(FaultDiskFull) {
		exc = 17
	}
	stat("", "", "org:apache:cassandra:metrics:storage:exceptions:count", exc)
	for _, ks := range st.Config.Keyspaces {
		for _, t := range keyspaceTables[ks] {
			stat(ks, t, "org:apache:cassandra:metrics:table:"+ks+":"+t+":livediskspaceused:count", h.Cassandra.LoadBytes/10)
			stat(ks, t, "org:apache:cassandra:metrics:table:"+ks+":"+t+":pendingcompactions:value", 0)
		}
	}
}

// javaDouble formats v like Java's Double.toString ("0.0", "458763.0", "1.2884901888E9").
func javaDouble(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	if a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'E', -1, 64)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}

// unitStates are node_exporter's systemd states, in its order.
var unitStates = []string{"activating", "active", "deactivating", "failed", "inactive"}

// writeNodeExporter renders node_systemd_unit_state for the host's units.
// withFS adds node_filesystem_* for /data (not allowed in a textfile, where
// the real filesystem collector owns those names).
func writeNodeExporter(w io.Writer, st *State, h *Host, withFS bool) {
	units := map[string]string{"td-agent.service": "active", "docker.service": "active"}
	if h.Role == RoleBastion {
		delete(units, "docker.service")
	}
	if h.Cassandra != nil {
		units["cassandra.service"] = "inactive"
		if h.Cassandra.Active && !h.Down() {
			units["cassandra.service"] = "active"
		}
		units["cassandra_exporter.service"] = "active"
		delete(units, "docker.service")
	}
	fmt.Fprintf(w, "# HELP node_systemd_unit_state Systemd unit\n# TYPE node_systemd_unit_state gauge\n")
	for _, u := range []string{"cassandra.service", "cassandra_exporter.service", "docker.service", "td-agent.service"} {
		cur, ok := units[u]
		if !ok {
			continue
		}
		for _, s := range unitStates {
			v := 0
			if s == cur {
				v = 1
			}
			fmt.Fprintf(w, "node_systemd_unit_state{name=%q,state=%q} %d\n", u, s, v)
		}
	}
	if !withFS {
		return
	}
	writeMachine(w, h, time.Now())
	fss := filesystems(h)
	fmt.Fprintf(w, "# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.\n# TYPE node_filesystem_avail_bytes gauge\n")
	for _, f := range fss {
		fmt.Fprintf(w, "node_filesystem_avail_bytes{device=%q,fstype=\"xfs\",mountpoint=%q} %g\n", f.dev, f.mount, f.avail)
	}
	fmt.Fprintf(w, "# HELP node_filesystem_size_bytes Filesystem size in bytes.\n# TYPE node_filesystem_size_bytes gauge\n")
	for _, f := range fss {
		fmt.Fprintf(w, "node_filesystem_size_bytes{device=%q,fstype=\"xfs\",mountpoint=%q} %g\n", f.dev, f.mount, f.size)
	}
}

// writeMachine renders the machine series a real node_exporter has (CPU
// seconds, memory, load, the root filesystem) for the demo, where no real
// exporter runs. The figures are steady per host (derived from its name) and
// the CPU counters grow with wall time, so rates come out as the host's load.
func writeMachine(w io.Writer, h *Host, now time.Time) {
	var sum uint32
	for _, c := range h.Name {
		sum = sum*31 + uint32(c)
	}
	busy := 0.05 + float64(sum%30)/100 // 5%..34% of each CPU
	if h.Cassandra != nil && len(h.Cassandra.Repairs) > 0 {
		busy += 0.3
	}
	memUsed := 0.30 + float64(sum/30%40)/100
	const cpus = 2
	t := float64(now.UnixMilli()) / 1000
	fmt.Fprintf(w, "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n")
	for cpu := 0; cpu < cpus; cpu++ {
		fmt.Fprintf(w, "node_cpu_seconds_total{cpu=\"%d\",mode=\"idle\"} %.3f\n", cpu, t*(1-busy))
		fmt.Fprintf(w, "node_cpu_seconds_total{cpu=\"%d\",mode=\"system\"} %.3f\n", cpu, t*busy*0.3)
		fmt.Fprintf(w, "node_cpu_seconds_total{cpu=\"%d\",mode=\"user\"} %.3f\n", cpu, t*busy*0.7)
	}
	total := 8.0 * (1 << 30)
	fmt.Fprintf(w, "# HELP node_memory_MemAvailable_bytes Memory information field MemAvailable_bytes.\n# TYPE node_memory_MemAvailable_bytes gauge\n")
	fmt.Fprintf(w, "node_memory_MemAvailable_bytes %g\n", total*(1-memUsed))
	fmt.Fprintf(w, "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.\n# TYPE node_memory_MemTotal_bytes gauge\n")
	fmt.Fprintf(w, "node_memory_MemTotal_bytes %g\n", total)
	fmt.Fprintf(w, "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\n")
	fmt.Fprintf(w, "node_load1 %.2f\n", busy*cpus)
}

// WriteTextfile writes the node_exporter textfile-collector file
// <outDir>/sim.prom for host atomically (temp file + rename):
// node_systemd_unit_state for cassandra.service, td-agent.service, ...
// plus scalar_sim_disk_full (the lab's stand-in for the filesystem metrics).
func WriteTextfile(dir, host, outDir string) error {
	st, err := Load(dir)
	if err != nil {
		return err
	}
	h := st.Host(host)
	if h == nil {
		return fmt.Errorf("unknown host %q", host)
	}
	var buf bytes.Buffer
	writeNodeExporter(&buf, st, h, false)
	full := 0
	if h.HasFault(FaultDiskFull) {
		full = 1
	}
	fmt.Fprintf(&buf, "# HELP scalar_sim_disk_full 1 when the simulator's disk-full fault is active.\n# TYPE scalar_sim_disk_full gauge\nscalar_sim_disk_full %d\n", full)
	tmp, err := os.CreateTemp(outDir, ".sim-*.prom")
	if err != nil {
		return fmt.Errorf("textfile: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("textfile: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("textfile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("textfile: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(outDir, "sim.prom")); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("textfile: %w", err)
	}
	return nil
}
