// Package reachability is the runbook of the InstanceDown alert
// (scalar-terraform docs/InstanceDown.md): a read-only plan that finds out
// what can be known from the operator's side (does the bastion answer; does
// the host's sshd answer TCP through it; does an SSH login work; does
// node_exporter answer; what monitoring says) and then writes out the
// cloud-side next step, since the console does not own the cloud account.
//
// It changes nothing, takes no lock and silences nothing. It must not import
// tui or cmd.
package reachability

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
)

// Workflow is the workflow's name in plans, journals and run IDs.
const Workflow = "reachability"

// Node exporter's port on every host.
const nodeExporterPort = "9100"

// DialFunc dials addr from inside the deployment (through the bastion).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options selects the host. Host is required.
type Options struct {
	// Host is the host: name, short name or private IP.
	Host string `json:"host"`
	// Timeout bounds each probe (default 10 s).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Dial reaches the host's ports through the bastion (sshx.Client's
	// DialContext). Nil skips the TCP and node_exporter probes. Not journalled.
	Dial DialFunc `json:"-"`
	// Health, when set, adds what monitoring says. Not journalled.
	Health health.Source `json:"-"`
}

// Probe is one finding.
type Probe struct {
	// Name is bastion, tcp-ssh, ssh-login, node-exporter or monitoring.
	Name string `json:"name"`
	// OK is the outcome; Skipped probes were not run (an earlier one failed,
	// or nothing to run them with).
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
}

// Report is what the probes found.
type Report struct {
	Host   inventory.Host `json:"host"`
	Probes []Probe        `json:"probes"`
}

func (r *Report) get(name string) (Probe, bool) {
	for _, p := range r.Probes {
		if p.Name == name {
			return p, true
		}
	}
	return Probe{}, false
}

