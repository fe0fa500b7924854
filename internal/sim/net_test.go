package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"scalar-tui/ops/scalaradmin"
)

// serveHost starts Serve for host on loopback and returns port → address.
func serveHost(t *testing.T, dir, host string, opts ServeOptions) map[int]string {
	t.Helper()
	var mu sync.Mutex
	addrs := map[int]string{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	want := len(Ports(mustHost(t, dir, host).Role))
	if isScalarDL(mustHost(t, dir, host).Role) {
		want++
	}
	go func() {
		done <- Serve(ctx, dir, host, func(port int) (net.Listener, error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err == nil {
				mu.Lock()
				addrs[port] = ln.Addr().String()
				if len(addrs) == want {
					close(ready)
				}
				mu.Unlock()
			}
			return ln, err
		}, opts)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not listen")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	mu.Lock()
	defer mu.Unlock()
	out := map[int]string{}
	for k, v := range addrs {
		out[k] = v
	}
	return out
}

func mustHost(t *testing.T, dir, host string) *Host {
	t.Helper()
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := st.Host(host)
	if h == nil {
		t.Fatalf("no host %s", host)
	}
	return h
}

func scrape(t *testing.T, url string) map[string]int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse %s: %v\n%s", url, err, body)
	}
	out := map[string]int{}
	for name, f := range fams {
		out[name] = len(f.GetMetric())
	}
	return out
}

func labelValue(t *testing.T, url, metric string, labels map[string]string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := fams[metric]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		if m.GetGauge() != nil {
			return m.GetGauge().GetValue(), true
		}
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

func TestHTTPEndpoints(t *testing.T) {
	dir := newCluster(t)
	cas := serveHost(t, dir, cass1, ServeOptions{})
	sdl := serveHost(t, dir, sdl1, ServeOptions{})
	env := serveHost(t, dir, env1, ServeOptions{})

	cassURL := "http://" + cas[PortCassExporter] + "/metrics"
	load, ok := labelValue(t, cassURL, "cassandra_stats", map[string]string{"name": "org:apache:cassandra:metrics:storage:load:count", "cluster": "ScalarDL", "datacenter": "dc1"})
	if !ok || load < 1<<30 {
		t.Errorf("cassandra load = %v %v", load, ok)
	}
	if _, ok := labelValue(t, cassURL, "cassandra_stats", map[string]string{"name": "org:apache:cassandra:metrics:compaction:pendingtasks:value"}); !ok {
		t.Error("no pending compactions")
	}
	nodeURL := "http://" + cas[PortNodeExporter] + "/metrics"
	if v, ok := labelValue(t, nodeURL, "node_systemd_unit_state", map[string]string{"name": "cassandra.service", "state": "active"}); !ok || v != 1 {
		t.Errorf("cassandra active = %v %v", v, ok)
	}
	run(t, dir, cass1, "sudo", "systemctl", "stop", "cassandra")
	if v, _ := labelValue(t, nodeURL, "node_systemd_unit_state", map[string]string{"name": "cassandra.service", "state": "active"}); v != 0 {
		t.Errorf("cassandra active after stop = %v", v)
	}
	if n := scrape(t, cassURL)["cassandra_stats"]; n != 0 {
		t.Errorf("exporter still reports %d series with Cassandra down", n)
	}

	cadURL := "http://" + sdl[PortCadvisor] + "/metrics"
	lbl := map[string]string{"container_label_com_docker_compose_service": "scalar", "name": "provision_scalar_1"}
	seen, ok := labelValue(t, cadURL, "container_last_seen", lbl)
	if !ok || time.Since(time.Unix(int64(seen), 0)) > 5*time.Second {
		t.Errorf("container_last_seen = %v %v", seen, ok)
	}
	run(t, dir, sdl1, "docker", "stop", "provision_scalar_1")
	if _, ok := labelValue(t, cadURL, "container_last_seen", lbl); ok {
		t.Error("stopped container still seen")
	}

	envURL := "http://" + env[PortEnvoyAdmin] + "/stats/prometheus"
	if v, ok := labelValue(t, envURL, "envoy_cluster_membership_healthy", map[string]string{"envoy_cluster_name": "scalar-service"}); !ok || v != 2 {
		t.Errorf("membership healthy = %v %v, want 2", v, ok)
	}
	resp, err := http.Get("http://" + env[PortEnvoyAdmin] + "/clusters")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "scalar-service::10.42.3.5:50051::health_flags::/failed_active_hc\n") ||
		!strings.Contains(string(body), "scalar-service::10.42.3.6:50051::health_flags::healthy\n") {
		t.Errorf("clusters:\n%s", body)
	}

	// node-down: endpoints drop connections.
	if err := InjectFault(dir, env1, FaultNodeDown, ""); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(envURL); err == nil {
		resp.Body.Close()
		t.Error("down host answered")
	}
}

