package reachability

import (
	"errors"
	"time"

	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/runbookkind"
)

func init() {
	runbookkind.Register(runbookkind.Spec[Options]{
		Kind: workflow.Kind{
			Name:     Workflow,
			ReadOnly: true,
			Usage:    "reachability --host HOST [--dry-run] [--json]",
			Summary:  "Find out why a host is unreachable (runbook of InstanceDown; read-only)",
			Long: `Runbook of the InstanceDown alert (scalar-terraform docs/InstanceDown.md).
Read-only: it changes nothing, takes no lock and needs no confirmation. It
checks what can be known from here (the bastion answers; the host's sshd
answers TCP through it; an SSH login works; node_exporter answers; what
Prometheus says), then prints a verdict and the cloud-side next step with the
instance's own commands (aws ec2 ... / az vm ...), since the console does not
own the cloud account.

Exit status: 0 done (whatever the verdict), 1 failed, 2 bad flags or
deployment, 130 canceled.`,
			Example: "  scalar-tui reachability --host cassandra-2\n  scalar-tui reachability --host envoy-1 --json",
			Options: []workflow.KindOption{
				{Name: "host", PerRun: true, Type: workflow.OptString, Default: "", Help: "the host: name, short name or IP"},
				{Name: "timeout", Type: workflow.OptDuration, Default: 10 * time.Second, Help: "bound on each probe"},
			},
		},
		// Monitoring is one finding among others here: no preflight on it.
		Validate: func(v workflow.Values) error {
			if err := runbookkind.HostRequired(v); err != nil {
				return err
			}
			if v.Duration("timeout") <= 0 {
				return errors.New("--timeout must be positive")
			}
			return nil
		},
		Options: func(v workflow.Values) Options {
			return Options{Host: v.String("host"), Timeout: v.Duration("timeout")}
		},
		Plan: func(d workflow.Deps, o Options, src health.Source) (*workflow.Plan, error) {
			o.Health, o.Dial = src, d.Client.DialContext
			return Plan(d.Inventory, o)
		},
	})
}
