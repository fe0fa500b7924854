package inventory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options says where the deployment's Terraform roots are and how to read them.
type Options struct {
	// TFRoot is a folder holding the roots network/, cassandra/, scalardl/, monitor/
	// (as in scalar-terraform-examples). Missing roots are allowed and reported,
	// except network: without its bastion_ip nothing can be reached.
	TFRoot string
	// TFDirs name roots directly; the root's kind is taken from its outputs and
	// resources (bastion_ip → network, module.cassandra → cassandra, ...).
	TFDirs []string
	// Terraform is a terraform (or tofu) binary. When set, every root's state is
	// read with `terraform state pull` (any backend); otherwise terraform.tfstate
	// is read directly, unless the root's *.tf configure a non-local backend, in
	// which case terraform or tofu from PATH is used.
	Terraform string
	// TerraformTimeout bounds each terraform command (state pull, init);
	// default DefaultTerraformTimeout. On timeout or cancellation the
	// command's whole process group gets SIGTERM, then SIGKILL after
	// TerraformKillGrace (default 5s): wrappers that ignore SIGTERM and the
	// tools they started do not outlive the call.
	TerraformTimeout   time.Duration
	TerraformKillGrace time.Duration
}

// DefaultTerraformTimeout is Options.TerraformTimeout when unset: a state
// pull from S3 or azurerm takes seconds; init may fetch providers.
const DefaultTerraformTimeout = 2 * time.Minute

// Root kinds, in apply order.
const (
	RootNetwork   = "network"
	RootCassandra = "cassandra"
	RootScalarDL  = "scalardl"
	RootMonitor   = "monitor"
)

// RootKinds lists the roots scalar-tui reads, in apply order.
var RootKinds = []string{RootNetwork, RootCassandra, RootScalarDL, RootMonitor}

// Sources of a Host.
const (
	// SourceResources: the host was joined from DNS records and instances.
	SourceResources = "resources"
	// SourceINI: the host came from an inventory_ini output (no private IP).
	SourceINI = "inventory_ini"
)

// Values of RootStatus.Via.
const (
	ViaFile      = "file"
	ViaTerraform = "terraform"
)

// DefaultDomain is scalar-terraform's default internal_domain.
const DefaultDomain = "internal.scalar-labs.com"

// rootData is one root's state as read.
type rootData struct {
	kind      string
	dir       string
	statePath string // the file, or "<dir> (terraform state pull)"
	via       string
	state     *tfState
	missing   string // why it is not loaded; state is nil then
	warnings  []string
}

// Load reads the deployment's state into an Inventory.
//
// Reading. Each root's state is its terraform.tfstate, read directly, or the
// output of `terraform state pull` when opts.Terraform is set or the root's *.tf
// configure a non-local backend (terraform, then tofu, from PATH). Both paths
// feed the same parser, so they give the same Inventory; only RootStatus.Via and
// TerraformVersion differ (state pull rewrites terraform_version). `terraform
// init` runs only when the pull fails in a root that has no .terraform
// directory, because init wants the providers (a plugin cache when offline).
// `terraform show` is never used: it needs provider schemas. Only state format
// version 4 (Terraform 0.12+) is accepted.
//
// Hosts. The network root is required (bastion_ip, user_name,
// private_key_path, internal_domain, network_name, network_cidr, region and
// the optional bastion_port come from its outputs). Hosts come from resources:
// every single-address A record named <role>-<n> (aws_route53_record,
// azurerm_private_dns_a_record; multi-host names such as cassandra-lb,
// scalardl, monitor and envoy-lb are not hosts) is joined by private IP to an
// instance (aws_instance, or azurerm_virtual_machine with the private IP of its
// azurerm_network_interface and the public IP of its azurerm_public_ip). A
// record whose IP is no instance's is an error; an instance without a record is
// a warning. A root without resources falls back to its inventory_ini output
// (names and bastion public IPs only, Source "inventory_ini").
//
// Per-cloud details. Zone is the AWS availability_zone, or on Azure
// "<location>-<zone>" (e.g. "japaneast-1"; the location alone when the VM has
// no zone). InstanceID is the EC2 id or the Azure VM resource id. For Scalar DL
// hosts Image and ImageTag come from the instance tags Image and Tag (AWS);
// Azure VMs carry no such tags, so ImageTag is the scalar_tag trigger of the
// colour's null_resource.scalardl_image (module.scalardl_blue/green) and Image
// stays empty (the image name is not recorded in Azure state).
//
// Errors. Every problem with the input is a *LoadError naming the file or
// directory at fault and saying what to do (errors.Is(err, ErrBadState)
// holds); a canceled ctx gives an error wrapping ctx.Err(). Load never panics,
// whatever the files hold.
func Load(ctx context.Context, opts Options) (*Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load inventory: %w", err)
	}
	roots, err := locateRoots(opts)
	if err != nil {
		return nil, err
	}
	if opts.Terraform != "" {
		// terraform runs inside each root, so a relative path must be made
		// absolute first, and a bare name looked up on PATH.
		bin, err := resolveBinary(opts.Terraform)
		if err != nil {
			return nil, loadErr(opts.Terraform, err, "the terraform binary cannot be used (pass a path to terraform or tofu, or a name on PATH)")
		}
		opts.Terraform = bin
	}
	var wg sync.WaitGroup
	errs := make([]error, len(roots))
	for i, rd := range roots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = readRoot(ctx, opts, rd)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load inventory: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		if len(nonNil(errs)) == 1 {
			return nil, nonNil(errs)[0]
		}
		return nil, err
	}
	if err := identifyRoots(opts, roots); err != nil {
		return nil, err
	}
	return build(roots)
}

