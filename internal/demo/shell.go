package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"scalar-tui/internal/sim"
	"scalar-tui/internal/sshtest"
)

// killBuiltin is what the call handler renames `kill` to: the interpreter
// has no kill builtin, and the exec handler implements it.
const killBuiltin = "\x00kill"

// hostShell runs one host's commands in a POSIX shell interpreter.
type hostShell struct {
	// life is cancelled when the demo closes; background jobs run under it.
	life context.Context
	// devnull is the stdin of scripts that start background jobs; it stays
	// open until the demo closes.
	devnull *os.File
	host    Host
	env     []string // base environment, NAME=value
	procs   *procTable
}

func newHostShell(life context.Context, devnull *os.File, h Host, simState, binDir string, procs *procTable) *hostShell {
	path := binDir
	if p := os.Getenv("PATH"); p != "" {
		path += ":" + p
	} else {
		path += ":/usr/local/bin:/usr/bin:/bin"
	}
	env := []string{
		"HOME=" + h.Home, "USER=" + User, "LOGNAME=" + User, "SHELL=/bin/sh", "HOSTNAME=" + h.Short,
		"PATH=" + path, "LANG=C.UTF-8",
		sim.EnvHost + "=" + h.Name, sim.EnvState + "=" + simState,
	}
	return &hostShell{life: life, devnull: devnull, host: h, env: env, procs: procs}
}

// runner returns a new interpreter for one session.
func (s *hostShell) runner(stdin *os.File, stdout, stderr io.Writer, clientEnv map[string]string, interactive bool) (*interp.Runner, error) {
	env := append([]string(nil), s.env...)
	for k, v := range clientEnv {
		env = append(env, k+"="+v)
	}
	return interp.New(
		interp.Env(expand.ListEnviron(env...)),
		interp.Dir(s.host.Home),
		interp.StdIO(stdin, stdout, stderr),
		interp.Interactive(interactive),
		interp.CallHandler(func(ctx context.Context, args []string) ([]string, error) {
			if args[0] == "kill" {
				args[0] = killBuiltin
			}
			return args, nil
		}),
		interp.ExecHandlers(s.builtins, s.simTools, s.procs.middleware),
	)
}

// exec serves an exec request: parse the command line and run it.
func (s *hostShell) exec(ctx context.Context, sess sshtest.Session) int {
	file, err := syntax.NewParser().Parse(strings.NewReader(sess.Command), "")
	if err != nil {
		fmt.Fprintf(sess.Stderr, "sh: %v\n", err)
		return 2
	}
	// Jobs started with & may still read stdin after the session is over,
	// so scripts with jobs get the demo's /dev/null (sshx sends no input).
	stdin := s.devnull
	if !hasBackground(file) {
		pr, closeStdin, err := pipeFrom(sess.Stdin)
		if err != nil {
			fmt.Fprintf(sess.Stderr, "sh: %v\n", err)
			return 255
		}
		defer closeStdin()
		stdin = pr
	}
	r, err := s.runner(stdin, sess.Stdout, sess.Stderr, sess.Env, false)
	if err != nil {
		fmt.Fprintf(sess.Stderr, "sh: %v\n", err)
		return 255
	}
	// The session's end cancels the command only while it runs: jobs it
	// started with & keep running afterwards, as under sshd (they stop
	// with the demo).
	runCtx, cancel := context.WithCancel(s.life)
	stop := context.AfterFunc(ctx, cancel)
	err = r.Run(runCtx, file)
	stop()
	if !hasBackground(file) {
		cancel()
	}
	return exitCode(ctx, err, sess.Stderr)
}

// hasBackground reports whether file starts jobs with &.
func hasBackground(file *syntax.File) bool {
	found := false
	syntax.Walk(file, func(n syntax.Node) bool {
		if st, ok := n.(*syntax.Stmt); ok && (st.Background || st.Coprocess || st.Disown) {
			found = true
		}
		return !found
	})
	return found
}

// exitCode turns a Runner error into an exit status: -15 (death by SIGTERM)
// when the session was killed.
func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	if ctx.Err() != nil {
		return -int(syscall.SIGTERM)
	}
	if err == nil {
		return 0
	}
	if code, ok := interp.IsExitStatus(err); ok {
		return int(code)
	}
	fmt.Fprintf(stderr, "sh: %v\n", err)
	return 1
}

// pipeFrom returns an *os.File reading what r delivers (the interpreter
// hands its stdin to real programs, which need a file) and a func that
// closes both ends.
func pipeFrom(r io.Reader) (*os.File, func(), error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	go func() {
		io.Copy(pw, r)
		pw.Close()
	}()
	return pr, func() { pr.Close(); pw.Close() }, nil
}

