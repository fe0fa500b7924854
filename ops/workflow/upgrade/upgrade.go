// Package upgrade is the rolling in-place Scalar DL upgrade of domain.md §4.1
// (built from scalar-terraform's own commands): for one colour, one node at
// a time, make sure the other nodes serve, load the image, point
// ~/provision/env at the new tag, `docker-compose up -d`, and wait until the
// node is SERVING, healthy in every Envoy and (optionally) fresh in the
// health source. A node that does not pass within the deadline is rolled back
// to its previous env and the run stops, saying which node runs which tag.
//
// It builds a workflow.Plan and knows nothing of the UI. It must not import
// tui or cmd.
package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// Workflow is the workflow's name in plans, journals and run IDs.
const Workflow = "upgrade"

// DefaultImage is scalar-terraform's default Scalar DL image name.
const DefaultImage = "ghcr.io/scalar-labs/scalar-ledger"

// MarkerUpgrading is set while a node is being switched (out of rotation, or
// about to be): its value names the node and its previous image. While set
// the engine does not honour a pause or canary stop; Resume first checks the
// node and rolls it back unless it serves.
const MarkerUpgrading = "scalardl-upgrading"

// Remote commands, exactly as run.
const (
	// ProbeCommand is the ledger's health check in 2.x images (helm chart
	// for 2.1.0). 3.x images have the probe at ProbePath3 instead: the
	// upgrade uses whichever the container has (see serving).
	ProbeCommand = "docker exec provision_scalar_1 " + ProbePath2 + " -addr=:50051"
	// ProbePath2 and ProbePath3 are where grpc_health_probe lives in 2.x and
	// 3.x ledger images.
	ProbePath2 = "/bin/grpc_health_probe"
	ProbePath3 = "/usr/local/bin/grpc_health_probe"
	// ImageCommand prints the image of the running ledger container.
	ImageCommand = "docker ps --filter name=provision_scalar_1 --format '{{.Image}}'"
	// EnvCommand prints the compose env file.
	EnvCommand = "cat ~/provision/env"
	// EnvoyCommand prints Envoy's upstream cluster state.
	EnvoyCommand = "curl -s localhost:9001/clusters"
)

// Runner runs a command on a host with stdin; *sshx.Client satisfies it. It
// is used to copy the image tarball (the engine's Env has no stdin).
type Runner interface {
	Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error)
}

// Options selects the upgrade.
type Options struct {
	// To is the target image tag (required), e.g. "2.2.0".
	To string `json:"to"`
	// Image is the image name (default DefaultImage).
	Image string `json:"image,omitempty"`
	// Tarball is a local `docker save | gzip` file to copy to each node's
	// /tmp and `docker load` when the image is not there yet.
	Tarball string `json:"tarball,omitempty"`
	// Pull runs `docker pull` on nodes lacking the image (they need registry
	// credentials; scalar-terraform nodes usually have none).
	Pull bool `json:"pull,omitempty"`
	// Color is "blue" (default) or "green".
	Color string `json:"color,omitempty"`
	// GateDeadline bounds the wait for a switched node (default 3 minutes);
	// GateInterval is the poll interval (default 5 s).
	GateDeadline time.Duration `json:"gate_deadline,omitempty"`
	GateInterval time.Duration `json:"gate_interval,omitempty"`
	// RollbackDeadline bounds the wait for a rolled-back node to serve again
	// (default GateDeadline).
	RollbackDeadline time.Duration `json:"rollback_deadline,omitempty"`
	// Current maps a node's short name to the image it ran when the plan was
	// built (see Discover); only shown in the plan.
	Current map[string]string `json:"current,omitempty"`
	// AllowDrift starts the upgrade although a node runs an image that is
	// neither Terraform's (the tag in state) nor the target: drift an
	// earlier upgrade left unresolved.
	AllowDrift bool `json:"allow_drift,omitempty"`
	// TFVarsTag is the tag the scalardl root's tfvars already sets for the
	// colour, when known: a node running it is not drift (the tfvars were
	// aligned, terraform apply has not run yet).
	TFVarsTag string `json:"tfvars_tag,omitempty"`
	// Transfer copies the tarball; required with Tarball. Not journalled.
	Transfer Runner `json:"-"`
	// Health, when set, is a second opinion the gate also requires for the
	// switched node (e.g. the health source sees the new container). Errors
	// count as not healthy. Not journalled: pass it again on Resume.
	Health func(ctx context.Context, h inventory.Host) (ok bool, reason string, err error) `json:"-"`
}

