package main

// The simulator's own commands on a state directory: init, config, exec,
// serve and fault (internal/sim). The lab (lab.go) uses the same state.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"scalar-tui/internal/sim"
)

// annPositive marks a flag that must be greater than zero.
const annPositive = "scalar-sim/positive"

// positive marks flags of fs that must be greater than zero.
func positive(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, annPositive, []string{"true"}); err != nil {
			panic(err) // a typo in a flag name: a programming error
		}
	}
}

// checkDurations range-checks the numeric flags of cmd that were given: no
// negative durations, no NaN, infinite or negative factors, no zero where a
// flag is marked positive. A bad number is bad input and nothing is attempted.
func checkDurations(cmd *cobra.Command) error {
	var bad error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if bad != nil || !f.Changed {
			return
		}
		mustPos := len(f.Annotations[annPositive]) > 0
		switch f.Value.Type() {
		case "duration":
			d, err := time.ParseDuration(f.Value.String())
			switch {
			case err != nil || d < 0:
				bad = fmt.Errorf("--%s %s: must not be negative", f.Name, f.Value.String())
			case mustPos && d == 0:
				bad = fmt.Errorf("--%s %s: must be greater than 0", f.Name, f.Value.String())
			}
		case "float64":
			var v float64
			_, err := fmt.Sscan(f.Value.String(), &v)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				bad = fmt.Errorf("--%s %s: want a finite number, not negative", f.Name, f.Value.String())
			}
		}
	})
	return bad
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
				return badInput(errors.New("init: --state is required"))
			}
			hosts := sim.DefaultHosts(domain)
			if hostsFile != "" {
				b, err := os.ReadFile(hostsFile)
				if err != nil {
					return badInput(fmt.Errorf("init: %w", err))
				}
				hosts = nil
				if err := json.Unmarshal(b, &hosts); err != nil {
					return badInput(fmt.Errorf("init: %s: want a JSON array of {name,short,role,ip,rack}: %w", hostsFile, err))
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
				return badInput(errors.New("config: --state is required"))
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

// newSimExecCmd runs one simulated tool: `scalar-sim exec [--state DIR]
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
				return badInput(errors.New("exec: missing tool name"))
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
				return badInput(errors.New("serve: --state and --host are required"))
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
				return badInput(errors.New("fault: --state is required"))
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
				return badInput(errors.New("fault: KIND is required"))
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
