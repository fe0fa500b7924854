package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/tfvars"
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
	registerResumeFinisher(upgrade.Workflow, func(inv *inventory.Inventory, raw json.RawMessage, wf workflowFlags, s cmdStreams) error {
		var params upgradeParams
		if err := json.Unmarshal(raw, &params); err != nil {
			return failed(fmt.Errorf("journalled upgrade parameters: %w", err))
		}
		return offerTFVars(inv, params, wf, s)
	})
}

// upgradeParams are what an upgrade run journals: the workflow's options plus
// the CLI's choice of health gate, so that resume rebuilds the same gate.
type upgradeParams struct {
	upgrade.Options
	HealthGate string `json:"health_gate,omitempty"`
	// TFVars is the scalardl root's tfvars file named with --tfvars ("":
	// look for it in the scalardl root); NoTFVars is --no-tfvars.
	TFVars   string `json:"tfvars,omitempty"`
	NoTFVars bool   `json:"no_tfvars,omitempty"`
}

// tfvarsFile returns the tfvars file to align with the upgrade: --tfvars,
// else the one *.tfvars of the scalardl root that sets `scalardl = {...}`.
func tfvarsFile(inv *inventory.Inventory, params upgradeParams) (string, error) {
	if params.TFVars != "" {
		return params.TFVars, nil
	}
	for _, r := range inv.Roots {
		if r.Name == "scalardl" {
			return tfvars.Find(r.Dir)
		}
	}
	return tfvars.Find("")
}

// tfvarsChange computes the edit that makes the tfvars record the
// upgrade's target, against the file as it is now.
func tfvarsChange(inv *inventory.Inventory, params upgradeParams) (*tfvars.Change, error) {
	path, err := tfvarsFile(inv, params)
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--tfvars: %w", err)
	}
	opts := params.Options
	if opts.Color == "" {
		opts.Color = "blue"
	}
	if opts.Image == "" {
		opts.Image = upgrade.DefaultImage
	}
	return tfvars.SetStrings(path, src, upgrade.TFVarsKeys(opts))
}

// buildUpgradePlan wires the SSH client (tarball copy) and the health gate,
// and shows the tfvars edit the end of the run offers.
func buildUpgradePlan(inv *inventory.Inventory, cl *sshx.Client, params upgradeParams) (*workflow.Plan, error) {
	opts := params.Options
	opts.Transfer = cl
	var tfNote string
	if !params.NoTFVars {
		ch, err := tfvarsChange(inv, params)
		switch {
		case err != nil && params.TFVars != "":
			return nil, badInput(err)
		case err != nil:
			tfNote = "the tfvars edit cannot be offered: " + err.Error()
		case ch.Changed():
			tfNote = fmt.Sprintf("the end of the run offers this change to %s (written only when confirmed; --no-tfvars to skip):\n%s",
				ch.Path, strings.TrimRight(ch.Diff(), "\n"))
		default:
			tfNote = ch.Path + " already sets the target for the colour"
		}
		if ch != nil {
			color := opts.Color
			if color == "" {
				color = "blue"
			}
			if e, err := tfvars.Get(ch.Path, ch.Before, color+"_image_tag"); err == nil && e.How == tfvars.Set {
				opts.TFVarsTag = e.Value
			}
		}
	}
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
	if tfNote != "" && upgrade.TerraformNote(inv.ByRole(roleOf(opts.Color)), p.Params.(upgrade.Options)) != "" {
		p.Notes = append(p.Notes, tfNote)
	}
	p.Params = upgradeParams{Options: p.Params.(upgrade.Options), HealthGate: params.HealthGate, TFVars: params.TFVars, NoTFVars: params.NoTFVars}
	return p, nil
}

func roleOf(color string) inventory.Role {
	if color == "green" {
		return inventory.RoleScalarDLGreen
	}
	return inventory.RoleScalarDLBlue
}