var (
	tagRE   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imageRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$`)
)

// Ref returns "image:tag".
func (o Options) Ref() string { return o.Image + ":" + o.To }

// normalize fills defaults and validates.
func (o *Options) normalize() error {
	if o.To == "" {
		return errors.New("upgrade: --to TAG is required")
	}
	if !tagRE.MatchString(o.To) {
		return fmt.Errorf("upgrade: bad image tag %q", o.To)
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if !imageRE.MatchString(o.Image) {
		return fmt.Errorf("upgrade: bad image name %q", o.Image)
	}
	switch o.Color {
	case "":
		o.Color = "blue"
	case "blue", "green":
	default:
		return fmt.Errorf("upgrade: --color must be blue or green, not %q", o.Color)
	}
	if o.Tarball != "" && o.Pull {
		return errors.New("upgrade: --image-tarball and --pull are exclusive")
	}
	if o.Tarball != "" {
		abs, err := filepath.Abs(o.Tarball)
		if err != nil {
			return fmt.Errorf("upgrade: %w", err)
		}
		o.Tarball = abs
		if !regexp.MustCompile(`^[A-Za-z0-9._-]+$`).MatchString(filepath.Base(abs)) {
			return fmt.Errorf("upgrade: rename the tarball %q to letters, digits, '.', '_' and '-' only", filepath.Base(abs))
		}
	}
	if o.GateDeadline <= 0 {
		o.GateDeadline = 3 * time.Minute
	}
	if o.GateInterval <= 0 {
		o.GateInterval = 5 * time.Second
	}
	if o.RollbackDeadline <= 0 {
		o.RollbackDeadline = o.GateDeadline
	}
	return nil
}

func (o Options) role() inventory.Role {
	if o.Color == "green" {
		return inventory.RoleScalarDLGreen
	}
	return inventory.RoleScalarDLBlue
}

// upgradingMarker is the value of MarkerUpgrading.
type upgradingMarker struct {
	Host     string `json:"host"`
	Previous string `json:"previous"`
	Backup   string `json:"backup"`
}

// Plan builds the rolling upgrade plan for inv.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock.
func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("upgrade: no inventory")
	}
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if opts.Tarball != "" && opts.Transfer == nil {
		return nil, errors.New("upgrade: copying the tarball needs a transfer runner (SSH client)")
	}
	nodes := inv.ByRole(opts.role())
	if len(nodes) == 0 {
		return nil, fmt.Errorf("upgrade: the inventory has no %s Scalar DL nodes", opts.Color)
	}
	envoys := inv.ByRole(inventory.RoleEnvoy)
	if len(envoys) == 0 {
		return nil, errors.New("upgrade: the inventory has no Envoy hosts; the gate needs them")
	}
	ref := opts.Ref()
	u := &upgrader{opts: opts, nodes: nodes, envoys: envoys, ref: ref}

	p := workflow.NewPlan(Workflow, inv, now)
	p.Params = opts
	p.Preflight = []workflow.Check{u.checkNodesServing(), u.checkDiscoverable(), u.checkEnvoyHealthy()}
	if opts.Health != nil {
		p.Preflight = append(p.Preflight, u.checkHealthSource())
	}
	p.Preflight = append(p.Preflight, u.checkNoDrift(), u.checkTargetDiffers(), u.checkImageAvailable())
	for _, h := range nodes {
		p.Steps = append(p.Steps, u.nodeSteps(h)...)
	}
	if note := majorNote(nodes, opts); note != "" {
		p.Notes = append(p.Notes, note)
	}
	if note := TerraformNote(nodes, opts); note != "" {
		p.Notes = append(p.Notes, note)
	}
	p.Compensations = map[string]workflow.Step{
		MarkerUpgrading: {
			ID:    "compensate-upgrading-node",
			Title: "check the node the interrupted run was switching; roll it back unless it serves",
			Run:   func(ctx context.Context, env *workflow.Env) error { return u.compensate(ctx, env) },
		},
	}
	return p, nil
}

// checkNodesServing: every node answers SERVING to the probe (a resume
// skips it: its compensation checks the node it was switching first).
func (u *upgrader) checkNodesServing() workflow.Check {
	nodes, opts := u.nodes, u.opts
	return workflow.Check{
		Name:        "nodes-serving",
		Description: fmt.Sprintf("`%s` says SERVING on all %d %s nodes", ProbeCommand, len(nodes), opts.Color),
		Run: func(ctx context.Context, env *workflow.Env) error {
			if m := u.switching(env); m != nil {
				return nil // Resume: the compensation checks that node first
			}
			var bad []string
			for _, h := range nodes {
				if ok, why := u.serving(ctx, env, h); !ok {
					bad = append(bad, h.Short+": "+why)
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("%s; a rolling upgrade takes one node out at a time, so every node must serve first", strings.Join(bad, "; "))
			}
			return nil
		},
	}
}

// checkDiscoverable: some Envoy lists the colour's nodes, or the gate
// after each node could never pass.
func (u *upgrader) checkDiscoverable() workflow.Check {
	nodes, envoys, opts := u.nodes, u.envoys, u.opts
	return workflow.Check{
		Name:        "discoverable",
		Description: fmt.Sprintf("`%s` on the Envoy hosts lists the %s nodes (the colour is discoverable by Envoy)", EnvoyCommand, opts.Color),
		Run: func(ctx context.Context, env *workflow.Env) error {
			for _, e := range envoys {
				r, err := env.Exec(ctx, e.Name, EnvoyCommand)
				if err != nil {
					return fmt.Errorf("envoy %s: %w", e.Short, err)
				}
				if r.ExitCode != 0 {
					return fmt.Errorf("envoy %s admin: curl exited %d", e.Short, r.ExitCode)
				}
				for _, h := range nodes {
					if strings.Contains(r.Stdout, "scalar-service::"+h.PrivateIP+":50051::") {
						return nil
					}
				}
			}
			return fmt.Errorf("no Envoy lists any %s node: the %s colour is not discoverable by Envoy "+
				"(%s_discoverable_by_envoy is false in the scalardl root's `scalardl = {...}` tfvars, so the `scalardl` DNS record Envoy resolves leaves it out), "+
				"and the gate after each node needs Envoy to see it; upgrade the colour Envoy serves, or make this one discoverable first (docs/BlueGreenDeploy.md)",
				opts.Color, opts.Color, opts.Color)
		},
	}
}

// checkEnvoyHealthy: every Envoy shows every node healthy.
func (u *upgrader) checkEnvoyHealthy() workflow.Check {
	nodes, opts := u.nodes, u.opts
	return workflow.Check{
		Name:        "envoy-healthy",
		Description: fmt.Sprintf("`%s` on every Envoy host shows all %s nodes healthy", EnvoyCommand, opts.Color),
		Run: func(ctx context.Context, env *workflow.Env) error {
			if m := u.switching(env); m != nil {
				return nil
			}
			for _, h := range nodes {
				if ok, why := u.inEnvoy(ctx, env, h); !ok {
					return errors.New(why)
				}
			}
			return nil
		},
	}
}

// checkHealthSource: the health source answers and sees every node
// serving. The gate after each node needs it: check it before any node is
// touched, or a dead Prometheus costs a node two needless restarts
// (switch, wait the whole deadline, roll back).
func (u *upgrader) checkHealthSource() workflow.Check {
	nodes, opts := u.nodes, u.opts
	return workflow.Check{
		Name:        "health-source",
		Description: fmt.Sprintf("the health source answers and sees all %d %s nodes serving (the gate after each node needs it)", len(nodes), opts.Color),
		Run: func(ctx context.Context, env *workflow.Env) error {
			m := u.switching(env)
			var bad []string
			for _, h := range nodes {
				ok, why, err := opts.Health(ctx, h)
				if err != nil {
					return fmt.Errorf("health source: %w (the gate after each node needs it: use --health-gate scrape when Prometheus is down, or --health-gate off for a deployment without monitoring)", err)
				}
				if !ok && (m == nil || m.Host != h.Name) {
					bad = append(bad, h.Short+": "+why)
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("the health source does not see every node serving (%s); the gate after each node would fail", strings.Join(bad, "; "))
			}
			return nil
		},
	}
}

// checkNoDrift: every node runs what Terraform records, or the target
// already (--allow-drift skips it).
func (u *upgrader) checkNoDrift() workflow.Check {
	nodes, opts, ref := u.nodes, u.opts, u.ref
	return workflow.Check{
		Name:        "no-drift",
		Description: "every node runs the image Terraform records (state's Image/Tag), or " + ref + " already (--allow-drift skips this)",
		Run: func(ctx context.Context, env *workflow.Env) error {
			if opts.AllowDrift {
				return nil
			}
			var bad []string
			for _, h := range nodes {
				want := StateRef(h, opts.Image)
				if want == "" {
					continue
				}
				run, err := u.envImage(ctx, env, h)
				if err != nil {
					return err
				}
				if run == want || run == ref || (opts.TFVarsTag != "" && tagOf(run) == opts.TFVarsTag) {
					continue
				}
				bad = append(bad, fmt.Sprintf("%s runs %s, Terraform records %s", h.Short, run, want))
			}
			if len(bad) == 0 {
				return nil
			}
			return fmt.Errorf("drift left by an earlier upgrade: %s; a routine `terraform apply` in the scalardl root would put Terraform's tag back on every %s node at once. "+
				"Set %s_image_tag in the scalardl root's tfvars to what runs (`scalar-tui upgrade --tfvars FILE` offers the edit) and apply it, or pass --allow-drift",
				strings.Join(bad, "; "), opts.Color, opts.Color)
		},
	}
}

// checkTargetDiffers: at least one node does not run the target yet.
func (u *upgrader) checkTargetDiffers() workflow.Check {
	nodes, opts, ref := u.nodes, u.opts, u.ref
	return workflow.Check{
		Name:        "target-differs",
		Description: fmt.Sprintf("at least one node does not run %s yet (`%s`)", ref, EnvCommand),
		Run: func(ctx context.Context, env *workflow.Env) error {
			for _, h := range nodes {
				img, err := u.envImage(ctx, env, h)
				if err != nil {
					return err
				}
				if img != ref {
					return nil
				}
			}
			return fmt.Errorf("every %s node already runs %s", opts.Color, ref)
		},
	}
}

// checkImageAvailable: the image can be had: the tarball, a pull, or
// already loaded on every node.
func (u *upgrader) checkImageAvailable() workflow.Check {
	nodes, opts, ref := u.nodes, u.opts, u.ref
	return workflow.Check{
		Name:        "image-available",
		Description: u.imageSourceText(),
		Run: func(ctx context.Context, env *workflow.Env) error {
			switch {
			case opts.Tarball != "":
				fi, err := os.Stat(opts.Tarball)
				if err != nil {
					return fmt.Errorf("image tarball: %w", err)
				}
				if !fi.Mode().IsRegular() || fi.Size() == 0 {
					return fmt.Errorf("image tarball %s is not a non-empty file", opts.Tarball)
				}
				return nil
			case opts.Pull:
				return u.pullPreflight(ctx, env)
			}
			var missing []string
			for _, h := range nodes {
				r, err := env.Exec(ctx, h.Name, "docker image inspect "+shell.Quote(ref)+" >/dev/null")
				if err != nil {
					return fmt.Errorf("%s: %w", h.Short, err)
				}
				if r.ExitCode != 0 {
					missing = append(missing, h.Short)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("image %s is not loaded on %s; give --image-tarball FILE (docker save %s | gzip -1 > FILE) or --pull", ref, strings.Join(missing, ", "), ref)
			}
			return nil
		},
	}
}

// nodeSteps are node h's steps: make the image available, then switch it
// and gate it (rolled back and stopped when the gate fails).
func (u *upgrader) nodeSteps(h inventory.Host) []workflow.Step {
	envoys, opts, ref := u.envoys, u.opts, u.ref
	var steps []workflow.Step
	cur := opts.Current[h.Short]
	if cur == "" && h.ImageTag != "" {
		img := h.Image
		if img == "" {
			img = opts.Image
		}
		cur = img + ":" + h.ImageTag + " (Terraform state)"
	}
	if cur == "" {
		cur = "unknown"
	}
	host := h
	steps = append(steps, workflow.Step{
		ID:         h.Short + "/load-image",
		Title:      "make " + ref + " available (docker image inspect, else " + u.loadText() + ")",
		Host:       h.Name,
		Commands:   u.loadCommands(),
		Idempotent: true,
		Run:        func(ctx context.Context, env *workflow.Env) error { return u.load(ctx, env, host) },
	})
	steps = append(steps, workflow.Step{
		ID:    h.Short + "/switch",
		Title: fmt.Sprintf("%s → %s; then gate: SERVING, healthy in all %d Envoys (deadline %s), else roll back and stop", cur, ref, len(envoys), opts.GateDeadline),
		Host:  h.Name,
		Commands: []string{
			"# first: every other " + opts.Color + " node must answer SERVING to the probe",
			u.switchScript("<run-id>"),
			ProbeCommand + "   # " + ProbePath3 + " in 3.x images: whichever the container has",
			EnvoyCommand + "   # on each Envoy host",
		},
		Idempotent: true,
		Run:        func(ctx context.Context, env *workflow.Env) error { return u.switchNode(ctx, env, host) },
	})
	return steps
}

// upgrader holds what the steps share.
type upgrader struct {
	opts   Options
	nodes  []inventory.Host
	envoys []inventory.Host
	ref    string

	probeMu sync.Mutex
	probe   map[string]string // host → the probe path its container has
}

// probeCommand runs grpc_health_probe at path in the ledger container.
func probeCommand(path string) string {
	return "docker exec provision_scalar_1 " + path + " -addr=:50051"
}

// probeMissing reports whether docker exec failed because the container has
// no such executable (exit 126/127, "no such file or directory").
func probeMissing(r workflow.CommandResult) bool {
	if r.ExitCode != 126 && r.ExitCode != 127 {
		return false
	}
	e := r.Stderr + r.Stdout
	return strings.Contains(e, "no such file or directory") || strings.Contains(e, "executable file not found") || strings.Contains(e, "not found")
}

func (u *upgrader) imageSourceText() string {
	switch {
	case u.opts.Tarball != "":
		return "the image tarball " + u.opts.Tarball + " is readable"
	case u.opts.Pull:
		return "every node lacking " + u.ref + " can pull it: `docker manifest inspect " + u.ref + "` (else `docker pull`) succeeds with its registry credentials"
	}
	return "`docker image inspect " + u.ref + "` succeeds on every node"
}

// pullPreflight proves, before any node is touched, that every node lacking
// the image can pull it: scalar-terraform ships the image as a tarball, so
// its nodes usually have no registry credentials. `docker manifest inspect`
// reads only the manifest; where it fails (docker < 20.10 without
// experimental features, or registries that want push scope for it) a
// `docker pull` decides, which adds the image and touches no container.
func (u *upgrader) pullPreflight(ctx context.Context, env *workflow.Env) error {
	var bad []string
	for _, h := range u.nodes {
		r, err := env.Exec(ctx, h.Name, "docker image inspect "+shell.Quote(u.ref)+" >/dev/null")
		if err != nil {
			return fmt.Errorf("%s: %w", h.Short, err)
		}
		if r.ExitCode == 0 {
			continue
		}
		r, err = env.Exec(ctx, h.Name, "docker manifest inspect "+shell.Quote(u.ref)+" >/dev/null")
		if err != nil {
			return fmt.Errorf("%s: %w", h.Short, err)
		}
		if r.ExitCode == 0 {
			continue
		}
		r, err = env.Exec(ctx, h.Name, "docker pull "+shell.Quote(u.ref))
		if err != nil {
			return fmt.Errorf("%s: %w", h.Short, err)
		}
		if r.ExitCode != 0 {
			bad = append(bad, h.Short+": "+shell.FirstLine(r.Stderr+r.Stdout))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	registry, _, _ := strings.Cut(u.opts.Image, "/")
	return fmt.Errorf("--pull cannot work: %s; scalar-terraform nodes have no registry credentials (the module loads a tarball): "+
		"give --image-tarball FILE (docker save %s | gzip -1 > FILE), or `docker login %s` on each node first",
		strings.Join(bad, "; "), u.ref, registry)
}

func (u *upgrader) remoteTarball() string { return "/tmp/" + filepath.Base(u.opts.Tarball) }

func (u *upgrader) loadText() string {
	switch {
	case u.opts.Tarball != "":
		return "copy " + filepath.Base(u.opts.Tarball) + " and docker load"
	case u.opts.Pull:
		return "docker pull"
	}
	return "fail"
}

func (u *upgrader) loadCommands() []string {
	c := []string{"docker image inspect " + shell.Quote(u.ref) + " >/dev/null"}
	switch {
	case u.opts.Tarball != "":
		rt := shell.Quote(u.remoteTarball())
		c = append(c, "cat > "+rt+".part && mv "+rt+".part "+rt+"   # stdin: "+u.opts.Tarball,
			"gzip -cd "+rt+" | docker load")
	case u.opts.Pull:
		c = append(c, "docker pull "+shell.Quote(u.ref))
	}
	return c
}

// load makes the image available on h.
func (u *upgrader) load(ctx context.Context, env *workflow.Env, h inventory.Host) error {
	inspect := "docker image inspect " + shell.Quote(u.ref) + " >/dev/null"
	r, err := env.Exec(ctx, h.Name, inspect)
	if err != nil {
		return err
	}
	if r.ExitCode == 0 {
		return nil
	}
	switch {
	case u.opts.Tarball != "":
		f, err := os.Open(u.opts.Tarball)
		if err != nil {
			return fmt.Errorf("image tarball: %w", err)
		}
		defer f.Close()
		rt := shell.Quote(u.remoteTarball())
		res, err := u.opts.Transfer.Run(ctx, h.Name, "cat > "+rt+".part && mv "+rt+".part "+rt, sshx.RunOptions{Stdin: f})
		if err != nil {
			return fmt.Errorf("copy %s to %s:%s: %w", u.opts.Tarball, h.Short, u.remoteTarball(), err)
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("copy %s to %s:%s: exit %d (disk full?)", u.opts.Tarball, h.Short, u.remoteTarball(), res.ExitCode)
		}
		if err := env.Run(ctx, h.Name, "gzip -cd "+rt+" | docker load"); err != nil {
			return err
		}
	case u.opts.Pull:
		if err := env.Run(ctx, h.Name, "docker pull "+shell.Quote(u.ref)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("image %s is not loaded on %s; give --image-tarball or --pull", u.ref, h.Short)
	}
	r, err = env.Exec(ctx, h.Name, inspect)
	if err != nil {
		return err
	}
	if r.ExitCode != 0 {
		return fmt.Errorf("image %s still missing on %s after loading it: %s", u.ref, h.Short, shell.FirstLine(r.Stderr))
	}
	return nil
}

func (u *upgrader) backupName(runID string) string { return "env.before-" + runID }

// switchScript backs up the env once per run, rewrites SCALAR_IMAGE keeping
// any other line, and recreates the container.
func (u *upgrader) switchScript(runID string) string {
	bak := shell.Quote(u.backupName(runID))
	line := shell.Quote("export SCALAR_IMAGE=" + u.ref)
	return "cd ~/provision && " +
		"{ [ -e " + bak + " ] || cp -p env " + bak + "; } && " +
		"{ grep -v '^export SCALAR_IMAGE=' " + bak + "; echo " + line + "; } > env.scalar-tui.tmp && mv env.scalar-tui.tmp env && " +
		". ./env && docker-compose up -d"
}

func (u *upgrader) rollbackScript(backup string) string {
	return "cd ~/provision && cp -p " + shell.Quote(backup) + " env && . ./env && docker-compose up -d"
}

// switching returns the marker of a node being switched, or nil.
func (u *upgrader) switching(env *workflow.Env) *upgradingMarker {
	v, ok := env.Markers()[MarkerUpgrading]
	if !ok {
		return nil
	}
	var m upgradingMarker
	if err := json.Unmarshal([]byte(v), &m); err != nil || m.Host == "" {
		return &upgradingMarker{}
	}
	return &m
}

// switchNode upgrades h and waits for it; on failure it rolls h back.
func (u *upgrader) switchNode(ctx context.Context, env *workflow.Env, h inventory.Host) error {
	// Never two nodes out: every other node must serve before h goes.
	for _, o := range u.nodes {
		if o.Name == h.Name {
			continue
		}
		if ok, why := u.serving(ctx, env, o); !ok {
			return fmt.Errorf("not switching %s: %s is not serving (%s); the upgrade never takes two nodes out", h.Short, o.Short, why)
		}
	}
	prev, err := u.envImage(ctx, env, h)
	if err != nil {
		return err
	}
	if prev == u.ref {
		if ok, _ := u.ready(ctx, env, h); ok {
			return nil // already upgraded (a resumed run)
		}
	}
	inspect, err := env.Exec(ctx, h.Name, "docker image inspect "+shell.Quote(u.ref)+" >/dev/null")
	if err != nil {
		return err
	}
	if inspect.ExitCode != 0 {
		return fmt.Errorf("not switching %s: image %s is not loaded there (%s)", h.Short, u.ref, shell.FirstLine(inspect.Stderr))
	}
	backup := u.backupName(env.RunID())
	if r, err := env.Exec(ctx, h.Name, "cat ~/provision/"+shell.Quote(backup)); err == nil && r.ExitCode == 0 {
		if img := ParseEnvImage(r.Stdout); img != "" {
			prev = img // an earlier attempt of this run already switched it
		}
	}
	b, _ := json.Marshal(upgradingMarker{Host: h.Name, Previous: prev, Backup: backup})
	if err := env.SetMarker(MarkerUpgrading, string(b)); err != nil {
		return fmt.Errorf("journal (nothing changed on %s): %w", h.Short, err)
	}
	if err := env.Run(ctx, h.Name, u.switchScript(env.RunID())); err != nil {
		return u.rollback(ctx, env, h, prev, backup, fmt.Sprintf("switching failed: %v", err))
	}
	why, err := u.waitReady(ctx, env, h)
	if err != nil {
		return u.rollback(ctx, env, h, prev, backup, why)
	}
	if err := env.ClearMarker(MarkerUpgrading); err != nil {
		return fmt.Errorf("%s runs %s, but the journal could not record it: %w", h.Short, u.ref, err)
	}
	return nil
}

// waitReady polls the gate until it passes, the deadline expires or ctx ends.
func (u *upgrader) waitReady(ctx context.Context, env *workflow.Env, h inventory.Host) (string, error) {
	gctx, cancel := context.WithTimeout(ctx, u.opts.GateDeadline)
	defer cancel()
	start := time.Now()
	last := "not checked yet"
	for {
		ok, why := u.ready(gctx, env, h)
		if ok {
			return "", nil
		}
		if gctx.Err() == nil || last == "not checked yet" {
			last = why
		}
		env.Progress(min(99, float64(time.Since(start))/float64(u.opts.GateDeadline)*100))
		select {
		case <-ctx.Done():
			return fmt.Sprintf("interrupted while waiting for %s (%s)", h.Short, last), ctx.Err()
		case <-gctx.Done():
			return fmt.Sprintf("%s did not become ready within %s: %s", h.Short, u.opts.GateDeadline, last), gctx.Err()
		case <-time.After(u.opts.GateInterval):
		}
	}
}

// ready is the gate: the node runs the target image, answers SERVING, is
// healthy in every Envoy, and the health source (if any) agrees.
func (u *upgrader) ready(ctx context.Context, env *workflow.Env, h inventory.Host) (bool, string) {
	r, err := env.Exec(ctx, h.Name, ImageCommand)
	if err != nil {
		return false, err.Error()
	}
	if img := strings.TrimSpace(r.Stdout); img != u.ref {
		return false, fmt.Sprintf("provision_scalar_1 runs %q, not %s", img, u.ref)
	}
	if ok, why := u.serving(ctx, env, h); !ok {
		return false, why
	}
	if ok, why := u.inEnvoy(ctx, env, h); !ok {
		return false, why
	}
	if u.opts.Health != nil {
		ok, why, err := u.opts.Health(ctx, h)
		if err != nil {
			return false, "health: " + err.Error()
		}
		if !ok {
			return false, "health: " + why
		}
	}
	return true, ""
}

// serving runs the probe on h. The probe is at ProbePath2 in 2.x images and
// ProbePath3 in 3.x: the path the container answered to last is tried
// first, the other when the container has no such file.
func (u *upgrader) serving(ctx context.Context, env *workflow.Env, h inventory.Host) (bool, string) {
	u.probeMu.Lock()
	first := u.probe[h.Name]
	u.probeMu.Unlock()
	paths := []string{ProbePath2, ProbePath3}
	if first == ProbePath3 {
		paths = []string{ProbePath3, ProbePath2}
	}
	var r workflow.CommandResult
	for i, path := range paths {
		var err error
		r, err = env.Exec(ctx, h.Name, probeCommand(path))
		if err != nil {
			return false, err.Error()
		}
		if probeMissing(r) {
			if i == 0 {
				continue
			}
			return false, fmt.Sprintf("the ledger container has grpc_health_probe at neither %s nor %s: %s", ProbePath2, ProbePath3, shell.FirstLine(r.Stderr+r.Stdout))
		}
		u.probeMu.Lock()
		if u.probe == nil {
			u.probe = map[string]string{}
		}
		u.probe[h.Name] = path
		u.probeMu.Unlock()
		break
	}
	out := strings.TrimSpace(r.Stdout)
	if r.ExitCode == 0 && strings.HasSuffix(out, "SERVING") && !strings.HasSuffix(out, "NOT_SERVING") {
		return true, ""
	}
	return false, fmt.Sprintf("health probe exited %d: %s", r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout))
}

// inEnvoy checks that every Envoy sees h's scalar-service upstream healthy.
func (u *upgrader) inEnvoy(ctx context.Context, env *workflow.Env, h inventory.Host) (bool, string) {
	want := "scalar-service::" + h.PrivateIP + ":50051::health_flags::"
	for _, e := range u.envoys {
		r, err := env.Exec(ctx, e.Name, EnvoyCommand)
		if err != nil {
			return false, fmt.Sprintf("envoy %s: %v", e.Short, err)
		}
		if r.ExitCode != 0 {
			return false, fmt.Sprintf("envoy %s admin: curl exited %d", e.Short, r.ExitCode)
		}
		flags, found := "", false
		for _, l := range strings.Split(r.Stdout, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), want); ok {
				flags, found = v, true
				break
			}
		}
		switch {
		case !found:
			return false, fmt.Sprintf("envoy %s does not list %s (%s)", e.Short, h.Short, h.PrivateIP)
		case flags != "healthy":
			return false, fmt.Sprintf("envoy %s has %s as %s", e.Short, h.Short, flags)
		}
	}
	return true, ""
}

// envImage reads SCALAR_IMAGE from h's ~/provision/env.
func (u *upgrader) envImage(ctx context.Context, env *workflow.Env, h inventory.Host) (string, error) {
	r, err := env.Exec(ctx, h.Name, EnvCommand)
	if err != nil {
		return "", fmt.Errorf("read ~/provision/env on %s: %w", h.Short, err)
	}
	if r.ExitCode != 0 {
		return "", fmt.Errorf("read ~/provision/env on %s: exit %d: %s", h.Short, r.ExitCode, shell.FirstLine(r.Stderr))
	}
	img := ParseEnvImage(r.Stdout)
	if img == "" {
		return "", fmt.Errorf("~/provision/env on %s has no SCALAR_IMAGE line", h.Short)
	}
	return img, nil
}

// ParseEnvImage returns the last SCALAR_IMAGE of an env file, or "".
func ParseEnvImage(s string) string {
	img := ""
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "export "))
		if v, ok := strings.CutPrefix(l, "SCALAR_IMAGE="); ok {
			img = strings.Trim(v, `"'`)
		}
	}
	return img
}

