package silence_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
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
	am  *alertmanager.Client
}

func start(t *testing.T) *env {
	t.Helper()
	exe, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{SimBinary: exe, Cassandra: 3, Blue: 1, Envoy: 1})
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
	u, err := silence.URL(inv.Endpoints.Prometheus)
	if err != nil {
		t.Fatal(err)
	}
	am, err := alertmanager.New(u, alertmanager.Options{Dial: cl.DialContext, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &env{d: d, inv: inv, cl: cl, am: am}
}

// silences lists the demo Alertmanager's silences as "state comment".
func (e *env) silences(t *testing.T) []string {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: e.cl.DialContext}}
	u, _ := silence.URL(e.inv.Endpoints.Prometheus)
	resp, err := hc.Get(u + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ss []struct {
		Comment string `json:"comment"`
		Status  struct {
			State string `json:"state"`
		} `json:"status"`
		Matchers []struct{ Value string } `json:"matchers"`
	}
	if err := json.Unmarshal(b, &ss); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	var out []string
	for _, s := range ss {
		out = append(out, s.Status.State+" "+s.Comment+" "+s.Matchers[0].Value)
	}
	return out
}

func plan(e *env, cmd string) *workflow.Plan {
	p := workflow.NewPlan("test", e.inv, time.Now())
	p.Steps = []workflow.Step{{ID: "c1", Title: "work", Host: "cassandra-1.internal.scalar-labs.com", Commands: []string{cmd}}}
	return p
}

// The silence exists while the run's steps run and is expired at the end,
// on success and on failure alike.
func TestSilenceAroundRun(t *testing.T) {
	e := start(t)
	for _, c := range []struct {
		cmd  string
		want workflow.Status
	}{{"true", workflow.StatusDone}, {"false", workflow.StatusFailed}} {
		p := plan(e, c.cmd)
		var during []string
		p.Steps = append(p.Steps, workflow.Step{ID: "look", Title: "look", Run: func(ctx context.Context, env *workflow.Env) error {
			during = e.silences(t)
			return nil
		}})
		if c.cmd == "false" {
			p.Steps[0], p.Steps[1] = p.Steps[1], p.Steps[0]
		}
		silence.Wrap(p, silence.Options{Client: e.am, Hosts: []string{"cassandra-1.internal.scalar-labs.com"}, Window: time.Hour})
		if p.Steps[0].ID != "silence-alerts" || p.Steps[len(p.Steps)-1].ID != "expire-silence" || p.Preflight[0].Name != "alertmanager" {
			t.Fatalf("plan not wrapped: %+v", p.Steps)
		}
		eng := workflow.New(e.cl, t.TempDir(), workflow.WithoutLock())
		status, err := eng.Run(context.Background(), p)
		if status != c.want {
			t.Fatalf("%s: status %s, %v", c.cmd, status, err)
		}
		if len(during) == 0 || !strings.HasPrefix(during[len(during)-1], "active scalar-tui run "+p.ID) {
			t.Errorf("%s: silences during the run: %v", c.cmd, during)
		}
		for _, s := range e.silences(t) {
			if strings.Contains(s, p.ID) && !strings.HasPrefix(s, "expired") {
				t.Errorf("%s: silence left after the run: %s", c.cmd, s)
			}
		}
	}
}

// Alertmanager down (the monitor host is): the run is refused before
// anything is touched, and says how to run without a silence.
func TestSilenceRefusedWithoutAlertmanager(t *testing.T) {
	e := start(t)
	if err := sim.InjectFault(e.d.SimState, "monitor-1", "node-down", ""); err != nil {
		t.Fatal(err)
	}
	// The demo applies node-down faults on its next tick.
	// A fresh client each time: a kept-alive connection would outlive the fault.
	u, _ := silence.URL(e.inv.Endpoints.Prometheus)
	answers := func() bool {
		c, _ := alertmanager.New(u, alertmanager.Options{Dial: e.cl.DialContext, Timeout: 2 * time.Second})
		return c.Ping(context.Background()) == nil
	}
	for deadline := time.Now().Add(10 * time.Second); answers(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the monitor's Alertmanager still answers after node-down")
		}
	}
	p := plan(e, "touch /tmp/should-not-run")
	silence.Wrap(p, silence.Options{Client: e.am, Hosts: []string{"cassandra-1.internal.scalar-labs.com"}})
	status, err := workflow.New(e.cl, t.TempDir(), workflow.WithoutLock()).Run(context.Background(), p)
	if status != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "--no-silence") {
		t.Fatalf("status %s, %v", status, err)
	}
}

func TestNoClientNoWrap(t *testing.T) {
	p := &workflow.Plan{Steps: []workflow.Step{{ID: "a"}}}
	silence.Wrap(p, silence.Options{Hosts: []string{"h"}})
	if len(p.Steps) != 1 || len(p.Preflight) != 0 {
		t.Errorf("wrapped without a client: %+v", p)
	}
	if _, err := silence.URL(""); err == nil {
		t.Error("URL of no endpoint")
	}
	if u, _ := silence.URL("monitor.internal.scalar-labs.com:9090"); u != "http://monitor.internal.scalar-labs.com:9093" {
		t.Errorf("URL = %s", u)
	}
}