// offerTFVars ends a finished upgrade: it shows the tfvars edit that makes
// Terraform record what now runs and writes it only when the operator
// confirms (or, headless with --yes, when --tfvars named the file). It
// never runs terraform.
func offerTFVars(inv *inventory.Inventory, params upgradeParams, wf workflowFlags, s cmdStreams) error {
	w := s.out
	if wf.json {
		w = s.err
	}
	if params.NoTFVars {
		fmt.Fprintln(w, "--no-tfvars: align the scalardl root's tfvars with what runs yourself before the next terraform apply")
		return nil
	}
	ch, err := tfvarsChange(inv, params)
	if err != nil {
		fmt.Fprintf(w, "Terraform still records the old image: %v\n", err)
		return nil
	}
	if !ch.Changed() {
		fmt.Fprintf(w, "%s already records the upgrade's target\n", ch.Path)
		return nil
	}
	fmt.Fprintf(w, "\nTerraform still records the old image. This change to %s makes it record what now runs:\n%s\n", ch.Path, ch.Diff())
	next := fmt.Sprintf("then run `terraform plan` and `terraform apply` in %s yourself (the console never runs terraform)", filepath.Dir(ch.Path))
	switch {
	case wf.yes && params.TFVars == "":
		fmt.Fprintf(w, "not written (headless: pass --tfvars %s to write it); %s\n", ch.Path, next)
		return nil
	case wf.yes:
	case !stdinIsTerminal(s.in):
		fmt.Fprintf(w, "not written (stdin is not a terminal); %s\n", next)
		return nil
	default:
		fmt.Fprintf(w, "Write it? Type \"yes\": ")
		line, _ := bufio.NewReader(s.in).ReadString('\n')
		if !strings.EqualFold(strings.TrimSpace(line), "yes") {
			fmt.Fprintf(w, "not written; %s\n", next)
			return nil
		}
	}
	if err := ch.Write(); err != nil {
		return failed(fmt.Errorf("the upgrade is done, but writing %s failed: %w", ch.Path, err))
	}
	fmt.Fprintf(w, "wrote %s; %s\n", ch.Path, next)
	return nil
}

func newUpgradeCmd(g *globalOptions) *cobra.Command {
	var (
		wf                     workflowFlags
		o                      upgrade.Options
		gateDeadline, interval time.Duration
		healthGate             string
		tfvarsPath             string
		noTFVars               bool
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

Terraform still records the old tag after an in-place upgrade, and a routine
` + "`terraform apply`" + ` in the scalardl root would then put it back on every node of
the colour at once. The plan shows the edit to the scalardl root's tfvars
(` + "`scalardl = { blue_image_tag = ... }`" + `, made with HCL's writer, comments kept;
a commented-out default is uncommented) and the end of a finished run offers
it: written only when you type yes, or with --yes when --tfvars names the
file. terraform itself is never run. An upgrade is refused while nodes run
an image that neither Terraform nor the tfvars record, unless --allow-drift.

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
			if tfvarsPath != "" && noTFVars {
				return badInput(fmt.Errorf("upgrade: --tfvars and --no-tfvars are exclusive"))
			}
			if tfvarsPath != "" {
				abs, err := filepath.Abs(tfvarsPath)
				if err != nil {
					return badInput(err)
				}
				tfvarsPath = abs
			}
			params := upgradeParams{HealthGate: healthGate, TFVars: tfvarsPath, NoTFVars: noTFVars}
			var (
				plan   *workflow.Plan
				invRun *inventory.Inventory
			)
			s := streamsOf(cmd)
			err := runWorkflow(cmd.Context(), g, wf, s, func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				opts := o
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				cur, err := upgrade.Discover(dctx, cl, inv, opts.Color)
				cancel()
				if err != nil {
					// Only the plan's display needs it; preflight reads it again.
					slog.Warn("upgrade: could not read the current images", "err", err)
				}
				opts.Current = cur
				pp := params
				pp.Options = opts
				p, err := buildUpgradePlan(inv, cl, pp)
				plan, invRun, params = p, inv, pp
				return p, err
			})
			if err != nil || wf.dryRun || plan == nil {
				return err
			}
			if st, lerr := workflow.LoadRun(g.deploymentOf(invRun, wf.lockPath).dir, plan.ID); lerr == nil && st.Status == workflow.StatusDone {
				return offerTFVars(invRun, params, wf, s)
			}
			return nil
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
	f.StringVar(&tfvarsPath, "tfvars", "", "the scalardl root's tfvars file to align with the new tag at the end (default: the *.tfvars there that sets scalardl = {...}); with --yes it is written")
	f.BoolVar(&noTFVars, "no-tfvars", false, "do not offer the tfvars edit at the end")
	f.BoolVar(&o.AllowDrift, "allow-drift", false, "start although nodes run an image Terraform does not record (drift left by an earlier upgrade)")
	cmd.MarkFlagsMutuallyExclusive("image-tarball", "pull")
	return cmd
}
