package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/tfvars"
	"scalar-tui/ops/workflow"
)

// Journal is what an upgrade run journals: the workflow's options plus the
// choice of health gate and of the tfvars edit, so that resume rebuilds the
// same gate and the end of the run offers the same edit.
type Journal struct {
	Options
	HealthGate string `json:"health_gate,omitempty"`
	// TFVars is the scalardl root's tfvars file named with --tfvars ("":
	// look for it in the scalardl root); NoTFVars is --no-tfvars.
	TFVars   string `json:"tfvars,omitempty"`
	NoTFVars bool   `json:"no_tfvars,omitempty"`
}

func init() {
	workflow.Register(&workflow.Kind{
		Name:      Workflow,
		Dangerous: true,
		Canary:    true,
		Usage:     "upgrade --to TAG [--image NAME] [--image-tarball FILE | --pull] [--color blue|green] [--canary] [--dry-run] [--yes] [--json]",
		Summary:   "Rolling in-place Scalar DL upgrade, one node at a time, with rollback",
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
		Options: []workflow.KindOption{
			{Name: "to", PerRun: true, Type: workflow.OptString, Default: "", Help: "target image tag (required), e.g. 2.2.0",
				Label: "tag", Note: "an upgrade to the tag already running is refused by preflight", Complete: "image-tag"},
			{Name: "image", Type: workflow.OptString, Default: DefaultImage, Help: "image name"},
			{Name: "image-tarball", PerRun: true, Type: workflow.OptString, Default: "", Help: "local `docker save IMAGE:TAG | gzip` file to copy to nodes lacking the image"},
			{Name: "pull", Type: workflow.OptBool, Default: false, Help: "docker pull on nodes lacking the image (they need registry access)"},
			{Name: "color", Type: workflow.OptString, Default: "blue", Help: "which Scalar DL colour to upgrade: blue or green"},
			{Name: "gate-deadline", Type: workflow.OptDuration, Default: 3 * time.Minute, Help: "how long a switched node may take to serve and be healthy in Envoy before it is rolled back", Positive: true},
			{Name: "gate-interval", Type: workflow.OptDuration, Default: 5 * time.Second, Help: "poll interval of the gate", Positive: true},
			{Name: "health-gate", Type: workflow.OptString, Default: workflow.HealthGatePrometheus, Help: "second opinion the gate after each node also requires: prometheus, scrape, auto (prometheus, else scrape) or off"},
			{Name: "tfvars", Type: workflow.OptString, Default: "", Help: "the scalardl root's tfvars file to align with the new tag at the end (default: the *.tfvars there that sets scalardl = {...}); with --yes it is written"},
			{Name: "no-tfvars", Type: workflow.OptBool, Default: false, Help: "do not offer the tfvars edit at the end"},
			{Name: "allow-drift", PerRun: true, Type: workflow.OptBool, Default: false, Help: "start although nodes run an image Terraform does not record (drift left by an earlier upgrade)"},
		},
		Exclusive:       [][]string{{"image-tarball", "pull"}},
		ConsoleCommand:  "upgrade",
		ConsoleKey:      "upgrade",
		ConsoleArgs:     []string{"to"},
		ConsoleUsage:    ":upgrade TAG",
		ConsoleAsk:      "to",
		ConsoleTitle:    "Upgrade Scalar DL",
		ConsoleDefaults: map[string]string{"health-gate": workflow.HealthGateAuto},
		Validate: func(v workflow.Values) error {
			if v.String("to") == "" {
				return errors.New("upgrade: --to TAG is required")
			}
			if v.String("tfvars") != "" && v.Bool("no-tfvars") {
				return errors.New("upgrade: --tfvars and --no-tfvars are exclusive")
			}
			return nil
		},
		Plan: planKind,
		Resume: workflow.DecodeParams(Workflow, func(_ context.Context, d workflow.Deps, j Journal) (*workflow.Plan, error) {
			if j.HealthGate == "" {
				j.HealthGate = workflow.HealthGateOff
			}
			return BuildPlan(d, j)
		}),
	})
}

// planKind plans a new upgrade: the nodes' current images are read first
// for the plan's display (preflight reads them again).
func planKind(ctx context.Context, d workflow.Deps, v workflow.Values) (*workflow.Plan, error) {
	tfvarsPath := v.String("tfvars")
	if tfvarsPath != "" {
		abs, err := filepath.Abs(tfvarsPath)
		if err != nil {
			return nil, err
		}
		tfvarsPath = abs
	}
	j := Journal{Options: Options{To: v.String("to"), Image: v.String("image"), Tarball: v.String("image-tarball"),
		Pull: v.Bool("pull"), Color: v.String("color"), AllowDrift: v.Bool("allow-drift"),
		GateDeadline: v.Duration("gate-deadline"), GateInterval: v.Duration("gate-interval")},
		HealthGate: v.String("health-gate"), TFVars: tfvarsPath, NoTFVars: v.Bool("no-tfvars")}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	cur, err := Discover(dctx, d.Client, d.Inventory, j.Color)
	cancel()
	if err != nil {
		// Only the plan's display needs it; preflight reads it again.
		slog.Warn("upgrade: could not read the current images", "err", err)
	}
	j.Current = cur
	return BuildPlan(d, j)
}

// TFVarsFile returns the tfvars file to align with the upgrade: --tfvars,
// else the one *.tfvars of the scalardl root that sets `scalardl = {...}`.
func TFVarsFile(inv *inventory.Inventory, j Journal) (string, error) {
	if j.TFVars != "" {
		return j.TFVars, nil
	}
	for _, r := range inv.Roots {
		if r.Name == "scalardl" {
			return tfvars.Find(r.Dir)
		}
	}
	return tfvars.Find("")
}

// TFVarsChange computes the edit that makes the tfvars record the
// upgrade's target, against the file as it is now.
func TFVarsChange(inv *inventory.Inventory, j Journal) (*tfvars.Change, error) {
	path, err := TFVarsFile(inv, j)
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--tfvars: %w", err)
	}
	opts := j.Options
	if opts.Color == "" {
		opts.Color = "blue"
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	return tfvars.SetStrings(path, src, TFVarsKeys(opts))
}

// BuildPlan wires the SSH client (tarball copy) and the health gate, and
// shows the tfvars edit the end of the run offers.
func BuildPlan(d workflow.Deps, j Journal) (*workflow.Plan, error) {
	inv := d.Inventory
	opts := j.Options
	opts.Transfer = d.Client
	var tfNote string
	if !j.NoTFVars {
		ch, err := TFVarsChange(inv, j)
		switch {
		case err != nil && j.TFVars != "":
			return nil, err
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
	src, err := d.HealthSource(j.HealthGate)
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
	p, err := Plan(inv, opts)
	if err != nil {
		return nil, err
	}
	if tfNote != "" && TerraformNote(inv.ByRole(roleOf(opts.Color)), p.Params.(Options)) != "" {
		p.Notes = append(p.Notes, tfNote)
	}
	p.Params = Journal{Options: p.Params.(Options), HealthGate: j.HealthGate, TFVars: j.TFVars, NoTFVars: j.NoTFVars}
	return p, nil
}

func roleOf(color string) inventory.Role {
	if color == "green" {
		return inventory.RoleScalarDLGreen
	}
	return inventory.RoleScalarDLBlue
}
