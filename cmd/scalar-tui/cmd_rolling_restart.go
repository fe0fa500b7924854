package main

import (
	"context"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/rollingrestart"
)

func init() {
	register(newRollingRestartCmd)
	registerJSONResume(rollingrestart.Workflow, buildRollingRestart)
}

// rollingRestartParams are what a run journals.
type rollingRestartParams struct {
	rollingrestart.Options
	runbookParams
}

func newRollingRestartCmd(g *globalOptions) *cobra.Command {
	var o runbookFlags
	var hosts []string
	cmd := &cobra.Command{
		Use:   "rolling-restart [--host NODE]... [--dry-run] [--yes] [--json] [--canary] [--no-silence]",
		Short: "Restart Cassandra one node at a time (drain, stop, start, ring UN)",
		Long: `Rolling restart of Cassandra. Takes the cluster lock, silences the Cassandra
nodes' alerts (unless --no-silence), refuses unless every node is UN and
cassandra.service active, then on one node at a time runs ` + "`nodetool drain`" + `,
` + "`sudo systemctl stop cassandra`" + ` and ` + "`sudo systemctl start cassandra`" + `, and waits
until the whole ring is UN seen from another node (and monitoring agrees,
with --health-gate) before the next node. A node the run left drained or
stopped is restarted whichever way the run ends, and first on resume.
--canary stops after the first node; ` + "`scalar-tui resume ID`" + ` continues.

Exit status: 0 done (or canary-wait), 1 failed or refused, 2 bad flags or
deployment, 130 canceled.`,
		Example: "  scalar-tui rolling-restart --dry-run\n  scalar-tui rolling-restart --yes --json --canary",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rp, err := o.params()
			if err != nil {
				return badInput(err)
			}
			p := rollingRestartParams{Options: rollingrestart.Options{Hosts: hosts,
				GateDeadline: o.gateDeadline, GateInterval: o.gateInterval}, runbookParams: rp}
			return runWorkflow(cmd.Context(), g, o.wf, streamsOf(cmd), func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				return buildRollingRestart(inv, cl, p)
			})
		},
	}
	f := cmd.Flags()
	o.add(f, true, true)
	f.StringArrayVar(&hosts, "host", nil, "restart only this Cassandra node (repeatable, in order); preflight and gates still cover the whole ring")
	return cmd
}

func buildRollingRestart(inv *inventory.Inventory, cl *sshx.Client, params rollingRestartParams) (*workflow.Plan, error) {
	src, check, err := runbookHealth(inv, cl, params.runbookParams)
	if err != nil {
		return nil, err
	}
	opts := params.Options
	opts.Health = src
	p, err := rollingrestart.Plan(inv, opts)
	if err != nil {
		return nil, err
	}
	params.Options = p.Params.(rollingrestart.Options)
	p.Params = params
	if src != nil {
		p.Preflight = append(p.Preflight, check)
	}
	var hosts []string
	for _, h := range inv.ByRole(inventory.RoleCassandra) {
		hosts = append(hosts, h.Name)
	}
	if err := wrapRunbookSilence(inv, cl, p, params.runbookParams, hosts...); err != nil {
		return nil, err
	}
	return p, nil
}
