// Command scalar-tui is an operations console for Scalar DL clusters on Apache
// Cassandra deployed with scalar-terraform. This package only parses flags,
// reads the config and wires inventory, ops and tui together.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"scalar-tui/internal/demo"
)

// Exit codes shared by every subcommand.
const (
	exitOK       = 0
	exitFailed   = 1 // the operation ran and failed (a host failed, a workflow stopped)
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
	// The demo's hosts run the simulated tools through wrapper scripts that
	// call this binary back (demo.EnvSimExec set, `sim exec TOOL ...`): the
	// demo needs nothing but scalar-tui. The lab's tools are scalar-sim's.
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	// SIGHUP (terminal closed, SSH session to the jump host dropped, tmux
	// killed) ends a run like Ctrl-C: through its cleanup, never mid-step.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.Is(err, errSimReported) && errors.As(err, &ee) {
		return ee.code // scalar-sim printed its own error
	}
	fmt.Fprintln(os.Stderr, "scalar-tui:", err)
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return exitCanceled
	default:
		// cobra's own errors (unknown flag, bad args) are usage errors.
		return exitBadInput
	}
}