func TestTextfile(t *testing.T) {
	dir := newCluster(t)
	out := t.TempDir()
	if err := InjectFault(dir, cass1, FaultCassandraStopped, ""); err != nil {
		t.Fatal(err)
	}
	if err := WriteTextfile(dir, cass1, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "sim.prom"))
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if _, ok := fams["node_systemd_unit_state"]; !ok {
		t.Fatalf("no unit state:\n%s", b)
	}
	if !strings.Contains(string(b), `node_systemd_unit_state{name="cassandra.service",state="active"} 0`) ||
		!strings.Contains(string(b), `node_systemd_unit_state{name="cassandra.service",state="inactive"} 1`) {
		t.Errorf("textfile:\n%s", b)
	}
}

func TestAdminPauseUnpause(t *testing.T) {
	dir := newCluster(t)
	addrs := serveHost(t, dir, sdl1, ServeOptions{})
	conn, err := grpc.NewClient(addrs[PortScalarAdmin], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := scalaradmin.NewAdminClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cl.Pause(ctx, &scalaradmin.PauseRequest{WaitOutstanding: true}); err != nil {
		t.Fatalf("pause: %v", err)
	}
	r, err := cl.CheckPaused(ctx, &emptypb.Empty{})
	if err != nil || !r.GetPaused() {
		t.Fatalf("check paused: %v %v", r, err)
	}
	if !mustHost(t, dir, sdl1).Paused {
		t.Error("model not paused")
	}
	if _, err := cl.Unpause(ctx, &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if r, _ := cl.CheckPaused(ctx, &emptypb.Empty{}); r.GetPaused() {
		t.Error("still paused")
	}
	if err := InjectFault(dir, sdl1, FaultPauseRefused, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Pause(ctx, &scalaradmin.PauseRequest{WaitOutstanding: true}); status.Code(err) != codes.Internal {
		t.Errorf("pause-refused: %v", err)
	}
	run(t, dir, sdl1, "docker", "stop", "provision_scalar_1")
	if _, err := cl.Unpause(ctx, &emptypb.Empty{}); status.Code(err) != codes.Unavailable {
		t.Errorf("container stopped: %v", err)
	}
	s, err := cl.Stats(ctx, &emptypb.Empty{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("stats: %v %v", s, err)
	}
}

func TestServeInMemory(t *testing.T) {
	dir := newCluster(t)
	lns := map[int]*ConnListener{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- Serve(ctx, dir, sdl1, func(port int) (net.Listener, error) {
			l := NewConnListener(fmt.Sprintf("10.42.3.5:%d", port))
			mu.Lock()
			lns[port] = l
			if len(lns) == 3 {
				close(ready)
			}
			mu.Unlock()
			return l, nil
		}, ServeOptions{})
	}()
	<-ready
	defer func() { cancel(); <-done }()
	mu.Lock()
	admin, cad := lns[PortScalarAdmin], lns[PortCadvisor]
	mu.Unlock()
	conn, err := grpc.NewClient("passthrough:///sim", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return admin.Dial() }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := scalaradmin.NewAdminClient(conn).Pause(ctx, &scalaradmin.PauseRequest{}); err != nil {
		t.Fatalf("pause over pipe: %v", err)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return cad.Dial() }}}
	resp, err := hc.Get("http://10.42.3.5:18080/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `name="provision_scalar_1"`) {
		t.Errorf("cadvisor over pipe:\n%s", body)
	}
}

// Reaper on reaper-1:8080 answers the login and lists its runs in Reaper
// 1.4.8's RepairRunStatus shape, RUNNING until the run's duration passed.
func TestReaperAPI(t *testing.T) {
	dir := newCluster(t)
	const reaper = "reaper-1.internal.scalar-labs.com"
	addrs := serveHost(t, dir, reaper, ServeOptions{})
	base := "http://" + addrs[PortReaper]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/repair_run?state=RUNNING", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"username": {"admin"}, "password": {"admin"}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %v %v", resp, err)
	}
	resp.Body.Close()
	_, tok := get("/jwt", "")
	if code, body := get("/repair_run?state=RUNNING", tok); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("no runs: %d %s", code, body)
	}
	run, err := StartReaperRun(dir, "scalar", "alice", "nightly", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/repair_run?state=RUNNING", "/repair_run/cluster/" + ReaperCluster} {
		code, body := get(path, tok)
		var runs []map[string]any
		if err := json.Unmarshal([]byte(body), &runs); code != 200 || err != nil || len(runs) != 1 {
			t.Fatalf("%s: %d %v %s", path, code, err, body)
		}
		r := runs[0]
		if r["id"] != run.ID || r["state"] != "RUNNING" || r["keyspace_name"] != "scalar" || r["cluster_name"] != "scalardl" ||
			r["owner"] != "alice" || r["total_segments"] != 200.0 || r["end_time"] != nil {
			t.Errorf("%s: %v", path, r)
		}
	}
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.ReaperRuns[0].status(run.Start.Add(2 * time.Hour)); s["state"] != "DONE" || s["segments_repaired"] != 200 {
		t.Errorf("after its duration: %v", s)
	}
}