func nonNil(errs []error) []error {
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// locateRoots lists the roots to read. With TFRoot the kind is the folder name.
func locateRoots(opts Options) ([]*rootData, error) {
	if opts.TFRoot == "" && len(opts.TFDirs) == 0 {
		return nil, loadErr("", nil, "no Terraform roots given: set TFRoot (the folder holding network/, cassandra/, scalardl/, monitor/) or TFDirs")
	}
	var roots []*rootData
	if opts.TFRoot != "" {
		if err := isDir(opts.TFRoot); err != nil {
			return nil, loadErr(opts.TFRoot, err, "the Terraform root folder cannot be read (it should hold network/, cassandra/, scalardl/, monitor/)")
		}
		for _, kind := range RootKinds {
			roots = append(roots, &rootData{kind: kind, dir: filepath.Join(opts.TFRoot, kind)})
		}
	}
	for _, d := range opts.TFDirs {
		if err := isDir(d); err != nil {
			return nil, loadErr(d, err, "the Terraform root directory cannot be read")
		}
		roots = append(roots, &rootData{dir: filepath.Clean(d)})
	}
	return roots, nil
}

func isDir(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

// readRoot fills rd.state (or rd.missing).
func readRoot(ctx context.Context, opts Options, rd *rootData) error {
	if err := isDir(rd.dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) && rd.kind != "" {
			rd.missing = "no " + rd.kind + "/ directory"
			return nil
		}
		return loadErr(rd.dir, err, "the Terraform root directory cannot be read")
	}
	bin := opts.Terraform
	if bin == "" {
		if backend := configuredBackend(rd.dir); backend != "" && backend != "local" {
			bin = findTerraform()
			if bin == "" {
				return loadErr(rd.dir, nil, "the root keeps its state in a %q backend, which only terraform can read: install terraform (or tofu) on PATH or pass --terraform", backend)
			}
		}
	}
	var data []byte
	if bin != "" {
		rd.via = ViaTerraform
		rd.statePath = rd.dir + " (terraform state pull)"
		b, err := pullState(ctx, bin, rd.dir, opts.TerraformTimeout, opts.TerraformKillGrace)
		if err != nil {
			return err
		}
		if b == nil {
			rd.missing = "terraform state pull returned no state (not applied yet?)"
			return nil
		}
		data = b
	} else {
		rd.via = ViaFile
		rd.statePath = filepath.Join(rd.dir, "terraform.tfstate")
		b, err := os.ReadFile(rd.statePath)
		if errors.Is(err, fs.ErrNotExist) {
			rd.missing = "no terraform.tfstate (not applied yet, or a remote backend: pass --terraform)"
			return nil
		}
		if err != nil {
			return loadErr(rd.statePath, err, "cannot read the state file")
		}
		data = b
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := parseState(rd.statePath, data)
	if err != nil {
		return err
	}
	rd.state = st
	return nil
}

// detectKind names a root from its content.
func detectKind(st *tfState) string {
	has := func(names ...string) bool {
		for _, n := range names {
			if _, ok := st.Outputs[n]; ok {
				return true
			}
		}
		return false
	}
	switch {
	case has("bastion_ip", "network_name", "bastion_provision_id", "internal_domain"):
		return RootNetwork
	case has("cassandra_resource_count", "cassandra_provision_ids"):
		return RootCassandra
	case has("scalardl_blue_resource_count", "scalardl_green_resource_count", "envoy_dns"):
		return RootScalarDL
	}
	for i := range st.Resources {
		mod := st.Resources[i].Module
		first, _, _ := strings.Cut(strings.TrimPrefix(mod, "module."), ".")
		first, _, _ = strings.Cut(first, "[")
		for _, k := range RootKinds {
			if strings.HasPrefix(mod, "module.") && first == k {
				return k
			}
		}
	}
	if ini, ok := st.outputString("inventory_ini"); ok {
		groups, _ := parseINI(ini)
		switch {
		case groups["bastion"] != nil:
			return RootNetwork
		case groups["cassandra"] != nil || groups["cassy"] != nil || groups["reaper"] != nil:
			return RootCassandra
		case groups["scalardl"] != nil || groups["envoy"] != nil:
			return RootScalarDL
		case groups["monitor"] != nil:
			return RootMonitor
		}
	}
	return ""
}

// identifyRoots names the TFDirs roots and checks that the set is usable.
func identifyRoots(opts Options, roots []*rootData) error {
	seen := map[string]*rootData{}
	for _, rd := range roots {
		if rd.state == nil {
			if rd.kind == "" {
				return loadErr(rd.dir, nil, "no Terraform state here (%s): pass only applied roots with --tf-dir", rd.missing)
			}
			continue
		}
		empty := len(rd.state.Outputs) == 0 && !rd.state.hasManaged()
		if rd.kind == "" {
			if empty {
				return loadErr(rd.statePath, nil, "the state holds no outputs and no resources (never applied, or destroyed), so it is no scalar-terraform root: apply it or leave it out")
			}
			rd.kind = detectKind(rd.state)
			if rd.kind == "" {
				return loadErr(rd.statePath, nil, "cannot tell which scalar-terraform root this is (network, cassandra, scalardl or monitor): no known outputs, module.<root> resources or inventory_ini groups")
			}
		} else if empty && rd.kind != RootNetwork {
			rd.missing = "the state is empty (destroyed, or never applied)"
			rd.state = nil
			continue
		} else if got := detectKind(rd.state); got != "" && got != rd.kind {
			rd.warnings = append(rd.warnings, fmt.Sprintf("%s: the %s/ folder holds what looks like the %s root's state; check that no root was copied over another", rd.statePath, rd.kind, got))
		}
		if prev, ok := seen[rd.kind]; ok {
			return loadErr(rd.statePath, nil, "this is a second %s root (the first is %s): pass each root once", rd.kind, prev.statePath)
		}
		seen[rd.kind] = rd
	}
	if nw := seen[RootNetwork]; nw == nil {
		where := "none of the roots given is the network root"
		path := opts.TFRoot
		if opts.TFRoot != "" {
			path = filepath.Join(opts.TFRoot, RootNetwork)
			where = "the network root has no state"
			for _, rd := range roots {
				if rd.kind == RootNetwork && rd.missing != "" {
					where = "the network root is missing: " + rd.missing
				}
			}
			if _, err := os.Stat(filepath.Join(opts.TFRoot, "terraform.tfstate")); err == nil {
				where += " (this folder holds a terraform.tfstate itself, so it looks like a single root: pass it with --tf-dir, not --tf-root)"
			}
		} else if len(opts.TFDirs) > 0 {
			path = strings.Join(opts.TFDirs, ", ")
		}
		return loadErr(path, nil, "%s; it is required, because every host is reached through the bastion whose address is its bastion_ip output: add the network root (--tf-dir) or point --tf-root at the folder holding network/", where)
	}
	return nil
}
