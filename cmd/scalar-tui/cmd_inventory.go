package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
)

func init() { register(newInventoryCmd) }

// newInventoryCmd is `scalar-tui inventory [--json]`: print the deployment as
// read from Terraform state.
//
// The table goes to stdout: a header (environment, cloud, bastion, user,
// domain) and one row per host, grouped in role order (bastion, cassandra,
// cassy, reaper, scalardl-blue, scalardl-green, envoy, monitor), with the
// columns ROLE NAME PRIVATE-IP PUBLIC-IP ZONE INSTANCE IMAGE-TAG. The roots'
// status and any warnings go to stderr, so stdout stays parseable.
//
// With --json stdout is the inventory.Inventory as one indented JSON object,
// a stable shape for scripts:
//
//	{
//	  "network_name": "example-aws-0j5y83k", "cloud": "aws", "region": "ap-northeast-1",
//	  "bastion_ip": "13.231.179.116", "bastion_port": 22, "user_name": "centos",
//	  "private_key_path": "/abs/path/example_key", "internal_domain": "internal.scalar-labs.com",
//	  "network_cidr": "10.42.0.0/16",
//	  "hosts": [{"name": "cassandra-1.internal.scalar-labs.com", "short": "cassandra-1",
//	             "role": "cassandra", "index": 1, "private_ip": "10.42.2.10",
//	             "public_ip": "", "zone": "ap-northeast-1a", "instance_id": "i-0…",
//	             "image": "", "image_tag": "", "root": "cassandra", "source": "resources"}, …],
//	  "endpoints": {"prometheus": "monitor.<domain>:9090", "envoy_admin": ["envoy-1.<domain>:9001", …],
//	                "cassy": "cassy-1.<domain>:20051", "reaper": "reaper-1.<domain>:8080",
//	                "scalardl_admin": ["scalardl-blue-1.<domain>:50053", …]},
//	  "roots": [{"name": "network", "dir": "…", "loaded": true, "via": "file",
//	             "terraform_version": "0.14.7", "hosts": 2, "message": ""}, …],
//	  "warnings": ["…"]
//	}
//
// Fields marked omitempty in package inventory (public_ip, zone, instance_id,
// image, image_tag, envoy_admin, cassy, reaper, scalardl_admin, via, message,
// terraform_version, warnings, region, network_cidr) are left out when empty;
// hosts is always an array. Exit status: 0, or 2 when the state cannot be read
// (the error names the file and what to do).
func newInventoryCmd(g *globalOptions) *cobra.Command {
	var asJSON, running bool
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Print the deployment's hosts, roles and endpoints as read from Terraform state",
		Long: "Read the Terraform state of the network, cassandra, scalardl and monitor roots and print the hosts.\n" +
			"Roots' status and warnings are printed on stderr. Use --json for a stable machine-readable shape.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := g.inventoryOptions()
			if err != nil {
				return err
			}
			inv, err := inventory.Load(cmd.Context(), opts)
			if err != nil {
				if errors.Is(err, inventory.ErrBadState) {
					return badInput(err)
				}
				return err
			}
			var runErr error
			if running {
				runErr = addRunningTags(cmd.Context(), g, inv, cmd.ErrOrStderr())
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(inv); err != nil {
					return failed(fmt.Errorf("write inventory: %w", err))
				}
			} else if err := writeInventoryTable(cmd.OutOrStdout(), inv); err != nil {
				return failed(fmt.Errorf("write inventory: %w", err))
			}
			writeRootStatus(cmd.ErrOrStderr(), inv)
			return runErr
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the inventory as JSON")
	cmd.Flags().BoolVar(&running, "running", false, "also ask each Scalar DL host (cadvisor, through the bastion) which image tag it runs: "+
		"running_image_tag and image_drift in --json, \"2.2.0 ≠ state 2.1.0\" in the table; exit 1 if it cannot be read")
	return cmd
}

