package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/internal/demo"
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/runbook"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/tui"
	"scalar-tui/tui/backend"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/vm"
)

func init() {
	// health and the console reach the deployment through the bastion.
	bastionDialer = func(g *globalOptions, inv *inventory.Inventory) (health.DialFunc, func() error, error) {
		c, err := g.sshClient(inv)
		if err != nil {
			return nil, nil, err
		}
		return c.DialContext, c.Close, nil
	}
	runConsole = runConsoleTUI
}

// consoleOptions are the root command's own flags (the console).
type consoleOptions struct {
	readonly bool
	refresh  time.Duration
}

// addConsoleFlags makes `scalar-tui` with no subcommand open the console.
func addConsoleFlags(root *cobra.Command, g *globalOptions) {
	o := &consoleOptions{}
	root.Flags().BoolVar(&o.readonly, "readonly", false, "hide every dangerous action (workflows, shells)")
	root.Flags().DurationVar(&o.refresh, "refresh", 10*time.Second, "health refresh interval")
	positive(root.Flags(), "refresh")
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return badInput(fmt.Errorf("unknown command %q (see scalar-tui --help)", args[0]))
		}
		g.console = o
		return runConsoleTUI(cmd.Context(), g)
	}
}

// runConsoleTUI opens the Bubble Tea console on the deployment g names.
func runConsoleTUI(ctx context.Context, g *globalOptions) error {
	if !isTerminal(os.Stdout) {
		return badInput(errNoTTY)
	}
	opts, err := g.inventoryOptions()
	if err != nil {
		return err
	}
	// Fail before taking over the terminal when the state cannot be read.
	inv, err := inventory.Load(ctx, opts)
	if err != nil {
		return badInput(fmt.Errorf("load the deployment: %w", err))
	}
	// The console shows, offers and journals only this deployment's runs.
	dep := g.deploymentOf(inv, "")
	b, err := newConsoleBackend(g, opts, inv, dep)
	if err != nil {
		return err
	}
	defer b.Close()
	co := g.console
	if co == nil {
		co = &consoleOptions{refresh: 5 * time.Second}
	}
	cfg, _ := loadConfig(g.configPath)
	var keys map[string]string
	envColor := ""
	if cfg != nil {
		keys = cfg.Keys
		if env, _ := cfg.environment(g.envName); env != nil {
			envColor = env.Color
		}
	}
	// A key map with a colliding binding is bad input, refused before the
	// console takes over the terminal.
	if _, err := keymap.New(co.readonly, keys); err != nil {
		where := "config"
		if cfg != nil && cfg.path != "" {
			where += " " + cfg.path
		}
		return badInput(fmt.Errorf("%s: %w", where, err))
	}
	err = tui.Run(ctx, tui.Options{Backend: b, Readonly: co.readonly, RefreshInterval: co.refresh,
		KeyOverrides: keys, EnvColor: envColor})
	// However the console ended (q, Ctrl-C, SIGTERM, SIGHUP), a workflow
	// still running goes through the engine's cleanup before the SSH client
	// closes and the process exits.
	if serr := shutdownWorkflows(b, os.Stderr); serr != nil && err == nil {
		err = failed(serr)
	}
	if ctx.Err() != nil {
		// A signal, whatever Bubble Tea made of it (SIGTERM: a quit of its
		// own, SIGINT: ErrInterrupted, SIGHUP: ErrProgramKilled): exit 130.
		err = fmt.Errorf("console stopped: %w", ctx.Err())
	}
	return err
}

// consoleShutdownTimeout bounds how long the console waits, after it ends,
// for a canceled workflow's cleanup (unpause, stop the remote command,
// journal, release the lock).
var consoleShutdownTimeout = 2 * time.Minute

// shutdownWorkflows cancels the backend's running workflows and waits for
// their cleanup, saying so on w (the terminal, after the console left it).
func shutdownWorkflows(b *backend.Backend, w io.Writer) error {
	n := b.RunningWorkflows()
	if n == 0 {
		return nil
	}
	fmt.Fprintf(w, "scalar-tui: canceling… %d running workflow(s): running cleanup steps (unpause), stopping remote commands, releasing the cluster lock (up to %s)\n", n, consoleShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), consoleShutdownTimeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		fmt.Fprintf(w, "scalar-tui: %v: see `scalar-tui runs` and `scalar-tui unlock`\n", err)
		return err
	}
	fmt.Fprintln(w, "scalar-tui: canceled; the journal has the final status (`scalar-tui runs`)")
	return nil
}

