package main

// `scalar-tui lab ...` runs `scalar-sim lab ...`, and the hidden `scalar-tui
// sim ...` runs `scalar-sim ...`: the local lab (real sshd hosts in network
// namespaces, with the simulator's tools on them) and the simulator's own
// commands live in the scalar-sim binary so that this one links neither.
// The commands stay the same: `scalar-tui lab up`, `lab down`, `lab fault`,
// `sim fault --state DIR` on the demo, and `drill --lab-dir`.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func init() {
	register(newLabCmd)
	register(newSimCmd)
}

// simBinaryName is the simulator's binary (cmd/scalar-sim).
const simBinaryName = "scalar-sim"

// errSimReported marks a scalar-sim failure whose message scalar-sim has
// printed itself: run() only passes its exit code on.
var errSimReported = errors.New("scalar-sim failed")

func newLabCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "lab up|down|fault ...",
		Short: "Start or stop a local lab of real sshd hosts behind a bastion (root only; runs scalar-sim)",
		Long: `The lab runs an OpenSSH sshd per host in its own network namespace, reachable
only through a bastion namespace, with simulated nodetool/systemctl/docker,
real node exporters and a real Prometheus on the hosts. It is run by the
scalar-sim binary (built beside scalar-tui by ` + "`make build`" + `): ` + "`scalar-tui lab ARGS`" + `
is ` + "`scalar-sim lab ARGS`" + `. See ` + "`scalar-tui lab --help`" + ` for its commands.`,
		Example: `  scalar-tui lab up                       # the default deployment: 13 hosts
  scalar-tui lab up --hosts small         # cassandra-1..3 and the bastion
  scalar-tui lab fault cassandra-2 cassandra-stopped
  scalar-tui lab down`,
		// Every argument, --help included, is scalar-sim's.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSim(cmd.Context(), cmd, append([]string{"lab"}, args...))
		},
	}
}

func newSimCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:                "sim init|config|fault|exec|serve ...",
		Short:              "Cluster simulator of the demo and the lab (runs scalar-sim)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSim(cmd.Context(), cmd, args)
		},
	}
}

// simBinary finds scalar-sim: next to this executable (bin/ after `make
// build`, the same GOBIN after `go install ./cmd/...`), else on PATH.
func simBinary() (string, error) {
	var beside string
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		beside = filepath.Join(filepath.Dir(self), simBinaryName)
		if fi, err := os.Stat(beside); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	if p, err := exec.LookPath(simBinaryName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found next to this binary (%s) nor on PATH: the lab runs it; build both with `make build` (bin/scalar-tui, bin/scalar-sim) or `go install ./cmd/scalar-sim`", simBinaryName, beside)
}

// simCommand is scalar-sim with args and this process's environment. A
// cancelled ctx (Ctrl-C, SIGTERM, SIGHUP) sends scalar-sim SIGTERM and waits
// for it: `lab up` cleans up what it started, never killed mid-way.
func simCommand(ctx context.Context, args []string) (*exec.Cmd, error) {
	bin, err := simBinary()
	if err != nil {
		return nil, err
	}
	c := exec.CommandContext(ctx, bin, args...)
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	return c, nil
}

// runSim runs scalar-sim with the command's streams and passes its exit
// status on (its own messages are on stderr already).
func runSim(ctx context.Context, cmd *cobra.Command, args []string) error {
	c, err := simCommand(ctx, args)
	if err != nil {
		return badInput(err)
	}
	c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	return simExit(ctx, c.Run())
}

// runSimQuiet runs scalar-sim and returns its stderr as the error when it
// fails (for steps of a workflow, whose output goes to the event log).
func runSimQuiet(ctx context.Context, args ...string) error {
	c, err := simCommand(ctx, args)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out.String()), simBinaryName+":"))
		return fmt.Errorf("%s %s: %w: %s", simBinaryName, strings.Join(args, " "), err, msg)
	}
	return nil
}

// simExit maps scalar-sim's end to this command's error.
func simExit(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code > 0 {
			return &exitError{code: code, err: errSimReported}
		}
		if ctx.Err() != nil {
			return ctx.Err() // ended by the signal this process forwarded
		}
	}
	return failed(fmt.Errorf("run %s: %w", simBinaryName, err))
}
