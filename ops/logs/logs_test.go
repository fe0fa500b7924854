package logs_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/logs"
	"scalar-tui/ops/sshx"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type env struct {
	d   *demo.Demo
	inv *inventory.Inventory
	cl  *sshx.Client
}

func startDemo(t *testing.T, o demo.Options) *env {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o.SimBinary = exe
	o.Prom.Disabled = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: d.TFRoot})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sshx.New(sshx.Config{BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: inv.PrivateKeyPath,
		KnownHostsFile: d.KnownHosts, NoAgent: true, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return &env{d: d, inv: inv, cl: cl}
}

func (e *env) host(t *testing.T, short string) inventory.Host {
	t.Helper()
	for _, h := range e.inv.Hosts {
		if h.Short == short {
			return h
		}
	}
	t.Fatalf("no host %s", short)
	return inventory.Host{}
}

// collector gathers a follower's lines and notices.
type collector struct {
	mu      sync.Mutex
	lines   []string
	notices []string
}

func (c *collector) line(l logs.Line) { c.mu.Lock(); c.lines = append(c.lines, l.Text); c.mu.Unlock() }
func (c *collector) notice(n logs.Notice) {
	c.mu.Lock()
	c.notices = append(c.notices, string(n))
	c.mu.Unlock()
}

func (c *collector) waitFor(t *testing.T, what string, within time.Duration, ok func(lines, notices []string) bool) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		c.mu.Lock()
		l, n := append([]string(nil), c.lines...), append([]string(nil), c.notices...)
		c.mu.Unlock()
		if ok(l, n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\nlines:\n%s\nnotices: %v", what, within, strings.Join(l, "\n"), n)
		}
	}
}

