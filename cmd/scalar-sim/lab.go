package main

// `scalar-sim lab up|down` (also run as `scalar-tui lab ...`) starts and
// stops the local lab (internal/lab): real sshd hosts in network namespaces
// behind a bastion, with the Terraform state, key and known_hosts an operator
// of a real deployment would have. `lab fault` breaks a lab host.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
)

// defaultLabDir is where `lab up` and `lab down` keep the lab without --dir:
// $XDG_STATE_HOME/scalar-tui/lab, unless that is under /root (root's usual
// state directory), which the lab hides by mounting each host's home over
// /root; then /var/tmp/scalar-tui-lab.
func defaultLabDir() string {
	// scalar-tui's state directory, so that both binaries find one lab.
	d := filepath.Join(os.TempDir(), "scalar-tui")
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		d = filepath.Join(x, "scalar-tui")
	} else if home, err := os.UserHomeDir(); err == nil {
		d = filepath.Join(home, ".local", "state", "scalar-tui")
	}
	d = filepath.Join(d, "lab")
	if d == "/root" || strings.HasPrefix(d, "/root/") {
		return "/var/tmp/scalar-tui-lab"
	}
	return d
}

func newLabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Start or stop a local lab of real sshd hosts behind a bastion (root only)",
		Long: `The lab runs an OpenSSH sshd per host in its own network namespace, reachable
only through a bastion namespace, and writes a Terraform state, a key, a
known_hosts file and an OpenSSH client config for it. It needs root,
iproute2 and openssh-server. With --nodes (the default) every host also runs
what its role runs: the simulated nodetool/systemctl/docker on its PATH, the
simulated exporters, the real prometheus-node-exporter, and on monitor-1 a real
Prometheus with the real alert rules (packages prometheus and
prometheus-node-exporter).`,
	}
	cmd.AddCommand(newLabUpCmd(), newLabDownCmd(), newLabFaultCmd(), newLabNodeServeCmd(), newLabWaitCmd())
	return cmd
}

type labUpOptions struct {
	dir       string
	hosts     string
	hostsFrom string
	prefix    string
	network   string
	domain    string
	nodes     bool
	simBinary string
	alertFor  time.Duration
}

