package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/repair"
)

func TestMain(m *testing.M) {
	// The wrapper scripts in DIR/bin run this test binary as `sim exec TOOL`.
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// start runs a demo for the test, with this test binary as the simulator.
func start(t testing.TB, o demo.Options) *demo.Demo {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o.SimBinary = exe
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, o)
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// client returns an sshx client configured the way the console configures
// one for a real deployment: from the inventory loaded from the state.
func client(t testing.TB, d *demo.Demo) (*sshx.Client, *inventory.Inventory) {
	t.Helper()
	inv, err := inventory.Load(context.Background(), inventory.Options{TFRoot: d.TFRoot})
	if err != nil {
		t.Fatalf("inventory.Load: %v", err)
	}
	cl, err := sshx.New(sshx.Config{BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: inv.PrivateKeyPath,
		KnownHostsFile: d.KnownHosts, NoAgent: true, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("sshx.New: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, inv
}

// run runs command on host and returns stdout, stderr and the exit code.
func run(t testing.TB, cl *sshx.Client, host, command string) (string, string, int) {
	t.Helper()
	var o, e strings.Builder
	var mu sync.Mutex
	res, err := cl.Run(context.Background(), host, command, sshx.RunOptions{
		Stdout:  func(l string) { mu.Lock(); o.WriteString(l + "\n"); mu.Unlock() },
		Stderr:  func(l string) { mu.Lock(); e.WriteString(l + "\n"); mu.Unlock() },
		Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatalf("run %q on %s: %v (stderr %q)", command, host, err, e.String())
	}
	return o.String(), e.String(), res.ExitCode
}

func statusOf(t testing.TB, cl *sshx.Client, host string) map[string]string {
	t.Helper()
	out, errOut, code := run(t, cl, host, "nodetool status")
	if code != 0 {
		t.Fatalf("nodetool status on %s: exit %d: %s", host, code, errOut)
	}
	nodes, err := nodetool.ParseStatus(out)
	if err != nil {
		t.Fatalf("ParseStatus: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, n := range nodes {
		m[n.Address] = n.Status + n.State
	}
	return m
}

func TestStartInventoryAndStatus(t *testing.T) {
	d := start(t, demo.Options{})
	t.Logf("demo started in %s", d.Started)
	cl, inv := client(t, d)
	if inv.BastionIP != "127.0.0.1" || inv.BastionAddr() != d.BastionAddr {
		t.Fatalf("inventory bastion %s, demo bastion %s", inv.BastionAddr(), d.BastionAddr)
	}
	if got := len(inv.ByRole(inventory.RoleCassandra)); got != 3 {
		t.Fatalf("%d cassandra hosts in the inventory, want 3", got)
	}
	if len(inv.Hosts) != len(d.Hosts) {
		t.Fatalf("inventory has %d hosts, demo %d", len(inv.Hosts), len(d.Hosts))
	}
	st := statusOf(t, cl, "cassandra-1.internal.scalar-labs.com")
	if len(st) != 3 {
		t.Fatalf("status shows %d nodes, want 3: %v", len(st), st)
	}
	for addr, s := range st {
		if s != "UN" {
			t.Errorf("%s is %s, want UN", addr, s)
		}
	}
	// Every host answers, with its own HOME and identity.
	for _, h := range inv.Hosts {
		if h.Role == inventory.RoleBastion {
			continue
		}
		out, _, code := run(t, cl, h.Name, `echo "$SCALAR_SIM_HOST $HOME $(pwd)"`)
		dh, _ := d.Host(h.Name)
		if want := h.Name + " " + dh.Home + " " + dh.Home + "\n"; code != 0 || out != want {
			t.Errorf("%s: got %q (exit %d), want %q", h.Short, out, code, want)
		}
	}
	// The bastion runs commands too (workflows take their lock there).
	var out strings.Builder
	res, err := cl.RunBastion(context.Background(), "mkdir -p ~/.scalar-tui && echo locked > ~/.scalar-tui/lock && cat ~/.scalar-tui/lock", sshx.RunOptions{Stdout: func(l string) { out.WriteString(l) }})
	if err != nil || res.ExitCode != 0 || out.String() != "locked" {
		t.Fatalf("RunBastion: %v exit %d out %q", err, res.ExitCode, out.String())
	}
}

func TestStopCassandraShowsDN(t *testing.T) {
	d := start(t, demo.Options{})
	cl, _ := client(t, d)
	if _, errOut, code := run(t, cl, "cassandra-2.internal.scalar-labs.com", "sudo systemctl stop cassandra"); code != 0 {
		t.Fatalf("systemctl stop: exit %d: %s", code, errOut)
	}
	out, _, code := run(t, cl, "cassandra-2.internal.scalar-labs.com", "systemctl is-active cassandra")
	if code != 3 || strings.TrimSpace(out) != "inactive" {
		t.Fatalf("is-active after stop: %q exit %d", out, code)
	}
	st := statusOf(t, cl, "cassandra-1.internal.scalar-labs.com")
	if st["10.42.2.11"] != "DN" || st["10.42.2.10"] != "UN" || st["10.42.2.12"] != "UN" {
		t.Fatalf("status after stopping cassandra-2: %v", st)
	}
	// A stopped node's own nodetool cannot reach JMX.
	if _, _, code := run(t, cl, "cassandra-2.internal.scalar-labs.com", "nodetool status"); code == 0 {
		t.Fatal("nodetool status on the stopped node succeeded")
	}
}

func TestDetachedRepairSurvivesBastionDrop(t *testing.T) {
	d := start(t, demo.Options{Config: func(c *sim.Config) { c.RepairDuration = sim.Duration(3 * time.Second) }})
	cl, _ := client(t, d)
	ctx := context.Background()
	host := "cassandra-1.internal.scalar-labs.com"
	det := workflow.ShellDetacher{R: cl}
	h := workflow.DetachedHandle{Host: host, Dir: ".scalar-tui/runs/t1/repair", Command: "nodetool repair -full -pr scalar"}
	if err := det.Start(ctx, h); err != nil {
		t.Fatalf("Start: %v", err)
	}
	st, err := det.Status(ctx, h)
	if err != nil || !st.Running {
		t.Fatalf("Status: %+v, %v", st, err)
	}
	d.Bastion().KillConnections()
	var lines []string
	var mu sync.Mutex
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The first follow after the drop may find the dropped connection; the
	// engine follows again, and so does this test.
	for i := 0; ; i++ {
		mu.Lock()
		n := len(lines)
		mu.Unlock()
		err = det.Follow(actx, h, n, 0, sshx.RunOptions{Stdout: func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }})
		if err == nil || i == 2 {
			break
		}
	}
	st, serr := det.Status(ctx, h)
	if err != nil || serr != nil || !st.Exited || st.ExitCode != 0 {
		t.Fatalf("Follow: %v; status %+v %v; output:\n%s", err, st, serr, strings.Join(lines, "\n"))
	}
	out := strings.Join(lines, "\n")
	if !strings.Contains(out, "Repair completed successfully") && !strings.Contains(out, "finished") {
		t.Errorf("repair output does not look finished:\n%s", out)
	}
	if len(d.Processes()) != 0 {
		t.Errorf("processes still tracked after the repair ended: %v", d.Processes())
	}
}

func TestComposeUpgradeThroughTheShell(t *testing.T) {
	d := start(t, demo.Options{Config: func(c *sim.Config) { c.ServingDelay = sim.Duration(100 * time.Millisecond) }})
	cl, _ := client(t, d)
	host := "scalardl-blue-2.internal.scalar-labs.com"
	const img = "ghcr.io/scalar-labs/scalar-ledger:2.2.0"
	// Load the image as the upgrade does: a tarball on the node, gzip -cd | docker load.
	if err := sim.Update(d.SimState, func(st *sim.State) error {
		h := st.Host(host)
		h.Images = append(h.Images, img)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cmd := `cd ~/provision && echo "export SCALAR_IMAGE=` + img + `" > env && . ./env && docker-compose up -d`
	_, errOut, code := run(t, cl, host, cmd)
	if code != 0 || !strings.Contains(errOut, "Recreating provision_scalar_1 ... done") {
		t.Fatalf("docker-compose up: exit %d\n%s", code, errOut)
	}
	out, _, code := run(t, cl, host, `docker ps --format '{{.Image}}' && cat ~/provision/env`)
	if code != 0 || !strings.Contains(out, img+"\n") || !strings.Contains(out, "export SCALAR_IMAGE="+img) {
		t.Fatalf("after upgrade: exit %d\n%s", code, out)
	}
	dh, _ := d.Host(host)
	b, err := os.ReadFile(filepath.Join(dh.Home, "provision", "env"))
	if err != nil || !strings.Contains(string(b), img) {
		t.Fatalf("env file on the host: %q %v", b, err)
	}
}

func TestHealthEndpointsThroughBastion(t *testing.T) {
	d := start(t, demo.Options{})
	cl, _ := client(t, d)
	hc := &http.Client{Transport: &http.Transport{DialContext: cl.DialContext}, Timeout: 10 * time.Second}
	get := func(url string) string {
		t.Helper()
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		return string(b)
	}
	if body := get("http://envoy-1.internal.scalar-labs.com:9001/clusters"); !strings.Contains(body, "scalar-service") {
		t.Errorf("/clusters: %.300s", body)
	}
	if body := get("http://cassandra-2.internal.scalar-labs.com:9100/metrics"); !strings.Contains(body, "node_systemd_unit_state") {
		t.Errorf("node exporter: %.300s", body)
	}
	if body := get("http://scalardl-blue-1.internal.scalar-labs.com:18080/metrics"); !strings.Contains(body, "container_last_seen") {
		t.Errorf("cadvisor: %.300s", body)
	}
	// Unserved ports are refused by the bastion.
	if _, err := cl.DialContext(context.Background(), "tcp", "cassandra-1.internal.scalar-labs.com:9042"); err == nil {
		t.Error("dial of an unserved port succeeded")
	}
}

func TestConcurrentCommandsKeepModelConsistent(t *testing.T) {
	d := start(t, demo.Options{Config: func(c *sim.Config) { c.CassandraStartDelay = 0 }})
	cl, _ := client(t, d)
	var wg sync.WaitGroup
	hosts := []string{"cassandra-1", "cassandra-2", "cassandra-3", "scalardl-blue-1", "envoy-1"}
	errs := make(chan error, 100)
	// Each host runs its rounds in order; the hosts, and a reader per host,
	// run at the same time against the one model.
	for _, h := range hosts {
		wg.Add(2)
		name := h + "." + demo.Domain
		go func() {
			defer wg.Done()
			for round := 0; round < 4; round++ {
				cmds := []string{"sudo systemctl stop cassandra", "sudo systemctl start cassandra", "nodetool snapshot -t s" + fmt.Sprint(round) + " scalar"}
				if !strings.HasPrefix(h, "cassandra") {
					cmds = []string{"cd provision && docker-compose stop", "cd provision && docker-compose up -d"}
				}
				for _, c := range cmds {
					res, err := cl.Run(context.Background(), name, c, sshx.RunOptions{Timeout: 30 * time.Second})
					if err != nil {
						errs <- fmt.Errorf("%s: %s: %w", h, c, err)
						return
					}
					if res.ExitCode != 0 {
						errs <- fmt.Errorf("%s: %s: exit %d", h, c, res.ExitCode)
					}
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				if _, err := cl.Run(context.Background(), name, "docker ps -a >/dev/null; nodetool status >/dev/null; true", sshx.RunOptions{Timeout: 30 * time.Second}); err != nil {
					errs <- fmt.Errorf("%s: reader: %w", h, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, err := sim.Load(d.SimState)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.Hosts {
		if h.Role != sim.RoleCassandra {
			for _, c := range h.Containers {
				if !c.Running {
					t.Errorf("%s: %s not running after the last up", h.Short, c.Name)
				}
			}
			continue
		}
		if !h.Cassandra.Active {
			t.Errorf("%s: cassandra not active after the last start", h.Short)
		}
		tags := map[string]bool{}
		for _, s := range h.Cassandra.Snapshots {
			tags[s.Tag] = true
		}
		if len(tags) != 4 {
			t.Errorf("%s: snapshots %v, want s0..s3", h.Short, tags)
		}
	}
	// The file is valid JSON written atomically: reload it raw.
	b, err := os.ReadFile(filepath.Join(d.SimState, "cluster.json"))
	if err != nil || !json.Valid(b) {
		t.Fatalf("cluster.json: %v", err)
	}
}

func TestCancelStopsForegroundProcesses(t *testing.T) {
	d := start(t, demo.Options{})
	cl, _ := client(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := cl.Run(ctx, "cassandra-1."+demo.Domain, "sh -c 'sleep 60; echo late'", sshx.RunOptions{})
	if err == nil {
		t.Fatal("cancelled command returned no error")
	}
	if time.Since(begin) > 10*time.Second {
		t.Fatalf("cancel took %s", time.Since(begin))
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(d.Processes()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p := d.Processes(); len(p) > 0 {
		t.Fatalf("foreground processes left after cancel: %v", p)
	}
}

func TestInteractiveShell(t *testing.T) {
	d := start(t, demo.Options{})
	cl, _ := client(t, d)
	in := strings.NewReader("cd provision\npwd\nnodetool status | grep -c UN\nexit 3\n")
	var out, errOut bytes.Buffer
	err := cl.Shell(context.Background(), "scalardl-blue-1."+demo.Domain, in, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "3") {
		t.Errorf("Shell: %v, want exit status 3", err)
	}
	dh, _ := d.Host("scalardl-blue-1")
	for _, want := range []string{"[centos@scalardl-blue-1 ~]$ ", "[centos@scalardl-blue-1 provision]$ ", filepath.Join(dh.Home, "provision") + "\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("shell output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNodeDownFaultAndClose(t *testing.T) {
	exe, _ := os.Executable()
	d, err := demo.Start(context.Background(), demo.Options{Fault: "cassandra-3:node-down", SimBinary: exe, Cassandra: 3, Blue: 1, Envoy: 1})
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := client(t, d)
	if _, err := cl.Run(context.Background(), "cassandra-3."+demo.Domain, "true", sshx.RunOptions{}); err == nil {
		t.Error("a node-down host answered")
	}
	st := statusOf(t, cl, "cassandra-1."+demo.Domain)
	if st["10.42.2.12"] != "DN" {
		t.Errorf("status with cassandra-3 down: %v", st)
	}
	// Leave a detached process behind: Close must kill it and remove the dir.
	h := workflow.DetachedHandle{Host: "cassandra-1." + demo.Domain, Dir: "runs/x", Command: "sleep 300"}
	if err := (workflow.ShellDetacher{R: cl}).Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	var pid int
	for i := 0; pid == 0 && i < 100; i++ {
		out, _, _ := run(t, cl, h.Host, "cat runs/x/pid 2>/dev/null")
		pid, _ = strconv.Atoi(strings.TrimSpace(out))
		if pid == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if pid <= 0 {
		t.Fatal("the detached command recorded no pid")
	}
	cl.Close()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("detached process %d survived Close", pid)
	}
	if _, err := os.Stat(d.Dir); !os.IsNotExist(err) {
		t.Errorf("demo dir left behind: %v", err)
	}
	if _, err := net.DialTimeout("tcp", d.BastionAddr, time.Second); err == nil {
		t.Error("bastion still listening after Close")
	}
}

func TestParseFault(t *testing.T) {
	for _, bad := range []string{"", "x", ":node-down", "cassandra-1:nope"} {
		if _, _, _, err := demo.ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) succeeded", bad)
		}
	}
	h, k, p, err := demo.ParseFault("scalardl-blue-1:bad-tag:2.2.0")
	if err != nil || h != "scalardl-blue-1" || k != "bad-tag" || p != "2.2.0" {
		t.Errorf("ParseFault: %q %q %q %v", h, k, p, err)
	}
}

func BenchmarkStart(b *testing.B) {
	exe, _ := os.Executable()
	for b.Loop() {
		d, err := demo.Start(context.Background(), demo.Options{SimBinary: exe})
		if err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

func BenchmarkNodetoolStatus(b *testing.B) {
	d := start(b, demo.Options{})
	cl, _ := client(b, d)
	run(b, cl, "cassandra-1."+demo.Domain, "true") // connect first
	for b.Loop() {
		run(b, cl, "cassandra-1."+demo.Domain, "nodetool status")
	}
}

// TestInteractivePTY drives the login shell as a terminal would: raw keys,
// backspace, Ctrl-C stopping a running command, then exit.
func TestInteractivePTY(t *testing.T) {
	d := start(t, demo.Options{})
	key, err := os.ReadFile(d.Identity)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(d.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{User: demo.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 5 * time.Second}
	bc, err := ssh.Dial("tcp", d.BastionAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	addr := "cassandra-1." + demo.Domain + ":22"
	conn, err := bc.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := ssh.NewClient(c, chans, reqs)
	defer hc.Close()
	sess, err := hc.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	var out lockedBuf
	sess.Stdout = &out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%q", s, out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("[centos@cassandra-1 ~]$ ")
	io.WriteString(in, "ecx\x7fho hi\r")
	waitFor("hi\r\n")
	io.WriteString(in, "sleep 60\r")
	time.Sleep(300 * time.Millisecond)
	begin := time.Now()
	io.WriteString(in, "\x03")
	io.WriteString(in, "nodetool status | grep -c UN\r")
	waitFor("3\r\n")
	if time.Since(begin) > 5*time.Second {
		t.Errorf("Ctrl-C took %s", time.Since(begin))
	}
	io.WriteString(in, "exit\r")
	if err := sess.Wait(); err != nil {
		t.Fatalf("shell exit: %v\n%q", err, out.String())
	}
}

// lockedBuf is a concurrency-safe bytes.Buffer.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRepairWorkflow runs the one-key repair workflow (bastion lock,
// preflight, detached repairs, ring gates) against the demo.
func TestRepairWorkflow(t *testing.T) {
	d := start(t, demo.Options{Config: func(c *sim.Config) { c.RepairDuration = sim.Duration(500 * time.Millisecond) }})
	cl, inv := client(t, d)
	p, err := repair.Plan(inv, repair.Options{GateInterval: 200 * time.Millisecond, GateDeadline: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	// The demo's bastion is this machine: its lock lives in the demo's own
	// directory, never in the machine-wide /tmp/scalar-tui.lock that other
	// runs on this machine may hold.
	e := workflow.New(cl, t.TempDir(), workflow.WithLockPath(filepath.Join(d.Dir, "scalar-tui.lock")), workflow.WithEvents(func(ev workflow.Event) {
		mu.Lock()
		events = append(events, workflow.FormatEvent(ev))
		mu.Unlock()
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	st, err := e.Run(ctx, p)
	mu.Lock()
	defer mu.Unlock()
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("repair: %s, %v\n%s", st, err, strings.Join(events, "\n"))
	}
	t.Logf("repair workflow (6 repairs of 0.5s) took %s", time.Since(begin))
}

func TestKillCannotHitTheDemo(t *testing.T) {
	d := start(t, demo.Options{})
	cl, _ := client(t, d)
	_, errOut, code := run(t, cl, "cassandra-1."+demo.Domain, "kill -TERM $$; kill -9 -1; kill -0 $$")
	if code == 0 || strings.Count(errOut, "Operation not permitted") != 3 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// A background job outlives its session, as under sshd.
	if _, _, code := run(t, cl, "cassandra-1."+demo.Domain, "sleep 30 & echo started"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	time.Sleep(300 * time.Millisecond)
	if len(d.Processes()) != 1 {
		t.Fatalf("processes after the session: %v, want the sleep", d.Processes())
	}
}

// TestRestartOnSameDirContinues: a demo started again on its Dir is the same
// deployment: the simulated cluster's state is kept (a fault injected before
// is still there) and the bastion listens on the same address, so the
// inventory's fingerprint, the journal and resume carry over.
func TestRestartOnSameDirContinues(t *testing.T) {
	dir := t.TempDir()
	d1 := start(t, demo.Options{Dir: dir})
	if err := sim.InjectFault(d1.SimState, "cassandra-2", sim.FaultRepairFails, ""); err != nil {
		t.Fatal(err)
	}
	addr := d1.BastionAddr
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a given Dir was removed: %v", err)
	}
	d2 := start(t, demo.Options{Dir: dir})
	if d2.BastionAddr != addr {
		t.Errorf("bastion moved from %s to %s", addr, d2.BastionAddr)
	}
	st, err := sim.Load(d2.SimState)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Host("cassandra-2").Faults[sim.FaultRepairFails]; !ok {
		t.Error("the simulated cluster's state was reset on restart")
	}
}
