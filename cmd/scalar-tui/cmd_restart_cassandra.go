package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restartcassandra"
)

func init() {
	register(newRestartCassandraCmd)
	registerJSONResume(restartcassandra.Workflow, buildRestartCassandra)
}

// restartCassandraParams are what a run journals.
type restartCassandraParams struct {
	restartcassandra.Options
	runbookParams
}

func newRestartCassandraCmd(g *globalOptions) *cobra.Command {
	var o runbookFlags
	var host string
	var force bool
	cmd := &cobra.Command{
		Use:   "restart-cassandra --host NODE [--force] [--dry-run] [--yes] [--json] [--no-silence]",
		Short: "Start Cassandra on a node (runbook of CassandraProcessStopped)",
		Long: `Runbook of the CassandraProcessStopped alert (scalar-terraform
docs/CassandraProcessStopped.md). Takes the cluster lock, silences the node's
alerts in Alertmanager (unless --no-silence), refuses when another Cassandra
node is down (unless --force), runs ` + "`sudo systemctl start cassandra`" + ` on the
node, waits until another node's ` + "`nodetool status`" + ` shows it UN, then (with
--health-gate prometheus, the default) until the alert no longer fires.

Exit status: 0 done, 1 failed or refused, 2 bad flags or deployment,
130 canceled.`,
		Example: "  scalar-tui restart-cassandra --host cassandra-2 --dry-run\n  scalar-tui restart-cassandra --host cassandra-2 --yes --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rp, err := o.params()
			if err != nil {
				return badInput(err)
			}
			if host == "" {
				return badInput(fmt.Errorf("--host is required (the Cassandra node to start)"))
			}
			p := restartCassandraParams{Options: restartcassandra.Options{Host: host, Force: force,
				GateDeadline: o.gateDeadline, GateInterval: o.gateInterval}, runbookParams: rp}
			return runWorkflow(cmd.Context(), g, o.wf, streamsOf(cmd), func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				return buildRestartCassandra(inv, cl, p)
			})
		},
	}
	f := cmd.Flags()
	o.add(f, false, true)
	f.StringVar(&host, "host", "", "the Cassandra node to start: name, short name or IP")
	f.BoolVar(&force, "force", false, "start the node even when another Cassandra node is down")
	return cmd
}

func buildRestartCassandra(inv *inventory.Inventory, cl *sshx.Client, params restartCassandraParams) (*workflow.Plan, error) {
	src, check, err := runbookHealth(inv, cl, params.runbookParams)
	if err != nil {
		return nil, err
	}
	opts := params.Options
	opts.Health = src
	p, err := restartcassandra.Plan(inv, opts)
	if err != nil {
		return nil, err
	}
	params.Host = p.Params.(restartcassandra.Options).Host
	p.Params = params
	if src != nil {
		p.Preflight = append(p.Preflight, check)
	}
	if err := wrapRunbookSilence(inv, cl, p, params.runbookParams, params.Host); err != nil {
		return nil, err
	}
	return p, nil
}
