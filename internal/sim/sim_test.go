package sim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/ops/nodetool"
)

// TestMain doubles as a helper process so tests can run the simulator from
// several OS processes at once (as the lab's hosts do).
func TestMain(m *testing.M) {
	if os.Getenv("SIM_TEST_HELPER") == "1" {
		argv := strings.Fields(os.Getenv("SIM_TEST_ARGS"))
		os.Exit(Main(context.Background(), argv, nil, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const (
	cass1 = "cassandra-1.internal.scalar-labs.com"
	cass2 = "cassandra-2.internal.scalar-labs.com"
	sdl1  = "scalardl-blue-1.internal.scalar-labs.com"
	env1  = "envoy-1.internal.scalar-labs.com"
)

func newCluster(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.RepairDuration = Duration(400 * time.Millisecond)
	cfg.ServingDelay = Duration(150 * time.Millisecond)
	cfg.CassandraStartDelay = 0
	cfg.PauseDrain = Duration(20 * time.Millisecond)
	if err := InitWithConfig(dir, DefaultHosts(""), cfg); err != nil {
		t.Fatal(err)
	}
	return dir
}

type result struct {
	rc             int
	stdout, stderr string
}

func run(t *testing.T, dir, host string, args ...string) result {
	t.Helper()
	return runCtx(context.Background(), t, dir, host, "", args...)
}

func runCtx(ctx context.Context, t *testing.T, dir, host, stdin string, args ...string) result {
	t.Helper()
	var o, e bytes.Buffer
	env := map[string]string{EnvState: dir, EnvHost: host, "PWD": t.TempDir()}
	rc := Main(ctx, args, env, strings.NewReader(stdin), &o, &e)
	return result{rc, o.String(), e.String()}
}

func statusOf(t *testing.T, dir, host string) map[string]nodetool.Node {
	t.Helper()
	r := run(t, dir, host, "nodetool", "status")
	if r.rc != 0 {
		t.Fatalf("nodetool status rc=%d %s", r.rc, r.stderr)
	}
	nodes, err := nodetool.ParseStatus(r.stdout)
	if err != nil {
		t.Fatalf("parse status: %v\n%s", err, r.stdout)
	}
	m := map[string]nodetool.Node{}
	for _, n := range nodes {
		m[n.Address] = n
	}
	return m
}

func TestStatusStopStart(t *testing.T) {
	dir := newCluster(t)
	m := statusOf(t, dir, cass1)
	if len(m) != 3 {
		t.Fatalf("nodes = %v", m)
	}
	for a, n := range m {
		if !n.UN() || n.Tokens != 256 || n.OwnsPercent != 100 || n.Datacenter != "dc1" {
			t.Errorf("%s: %+v", a, n)
		}
	}
	if r := run(t, dir, cass2, "sudo", "systemctl", "stop", "cassandra"); r.rc != 0 {
		t.Fatalf("stop: %+v", r)
	}
	if r := run(t, dir, cass2, "systemctl", "is-active", "cassandra.service"); r.rc != 3 || strings.TrimSpace(r.stdout) != "inactive" {
		t.Errorf("is-active after stop: %+v", r)
	}
	m = statusOf(t, dir, cass1)
	if n := m["10.42.2.11"]; n.Status != "D" || n.State != "N" {
		t.Errorf("stopped node: %+v", n)
	}
	r := run(t, dir, cass2, "nodetool", "status")
	if r.rc != 1 || !strings.Contains(r.stderr, "Connection refused") {
		t.Errorf("nodetool on stopped node: %+v", r)
	}
	run(t, dir, cass2, "sudo", "systemctl", "start", "cassandra")
	if n := statusOf(t, dir, cass1)["10.42.2.11"]; !n.UN() {
		t.Errorf("after start: %+v", n)
	}
}

func parseRepair(t *testing.T, out string) []nodetool.RepairEvent {
	t.Helper()
	var evs []nodetool.RepairEvent
	for _, l := range strings.Split(out, "\n") {
		if ev, ok := nodetool.ParseRepairLine(l); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}

func TestRepairProgress(t *testing.T) {
	dir := newCluster(t)
	r := run(t, dir, cass1, "nodetool", "repair", "-full", "-pr", "scalar")
	if r.rc != 0 {
		t.Fatalf("repair rc=%d\n%s\n%s", r.rc, r.stdout, r.stderr)
	}
	evs := parseRepair(t, r.stdout)
	if len(evs) < 4 || evs[0].Kind != nodetool.RepairStarted || evs[0].Keyspace != "scalar" || evs[0].Command != 1 {
		t.Fatalf("events: %+v", evs)
	}
	last := -1.0
	sawCompleted := false
	for _, ev := range evs[1:] {
		if ev.Percent >= 0 {
			if ev.Percent <= last {
				t.Errorf("progress not increasing: %v after %v", ev.Percent, last)
			}
			last = ev.Percent
		}
		sawCompleted = sawCompleted || ev.Kind == nodetool.RepairCompleted
	}
	if last != 100 || !sawCompleted || evs[len(evs)-1].Kind != nodetool.RepairFinished {
		t.Errorf("last=%v completed=%v events=%+v", last, sawCompleted, evs)
	}
	// Without a keyspace every configured keyspace is repaired, one command each.
	r = run(t, dir, cass1, "nodetool", "repair", "-full")
	starts := 0
	for _, ev := range parseRepair(t, r.stdout) {
		if ev.Kind == nodetool.RepairStarted {
			starts++
		}
	}
	if r.rc != 0 || starts != 2 {
		t.Errorf("all keyspaces: rc=%d starts=%d", r.rc, starts)
	}
}

func TestRepairFaults(t *testing.T) {
	dir := newCluster(t)
	if err := InjectFault(dir, cass1, FaultRepairFails, ""); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, cass1, "nodetool", "repair", "-full", "-pr", "scalar")
	evs := parseRepair(t, r.stdout+r.stderr)
	if r.rc != 2 || !strings.HasPrefix(r.stderr, "error: Repair job has failed with the error message: ") {
		t.Errorf("repair-fails: rc=%d stderr=%s", r.rc, r.stderr)
	}
	failed := false
	for _, ev := range evs {
		failed = failed || ev.Kind == nodetool.RepairFailed
	}
	if !failed {
		t.Errorf("no failed event: %+v", evs)
	}
	if err := ClearFault(dir, cass1, ""); err != nil {
		t.Fatal(err)
	}

	if err := InjectFault(dir, cass1, FaultRepairHangs, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 900*time.Millisecond)
	defer cancel()
	r = runCtx(ctx, t, dir, cass1, "", "nodetool", "repair", "-full", "-pr", "scalar")
	if r.rc == 0 {
		t.Errorf("hanging repair finished: %s", r.stdout)
	}
	for _, ev := range parseRepair(t, r.stdout) {
		if ev.Percent > 50 || ev.Kind == nodetool.RepairCompleted {
			t.Errorf("hang went past 50%%: %+v", ev)
		}
	}
	_ = ClearFault(dir, cass1, FaultRepairHangs)

	// A dead neighbour makes the repair fail at once, like Cassandra 3.11.
	run(t, dir, cass2, "systemctl", "stop", "cassandra")
	r = run(t, dir, cass1, "nodetool", "repair", "-full", "-pr", "scalar")
	if r.rc != 2 || !strings.Contains(r.stdout, "Cannot proceed on repair because a neighbor (/10.42.2.11) is dead") {
		t.Errorf("dead neighbour: %+v", r)
	}
}

func TestSnapshotsAndInfo(t *testing.T) {
	dir := newCluster(t)
	r := run(t, dir, cass1, "nodetool", "listsnapshots")
	if snaps, err := nodetool.ParseListSnapshots(r.stdout); err != nil || len(snaps) != 0 {
		t.Fatalf("empty listsnapshots: %v %v %q", snaps, err, r.stdout)
	}
	r = run(t, dir, cass1, "nodetool", "snapshot", "-t", "backup-20261124", "scalar", "coordinator")
	want := "Requested creating snapshot(s) for [scalar, coordinator] with snapshot name [backup-20261124] and options {skipFlush=false}\nSnapshot directory: backup-20261124\n"
	if r.rc != 0 || r.stdout != want {
		t.Fatalf("snapshot: %+v", r)
	}
	if r := run(t, dir, cass1, "nodetool", "snapshot", "-t", "backup-20261124", "scalar"); r.rc != 2 {
		t.Errorf("duplicate tag accepted: %+v", r)
	}
	r = run(t, dir, cass1, "nodetool", "listsnapshots")
	snaps, err := nodetool.ParseListSnapshots(r.stdout)
	if err != nil || len(snaps) != 7 || snaps[0].Name != "backup-20261124" || snaps[0].Keyspace != "scalar" {
		t.Fatalf("listsnapshots: %v %+v\n%s", err, snaps, r.stdout)
	}
	run(t, dir, cass1, "nodetool", "clearsnapshot", "-t", "backup-20261124")
	r = run(t, dir, cass1, "nodetool", "listsnapshots")
	if strings.TrimSpace(r.stdout) != "There are no snapshots" {
		t.Errorf("after clear: %q", r.stdout)
	}
	r = run(t, dir, cass1, "nodetool", "info")
	info, err := nodetool.ParseInfo(r.stdout)
	if err != nil || !info.GossipActive || info.Rack != "rack1" || info.Datacenter != "dc1" {
		t.Errorf("info: %+v %v", info, err)
	}
	if err := InjectFault(dir, cass1, FaultDiskFull, ""); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, cass1, "nodetool", "snapshot", "-t", "x"); r.rc != 2 || !strings.Contains(r.stderr, "No space left") {
		t.Errorf("disk-full snapshot: %+v", r)
	}
	if r := run(t, dir, cass1, "nodetool", "compactionstats"); !strings.HasPrefix(r.stdout, "pending tasks: 12") {
		t.Errorf("compactionstats: %q", r.stdout)
	}
}

func TestUpgradeFlow(t *testing.T) {
	dir := newCluster(t)
	const img = "ghcr.io/scalar-labs/scalar-ledger:2.1.1"
	if r := run(t, dir, sdl1, "docker", "image", "inspect", img); r.rc != 1 || !strings.Contains(r.stderr, "Error: No such image: "+img) || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("inspect missing: %+v", r)
	}
	if err := InjectFault(dir, sdl1, FaultImageLoadFails, ""); err != nil {
		t.Fatal(err)
	}
	if r := runCtx(context.Background(), t, dir, sdl1, "image: "+img+"\n", "docker", "load"); r.rc != 1 {
		t.Errorf("image-load-fails: %+v", r)
	}
	_ = ClearFault(dir, sdl1, FaultImageLoadFails)
	r := runCtx(context.Background(), t, dir, sdl1, "image: "+img+"\n", "docker", "load")
	if r.rc != 0 || r.stdout != "Loaded image: "+img+"\n" {
		t.Fatalf("load: %+v", r)
	}
	if r := run(t, dir, sdl1, "docker", "image", "inspect", img); r.rc != 0 || !strings.Contains(r.stdout, `"RepoTags"`) {
		t.Errorf("inspect: %+v", r)
	}
	var o, e bytes.Buffer
	env := map[string]string{EnvState: dir, EnvHost: sdl1, "SCALAR_IMAGE": img}
	if rc := Main(context.Background(), []string{"docker-compose", "up", "-d"}, env, nil, &o, &e); rc != 0 || !strings.Contains(e.String(), "Recreating provision_scalar_1 ... done") {
		t.Fatalf("compose up: rc=%d %s", rc, e.String())
	}
	probe := []string{"docker", "exec", "provision_scalar_1", "/bin/grpc_health_probe", "-addr=:50051"}
	if r := run(t, dir, sdl1, probe...); r.rc != 2 {
		t.Errorf("probe while starting: %+v", r)
	}
	if healthyIn(t, dir, "10.42.3.5") {
		t.Error("envoy healthy while starting")
	}
	time.Sleep(200 * time.Millisecond)
	if r := run(t, dir, sdl1, probe...); r.rc != 0 || r.stdout != "status: SERVING\n" {
		t.Errorf("probe ready: %+v", r)
	}
	if !healthyIn(t, dir, "10.42.3.5") {
		t.Error("envoy not healthy after SERVING")
	}
	if r := run(t, dir, sdl1, "docker", "ps", "--format", "{{.Names}} {{.Image}}"); r.stdout != "provision_scalar_1 "+img+"\n" {
		t.Errorf("ps: %q", r.stdout)
	}
	if err := InjectFault(dir, sdl1, FaultBadTag, "2.1.1"); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, sdl1, probe...); r.rc != 4 || !strings.Contains(r.stderr, `service unhealthy (responded with "NOT_SERVING")`) {
		t.Errorf("bad tag: %+v", r)
	}
	run(t, dir, sdl1, "docker", "stop", "provision_scalar_1")
	if r := run(t, dir, sdl1, probe...); r.rc != 1 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("stopped: %+v", r)
	}
}

