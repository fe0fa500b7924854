package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/reachability"
)

func init() {
	register(newReachabilityCmd)
	registerJSONResume(reachability.Workflow, buildReachability)
}

// reachabilityParams are what a run journals.
type reachabilityParams struct {
	reachability.Options
	runbookParams
}

func newReachabilityCmd(g *globalOptions) *cobra.Command {
	var o runbookFlags
	var host string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reachability --host HOST [--dry-run] [--json]",
		Short: "Find out why a host is unreachable (runbook of InstanceDown; read-only)",
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
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rp, err := o.params()
			if err != nil {
				return badInput(err)
			}
			if host == "" {
				return badInput(fmt.Errorf("--host is required"))
			}
			if timeout <= 0 {
				return badInput(fmt.Errorf("--timeout must be positive"))
			}
			// Read-only: nothing to confirm.
			o.wf.yes = true
			p := reachabilityParams{Options: reachability.Options{Host: host, Timeout: timeout}, runbookParams: rp}
			return runWorkflow(cmd.Context(), g, o.wf, streamsOf(cmd), func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				return buildReachability(inv, cl, p)
			})
		},
	}
	f := cmd.Flags()
	o.add(f, false, true)
	_ = f.MarkHidden("no-silence") // accepted for uniformity; a read-only run silences nothing
	_ = f.MarkHidden("yes")
	f.StringVar(&host, "host", "", "the host: name, short name or IP")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "bound on each probe")
	return cmd
}

func buildReachability(inv *inventory.Inventory, cl *sshx.Client, params reachabilityParams) (*workflow.Plan, error) {
	// Monitoring is one finding among others here: no preflight on it.
	src, err := healthGateSource(inv, cl, params.HealthGate)
	if err != nil {
		return nil, err
	}
	opts := params.Options
	opts.Health, opts.Dial = src, cl.DialContext
	p, err := reachability.Plan(inv, opts)
	if err != nil {
		return nil, err
	}
	params.Options = p.Params.(reachability.Options)
	p.Params = params
	return p, nil
}
