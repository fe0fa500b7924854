package main

// `scalar-tui demo` runs a whole simulated deployment in this process
// (internal/demo) and points the console at it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/internal/demo"
	"scalar-tui/inventory"
)

func init() { register(newDemoCmd) }

// runConsole runs the interactive console against the deployment g points
// at (the lead wires the TUI here). Nil: demo prints the inventory and the
// commands to try, and keeps the cluster up until interrupted.
var runConsole func(ctx context.Context, g *globalOptions) error

// demoUpgradeImages are loaded on the demo's Scalar DL hosts so that `U` can
// upgrade to them at once (2.1.0 runs; --fault scalardl-blue-2:bad-tag:2.2.0
// makes 2.2.0 never serve, to watch a rollback).
var demoUpgradeImages = []string{"ghcr.io/scalar-labs/scalar-ledger:2.1.1", "ghcr.io/scalar-labs/scalar-ledger:2.2.0"}

type demoOptions struct {
	hosts int
	fault string
	keep  bool
	noTUI bool
	state string
}

func newDemoCmd(g *globalOptions) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a simulated deployment in this process and open the console on it (no root, no network)",
		Long: "Start an in-process SSH bastion on 127.0.0.1 and one simulated host behind it per machine of a\n" +
			"scalar-terraform deployment (cassandra, cassy, reaper, scalardl, envoy, monitor), write its Terraform\n" +
			"state, known_hosts and key to a temporary directory, and run the console against it through the same\n" +
			"code paths as a real deployment. Everything stops and the directory is removed on Ctrl-C\n" +
			"(unless --keep or --state).\n\n" +
			"The demo keeps all its state in its own directory: journal and audit log (DIR/state), the\n" +
			"cluster lock (DIR/locks; its bastion is this machine) and the log file (DIR/scalar-tui.log),\n" +
			"never in $XDG_STATE_HOME, so two demos never see or block each other. With --state DIR the\n" +
			"directory is kept and a later `demo --state DIR` continues the same deployment (resume works).\n\nFault kinds for --fault: " + strings.Join(demo.FaultKinds, ", "),
		Example: "  scalar-tui demo\n  scalar-tui demo --hosts 5 --no-tui\n  scalar-tui demo --fault cassandra-2:cassandra-stopped\n" +
			"  scalar-tui demo --fault scalardl-blue-1:bad-tag:2.2.0\n  scalar-tui demo --state ~/demo   # kept across restarts",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.hosts, "hosts", 3, "number of cassandra hosts and of scalardl-blue hosts (1..200)")
	positive(f, "hosts")
	f.StringVar(&o.fault, "fault", "", "inject a fault at start: HOST:KIND[:PARAM], e.g. cassandra-2:cassandra-stopped")
	f.BoolVar(&o.keep, "keep", false, "keep the demo directory after exit")
	f.BoolVar(&o.noTUI, "no-tui", false, "do not open the console: print how to use the demo and wait for Ctrl-C")
	f.StringVar(&o.state, "state", "", "keep the demo (cluster, journal, audit, lock, logs) in DIR across restarts")
	return cmd
}

func runDemo(ctx context.Context, g *globalOptions, o *demoOptions, stdout, stderr io.Writer) error {
	if o.hosts < 1 || o.hosts > 200 {
		return badInput(fmt.Errorf("--hosts must be between 1 and 200, got %d", o.hosts))
	}
	if err := demo.CheckFault(demo.Options{Cassandra: o.hosts, Blue: o.hosts, Fault: o.fault}); err != nil {
		return badInput(err)
	}
	if g.tfRoot != "" || len(g.tfDirs) > 0 || g.envName != "" {
		return badInput(errors.New("demo makes its own deployment: drop --tf-root, --tf-dir and --env"))
	}
	fmt.Fprintln(stderr, "starting the demo deployment ...")
	d, err := demo.Start(ctx, demo.Options{Dir: o.state, Cassandra: o.hosts, Blue: o.hosts, Fault: o.fault, Keep: o.keep,
		Images: demoUpgradeImages})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("demo: %w", ctx.Err())
		}
		return failed(err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			fmt.Fprintln(stderr, "demo cleanup:", err)
		}
		if o.keep || o.state != "" {
			fmt.Fprintf(stderr, "demo stopped; files kept in %s\n", d.Dir)
		} else {
			fmt.Fprintln(stderr, "demo stopped and cleaned up")
		}
	}()
	// From here on the console sees an ordinary deployment, whose local
	// state and lock live in the demo's directory.
	g.tfRoot, g.tfDirs, g.terraform = d.TFRoot, nil, ""
	g.knownHosts, g.identity = d.KnownHosts, d.Identity
	g.stateRoot, g.lockDir = demoStateDir(d), filepath.Join(d.Dir, "locks")
	g.simState = d.SimState
	g.kindDefaults = demo.OptionDefaults()
	if g.logFile == "" {
		g.logFile = filepath.Join(d.Dir, "scalar-tui.log")
	}
	if err := os.MkdirAll(g.lockDir, 0o700); err != nil {
		return failed(fmt.Errorf("demo: %w", err))
	}
	if err := setupLogging(g.logFile); err != nil {
		return err
	}

	opts, err := g.inventoryOptions()
	if err != nil {
		return err
	}
	if runConsole != nil && !o.noTUI {
		// The console reads the state itself, once.
		return runConsole(ctx, g)
	}
	inv, err := inventory.Load(ctx, opts)
	if err != nil {
		return failed(fmt.Errorf("demo: read the generated state: %w", err))
	}
	if err := writeInventoryTable(stdout, inv); err != nil {
		return failed(err)
	}
	fmt.Fprintf(stdout, "\nDemo deployment up in %s (%d hosts behind the bastion %s). Files: %s\n",
		d.Started.Round(time.Millisecond), len(d.Hosts)-1, d.BastionAddr, d.Dir)
	if o.fault != "" {
		fmt.Fprintf(stdout, "Injected fault: %s\n", o.fault)
	}
	fmt.Fprintf(stdout, "\nIn a second terminal, try:\n\n%s\n", demoCommands(d))
	fmt.Fprintln(stdout, "\nPress Ctrl-C to stop the demo.")
	<-ctx.Done()
	return nil
}

// demoStateDir is where the demo keeps its journals and audit logs.
func demoStateDir(d *demo.Demo) string { return filepath.Join(d.Dir, "state") }

// demoCommands are the commands printed for a second terminal.
func demoCommands(d *demo.Demo) string {
	flags := fmt.Sprintf("--tf-root %s --known-hosts %s --identity %s --state-dir %s", d.TFRoot, d.KnownHosts, d.Identity, demoStateDir(d))
	return strings.Join([]string{
		"  scalar-tui " + flags + " exec --role cassandra -- nodetool status",
		"  scalar-tui " + flags + " health",
		"  scalar-tui " + flags + " ssh cassandra-1",
		"  scalar-tui sim fault --state " + d.SimState + " cassandra-2 cassandra-stopped   # inject a fault (--clear to undo)",
		"  scalar-tui " + flags + " drill envoy-killed --host envoy-1 --sim-state " + d.SimState + " --yes   # a drill; then `drills`",
	}, "\n")
}