// TestProbePathPullAndDiscoverability pins what the real images and
// registries do: grpc_health_probe is /bin in 2.x images and /usr/local/bin
// in 3.x; a node without registry credentials cannot pull or read a
// manifest; an undiscoverable node is not one of Envoy's upstreams.
func TestProbePathPullAndDiscoverability(t *testing.T) {
	dir := newCluster(t)
	const img3 = "ghcr.io/scalar-labs/scalar-ledger:3.9.0"
	if r := run(t, dir, sdl1, "docker", "exec", "provision_scalar_1", "/usr/local/bin/grpc_health_probe", "-addr=:50051"); r.rc != 126 || !strings.Contains(r.stderr, "stat /usr/local/bin/grpc_health_probe: no such file or directory") {
		t.Errorf("3.x path in a 2.x image: %+v", r)
	}
	r := run(t, dir, sdl1, "docker", "pull", img3)
	if r.rc != 1 || r.stderr != "Error response from daemon: Head \"https://ghcr.io/v2/scalar-labs/scalar-ledger/manifests/3.9.0\": unauthorized\n" {
		t.Errorf("pull without credentials: %+v", r)
	}
	if r := run(t, dir, sdl1, "docker", "manifest", "inspect", img3); r.rc != 1 || !strings.Contains(r.stderr, "unauthorized") {
		t.Errorf("manifest without credentials: %+v", r)
	}
	if err := Update(dir, func(st *State) error {
		st.Host(sdl1).RegistryLogins = []string{"ghcr.io"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, sdl1, "docker", "manifest", "inspect", img3); r.rc != 0 {
		t.Errorf("manifest with credentials: %+v", r)
	}
	if r := run(t, dir, sdl1, "docker", "pull", img3); r.rc != 0 || !strings.HasSuffix(r.stdout, "\n"+img3+"\n") {
		t.Errorf("pull with credentials: %+v", r)
	}
	var o, e bytes.Buffer
	env := map[string]string{EnvState: dir, EnvHost: sdl1, "SCALAR_IMAGE": img3}
	if rc := Main(context.Background(), []string{"docker-compose", "up", "-d"}, env, nil, &o, &e); rc != 0 {
		t.Fatalf("compose up: rc=%d %s", rc, e.String())
	}
	time.Sleep(200 * time.Millisecond)
	if r := run(t, dir, sdl1, "docker", "exec", "provision_scalar_1", "/bin/grpc_health_probe", "-addr=:50051"); r.rc != 126 || !strings.Contains(r.stderr, "stat /bin/grpc_health_probe: no such file or directory") {
		t.Errorf("2.x path in a 3.x image: %+v", r)
	}
	if r := run(t, dir, sdl1, "docker", "exec", "provision_scalar_1", "/usr/local/bin/grpc_health_probe", "-addr=:50051"); r.rc != 0 || r.stdout != "status: SERVING\n" {
		t.Errorf("3.x path in a 3.x image: %+v", r)
	}
	if !healthyIn(t, dir, "10.42.3.5") {
		t.Fatal("not an Envoy upstream before")
	}
	if err := Update(dir, func(st *State) error {
		st.Host(sdl1).Undiscoverable = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, env1, "curl", "-s", "localhost:9001/clusters"); strings.Contains(r.stdout, "10.42.3.5:") {
		t.Errorf("undiscoverable node still listed:\n%s", r.stdout)
	}
}

func healthyIn(t *testing.T, dir, ip string) bool {
	t.Helper()
	r := run(t, dir, env1, "curl", "-s", "localhost:9001/clusters")
	if r.rc != 0 {
		t.Fatalf("curl: %+v", r)
	}
	return strings.Contains(r.stdout, "scalar-service::"+ip+":50051::health_flags::healthy\n")
}

func TestNodeDownAndCurlRefused(t *testing.T) {
	dir := newCluster(t)
	if r := run(t, dir, cass1, "curl", "-s", "localhost:9001/clusters"); r.rc != 7 {
		t.Errorf("curl envoy port on cassandra: %+v", r)
	}
	if err := InjectFault(dir, cass2, FaultNodeDown, ""); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, cass2, "nodetool", "status"); r.rc != 255 {
		t.Errorf("node-down: %+v", r)
	}
	if n := statusOf(t, dir, cass1)["10.42.2.11"]; n.Up() {
		t.Errorf("node-down seen up: %+v", n)
	}
	if err := ClearFault(dir, cass2, FaultNodeDown); err != nil {
		t.Fatal(err)
	}
	if n := statusOf(t, dir, cass1)["10.42.2.11"]; !n.UN() {
		t.Errorf("after clear: %+v", n)
	}
	if err := InjectFault(dir, "nope", FaultSlow, ""); err == nil {
		t.Error("unknown host accepted")
	}
	if err := InjectFault(dir, cass1, "meteor", ""); err == nil {
		t.Error("unknown fault accepted")
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	dir := newCluster(t)
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			host := []string{cass1, cass2, "cassandra-3"}[i%3]
			for j := 0; j < 10; j++ {
				verb := []string{"stop", "start"}[j%2]
				var o, e bytes.Buffer
				env := map[string]string{EnvState: dir, EnvHost: host}
				if rc := Main(context.Background(), []string{"sudo", "systemctl", verb, "cassandra"}, env, nil, &o, &e); rc != 0 {
					t.Errorf("%s %s: rc=%d %s", host, verb, rc, e.String())
				}
				o.Reset()
				rc := Main(context.Background(), []string{"nodetool", "status"}, map[string]string{EnvState: dir, EnvHost: cass1}, nil, &o, &e)
				if rc == 0 {
					if _, err := nodetool.ParseStatus(o.String()); err != nil {
						t.Errorf("torn status: %v\n%s", err, o.String())
					}
				}
			}
		}(i)
	}
	wg.Wait()
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Every goroutine ends with "start", so the ring must be whole again.
	for _, h := range st.HostsByRole(RoleCassandra) {
		if !h.Cassandra.Active {
			t.Errorf("%s left inactive", h.Name)
		}
	}
}

func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := newCluster(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			host := []string{cass1, cass2}[i%2]
			for _, args := range []string{"systemctl stop cassandra", "nodetool status", "systemctl start cassandra", "nodetool snapshot -t p" + fmt.Sprint(i)} {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "SIM_TEST_HELPER=1", "SIM_TEST_ARGS="+args, EnvState+"="+dir, EnvHost+"="+host)
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if err != nil && !(args == "nodetool status" && errorAs(err, &ee)) {
					errs <- fmt.Errorf("%s on %s: %v %s", args, host, err, out)
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]bool{}
	for _, h := range st.HostsByRole(RoleCassandra) {
		for _, s := range h.Cassandra.Snapshots {
			tags[s.Tag] = true
		}
	}
	if len(tags) != 4 {
		t.Errorf("snapshot tags = %v, want p0..p3", tags)
	}
}

func errorAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// A repair whose nodetool client is killed goes on on the server side: every
// replica shows its Validation compaction and its repair streams, in 3.11's
// formats, until the repair's simulated duration has passed.
func TestRepairActivityOutlivesTheClient(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.RepairDuration = Duration(time.Hour)
	cfg.CassandraStartDelay = 0
	if err := InitWithConfig(dir, DefaultHosts(""), cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client dies at once (Ctrl-C, SIGKILL of its console)
	if r := runCtx(ctx, t, dir, cass1, "", "nodetool", "repair", "-full", "-pr", "scalar"); r.rc != 130 || !strings.Contains(r.stdout, "Starting repair command #1") {
		t.Fatalf("killed repair client: %+v", r)
	}
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ring := st.HostsByRole(RoleCassandra)
	if len(ring) != 3 {
		t.Fatalf("%d cassandra nodes", len(ring))
	}
	for _, h := range ring {
		r := run(t, dir, h.Name, "nodetool", "compactionstats")
		cs, err := nodetool.ParseCompactionStats(r.stdout)
		if r.rc != 0 || err != nil {
			t.Fatalf("%s compactionstats rc=%d %v:\n%s", h.Short, r.rc, err, r.stdout)
		}
		reps := cs.Repairs()
		if len(reps) != 1 || reps[0].Type != nodetool.TypeValidation || reps[0].Keyspace != "scalar" || reps[0].Table != "asset" {
			t.Errorf("%s: repair compactions %+v:\n%s", h.Short, reps, r.stdout)
		}
		r = run(t, dir, h.Name, "nodetool", "netstats")
		ns, err := nodetool.ParseNetStats(r.stdout)
		if r.rc != 0 || err != nil {
			t.Fatalf("%s netstats rc=%d %v:\n%s", h.Short, r.rc, err, r.stdout)
		}
		peers := 1
		if h.Name == cass1 {
			peers = 2 // the coordinator streams with both replicas
		}
		if rs := ns.RepairStreams(); len(rs) != 1 || len(rs[0].Sessions) != peers {
			t.Errorf("%s: repair streams %+v:\n%s", h.Short, rs, r.stdout)
		}
	}
	// After the repair's duration, Cassandra is idle again, with nobody
	// having marked the repair as finished.
	later := time.Now().Add(2 * time.Hour)
	for _, h := range ring {
		var cs, ns bytes.Buffer
		writeCompactionStats(&cs, st, h, later)
		writeNetStats(&ns, st, h, later)
		c, err1 := nodetool.ParseCompactionStats(cs.String())
		n, err2 := nodetool.ParseNetStats(ns.String())
		if err1 != nil || err2 != nil || len(c.Active) != 0 || len(n.Streams) != 0 || !strings.Contains(ns.String(), "Not sending any streams.") {
			t.Errorf("%s after the repair: %v %v\n%s\n%s", h.Short, err1, err2, cs.String(), ns.String())
		}
	}
}
