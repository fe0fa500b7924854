// Command scalar-sim is the cluster simulator (internal/sim) and the local lab
// (internal/lab, internal/labnodes) of scalar-tui, as a binary of its own so
// that the operator's scalar-tui links neither. It is what the lab's hosts
// run:
//
//   - the simulated tools on each lab host's PATH (nodetool, systemctl,
//     docker, docker-compose, grpc_health_probe, ...): symlinks named like
//     the tool that point at scalar-sim, dispatched on argv[0] when
//     SCALAR_SIM_STATE is set;
//   - `scalar-sim lab up|down|fault` and the hidden helpers the lab spawns
//     inside its namespaces (`lab node-serve`, `lab wait`);
//   - `scalar-sim init|config|fault|exec|serve`, the simulator's own
//     commands on a state directory.
//
// `scalar-tui lab ...` runs this binary (found next to scalar-tui, else on
// PATH), so the lab's commands are the same under either name. The demo
// (`scalar-tui demo`) does not need it: it runs the simulator in-process.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"scalar-tui/internal/sim"
)

// version is set by the Makefile with -ldflags.
var version = "dev"

// Exit codes, as scalar-tui's.
const (
	exitOK       = 0
	exitFailed   = 1 // the operation ran and failed
	exitBadInput = 2 // bad flags, bad state, missing files: nothing was attempted
	exitCanceled = 130
)

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as an input problem (exit code 2).
func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

// failed marks err as an operation failure (exit code 1).
func failed(err error) error { return &exitError{code: exitFailed, err: err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	var code int
	if tool, ok := toolOf(os.Args, os.Getenv(sim.EnvState)); ok {
		code = sim.Main(ctx, append([]string{tool}, os.Args[1:]...), nil, os.Stdin, os.Stdout, os.Stderr)
	} else {
		code = run(ctx, os.Args[1:])
	}
	stop()
	os.Exit(code)
}

// toolOf reports the simulated tool a lab host's shim runs: argv[0]'s base
// name is one of sim.Commands (a symlink named like the tool) and a
// simulator state is named. Run under its own name, scalar-sim is the CLI.
func toolOf(argv []string, state string) (string, bool) {
	if len(argv) == 0 || state == "" {
		return "", false
	}
	base := filepath.Base(argv[0])
	for _, c := range sim.Commands {
		if base == c {
			return c, true
		}
	}
	return "", false
}

func run(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "scalar-sim:", err)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return exitCanceled
	default:
		return exitBadInput // cobra's own errors (unknown flag, bad args)
	}
}

func newRootCmd() *cobra.Command {
	var logFile string
	root := &cobra.Command{
		Use:           "scalar-sim",
		Short:         "Cluster simulator and local lab of scalar-tui (test and demo tooling)",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDurations(cmd); err != nil {
				return badInput(err)
			}
			if logFile == "" {
				return nil
			}
			f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return badInput(fmt.Errorf("open log file: %w", err))
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logFile, "log-file", "", "log file (default: none)")
	root.AddCommand(newSimInitCmd(), newSimExecCmd(), newSimServeCmd(), newSimFaultCmd(), newSimConfigCmd(), newLabCmd())
	return root
}
