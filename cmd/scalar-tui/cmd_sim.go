package main

// The hidden `scalar-tui sim` commands drive the cluster simulator
// (internal/sim) for the lab and the demo. They are not part of the
// operator-facing CLI.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/internal/sim"
)

func init() {
	register(newSimCmd)
	simArgv0Dispatch()
}

// simArgv0Dispatch lets a symlink named like a simulated tool (nodetool,
// docker, systemctl, ...) pointing at scalar-tui run the simulator directly,
// but only when SCALAR_SIM_STATE is set, so a real install is never affected.
func simArgv0Dispatch() {
	if len(os.Args) == 0 || os.Getenv(sim.EnvState) == "" {
		return
	}
	base := filepath.Base(os.Args[0])
	for _, c := range sim.Commands {
		if base == c {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			rc := sim.Main(ctx, os.Args, nil, os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(rc)
		}
	}
}

func newSimCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "sim",
		Short:  "Cluster simulator for the lab and the demo (internal)",
		Hidden: true,
	}
	cmd.AddCommand(newSimInitCmd(), newSimExecCmd(), newSimServeCmd(), newSimFaultCmd(), newSimConfigCmd())
	return cmd
}

func stateFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "state", os.Getenv(sim.EnvState), "simulator state directory (env "+sim.EnvState+")")
}

func newSimInitCmd() *cobra.Command {
	var (
		dir, domain, hostsFile string
		repair, serving, start time.Duration
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a fresh simulated cluster (default scalar-terraform layout, or --hosts FILE)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return badInput(errors.New("sim init: --state is required"))
			}
			hosts := sim.DefaultHosts(domain)
			if hostsFile != "" {
				b, err := os.ReadFile(hostsFile)
				if err != nil {
					return badInput(fmt.Errorf("sim init: %w", err))
				}
				hosts = nil
				if err := json.Unmarshal(b, &hosts); err != nil {
					return badInput(fmt.Errorf("sim init: %s: want a JSON array of {name,short,role,ip,rack}: %w", hostsFile, err))
				}
			}
			cfg := sim.DefaultConfig()
			if repair > 0 {
				cfg.RepairDuration = sim.Duration(repair)
			}
			if serving > 0 {
				cfg.ServingDelay = sim.Duration(serving)
			}
			if start > 0 {
				cfg.CassandraStartDelay = sim.Duration(start)
			}
			if err := sim.InitWithConfig(dir, hosts, cfg); err != nil {
				return failed(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "simulated cluster with %d hosts in %s\n", len(hosts), dir)
			return nil
		},
	}
	stateFlag(cmd, &dir)
	cmd.Flags().StringVar(&domain, "domain", "internal.scalar-labs.com", "internal domain of the default layout")
	cmd.Flags().StringVar(&hostsFile, "hosts", "", "JSON file with the host list instead of the default layout")
	cmd.Flags().DurationVar(&repair, "repair-duration", 0, "duration of one nodetool repair command")
	cmd.Flags().DurationVar(&serving, "serving-delay", 0, "delay before a recreated Scalar DL container is SERVING")
	cmd.Flags().DurationVar(&start, "cassandra-start-delay", 0, "delay before a started Cassandra is UN")
	return cmd
}

func newSimConfigCmd() *cobra.Command {
	var (
		dir                    string
		repair, serving, start time.Duration
		slow                   float64
	)
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Change simulator knobs of an existing state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return badInput(errors.New("sim config: --state is required"))
			}
			err := sim.SetConfig(dir, func(c *sim.Config) {
				if repair > 0 {
					c.RepairDuration = sim.Duration(repair)
				}
				if serving > 0 {
					c.ServingDelay = sim.Duration(serving)
				}
				if start > 0 {
					c.CassandraStartDelay = sim.Duration(start)
				}
				if slow > 0 {
					c.SlowFactor = slow
				}
			})
			if err != nil {
				return failed(err)
			}
			return nil
		},
	}
	stateFlag(cmd, &dir)
	cmd.Flags().DurationVar(&repair, "repair-duration", 0, "duration of one nodetool repair command")
	cmd.Flags().DurationVar(&serving, "serving-delay", 0, "delay before a recreated Scalar DL container is SERVING")
	cmd.Flags().DurationVar(&start, "cassandra-start-delay", 0, "delay before a started Cassandra is UN")
	cmd.Flags().Float64Var(&slow, "slow-factor", 0, "duration multiplier of the slow fault")
	return cmd
}