func newLabUpCmd() *cobra.Command {
	o := &labUpOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a lab (replacing one already running in the same --dir or with the same --prefix)",
		Example: `  scalar-tui lab up                       # the default deployment: 13 hosts
  scalar-tui lab up --hosts small         # cassandra-1..3 and the bastion
  scalar-tui lab up --hosts 30            # 30 cassandra hosts, for fan-out
  scalar-tui lab up --hosts cassandra=3,envoy=1 --dir /tmp/lab
  scalar-tui lab up --hosts-from testdata/lab/hosts.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := o.config()
			if err != nil {
				return badInput(err)
			}
			if err := lab.Available(); err != nil {
				return badInput(fmt.Errorf("cannot run the lab here: %w", err))
			}
			start := time.Now()
			l, err := lab.Start(cmd.Context(), cfg)
			if err != nil {
				return failed(err)
			}
			var nodes *labnodes.Nodes
			if o.nodes {
				nodes, err = startLabNodes(cmd.Context(), l, o.simBinary, o.alertFor)
				if err != nil {
					_ = l.Stop()
					return failed(err)
				}
			}
			printLabUsage(cmd.OutOrStdout(), l, nodes, time.Since(start))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", defaultLabDir(), "lab directory: keys, configs, logs, Terraform state, lab.json")
	f.StringVar(&o.hosts, "hosts", "default", `host set: "default" (13 hosts), "small" (3 + bastion), N (N cassandra hosts), or role=count,... / names like cassandra-4`)
	f.StringVar(&o.hostsFrom, "hosts-from", "", "read the host set from FILE (one role=count or name a line; # comments)")
	f.StringVar(&o.prefix, "prefix", "stl", "name prefix of the lab's namespaces (1-8 of [a-z0-9])")
	f.StringVar(&o.network, "network", "", "the lab's /16 (default: first free 10.N.0.0/16, N from 231)")
	f.StringVar(&o.domain, "domain", lab.DefaultDomain, "private zone (internal_domain)")
	// A test binary cannot serve as the simulator (it runs tests, not the
	// CLI), so in-process tests of `lab up` get no nodes unless they ask.
	f.BoolVar(&o.nodes, "nodes", !testing.Testing(), "run the hosts' services: simulated tools and exporters, real node exporters, Prometheus on monitor-1")
	f.StringVar(&o.simBinary, "sim-binary", "", "scalar-sim binary the hosts run the simulator from (default: this one)")
	// Every lab host's node exporter reports this one machine, so on a busy
	// machine InstanceHighCPUUtilization fires on every host after `for:`;
	// `make drills` raises it, as it measures the rules without a `for:`.
	f.DurationVar(&o.alertFor, "alert-for", 0, "the `for:` of the alert rules that have one (default 2m)")
	positive(f, "alert-for")
	cmd.MarkFlagsMutuallyExclusive("hosts", "hosts-from")
	return cmd
}

// startLabNodes starts the nodes from this very binary (it carries the
// simulator), or from bin.
func startLabNodes(ctx context.Context, l *lab.Lab, bin string, alertFor time.Duration) (*labnodes.Nodes, error) {
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("lab nodes: find this binary: %w", err)
		}
		bin = self
	}
	n, err := labnodes.Start(ctx, l, labnodes.Options{SimBinary: bin, For: alertFor})
	if err != nil {
		return nil, fmt.Errorf("%w (a lab without them: --nodes=false)", err)
	}
	return n, nil
}

func (o *labUpOptions) config() (lab.Config, error) {
	cfg := lab.Config{Dir: o.dir, Prefix: o.prefix, Network: o.network, Domain: o.domain}
	var err error
	if o.hostsFrom != "" {
		cfg.Hosts, err = lab.ReadHostsFile(o.hostsFrom)
	} else {
		cfg.Hosts, err = lab.ParseHosts(o.hosts)
		if err != nil {
			err = fmt.Errorf("--hosts: %w", err)
		}
	}
	if err != nil {
		return cfg, err
	}
	if o.dir == "" {
		return cfg, fmt.Errorf("--dir must not be empty")
	}
	return cfg, cfg.Validate()
}

func printLabUsage(w io.Writer, l *lab.Lab, nodes *labnodes.Nodes, took time.Duration) {
	first := l.Bastion
	if len(l.Hosts) > 0 {
		first = l.Hosts[0]
	}
	names := make([]string, 0, len(l.Hosts))
	for _, h := range l.Hosts {
		names = append(names, h.Short)
	}
	fmt.Fprintf(w, "lab %s is up in %s: bastion %s + %d hosts in %s\n", l.Prefix(), took.Round(time.Millisecond), l.BastionAddr, len(l.Hosts), l.Network)
	fmt.Fprintf(w, "  hosts: %s\n", strings.Join(names, " "))
	fmt.Fprintf(w, "  dir:   %s\n\n", l.Dir)
	fmt.Fprintf(w, "Use it:\n")
	fmt.Fprintf(w, "  scalar-tui --tf-root %s --known-hosts %s --identity %s exec --role cassandra -- hostname\n", l.TFRoot, l.KnownHosts, l.KeyPath)
	fmt.Fprintf(w, "  ssh -F %s %s hostname\n", l.SSHConfig, first.Name)
	if sh, err := l.EnterCommand(first.Short, "bash"); err == nil {
		fmt.Fprintf(w, "  %s    # a root shell on %s, no SSH\n", shellJoin(sh), first.Short)
	}
	if nodes != nil {
		fmt.Fprintf(w, "Nodes: simulated tools and exporters, node exporters on :9100 (simulator state %s)\n", nodes.SimState)
		if nodes.PrometheusURL != "" {
			fmt.Fprintf(w, "  Prometheus %s on %s (first targets after ~5s)\n", nodes.PrometheusURL, nodes.Monitor.Short)
			fmt.Fprintf(w, "  scalar-tui --tf-root %s --known-hosts %s --identity %s health\n", l.TFRoot, l.KnownHosts, l.KeyPath)
			fmt.Fprintf(w, "  # or through your own tunnel:\n")
			fmt.Fprintf(w, "  ssh -F %s -N -L 9090:%s bastion &\n", l.SSHConfig, strings.TrimPrefix(nodes.PrometheusURL, "http://"))
			fmt.Fprintf(w, "  scalar-tui --tf-root %s health --prometheus http://localhost:9090\n", l.TFRoot)
		}
		if nodes.PrometheusURL == "" {
			fmt.Fprintf(w, "  no Prometheus: the host set has no monitor host (add monitor=1 to --hosts)\n")
		}
		fmt.Fprintf(w, "  scalar-tui lab fault --dir %s cassandra-2 cassandra-stopped    # break something (--clear to mend)\n", l.Dir)
	}
	fmt.Fprintf(w, "Stop it:\n")
	fmt.Fprintf(w, "  scalar-tui lab down --dir %s\n", l.Dir)
}

func newLabDownCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the lab recorded in --dir: kill its processes, delete its namespaces and routes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := lab.Load(dir)
			if err != nil {
				return badInput(err)
			}
			if err := l.Stop(); err != nil {
				return failed(fmt.Errorf("lab down: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s is down (files kept in %s)\n", l.Prefix(), l.Dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultLabDir(), "lab directory given to `lab up`")
	return cmd
}

// newLabFaultCmd breaks (or mends) a host of a running lab: a simulator
// fault, and for node-down the host's network link (labnodes.InjectFault).
// scalar-tui's drills on a lab (--lab-dir) inject and clear through it.
func newLabFaultCmd() *cobra.Command {
	var (
		dir   string
		clear bool
	)
	cmd := &cobra.Command{
		Use:   "fault HOST KIND [PARAM]",
		Short: "Inject (or --clear) a simulator fault on a lab host: " + strings.Join(sim.FaultKinds, ", "),
		Long: "Inject a fault on HOST (FQDN, short name, IP or '*') of the lab in --dir; node-down also " +
			"takes the host's network link down. With --clear, remove it (KIND may be omitted to clear " +
			"every fault of the host).",
		Args: cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := lab.Load(dir)
			if err != nil {
				return badInput(err)
			}
			kind, param := "", ""
			if len(args) > 1 {
				kind = args[1]
			}
			if len(args) > 2 {
				param = args[2]
			}
			if kind != "" && !slices.Contains(sim.FaultKinds, kind) {
				return badInput(fmt.Errorf("lab fault: unknown fault %q (known: %s)", kind, strings.Join(sim.FaultKinds, ", ")))
			}
			if clear {
				if err := labnodes.ClearFault(cmd.Context(), l, args[0], kind); err != nil {
					return failed(fmt.Errorf("lab fault --clear: %w", err))
				}
				return nil
			}
			if kind == "" {
				return badInput(errors.New("lab fault: KIND is required"))
			}
			if err := labnodes.InjectFault(cmd.Context(), l, args[0], kind, param); err != nil {
				return failed(fmt.Errorf("lab fault: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultLabDir(), "lab directory given to `lab up`")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the fault instead of injecting it")
	return cmd
}

// shellJoin quotes args for a POSIX shell, for commands printed to copy.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// newLabNodeServeCmd is what each lab host runs (internal/labnodes): the
// simulator's endpoints except the ports real daemons own, and the node
// exporter's textfile.
func newLabNodeServeCmd() *cobra.Command {
	o := labnodes.ServeOptions{}
	cmd := &cobra.Command{
		Use:    "node-serve",
		Short:  "Serve a lab host's simulated endpoints and textfile (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.State == "" || o.Host == "" {
				return badInput(errors.New("lab node-serve: --state and --host are required"))
			}
			o.Log = cmd.ErrOrStderr()
			err := labnodes.ServeNode(cmd.Context(), o)
			if err != nil && !errors.Is(err, context.Canceled) {
				return failed(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.State, "state", "", "simulator state directory")
	f.StringVar(&o.Host, "host", "", "FQDN of the simulated host")
	f.StringVar(&o.ListenIP, "listen-ip", "0.0.0.0", "IP address to listen on")
	f.StringVar(&o.TextfileDir, "textfile-dir", "", "node exporter textfile directory to keep sim.prom in")
	f.IntSliceVar(&o.SkipPorts, "skip-port", nil, "ports a real daemon serves (repeatable)")
	return cmd
}

// newLabWaitCmd waits, inside the lab, until addresses accept connections.
func newLabWaitCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:    "wait HOST:PORT|URL...",
		Short:  "Wait until addresses accept connections and URLs answer 200 (internal)",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labnodes.Wait(cmd.Context(), args, timeout); err != nil {
				return failed(err)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for all of them")
	positive(cmd.Flags(), "timeout")
	return cmd
}