// rollback restores h's previous env, waits for it to serve again and
// returns the error that stops the run, with the state of every node. It
// works on a fresh bounded context: a Ctrl-C must not leave the node out.
func (u *upgrader) rollback(ctx context.Context, env *workflow.Env, h inventory.Host, prev, backup, why string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.opts.RollbackDeadline+time.Minute)
	defer cancel()
	rbErr := env.Run(rctx, h.Name, u.rollbackScript(backup))
	var outcome string
	if rbErr != nil {
		outcome = fmt.Sprintf("rolling %s back to %s FAILED (%v)", h.Short, prev, rbErr)
	} else {
		ok, last := false, ""
		deadline := time.Now().Add(u.opts.RollbackDeadline)
		for {
			if ok, last = u.serving(rctx, env, h); ok || time.Now().After(deadline) {
				break
			}
			select {
			case <-rctx.Done():
			case <-time.After(u.opts.GateInterval):
			}
			if rctx.Err() != nil {
				break
			}
		}
		if ok {
			outcome = fmt.Sprintf("rolled %s back to %s; it is SERVING again", h.Short, prev)
			_ = env.ClearMarker(MarkerUpgrading)
		} else {
			outcome = fmt.Sprintf("rolled %s back to %s, but it is NOT serving yet (%s)", h.Short, prev, last)
		}
	}
	err := fmt.Errorf("%s; %s; run stopped. Cluster now: %s", why, outcome, u.describe(rctx, env))
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return err
}