// Plan builds the read-only plan for inv.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock.
func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("reachability: no inventory")
	}
	if opts.Host == "" {
		return nil, errors.New("reachability: --host is required")
	}
	h, ok := inv.Find(opts.Host)
	if !ok {
		return nil, fmt.Errorf("reachability: unknown host %q", opts.Host)
	}
	opts.Host = h.Name
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	p := workflow.NewPlan(Workflow, inv, now)
	p.ReadOnly = true
	p.Params = opts
	var mu sync.Mutex
	rep := &Report{Host: h}
	record := func(env *workflow.Env, pr Probe) {
		mu.Lock()
		rep.Probes = append(rep.Probes, pr)
		mu.Unlock()
		state := "ok"
		switch {
		case pr.Skipped:
			state = "skipped"
		case !pr.OK:
			state = "FAILED"
		}
		env.Notice(fmt.Sprintf("%s: %s: %s", pr.Name, state, pr.Detail))
	}
	failed := func(names ...string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range names {
			if pr, ok := rep.get(n); ok && !pr.OK {
				return true
			}
		}
		return false
	}
	step := func(id, title string, cmds []string, run func(ctx context.Context, env *workflow.Env) Probe, skipIf ...string) workflow.Step {
		return workflow.Step{
			ID: h.Short + "/" + id, Title: title, Host: h.Name, Commands: cmds, Idempotent: true,
			Run: func(ctx context.Context, env *workflow.Env) error {
				if failed(skipIf...) {
					record(env, Probe{Name: id, Skipped: true, Detail: "not tried: " + strings.Join(skipIf, " or ") + " failed"})
					return nil
				}
				pctx, cancel := context.WithTimeout(ctx, opts.Timeout)
				defer cancel()
				pr := run(pctx, env)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				pr.Name = id
				record(env, pr)
				return nil
			},
		}
	}
	addr := func(port string) string { return net.JoinHostPort(h.Name, port) }
	p.Steps = []workflow.Step{
		step("bastion", "is the bastion reachable (SSH login, `true`)", []string{"true   # on the bastion"}, func(ctx context.Context, env *workflow.Env) Probe {
			r, err := env.Exec(ctx, "", "true")
			if err != nil {
				return Probe{Detail: err.Error()}
			}
			return Probe{OK: r.ExitCode == 0, Detail: fmt.Sprintf("bastion %s answers", inv.BastionAddr())}
		}),
		step("tcp-ssh", "does the host's sshd answer TCP through the bastion", []string{"connect " + addr("22") + " from the bastion, read the SSH banner"}, func(ctx context.Context, env *workflow.Env) Probe {
			if opts.Dial == nil {
				return Probe{Skipped: true, Detail: "no dialer"}
			}
			return banner(ctx, opts.Dial, addr("22"))
		}, "bastion"),
		step("ssh-login", "can we log in (`uptime`)", []string{"uptime"}, func(ctx context.Context, env *workflow.Env) Probe {
			r, err := env.Exec(ctx, h.Name, "uptime")
			if err != nil {
				return Probe{Detail: err.Error()}
			}
			if r.ExitCode != 0 {
				return Probe{Detail: fmt.Sprintf("uptime exited %d: %s", r.ExitCode, strings.TrimSpace(r.Stderr))}
			}
			return Probe{OK: true, Detail: strings.TrimSpace(r.Stdout)}
		}, "bastion", "tcp-ssh"),
		step("node-exporter", "does node_exporter answer (GET :9100/metrics through the bastion)", []string{"GET http://" + addr(nodeExporterPort) + "/metrics"}, func(ctx context.Context, env *workflow.Env) Probe {
			if opts.Dial == nil {
				return Probe{Skipped: true, Detail: "no dialer"}
			}
			return metrics(ctx, opts.Dial, "http://"+addr(nodeExporterPort)+"/metrics")
		}, "bastion"),
	}
	if src := opts.Health; src != nil {
		p.Steps = append(p.Steps, step("monitoring", "what Prometheus says (up{job=\"host\"}, firing alerts)", nil, func(ctx context.Context, env *workflow.Env) Probe {
			snap, err := src.Snapshot(ctx)
			if err != nil {
				return Probe{Detail: err.Error()}
			}
			hh, ok := snap.Host(h.Name)
			if !ok {
				return Probe{Detail: "the host is not in the health snapshot"}
			}
			var alerts []string
			for _, a := range hh.Alerts {
				alerts = append(alerts, a.Name)
			}
			up := "no data"
			if hh.Up != nil {
				up = fmt.Sprint(*hh.Up)
			}
			detail := fmt.Sprintf("up=%s, state %s", up, hh.State)
			if len(alerts) > 0 {
				detail += ", firing: " + strings.Join(alerts, ", ")
			}
			return Probe{OK: hh.Up != nil && *hh.Up, Detail: detail}
		}))
	}
	p.Steps = append(p.Steps, workflow.Step{
		ID: h.Short + "/next-step", Title: "verdict and the cloud-side next step", Host: h.Name, Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			mu.Lock()
			r := *rep
			mu.Unlock()
			verdict, next := Verdict(r, inv.Cloud, inv.Region, bastionID(inv))
			env.Notice("verdict: " + verdict)
			for _, n := range next {
				env.Notice("next: " + n)
			}
			return nil
		},
	})
	return p, nil
}

func bastionID(inv *inventory.Inventory) string {
	for _, b := range inv.ByRole(inventory.RoleBastion) {
		if b.InstanceID != "" {
			return b.InstanceID
		}
	}
	return ""
}

// banner connects to addr and reads the SSH identification line.
func banner(ctx context.Context, dial DialFunc, addr string) Probe {
	c, err := dial(ctx, "tcp", addr)
	if err != nil {
		return Probe{Detail: err.Error()}
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	line, err := bufio.NewReaderSize(io.LimitReader(c, 256), 256).ReadString('\n')
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "SSH-") {
		if err != nil {
			return Probe{Detail: "TCP connected but no SSH banner: " + err.Error()}
		}
		return Probe{Detail: fmt.Sprintf("TCP connected but no SSH banner (got %q)", line)}
	}
	return Probe{OK: true, Detail: line}
}

