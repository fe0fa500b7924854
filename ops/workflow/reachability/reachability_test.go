package reachability_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/demoenv"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/reachability"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func notices(evs []workflow.Event) []string {
	var out []string
	for _, ev := range evs {
		if n, ok := ev.(*workflow.Notice); ok {
			out = append(out, n.Message)
		}
	}
	return out
}

func run(t *testing.T, e *demoenv.Env, host string) []string {
	t.Helper()
	p, err := reachability.Plan(e.Inv, reachability.Options{Host: host, Dial: e.Cl.DialContext, Health: e.Health, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !p.ReadOnly {
		t.Fatal("reachability plan is not read-only")
	}
	var evs []workflow.Event
	// With the default engine (lock on): a read-only plan never takes it.
	eng := workflow.New(e.Cl, t.TempDir(), workflow.WithLockPath(t.TempDir()+"/lock"), workflow.WithEvents(func(ev workflow.Event) { evs = append(evs, ev) }))
	if status, err := eng.Run(context.Background(), p); status != workflow.StatusDone {
		t.Fatalf("status %s, %v", status, err)
	}
	return notices(evs)
}

// A host that is down: InstanceDown fires; the probes find the bastion fine
// and port 22 silent, and the next step names the instance's AWS commands.
func TestInstanceDownVerdict(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1})
	if err := sim.InjectFault(e.D.SimState, "cassandra-2", sim.FaultNodeDown, ""); err != nil {
		t.Fatal(err)
	}
	e.WaitFiring(t, "InstanceDown", "cassandra-2", 30*time.Second)
	got := strings.Join(run(t, e, "cassandra-2"), "\n")
	h := e.Host(t, "cassandra-2")
	for _, want := range []string{
		"bastion: ok", "tcp-ssh: FAILED", "ssh-login: skipped", "node-exporter: FAILED", "monitoring: FAILED",
		"verdict: cassandra-2 does not answer on port 22",
		"next: see the instance state: aws ec2 describe-instance-status --region " + e.Inv.Region + " --include-all-instances --instance-ids " + h.InstanceID,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("notices lack %q:\n%s", want, got)
		}
	}
	// A healthy host, same run conditions: every probe ok.
	got = strings.Join(run(t, e, "cassandra-1"), "\n")
	for _, want := range []string{"tcp-ssh: ok: SSH-2.0", "ssh-login: ok", "node-exporter: ok", "verdict: cassandra-1 is reachable now"} {
		if !strings.Contains(got, want) {
			t.Errorf("healthy host: notices lack %q:\n%s", want, got)
		}
	}
}

func TestVerdict(t *testing.T) {
	h := inventory.Host{Short: "envoy-2", InstanceID: "i-0abc"}
	p := func(name string, ok bool, detail string) reachability.Probe {
		return reachability.Probe{Name: name, OK: ok, Detail: detail}
	}
	for _, c := range []struct {
		probes []reachability.Probe
		cloud  string
		want   []string
	}{
		{[]reachability.Probe{p("bastion", false, "dial: timeout")}, "aws", []string{"the bastion does not answer", "i-bastion"}},
		{[]reachability.Probe{p("bastion", true, ""), p("tcp-ssh", false, "connect: connection refused")}, "aws", []string{"sshd is not listening", "aws ec2 reboot-instances --region r1 --instance-ids i-0abc"}},
		{[]reachability.Probe{p("bastion", true, ""), p("tcp-ssh", false, "no route")}, "azure", []string{"stopped, crashed", "az vm restart --ids i-0abc"}},
		{[]reachability.Probe{p("bastion", true, ""), p("tcp-ssh", true, ""), p("ssh-login", false, "auth")}, "aws", []string{"login fails"}},
		{[]reachability.Probe{p("bastion", true, ""), p("tcp-ssh", true, ""), p("ssh-login", true, ""), p("node-exporter", false, "refused")}, "aws", []string{"node_exporter does not answer", "systemctl restart node_exporter"}},
		{[]reachability.Probe{p("bastion", true, ""), p("tcp-ssh", true, ""), p("ssh-login", true, ""), p("node-exporter", true, "")}, "aws", []string{"reachable now"}},
	} {
		v, next := reachability.Verdict(reachability.Report{Host: h, Probes: c.probes}, c.cloud, "r1", "i-bastion")
		text := v + "\n" + strings.Join(next, "\n")
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%v: %q lacks %q", c.probes, text, w)
			}
		}
	}
}