// builtins implements kill (the interpreter lacks it), hostname (the
// simulated host's) and sudo (runs the command as is: the demo has no users
// to switch to).
func (s *hostShell) builtins(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	var self interp.ExecHandlerFunc
	self = func(ctx context.Context, args []string) error {
		switch args[0] {
		case killBuiltin:
			hc := interp.HandlerCtx(ctx)
			return kill(args[1:], hc.Stderr)
		case "hostname":
			// the simulated host's name, not this machine's
			name := s.host.Short
			if len(args) > 1 && (args[1] == "-f" || args[1] == "--fqdn") {
				name = s.host.Name
			} else if len(args) > 1 && (args[1] == "-i" || args[1] == "-I") {
				name = s.host.IP
			}
			fmt.Fprintln(interp.HandlerCtx(ctx).Stdout, name)
			return nil
		case "sudo":
			rest := args[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
				opt := rest[0]
				rest = rest[1:]
				if opt == "--" {
					break
				}
				if (opt == "-u" || opt == "-g") && len(rest) > 0 {
					rest = rest[1:]
				}
			}
			if len(rest) == 0 {
				fmt.Fprintln(interp.HandlerCtx(ctx).Stderr, "usage: sudo -h | -K | -k | -V")
				return interp.ExitStatus(1)
			}
			if rest[0] == "kill" {
				rest = append([]string{killBuiltin}, rest[1:]...)
			}
			return self(ctx, rest)
		}
		return next(ctx, args)
	}
	return self
}

// simTools runs the simulated tools in process.
func (s *hostShell) simTools(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		if strings.Contains(args[0], "/") || !isSimTool(args[0]) {
			return next(ctx, args)
		}
		hc := interp.HandlerCtx(ctx)
		env := map[string]string{}
		for name, v := range hc.Env.Each {
			if v.IsSet() && v.Kind == expand.String {
				env[name] = v.String()
			}
		}
		env["PWD"] = hc.Dir
		if code := sim.Main(ctx, args, env, hc.Stdin, hc.Stdout, hc.Stderr); code != 0 {
			return interp.ExitStatus(uint8(code))
		}
		return nil
	}
}

func isSimTool(name string) bool {
	for _, c := range sim.Commands {
		if c == name && c != "sudo" {
			return true
		}
	}
	return false
}

// kill implements kill [-SIG | -s SIG | -n NUM] PID|-PGID...
func kill(args []string, stderr io.Writer) error {
	sig := syscall.SIGTERM
	if len(args) > 0 {
		a := args[0]
		switch {
		case a == "-s" || a == "-n":
			if len(args) < 2 {
				fmt.Fprintln(stderr, "kill: option requires an argument")
				return interp.ExitStatus(2)
			}
			s, ok := signalByName(args[1])
			if !ok {
				fmt.Fprintf(stderr, "kill: %s: invalid signal specification\n", args[1])
				return interp.ExitStatus(2)
			}
			sig, args = s, args[2:]
		case a == "--":
			args = args[1:]
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if s, ok := signalByName(a[1:]); ok {
				sig, args = s, args[1:]
				if len(args) > 0 && args[0] == "--" {
					args = args[1:]
				}
			}
		}
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "kill: usage: kill [-s sigspec | -signum | -sigspec] pid ...")
		return interp.ExitStatus(2)
	}
	failed := false
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err != nil || pid == 0 {
			fmt.Fprintf(stderr, "kill: %s: arguments must be process or job IDs\n", a)
			failed = true
			continue
		}
		if protected(pid) {
			// $$ in the interpreter is the demo's own PID: never let a
			// simulated host signal the demo itself, or everything (-1).
			fmt.Fprintf(stderr, "kill: (%d) - Operation not permitted\n", pid)
			failed = true
			continue
		}
		if err := syscall.Kill(pid, sig); err != nil {
			fmt.Fprintf(stderr, "kill: (%d) - %s\n", pid, errText(err))
			failed = true
		}
	}
	if failed {
		return interp.ExitStatus(1)
	}
	return nil
}

// protected reports whether signalling pid would hit the demo's own process
// or process group, init, or every process.
func protected(pid int) bool {
	self, group := os.Getpid(), syscall.Getpgrp()
	return pid == -1 || pid == 1 || pid == self || pid == -self || pid == -group
}

func errText(err error) string {
	if errors.Is(err, syscall.ESRCH) {
		return "No such process"
	}
	if errors.Is(err, syscall.EPERM) {
		return "Operation not permitted"
	}
	return err.Error()
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP,
}

func signalByName(s string) (syscall.Signal, bool) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 65 {
		return syscall.Signal(n), true
	}
	s = strings.TrimPrefix(strings.ToUpper(s), "SIG")
	sig, ok := signalNames[s]
	return sig, ok
}

// envList renders the exported string variables of env for a real program.
func envList(env expand.Environ) []string {
	var list []string
	for name, v := range env.Each {
		if v.IsSet() && v.Exported && v.Kind == expand.String {
			list = append(list, name+"="+v.String())
		}
	}
	sort.Strings(list)
	return list
}

// base is filepath.Base for a command name.
func base(name string) string { return filepath.Base(name) }

// lookPath finds a program for the interpreter, like interp.LookPathDir.
func lookPath(dir string, env expand.Environ, name string) (string, error) {
	return interp.LookPathDir(dir, env, name)
}
