package workflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
)

// BastionRunner runs a command on the bastion. It is all the cluster lock needs.
type BastionRunner interface {
	RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error)
}

// Runner runs commands on the deployment's hosts. *sshx.Client satisfies it;
// tests use a local shell. A non-zero exit is a Result, not an error; an error
// means the command could not be run or was cut off (dial, auth, cancel).
type Runner interface {
	BastionRunner
	Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error)
}

// ExitError is a remote command that ran and exited non-zero.
type ExitError struct {
	Host    string
	Command string
	Code    int
}

// Error implements error.
func (e *ExitError) Error() string {
	return fmt.Sprintf("%s: `%s` exited %d", hostLabel(e.Host), e.Command, e.Code)
}

// CommandResult is the captured outcome of Env.Exec.
type CommandResult struct {
	Stdout   string
	Stderr   string
	ExitCode int
}

// Env is what step functions, gates and preflight checks get: audited command
// execution on the deployment and access to the run's journal.
type Env struct {
	e    *Engine
	rc   *runCtx
	step *Step // nil in preflight checks and gates
}

// RunID is the ID of the run.
func (v *Env) RunID() string { return v.rc.st.ID }

// Exec runs command on host ("" = the bastion) and captures its output. The
// command is audited and its output goes to the host's log, but not to the
// event stream. A non-zero exit is reported in ExitCode, not as an error.
// Each stream keeps only its last sshx.MaxCapturedOutput bytes; when more was
// printed, its text starts with an sshx.CutNotice line.
func (v *Env) Exec(ctx context.Context, host, command string) (CommandResult, error) {
	var out, errb sshx.Tail
	res, err := v.e.exec(ctx, v.rc, host, command, sshx.RunOptions{Stdout: out.Line, Stderr: errb.Line}, "", nil)
	return CommandResult{Stdout: out.String(), Stderr: errb.String(), ExitCode: res.ExitCode}, err
}

// Run runs command on host ("" = the bastion) as part of the current step:
// output is streamed as OutputLine events, progress is parsed, and a non-zero
// exit is an *ExitError.
func (v *Env) Run(ctx context.Context, host, command string) error {
	stepID := ""
	var progress func(string) (float64, bool)
	if v.step != nil {
		stepID, progress = v.step.ID, v.step.Progress
	}
	res, err := v.e.exec(ctx, v.rc, host, command, sshx.RunOptions{}, stepID, progress)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return &ExitError{Host: host, Command: v.e.red.Redact(command), Code: res.ExitCode}
	}
	return nil
}

// SetMarker records a cluster-state marker in the journal (see
// MarkerScalarDLPaused) before the step changes the cluster.
func (v *Env) SetMarker(key, value string) error {
	return v.rc.update(func(st *RunState) {
		if st.Markers == nil {
			st.Markers = map[string]Marker{}
		}
		m := Marker{Value: value, Set: v.e.now().UTC()}
		if v.step != nil {
			m.Step = v.step.ID
		}
		st.Markers[key] = m
	})
}

// ClearMarker removes a cluster-state marker once the change is undone.
func (v *Env) ClearMarker(key string) error {
	return v.rc.update(func(st *RunState) { delete(st.Markers, key) })
}

// Markers returns the markers currently set, key to value.
func (v *Env) Markers() map[string]string {
	v.rc.mu.Lock()
	defer v.rc.mu.Unlock()
	out := map[string]string{}
	for k, m := range v.rc.st.Markers {
		out[k] = m.Value
	}
	return out
}

// Progress reports the current step's completion percentage.
func (v *Env) Progress(percent float64) {
	if v.step == nil {
		return
	}
	v.e.progress(v.rc, v.step, percent)
}

// Notice reports an informational message as a Notice event (the CLI prints
// it, the console shows it as a note), redacted like every other event.
func (v *Env) Notice(msg string) {
	v.e.emit(&Notice{Header: Header{Run: v.rc.st.ID}, Message: v.e.red.Redact(msg)})
}

// DetachedStatus is what a Detacher knows about a detached command.
type DetachedStatus struct {
	// Exists is false when the run directory is missing (never started).
	Exists bool
	// Running is true while the process is alive.
	Running bool
	// Exited is true once the exit code was written; ExitCode holds it.
	Exited   bool
	ExitCode int
}

// ErrAlreadyStarted is returned by Detacher.Start when the run directory
// already exists: the command was started before and must be attached to,
// never started twice.
var ErrAlreadyStarted = errors.New("detached command already started")

// Detacher runs long commands detached from the SSH session, cstar-style.
// The default, ShellDetacher, needs only a Runner.
type Detacher interface {
	// Start launches h.Command in h.Dir on h.Host and returns at once. It
	// returns ErrAlreadyStarted if h.Dir exists.
	Start(ctx context.Context, h DetachedHandle) error
	// Follow streams the output from line skipOut+1 of stdout and skipErr+1
	// of stderr until the process ends or ctx is done.
	Follow(ctx context.Context, h DetachedHandle, skipOut, skipErr int, opts sshx.RunOptions) error
	// Status reports whether the command runs, and its exit code once done.
	Status(ctx context.Context, h DetachedHandle) (DetachedStatus, error)
	// Kill terminates the command's process group.
	Kill(ctx context.Context, h DetachedHandle) error
}

// ShellDetacher implements Detacher with POSIX shell, setsid, nohup and GNU
// tail on the host: the run directory holds cmd.sh, pid, stdout, stderr and
// rc (written last, through a rename). It needs only POSIX sh, setsid and
// nohup on the host.
type ShellDetacher struct {
	R Runner
}