// describe says which node runs which image and whether it serves.
func (u *upgrader) describe(ctx context.Context, env *workflow.Env) string {
	var parts []string
	for _, n := range u.nodes {
		img := "unknown image"
		if r, err := env.Exec(ctx, n.Name, ImageCommand); err == nil && strings.TrimSpace(r.Stdout) != "" {
			img = strings.TrimSpace(r.Stdout)
		}
		state := "SERVING"
		if ok, why := u.serving(ctx, env, n); !ok {
			state = "not serving: " + why
		}
		parts = append(parts, fmt.Sprintf("%s on %s (%s)", n.Short, img, state))
	}
	return strings.Join(parts, "; ")
}

// compensate runs first on Resume when a node was being switched. It asks
// the node what it runs and whether it serves, and continues from there: a
// node already on the target that is still starting is waited for (the
// gate, with its deadline), not rolled back and switched again; a node still
// on its previous image that serves was never switched; anything else is
// rolled back to its previous env.
func (u *upgrader) compensate(ctx context.Context, env *workflow.Env) error {
	m := u.switching(env)
	if m == nil {
		return nil
	}
	var h inventory.Host
	for _, n := range u.nodes {
		if n.Name == m.Host {
			h = n
		}
	}
	if h.Name == "" {
		return fmt.Errorf("the interrupted run was switching %q, which is not a %s node any more; check it by hand", m.Host, u.opts.Color)
	}
	running := ""
	if r, err := env.Exec(ctx, h.Name, ImageCommand); err == nil && r.ExitCode == 0 {
		running = strings.TrimSpace(r.Stdout)
	}
	serving, why := u.serving(ctx, env, h)
	state := "SERVING"
	if !serving {
		state = "not serving: " + why
	}
	switch {
	case running == u.ref:
		env.Notice(fmt.Sprintf("%s already runs %s (%s): waiting for the gate instead of switching it again", h.Short, u.ref, state))
		why, err := u.waitReady(ctx, env, h)
		if err == nil {
			return env.ClearMarker(MarkerUpgrading)
		}
		// The target had its whole deadline: roll back and stop, as the
		// switch step does.
		return u.rollback(ctx, env, h, m.Previous, m.Backup, why)
	case running != "" && serving:
		env.Notice(fmt.Sprintf("%s runs %s and is SERVING: it was not switched yet", h.Short, running))
		return env.ClearMarker(MarkerUpgrading) // never switched: nothing to undo
	}
	if running == "" {
		running = "no running ledger container"
	}
	env.Notice(fmt.Sprintf("%s: %s (%s): rolling it back to %s", h.Short, running, state, m.Previous))
	err := u.rollback(ctx, env, h, m.Previous, m.Backup, "the interrupted run left "+h.Short+" not ready")
	if u.switching(env) != nil {
		return err
	}
	return nil // rolled back and serving; the switch step runs again
}

