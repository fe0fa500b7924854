package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restartcontainer"
)

func init() {
	register(newRestartContainerCmd)
	registerJSONResume(restartcontainer.Workflow, buildRestartContainer)
}

// restartContainerParams are what a run journals.
type restartContainerParams struct {
	restartcontainer.Options
	runbookParams
}

func newRestartContainerCmd(g *globalOptions) *cobra.Command {
	var o runbookFlags
	var host, service string
	cmd := &cobra.Command{
		Use:   "restart-container --host HOST [--service SVC] [--dry-run] [--yes] [--json] [--no-silence]",
		Short: "Start a host's docker-compose service (runbook of the *ContainerDown alerts)",
		Long: `Runbook of ScalarDLContainerDown, EnvoyContainerDown and the Cassy, Reaper and
monitor container alerts (scalar-terraform docs/*ContainerDown.md). Takes the
cluster lock, silences the host's alerts (unless --no-silence), runs
` + "`cd ~/provision && docker-compose up -d SERVICE`" + ` on the host and waits until
the container runs; for Scalar DL until the ledger answers SERVING and every
Envoy lists it healthy; then (with --health-gate prometheus) until the alert
no longer fires. --service defaults to the role's service (scalar, envoy,
cassy, reaper; prometheus on the monitor, which also runs alertmanager,
grafana, nginx and tailon). With Alertmanager itself down, pass --no-silence.

Exit status: 0 done, 1 failed or refused, 2 bad flags or deployment,
130 canceled.`,
		Example: "  scalar-tui restart-container --host scalardl-blue-2 --dry-run\n" +
			"  scalar-tui restart-container --host monitor-1 --service grafana --yes",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rp, err := o.params()
			if err != nil {
				return badInput(err)
			}
			if host == "" {
				return badInput(fmt.Errorf("--host is required"))
			}
			p := restartContainerParams{Options: restartcontainer.Options{Host: host, Service: service,
				GateDeadline: o.gateDeadline, GateInterval: o.gateInterval}, runbookParams: rp}
			return runWorkflow(cmd.Context(), g, o.wf, streamsOf(cmd), func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				return buildRestartContainer(inv, cl, p)
			})
		},
	}
	f := cmd.Flags()
	o.add(f, false, true)
	f.StringVar(&host, "host", "", "the host: name, short name or IP")
	f.StringVar(&service, "service", "", "the docker-compose service (default: the role's)")
	return cmd
}

func buildRestartContainer(inv *inventory.Inventory, cl *sshx.Client, params restartContainerParams) (*workflow.Plan, error) {
	src, check, err := runbookHealth(inv, cl, params.runbookParams)
	if err != nil {
		return nil, err
	}
	opts := params.Options
	opts.Health = src
	p, err := restartcontainer.Plan(inv, opts)
	if err != nil {
		return nil, err
	}
	params.Options = p.Params.(restartcontainer.Options)
	p.Params = params
	if src != nil {
		p.Preflight = append(p.Preflight, check)
	}
	if err := wrapRunbookSilence(inv, cl, p, params.runbookParams, params.Host); err != nil {
		return nil, err
	}
	return p, nil
}