// newSimExecCmd runs one simulated tool: `scalar-tui sim exec [--state DIR]
// [--host FQDN] [--] nodetool status`. Flags after the tool name belong to
// the tool, so cobra's flag parsing is off and the exit code is the tool's.
func newSimExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "exec [--state DIR] [--host FQDN] [--] TOOL [ARGS...]",
		Short:              "Run a simulated tool (" + strings.Join(sim.Commands, ", ") + ")",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			env := map[string]string{}
			for _, kv := range os.Environ() {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			for len(args) > 0 {
				switch a := args[0]; {
				case a == "--":
					args = args[1:]
					goto run
				case (a == "--state" || a == "--host") && len(args) > 1:
					env[map[string]string{"--state": sim.EnvState, "--host": sim.EnvHost}[a]] = args[1]
					args = args[2:]
				case strings.HasPrefix(a, "--state="):
					env[sim.EnvState] = strings.TrimPrefix(a, "--state=")
					args = args[1:]
				case strings.HasPrefix(a, "--host="):
					env[sim.EnvHost] = strings.TrimPrefix(a, "--host=")
					args = args[1:]
				default:
					goto run
				}
			}
		run:
			if len(args) == 0 {
				return badInput(errors.New("sim exec: missing tool name"))
			}
			rc := sim.Main(cmd.Context(), args, env, os.Stdin, os.Stdout, os.Stderr)
			os.Exit(rc) // the tool's own exit status, without cobra's error printing
			return nil
		},
	}
}

func newSimServeCmd() *cobra.Command {
	var dir, host, ip, textfile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a simulated host's network endpoints (HTTP exporters, envoy admin, rpc.Admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" || host == "" {
				return badInput(errors.New("sim serve: --state and --host are required"))
			}
			listen := func(port int) (net.Listener, error) {
				return net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
			}
			err := sim.Serve(cmd.Context(), dir, host, listen, sim.ServeOptions{TextfileDir: textfile})
			if err != nil && !errors.Is(err, context.Canceled) {
				return failed(err)
			}
			return nil
		},
	}
	stateFlag(cmd, &dir)
	cmd.Flags().StringVar(&host, "host", os.Getenv(sim.EnvHost), "FQDN of the simulated host (env "+sim.EnvHost+")")
	cmd.Flags().StringVar(&ip, "listen-ip", "0.0.0.0", "IP address to listen on")
	cmd.Flags().StringVar(&textfile, "textfile-dir", "", "node_exporter textfile collector directory to write sim.prom into")
	return cmd
}

func newSimFaultCmd() *cobra.Command {
	var (
		dir   string
		clear bool
	)
	cmd := &cobra.Command{
		Use:   "fault HOST KIND [PARAM]",
		Short: "Inject (or --clear) a fault: " + strings.Join(sim.FaultKinds, ", "),
		Long: "Inject a fault on HOST (FQDN, short name, IP or '*'). With --clear, remove it " +
			"(KIND may be omitted to clear every fault of the host).",
		Args: cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return badInput(errors.New("sim fault: --state is required"))
			}
			kind, param := "", ""
			if len(args) > 1 {
				kind = args[1]
			}
			if len(args) > 2 {
				param = args[2]
			}
			if clear {
				if err := sim.ClearFault(dir, args[0], kind); err != nil {
					return badInput(err)
				}
				return nil
			}
			if kind == "" {
				return badInput(errors.New("sim fault: KIND is required"))
			}
			if err := sim.InjectFault(dir, args[0], kind, param); err != nil {
				return badInput(err)
			}
			return nil
		},
	}
	stateFlag(cmd, &dir)
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the fault instead of injecting it")
	return cmd
}