// Discover reads the image each node of the colour runs now (SCALAR_IMAGE in
// ~/provision/env), for Options.Current.
func Discover(ctx context.Context, r Runner, inv *inventory.Inventory, color string) (map[string]string, error) {
	o := Options{Color: color}
	out := map[string]string{}
	for _, h := range inv.ByRole(o.role()) {
		var b sshx.Tail
		res, err := r.Run(ctx, h.Name, EnvCommand, sshx.RunOptions{Stdout: b.Line})
		if err != nil {
			return out, fmt.Errorf("%s: %w", h.Short, err)
		}
		if res.ExitCode == 0 {
			if img := ParseEnvImage(b.String()); img != "" {
				out[h.Short] = img
			}
		}
	}
	return out, nil
}

// major returns the major version of an image tag ("2.1.0" → 2, "v3" → 3),
// or -1 when the tag does not start with a number.
func major(tag string) int {
	tag = strings.TrimPrefix(tag, "v")
	end := 0
	for end < len(tag) && tag[end] >= '0' && tag[end] <= '9' {
		end++
	}
	if end == 0 || end > 6 {
		return -1
	}
	n := 0
	for _, c := range tag[:end] {
		n = n*10 + int(c-'0')
	}
	return n
}

// tagOf returns the tag of "name:tag".
func tagOf(ref string) string {
	ref = strings.TrimSuffix(ref, " (Terraform state)")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

// majorNote warns when the upgrade changes the major version of any node
// (what it runs, else the tag in Terraform state).
func majorNote(nodes []inventory.Host, opts Options) string {
	to := major(opts.To)
	if to < 0 {
		return ""
	}
	from := map[int]bool{}
	for _, h := range nodes {
		tag := tagOf(opts.Current[h.Short])
		if tag == "" {
			tag = h.ImageTag
		}
		if m := major(tag); m >= 0 && m != to {
			from[m] = true
		}
	}
	if len(from) == 0 {
		return ""
	}
	var olds []string
	for m := range from {
		olds = append(olds, fmt.Sprint(m))
	}
	sort.Strings(olds)
	return fmt.Sprintf("major version change %s.x → %d.x: run the Scalar DL schema loader of %s first (the console does not do it), "+
		"and read the release notes for the supported upgrade path",
		strings.Join(olds, ".x/"), to, opts.To)
}

// StateRef is the image Terraform records for h ("name:tag" from the
// instance's Image/Tag), or "" when the state does not say.
func StateRef(h inventory.Host, defaultImage string) string {
	if h.ImageTag == "" {
		return ""
	}
	img := h.Image
	if img == "" {
		img = defaultImage
	}
	if img == "" {
		img = DefaultImage
	}
	return img + ":" + h.ImageTag
}

// TFVarsKeys are the scalardl map entries that make Terraform record the
// upgrade's target for the colour: <colour>_image_tag, and
// <colour>_image_name when the image is not scalar-terraform's default.
func TFVarsKeys(opts Options) map[string]string {
	color := opts.Color
	if color == "" {
		color = "blue"
	}
	m := map[string]string{color + "_image_tag": opts.To}
	if opts.Image != "" && opts.Image != DefaultImage {
		m[color+"_image_name"] = opts.Image
	}
	return m
}

// TerraformNote says what Terraform must be told after the upgrade, or ""
// when the state already records the target.
func TerraformNote(nodes []inventory.Host, opts Options) string {
	ref := opts.Ref()
	olds := map[string]bool{}
	for _, h := range nodes {
		if r := StateRef(h, opts.Image); r != "" && r != ref {
			olds[r] = true
		}
	}
	if len(olds) == 0 {
		return ""
	}
	var list []string
	for r := range olds {
		list = append(list, r)
	}
	sort.Strings(list)
	var kv []string
	keys := TFVarsKeys(opts)
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		kv = append(kv, fmt.Sprintf("%s = %q", k, keys[k]))
	}
	return fmt.Sprintf("Terraform records %s for the %s nodes. After this upgrade set `scalardl = { %s }` in the scalardl root's tfvars, "+
		"then run `terraform plan` and `terraform apply` there yourself (the console never runs terraform): until then a routine apply "+
		"re-runs `docker-compose up -d` with the old tag on every %s node at once",
		strings.Join(list, ", "), opts.Color, strings.Join(kv, ", "), opts.Color)
}