// Start implements Detacher.
func (d ShellDetacher) Start(ctx context.Context, h DetachedHandle) error {
	dir := shell.Quote(h.Dir)
	parent := shell.Quote(parentDir(h.Dir))
	script := strings.Join([]string{
		"mkdir -p " + parent + " || exit 4",
		"mkdir " + dir + " 2>/dev/null || exit 3",
		"cd " + dir + " || exit 4",
		"printf '%s\\n' " + shell.Quote(h.Command) + " > cmd.sh",
		": > stdout; : > stderr",
		// The wrapper records its pid (it leads a new session, so its pid is
		// the process group to kill), runs the command with output in files,
		// then publishes the exit code atomically.
		`setsid nohup sh -c 'echo $$ > pid.tmp && mv pid.tmp pid; sh ./cmd.sh >> stdout 2>> stderr < /dev/null; echo $? > rc.tmp; mv rc.tmp rc' > /dev/null 2>&1 < /dev/null &`,
	}, "\n")
	res, err := d.R.Run(ctx, h.Host, script, sshx.RunOptions{})
	if err != nil {
		return fmt.Errorf("start detached command on %s: %w", h.Host, err)
	}
	switch res.ExitCode {
	case 0:
		return nil
	case 3:
		return ErrAlreadyStarted
	default:
		return fmt.Errorf("start detached command on %s in %s: exit %d", h.Host, h.Dir, res.ExitCode)
	}
}

// Follow implements Detacher. It polls the output files every 0.2 s rather
// than using `tail --pid`, so it needs only POSIX tools and also ends when
// the exit code is written while the process lingers as a zombie.
func (d ShellDetacher) Follow(ctx context.Context, h DetachedHandle, skipOut, skipErr int, opts sshx.RunOptions) error {
	script := strings.Join([]string{
		"cd " + shell.Quote(h.Dir) + " || exit 4",
		// The wrapper writes pid right after it starts; give it 30 s.
		`i=0; while [ ! -s pid ]; do [ -f rc ] && break; i=$((i+1)); [ $i -gt 300 ] && { echo "detached process never started" >&2; exit 5; }; sleep 0.1; done`,
		`p=$(cat pid 2>/dev/null || echo 0)`,
		"o=" + strconv.Itoa(skipOut) + "; e=" + strconv.Itoa(skipErr),
		`while :; do`,
		// rc is written after the command's last output: once it exists
		// (or the process is gone) one last read gets everything.
		`  if [ -f rc ] || ! kill -0 "$p" 2>/dev/null; then sed -n "$((o+1)),\$p" stdout; sed -n "$((e+1)),\$p" stderr >&2; exit 0; fi`,
		`  t=$(wc -l < stdout); if [ "$t" -gt "$o" ]; then sed -n "$((o+1)),${t}p" stdout; o=$t; fi`,
		`  t=$(wc -l < stderr); if [ "$t" -gt "$e" ]; then sed -n "$((e+1)),${t}p" stderr >&2; e=$t; fi`,
		`  sleep 0.2`,
		`done`,
	}, "\n")
	res, err := d.R.Run(ctx, h.Host, script, opts)
	if err != nil {
		return fmt.Errorf("follow detached command on %s: %w", h.Host, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("follow detached command on %s in %s: exit %d", h.Host, h.Dir, res.ExitCode)
	}
	return nil
}

// Status implements Detacher.
func (d ShellDetacher) Status(ctx context.Context, h DetachedHandle) (DetachedStatus, error) {
	script := "cd " + shell.Quote(h.Dir) + ` 2>/dev/null || { echo missing; exit 0; }
if [ -f rc ]; then echo "rc $(cat rc)"; elif [ -s pid ] && kill -0 "$(cat pid)" 2>/dev/null; then echo running; elif [ ! -s pid ]; then echo starting; else echo gone; fi`
	var mu sync.Mutex
	var out string
	res, err := d.R.Run(ctx, h.Host, script, sshx.RunOptions{Stdout: func(l string) {
		mu.Lock()
		if out == "" {
			out = strings.TrimSpace(l)
		}
		mu.Unlock()
	}})
	if err != nil {
		return DetachedStatus{}, fmt.Errorf("status of detached command on %s: %w", h.Host, err)
	}
	if res.ExitCode != 0 {
		return DetachedStatus{}, fmt.Errorf("status of detached command on %s: exit %d", h.Host, res.ExitCode)
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case out == "missing":
		return DetachedStatus{}, nil
	case out == "running", out == "starting":
		return DetachedStatus{Exists: true, Running: true}, nil
	case out == "gone":
		return DetachedStatus{Exists: true}, nil
	case strings.HasPrefix(out, "rc "):
		code, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out, "rc ")))
		if err != nil {
			return DetachedStatus{}, fmt.Errorf("detached command on %s wrote a bad exit code %q", h.Host, out)
		}
		return DetachedStatus{Exists: true, Exited: true, ExitCode: code}, nil
	}
	return DetachedStatus{}, fmt.Errorf("status of detached command on %s: unexpected answer %q", h.Host, out)
}

// Kill implements Detacher.
func (d ShellDetacher) Kill(ctx context.Context, h DetachedHandle) error {
	script := "cd " + shell.Quote(h.Dir) + ` 2>/dev/null || exit 0
[ -f rc ] && exit 0
p=$(cat pid 2>/dev/null) || exit 0
kill -TERM -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
exit 0`
	_, err := d.R.Run(ctx, h.Host, script, sshx.RunOptions{})
	if err != nil {
		return fmt.Errorf("kill detached command on %s: %w", h.Host, err)
	}
	return nil
}

func parentDir(p string) string {
	p = strings.TrimRight(p, "/")
	i := strings.LastIndex(p, "/")
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return p[:i]
}

// bounded returns a context for cleanup work that must run even though ctx
// was canceled, bounded by d.
func bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