func count(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func TestCassandraSystemLogTail(t *testing.T) {
	e := startDemo(t, demo.Options{Cassandra: 1, Blue: 1, Envoy: 1})
	h := e.host(t, "cassandra-1")
	src, err := logs.For(h, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	f := &logs.Follower{R: e.cl, Source: src, Opts: logs.Options{Tail: 3}, OnLine: c.line}
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.lines) != 3 {
		t.Errorf("tail 3 of system.log = %q", c.lines)
	}
	c = &collector{}
	f = &logs.Follower{R: e.cl, Source: src, Opts: logs.Options{Tail: 100000}, OnLine: c.line}
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if count(c.lines, "Starting listening for CQL clients on /10.42.2.10:9042") != 1 {
		t.Errorf("the whole system.log lacks the start-up:\n%s", strings.Join(c.lines[:min(10, len(c.lines))], "\n"))
	}
	for _, l := range c.lines {
		if _, ok := logs.Timestamp(l); !ok {
			t.Errorf("no logback timestamp in %q", l)
		}
	}
}

// Following a Cassandra node's log shows a repair that starts after the
// follow began, keeps going across an SSH drop (saying so) without showing a
// line twice, and stops when the context ends.
func TestFollowSurvivesDropWithoutRepeats(t *testing.T) {
	e := startDemo(t, demo.Options{Cassandra: 1, Blue: 1, Envoy: 1,
		Config: func(c *sim.Config) { c.RepairDuration = sim.Duration(2 * time.Second) }})
	h := e.host(t, "cassandra-1")
	src, _ := logs.For(h, logs.Options{})
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	f := &logs.Follower{R: e.cl, Source: src, Opts: logs.Options{Follow: true, Tail: 50}, Retry: 100 * time.Millisecond,
		OnLine: c.line, OnNotice: c.notice}
	go func() { done <- f.Run(ctx) }()
	c.waitFor(t, "the last 50 lines", 10*time.Second, func(l, _ []string) bool { return len(l) == 50 })

	run := func(cmd string) {
		t.Helper()
		if res, err := e.cl.Run(context.Background(), h.Name, cmd, sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: %v, exit %d", cmd, err, res.ExitCode)
		}
	}
	run("nodetool repair -full -pr scalar")
	c.waitFor(t, "the repair's lines while following", 10*time.Second, func(l, _ []string) bool {
		return count(l, "Starting repair command #") == 1 && count(l, "finished in") == 1
	})

	e.d.Bastion().KillConnections()
	c.waitFor(t, "a notice of the drop and the reconnect", 20*time.Second, func(_, n []string) bool {
		return count(n, "connection lost") >= 1 && count(n, "reconnected") >= 1
	})
	run("nodetool repair -full -pr coordinator")
	c.waitFor(t, "the second repair after the reconnect", 15*time.Second, func(l, _ []string) bool {
		return count(l, "Starting repair command #") == 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]int{}
	for _, l := range c.lines {
		seen[l]++
		if seen[l] == 2 {
			t.Errorf("line shown twice: %s", l)
		}
	}
}

func TestDockerLogs(t *testing.T) {
	e := startDemo(t, demo.Options{Cassandra: 1, Blue: 1, Envoy: 1})
	for _, short := range []string{"scalardl-blue-1", "envoy-1"} {
		src, err := logs.For(e.host(t, short), logs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := &collector{}
		f := &logs.Follower{R: e.cl, Source: src, Opts: logs.Options{}, OnLine: c.line}
		if err := f.Run(context.Background()); err != nil {
			t.Fatalf("%s: %v", short, err)
		}
		if len(c.lines) == 0 {
			t.Fatalf("%s: no lines", short)
		}
		for _, l := range c.lines {
			if _, ok := logs.Timestamp(l); !ok {
				t.Errorf("%s: no docker timestamp in %q", short, l)
			}
		}
	}
	// The bastion runs no container: a clear error before anything is run.
	if _, err := logs.For(e.host(t, "bastion-1"), logs.Options{}); err == nil || !strings.Contains(err.Error(), "--journal") {
		t.Errorf("bastion: %v", err)
	}
	// A container that does not exist: the command's own error.
	src, _ := logs.For(e.host(t, "envoy-1"), logs.Options{Service: "grafana"})
	err := (&logs.Follower{R: e.cl, Source: src}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "No such container: provision_grafana_1") {
		t.Errorf("missing container: %v", err)
	}
}

// Docker before 20.10 with scalar-terraform's fluentd log driver cannot read
// logs back: the operator gets Docker's own reason.
func TestDockerLogsUnreadable(t *testing.T) {
	e := startDemo(t, demo.Options{Cassandra: 1, Blue: 1, Envoy: 1, Config: func(c *sim.Config) { c.DockerLogsUnreadable = true }})
	src, _ := logs.For(e.host(t, "scalardl-blue-1"), logs.Options{})
	err := (&logs.Follower{R: e.cl, Source: src, Opts: logs.Options{Follow: true}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "configured logging driver does not support reading") {
		t.Errorf("err = %v", err)
	}
}

func TestBufferRingAndFilter(t *testing.T) {
	b := logs.NewBuffer(3)
	for i := 1; i <= 5; i++ {
		b.Add(logs.Line{Text: fmt.Sprintf("line %d ERROR", i)})
	}
	got, dropped := b.Lines()
	if len(got) != 3 || got[0].Text != "line 3 ERROR" || dropped != 2 {
		t.Errorf("Lines = %v, dropped %d", got, dropped)
	}
	if err := b.SetFilter("line [45]"); err != nil {
		t.Fatal(err)
	}
	b.Add(logs.Line{Text: "line 6"})
	got, _ = b.Lines()
	if len(got) != 2 || got[1].Text != "line 5 ERROR" {
		t.Errorf("filtered = %v", got)
	}
	if err := b.SetFilter("("); err == nil {
		t.Error("a bad filter was accepted")
	}
}

func TestTimestamp(t *testing.T) {
	for line, want := range map[string]string{
		"2026-12-04T10:00:01.123456789Z 2026-12-04 10:00:01,123 [INFO  x] y":       "2026-12-04T10:00:01.123456789Z",
		"INFO  [main] 2026-12-04 10:00:02,500 CassandraDaemon.java:471 - Hostname": "2026-12-04T10:00:02.5Z",
		"2026-12-04T10:00:03.000001+0000 cassandra-1 systemd[1]: Started":          "2026-12-04T10:00:03.000001Z",
		"\tat java.lang.Thread.run(Thread.java:748)":                               "",
	} {
		got, ok := logs.Timestamp(line)
		s := ""
		if ok {
			s = got.UTC().Format(time.RFC3339Nano)
		}
		if s != want {
			t.Errorf("%q: %q, want %q", line, s, want)
		}
	}
}