// metrics fetches url and checks for a 200 with node_exporter's metrics.
func metrics(ctx context.Context, dial DialFunc, url string) Probe {
	hc := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Probe{Detail: err.Error()}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Probe{Detail: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return Probe{Detail: "HTTP " + resp.Status}
	}
	if !strings.Contains(string(b), "node_") {
		return Probe{Detail: "HTTP 200 but no node_ metrics in the first 64 KiB"}
	}
	return Probe{OK: true, Detail: "HTTP 200 with node_ metrics"}
}

// Verdict says what the probes mean and what to do next, with the cloud's
// own commands filled in for the host (cloud "aws" or "azure").
func Verdict(r Report, cloud, region, bastionInstance string) (string, []string) {
	h := r.Host
	ok := func(n string) bool { p, found := r.get(n); return found && p.OK }
	ran := func(n string) bool { p, found := r.get(n); return found && !p.Skipped }
	status, console, reboot := cloudCommands(cloud, region, h.InstanceID, h.Short)
	switch {
	case ran("bastion") && !ok("bastion"):
		bs, _, _ := cloudCommands(cloud, region, bastionInstance, "bastion-1")
		return "the bastion does not answer: nothing behind it can be judged from here",
			[]string{"check the bastion instance in the cloud console: " + bs,
				"check your network path to " + "the bastion (VPN, security group bastion_access_cidr)"}
	case ran("tcp-ssh") && !ok("tcp-ssh"):
		tcp, _ := r.get("tcp-ssh")
		why := "the instance is stopped, crashed, or its network/security group drops traffic"
		if strings.Contains(tcp.Detail, "refused") {
			why = "the instance answers but sshd is not listening (booting, or sshd died)"
		}
		return fmt.Sprintf("%s does not answer on port 22 from the bastion: %s", h.Short, why),
			[]string{"see the instance state: " + status,
				"read its console log (kernel panic, full disk, fsck): " + console,
				"if it is running but impaired, reboot it: " + reboot,
				"if it is gone or will not boot, replace it with Terraform (docs/NodeReplacement.md: terraform taint, then apply in the owning root)"}
	case ran("ssh-login") && !ok("ssh-login"):
		return fmt.Sprintf("%s's sshd answers but a login fails (key, full disk or overload)", h.Short),
			[]string{"read its console log: " + console, "if it is overloaded, reboot it: " + reboot}
	case ran("node-exporter") && !ok("node-exporter"):
		return fmt.Sprintf("%s is up and reachable; node_exporter does not answer, which is what InstanceDown measures", h.Short),
			[]string{"on the host: sudo systemctl restart node_exporter   (scalar-tui exec --host " + h.Short + " -- sudo systemctl restart node_exporter)"}
	case ran("monitoring") && !ok("monitoring"):
		return fmt.Sprintf("%s answers from here but Prometheus does not see it up yet", h.Short),
			[]string{"wait a scrape interval (15 s) and look again; if it stays down, check the monitor's targets page (Prometheus /targets) and DNS SRV records"}
	}
	return fmt.Sprintf("%s is reachable now: InstanceDown should clear at the next scrape", h.Short), nil
}

// cloudCommands returns the instance-status, console-log and reboot
// commands for an instance.
func cloudCommands(cloud, region, id, name string) (status, console, reboot string) {
	switch cloud {
	case "azure":
		return fmt.Sprintf("az vm get-instance-view --ids %s --query instanceView.statuses", orPlaceholder(id, "<vm id of "+name+">")),
			fmt.Sprintf("az vm boot-diagnostics get-boot-log --ids %s", orPlaceholder(id, "<vm id of "+name+">")),
			fmt.Sprintf("az vm restart --ids %s", orPlaceholder(id, "<vm id of "+name+">"))
	default:
		reg := ""
		if region != "" {
			reg = " --region " + region
		}
		iid := orPlaceholder(id, "<instance id of "+name+">")
		return fmt.Sprintf("aws ec2 describe-instance-status%s --include-all-instances --instance-ids %s", reg, iid),
			fmt.Sprintf("aws ec2 get-console-output%s --latest --output text --instance-id %s", reg, iid),
			fmt.Sprintf("aws ec2 reboot-instances%s --instance-ids %s", reg, iid)
	}
}

func orPlaceholder(s, p string) string {
	if s == "" {
		return p
	}
	return s
}
