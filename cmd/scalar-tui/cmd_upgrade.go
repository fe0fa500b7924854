package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/upgrade"
)

func init() {
	register(newUpgradeCmd)
	registerResume(upgrade.Workflow, func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, raw json.RawMessage) (*workflow.Plan, error) {
		var params upgradeParams
		if err := json.Unmarshal(raw, &params); err != nil {
			return nil, fmt.Errorf("journalled upgrade parameters: %w", err)
		}
		if params.HealthGate == "" {
			params.HealthGate = healthGateOff
		}
		return buildUpgradePlan(inv, cl, params)
	})
}

// upgradeParams are what an upgrade run journals: the workflow's options plus
// the CLI's choice of health gate, so that resume rebuilds the same gate.
type upgradeParams struct {
	upgrade.Options
	HealthGate string `json:"health_gate,omitempty"`
}

// buildUpgradePlan wires the SSH client (tarball copy) and the health gate.
func buildUpgradePlan(inv *inventory.Inventory, cl *sshx.Client, params upgradeParams) (*workflow.Plan, error) {
	opts := params.Options
	opts.Transfer = cl
	src, err := healthGateSource(inv, cl, params.HealthGate)
	if err != nil {
		return nil, err
	}
	if src != nil {
		opts.Health = func(ctx context.Context, h inventory.Host) (bool, string, error) {
			snap, err := src.Snapshot(ctx)
			if err != nil {
				return false, "", err
			}
			ok, why := snap.ScalarDLServing(h.Name)
			return ok, why, nil
		}
	}
	p, err := upgrade.Plan(inv, opts)
	if err != nil {
		return nil, err
	}
	p.Params = upgradeParams{Options: p.Params.(upgrade.Options), HealthGate: params.HealthGate}
	return p, nil
}

func newUpgradeCmd(g *globalOptions) *cobra.Command {
	var (
		wf                     workflowFlags
		o                      upgrade.Options
		gateDeadline, interval time.Duration
		healthGate             string
	)
	cmd := &cobra.Command{
		Use:   "upgrade --to TAG [--image NAME] [--image-tarball FILE | --pull] [--color blue|green] [--canary] [--dry-run] [--yes] [--json]",
		Short: "Rolling in-place Scalar DL upgrade, one node at a time, with rollback",
		Long: `Upgrade the Scalar DL nodes of one colour in place, one node at a time
(domain.md §4.1): refuse unless every node serves, Envoy sees them all healthy,
the target differs from what runs and the image is available. For each node:
check the other nodes serve, load the image (already there, or copy
--image-tarball to /tmp and docker load, or --pull), back up ~/provision/env,
write the new SCALAR_IMAGE, ` + "`docker-compose up -d`" + `, then wait until the node is
SERVING and healthy in every Envoy. A node that does not get there within
--gate-deadline is rolled back to its previous env and the run stops, saying
which node runs which tag.

Exit status: 0 done (or canary-wait with --canary), 1 failed or refused,
2 bad flags, 130 canceled.`,
		Example: "  scalar-tui upgrade --to 2.2.0 --image-tarball scalar-ledger-2.2.0.tar.gz --dry-run\n" +
			"  scalar-tui upgrade --to 2.2.0 --canary",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.To == "" {
				return badInput(fmt.Errorf("upgrade: --to TAG is required"))
			}
			o.GateDeadline, o.GateInterval = gateDeadline, interval
			return runWorkflow(cmd.Context(), g, wf, streamsOf(cmd), func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				opts := o
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				cur, err := upgrade.Discover(dctx, cl, inv, opts.Color)
				cancel()
				if err != nil {
					// Only the plan's display needs it; preflight reads it again.
					slog.Warn("upgrade: could not read the current images", "err", err)
				}
				opts.Current = cur
				return buildUpgradePlan(inv, cl, upgradeParams{Options: opts, HealthGate: healthGate})
			})
		},
	}
	f := cmd.Flags()
	wf.addFlags(f, true)
	f.StringVar(&o.To, "to", "", "target image tag (required), e.g. 2.2.0")
	f.StringVar(&o.Image, "image", upgrade.DefaultImage, "image name")
	f.StringVar(&o.Tarball, "image-tarball", "", "local `docker save IMAGE:TAG | gzip` file to copy to nodes lacking the image")
	f.BoolVar(&o.Pull, "pull", false, "docker pull on nodes lacking the image (they need registry access)")
	f.StringVar(&o.Color, "color", "blue", "which Scalar DL colour to upgrade: blue or green")
	f.DurationVar(&gateDeadline, "gate-deadline", 3*time.Minute, "how long a switched node may take to serve and be healthy in Envoy before it is rolled back")
	f.DurationVar(&interval, "gate-interval", 5*time.Second, "poll interval of the gate")
	positive(f, "gate-deadline", "gate-interval")
	f.StringVar(&healthGate, "health-gate", healthGatePrometheus, "second opinion the gate after each node also requires: prometheus, scrape, auto (prometheus, else scrape) or off")
	cmd.MarkFlagsMutuallyExclusive("image-tarball", "pull")
	return cmd
}
