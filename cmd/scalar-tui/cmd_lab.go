package main

// `scalar-tui lab up|down` starts and stops the local lab (internal/lab): real
// sshd hosts in network namespaces behind a bastion, with the Terraform state,
// key and known_hosts an operator of a real deployment would have.

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"scalar-tui/internal/lab"
)

func init() { register(newLabCmd) }

// defaultLabDir is where `lab up` and `lab down` keep the lab without --dir.
func defaultLabDir() string { return filepath.Join(stateDir(), "lab") }

func newLabCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Start or stop a local lab of real sshd hosts behind a bastion (root only)",
		Long: `The lab runs an OpenSSH sshd per host in its own network namespace, reachable
only through a bastion namespace, and writes a Terraform state, a key, a
known_hosts file and an OpenSSH client config for it. It needs root,
iproute2 and openssh-server.`,
	}
	cmd.AddCommand(newLabUpCmd(), newLabDownCmd())
	return cmd
}

type labUpOptions struct {
	dir       string
	hosts     string
	hostsFrom string
	prefix    string
	network   string
	domain    string
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
			l, err := lab.Start(cmd.Context(), cfg)
			if err != nil {
				return failed(err)
			}
			printLabUsage(cmd.OutOrStdout(), l)
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
	cmd.MarkFlagsMutuallyExclusive("hosts", "hosts-from")
	return cmd
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
	return cfg, nil
}

func printLabUsage(w io.Writer, l *lab.Lab) {
	first := l.Bastion
	if len(l.Hosts) > 0 {
		first = l.Hosts[0]
	}
	names := make([]string, 0, len(l.Hosts))
	for _, h := range l.Hosts {
		names = append(names, h.Short)
	}
	fmt.Fprintf(w, "lab %s is up: bastion %s + %d hosts in %s\n", l.Prefix(), l.BastionAddr, len(l.Hosts), l.Network)
	fmt.Fprintf(w, "  hosts: %s\n", strings.Join(names, " "))
	fmt.Fprintf(w, "  dir:   %s\n\n", l.Dir)
	fmt.Fprintf(w, "Use it:\n")
	fmt.Fprintf(w, "  scalar-tui --tf-root %s --known-hosts %s --identity %s exec --role cassandra -- hostname\n", l.TFRoot, l.KnownHosts, l.KeyPath)
	fmt.Fprintf(w, "  ssh -F %s %s hostname\n", l.SSHConfig, first.Name)
	if sh, err := l.EnterCommand(first.Short, "bash"); err == nil {
		fmt.Fprintf(w, "  %s    # a root shell on %s, no SSH\n", shellJoin(sh), first.Short)
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