// newConsoleBackend wires the console's backend to the same code paths the
// subcommands use; inv is the deployment already read at start-up.
func newConsoleBackend(g *globalOptions, opts inventory.Options, inv *inventory.Inventory, dep deployment) (*backend.Backend, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return backend.New(backend.Config{
		LoadInventory: func(ctx context.Context) (*inventory.Inventory, error) { return inventory.Load(ctx, opts) },
		Inventory:     inv,
		Connect:       g.sshClient,
		HealthSource: func(inv *inventory.Inventory, dial health.DialFunc) (health.Source, error) {
			return consoleHealthSource(inv, dial)
		},
		StateDir:  dep.dir,
		ShellArgv: append(append([]string{exe}, g.passThroughArgs()...), "ssh"),
		Workflows: consoleWorkflows(g, dep),
		Runbooks: func(a health.Alert) (vm.Runbook, bool) {
			act, ok := runbook.For(a)
			return backend.RunbookView(backend.RunbookAction(act)), ok
		},
	})
}

// consoleHealthSource asks the monitor's Prometheus through the bastion and,
// while it cannot be reached, scrapes the exporters instead (the demo has no
// Prometheus), saying so in the header.
func consoleHealthSource(inv *inventory.Inventory, dial health.DialFunc) (health.Source, error) {
	dial = healthDial(dial, inv.BastionAddr())
	prom, err := health.NewPrometheusSource(inv, "", health.PrometheusOptions{Dial: dial, Timeout: 5 * time.Second, EnvoyAdmin: true})
	if err != nil {
		return nil, err
	}
	return &health.FallbackSource{Primary: prom,
		Fallback: health.NewScrapeSource(inv, health.ScrapeOptions{Dial: dial, Timeout: 5 * time.Second, Via: "bastion " + inv.BastionAddr()})}, nil
}

// passThroughArgs are the global flags a child scalar-tui (the shell) needs
// to reach the same deployment the same way.
func (g *globalOptions) passThroughArgs() []string {
	var a []string
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	add("--config", g.configPath)
	add("--env", g.envName)
	add("--tf-root", g.tfRoot)
	for _, d := range g.tfDirs {
		add("--tf-dir", d)
	}
	add("--terraform", g.terraform)
	add("--known-hosts", g.knownHosts)
	add("--identity", g.identity)
	add("--log-file", g.logFile)
	add("--state-dir", g.stateRoot)
	return a
}

// consoleWorkflows wires the workflow catalog into the console with the
// CLI's own functions: the same health gates and engine factory, the
// environment's kind (drills) and, in the demo, its simulator's faults.
func consoleWorkflows(g *globalOptions, dep deployment) *backend.Workflows {
	return &backend.Workflows{
		Deps: func(inv *inventory.Inventory, client *sshx.Client) workflow.Deps {
			d := kindDeps(inv, client, workflowFlags{dep: dep}, cmdStreams{})
			d.StateDir = dep.dir
			d.EnvKind, _ = envKind(g)
			// The demo's drills inject the simulator's faults: its state
			// dir marks the deployment as a lab when it simulates this one.
			if g.simState != "" && simMatches(g.simState, inv) == nil {
				d.Faults = demo.Faults{State: g.simState}
			}
			return d
		},
		Engine: func(client *sshx.Client, events func(workflow.Event), canary bool) *workflow.Engine {
			return deploymentEngine(client, dep, "", workflow.WithEvents(events), workflow.WithCanary(canary))
		},
		// The config was read when the console started: an error here
		// was reported then.
		Defaults: func(kind string) map[string]string {
			defs, _ := g.optionDefaults(kind)
			return defs
		},
	}
}

var errNoTTY = errors.New("the console needs a terminal: run a subcommand instead (see scalar-tui --help)")