// addRunningTags reads, through the bastion, the image each Scalar DL host's
// scalar container runs (cadvisor's image label) and sets RunningImageTag and
// ImageDrift on those hosts. A host it cannot read is named in the error.
func addRunningTags(ctx context.Context, g *globalOptions, inv *inventory.Inventory, stderr io.Writer) error {
	var sdl []inventory.Host
	for _, h := range inv.Hosts {
		if h.Role.IsScalarDL() {
			sdl = append(sdl, h)
		}
	}
	if len(sdl) == 0 {
		return nil
	}
	if bastionDialer == nil {
		return failed(errors.New("--running needs the bastion, which this build cannot reach"))
	}
	dial, closeFn, err := bastionDialer(g, inv)
	if err != nil {
		return failed(fmt.Errorf("--running: connect to the bastion: %w", err))
	}
	defer closeFn()
	sub := *inv
	sub.Hosts = sdl
	src := health.NewScrapeSource(&sub, health.ScrapeOptions{Dial: healthDial(dial, inv.BastionAddr()), Via: "bastion " + inv.BastionAddr()})
	snap, err := src.Snapshot(ctx)
	if snap == nil {
		return failed(fmt.Errorf("--running: %w", err))
	}
	var missing []string
	for _, hh := range snap.Hosts {
		for i := range inv.Hosts {
			if inv.Hosts[i].Name != hh.Host.Name {
				continue
			}
			inv.Hosts[i].RunningImageTag = hh.RunningImageTag
			inv.Hosts[i].ImageDrift = hh.ImageDrift
			if hh.RunningImageTag == "" {
				missing = append(missing, hh.Host.Short)
			}
		}
	}
	if err != nil {
		return failed(fmt.Errorf("--running: %w", err))
	}
	if len(missing) > 0 {
		return failed(fmt.Errorf("--running: no running scalar container seen on %s", strings.Join(missing, ", ")))
	}
	return nil
}

// writeInventoryTable renders the header and the host table.
func writeInventoryTable(w io.Writer, inv *inventory.Inventory) error {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Environment:\t%s\n", dash(inv.NetworkName))
	cloud := inv.Cloud
	if inv.Region != "" {
		cloud += " (" + inv.Region + ")"
	}
	fmt.Fprintf(tw, "Cloud:\t%s\n", cloud)
	fmt.Fprintf(tw, "Bastion:\t%s\n", inv.BastionAddr())
	fmt.Fprintf(tw, "User:\t%s\n", dash(inv.UserName))
	fmt.Fprintf(tw, "Domain:\t%s\n", dash(inv.InternalDomain))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tNAME\tPRIVATE-IP\tPUBLIC-IP\tZONE\tINSTANCE\tIMAGE-TAG")
	for _, h := range inv.Hosts { // Load sorts them in role order, then index
		tag := dash(h.ImageTag)
		if h.ImageDrift {
			tag = h.RunningImageTag + " ≠ state " + h.ImageTag
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Role, h.Name, dash(h.PrivateIP), dash(h.PublicIP), dash(h.Zone), dash(h.InstanceID), tag)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", inventoryPlural(len(inv.Hosts), "host"))
	return err
}

// writeRootStatus prints each root's status and the warnings (to stderr).
func writeRootStatus(w io.Writer, inv *inventory.Inventory) {
	for _, rs := range inv.Roots {
		state := "loaded"
		if !rs.Loaded {
			state = "not loaded"
		}
		var notes []string
		if rs.Loaded {
			notes = append(notes, inventoryPlural(rs.Hosts, "host"), "via "+rs.Via)
			if rs.TerraformVersion != "" {
				notes = append(notes, "terraform "+rs.TerraformVersion)
			}
		}
		if rs.Message != "" {
			notes = append(notes, rs.Message)
		}
		fmt.Fprintf(w, "root %-9s %s: %s (%s)\n", rs.Name, state, rs.Dir, strings.Join(notes, ", "))
	}
	for _, warn := range inv.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
}

func inventoryPlural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
