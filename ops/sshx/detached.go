package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"scalar-tui/ops/shell"
)

// Detached is a command started with StartDetached: it runs on Host in its
// own session under setsid, so SSH drops (and the console exiting) do not
// stop it. Its files live in RunDir on the host:
//
//	pid     the PID (= process group) of the wrapper shell
//	stdout  the command's standard output
//	stderr  the command's standard error
//	exit    the exit code, written when the command ends
//
// Keep the value (e.g. in the workflow journal) to Attach again later.
type Detached struct {
	Host   string `json:"host"`
	RunDir string `json:"run_dir"`
	PID    int    `json:"pid"`
}

// State is what Status found.
type State int

// The states of a detached command.
const (
	// StateUnknown: RunDir has no pid file (never started, or removed).
	StateUnknown State = iota
	// StateRunning: the process is alive.
	StateRunning
	// StateExited: the exit file holds the exit code.
	StateExited
	// StateLost: the process is gone without writing an exit code
	// (killed with SIGKILL, or the host rebooted).
	StateLost
)

// String returns the state's name: running, exited, lost or unknown.
func (s State) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	case StateLost:
		return "lost"
	}
	return "unknown"
}

// Status is a detached command's state and, once exited, its exit code.
type Status struct {
	State    State
	ExitCode int
}

// dirExpr renders dir for the shell: a leading "~/" becomes "$HOME"/ so
// it expands; everything else is quoted.
func dirExpr(dir string) string {
	if rest, ok := strings.CutPrefix(dir, "~/"); ok {
		return `"$HOME"/` + shell.Quote(rest)
	}
	if dir == "~" {
		return `"$HOME"`
	}
	return shell.Quote(dir)
}

// detachedScript runs "$1" with its output and exit code in the files of
// directory "$2"; its own PID is written first.
const detachedScript = `d=$2; echo $$ >"$d/pid.tmp" && mv "$d/pid.tmp" "$d/pid"; ` +
	`sh -c "$1" >"$d/stdout" 2>"$d/stderr" </dev/null; echo $? >"$d/exit.tmp"; mv "$d/exit.tmp" "$d/exit"`

// StartDetached starts command on host with `setsid nohup sh -c` and returns
// once its PID is recorded. runDir (e.g. "~/.scalar-tui/runs/<id>/<step>") is
// created; it must not hold an earlier run. An SSH drop after StartDetached
// returns does not stop the command.
func (c *Client) StartDetached(ctx context.Context, host, runDir, command string) (Detached, error) {
	d := Detached{Host: host, RunDir: runDir}
	dir := dirExpr(runDir)
	script := "d=" + dir + `; mkdir -p "$d" || exit 1; ` +
		`if [ -e "$d/pid" ]; then echo "$d already holds a run" >&2; exit 3; fi; ` +
		`setsid nohup sh -c ` + shell.Quote(detachedScript) + ` scalar-tui ` + shell.Quote(command) + ` "$d" >/dev/null 2>&1 </dev/null & ` +
		`i=0; while [ ! -s "$d/pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; cat "$d/pid"`
	out, errOut, code, err := c.output(ctx, host, script)
	if err != nil {
		return d, fmt.Errorf("start detached command on %s: %w", host, err)
	}
	if code != 0 {
		return d, fmt.Errorf("start detached command on %s in %s: exit %d: %s", host, runDir, code, strings.TrimSpace(errOut))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return d, fmt.Errorf("start detached command on %s: no PID recorded in %s (is setsid installed?): %q", host, runDir, out)
	}
	d.PID = pid
	return d, nil
}

// output runs command on host and collects stdout and stderr.
func (c *Client) output(ctx context.Context, host, command string) (stdout, stderr string, code int, err error) {
	var o, e Tail
	res, err := c.Run(ctx, host, command, RunOptions{Stdout: o.Line, Stderr: e.Line})
	return o.String(), e.String(), res.ExitCode, err
}

// Status reports whether d is running, has exited (with its code) or is lost.
func (c *Client) Status(ctx context.Context, d Detached) (Status, error) {
	script := "d=" + dirExpr(d.RunDir) + `; if [ -f "$d/exit" ]; then echo exited $(cat "$d/exit"); ` +
		`elif [ ! -s "$d/pid" ]; then echo unknown; ` +
		`elif kill -0 $(cat "$d/pid") 2>/dev/null; then echo running; else ` +
		// the exit file may have appeared between the checks
		`if [ -f "$d/exit" ]; then echo exited $(cat "$d/exit"); else echo lost; fi; fi`
	out, _, code, err := c.output(ctx, d.Host, script)
	if err != nil {
		return Status{}, fmt.Errorf("status of detached command on %s: %w", d.Host, err)
	}
	if code != 0 {
		return Status{}, fmt.Errorf("status of detached command on %s: status script exited %d", d.Host, code)
	}
	return parseStatus(strings.TrimSpace(out))
}

func parseStatus(s string) (Status, error) {
	switch {
	case s == "running":
		return Status{State: StateRunning}, nil
	case s == "lost":
		return Status{State: StateLost, ExitCode: -1}, nil
	case s == "unknown":
		return Status{State: StateUnknown, ExitCode: -1}, nil
	case strings.HasPrefix(s, "exited "):
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(s, "exited ")))
		if err != nil {
			return Status{}, fmt.Errorf("unreadable exit file: %q", s)
		}
		return Status{State: StateExited, ExitCode: n}, nil
	}
	return Status{}, fmt.Errorf("unexpected status output %q", s)
}

// AttachOptions says what Attach streams and from where.
type AttachOptions struct {
	// Stdout and Stderr receive complete lines of the command's output.
	Stdout func(line string)
	Stderr func(line string)
	// FromLine and FromStderrLine are how many lines of each stream were
	// already seen (0: from the start); count the lines you receive to resume
	// after the console restarts.
	FromLine       int
	FromStderrLine int
	// PollInterval is the time between polls (default 1s).
	PollInterval time.Duration
}

// Attach follows d's output until it exits and returns its exit code. It
// polls the files in RunDir; when the SSH connection drops it keeps retrying
// (the next poll reconnects) and resumes where it left off, so a drop costs
// no output. It stops with an error when ctx is done (the command keeps
// running), when the command is lost, or on errors reconnecting cannot cure
// (host keys, authentication).
func (c *Client) Attach(ctx context.Context, d Detached, opts AttachOptions) (int, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	out := &follower{line: opts.FromLine, fn: opts.Stdout}
	errs := &follower{line: opts.FromStderrLine, fn: opts.Stderr}
	var lastErr error
	for {
		st, o, e, err := c.poll(ctx, d, out.line, errs.line)
		if err == nil {
			// A full chunk means more is waiting: not final yet, poll again
			// at once.
			moreOut, moreErr := o.more, e.more
			final := (st.State == StateExited || st.State == StateLost) && !moreOut && !moreErr
			out.feed(o.b, final, moreOut)
			errs.feed(e.b, final, moreErr)
			if moreOut || moreErr {
				if ctx.Err() == nil {
					continue
				}
			}
			switch st.State {
			case StateExited:
				return st.ExitCode, nil
			case StateLost:
				return -1, fmt.Errorf("detached command on %s (%s) ended without writing an exit code: it was killed or the host rebooted", d.Host, d.RunDir)
			case StateUnknown:
				return -1, fmt.Errorf("no detached command in %s on %s (pid file missing)", d.RunDir, d.Host)
			}
			lastErr = nil
		} else {
			if permanent(err) || ctx.Err() != nil {
				return -1, fmt.Errorf("attach to %s on %s: %w", d.RunDir, d.Host, err)
			}
			if lastErr == nil {
				c.log.Warn("attach: poll failed, retrying", "host", d.Host, "err", err)
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return -1, fmt.Errorf("attach to %s on %s: %w (last error: %v)", d.RunDir, d.Host, ctx.Err(), lastErr)
			}
			return -1, fmt.Errorf("attach to %s on %s: %w (the command keeps running)", d.RunDir, d.Host, ctx.Err())
		case <-time.After(opts.PollInterval):
		}
	}
}

// follower delivers complete lines and counts them.
type follower struct {
	line int
	fn   func(string)
}

// feed delivers the complete lines of b; the trailing partial line only when
// final (the file will not grow any more). A full chunk (capped) without any
// newline is one line longer than a chunk: it is delivered cut, marked with
// LineCutMarker, and counted, so the next poll starts after it.
func (f *follower) feed(b []byte, final, capped bool) {
	if capped && bytes.IndexByte(b, '\n') < 0 {
		if f.fn != nil {
			l := string(b[:min(len(b), MaxLineBytes)])
			if !strings.HasSuffix(l, LineCutMarker) { // Run may have cut it already
				l += LineCutMarker
			}
			f.fn(l)
		}
		f.line++
		return
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !final {
				return
			}
			i = len(b)
		}
		if f.fn != nil {
			f.fn(strings.TrimSuffix(string(b[:i]), "\r"))
		}
		f.line++
		if i == len(b) {
			return
		}
		b = b[i+1:]
	}
}

// pollChunk bounds what one poll reads of each output file: a command that
// wrote gigabytes is followed chunk by chunk, never read whole.
var pollChunk = 1 << 20

// pollSep separates the sections of the poll script's output.
const pollSep = "\n@scalar-tui:section\n"

// poll reads the state first, then the output from the given lines, so that
// when the state is "exited" the output read is complete.
func (c *Client) poll(ctx context.Context, d Detached, fromOut, fromErr int) (Status, polled, polled, error) {
	script := "d=" + dirExpr(d.RunDir) + `; if [ -f "$d/exit" ]; then echo exited $(cat "$d/exit"); ` +
		`elif [ ! -s "$d/pid" ]; then echo unknown; ` +
		`elif kill -0 $(cat "$d/pid") 2>/dev/null; then echo running; ` +
		`elif [ -f "$d/exit" ]; then echo exited $(cat "$d/exit"); else echo lost; fi; ` +
		// After the state: which files hold more than one chunk from here.
		`[ "$(tail -n +` + strconv.Itoa(fromOut+1) + ` "$d/stdout" 2>/dev/null | head -c ` + strconv.Itoa(pollChunk+1) + ` | wc -c)" -gt ` + strconv.Itoa(pollChunk) + ` ] && echo more-stdout; ` +
		`[ "$(tail -n +` + strconv.Itoa(fromErr+1) + ` "$d/stderr" 2>/dev/null | head -c ` + strconv.Itoa(pollChunk+1) + ` | wc -c)" -gt ` + strconv.Itoa(pollChunk) + ` ] && echo more-stderr; ` +
		`printf '` + strings.ReplaceAll(pollSep, "\n", `\n`) + `'; tail -n +` + strconv.Itoa(fromOut+1) + ` "$d/stdout" 2>/dev/null | head -c ` + strconv.Itoa(pollChunk) + `; printf '\n\001'; ` +
		`printf '` + strings.ReplaceAll(pollSep, "\n", `\n`) + `'; tail -n +` + strconv.Itoa(fromErr+1) + ` "$d/stderr" 2>/dev/null | head -c ` + strconv.Itoa(pollChunk) + `; printf '\n\001'`
	var raw bytes.Buffer
	res, err := c.Run(ctx, d.Host, script, RunOptions{Stdout: func(l string) { raw.WriteString(l); raw.WriteByte('\n') }})
	if err != nil {
		return Status{}, polled{}, polled{}, err
	}
	if res.ExitCode != 0 {
		return Status{}, polled{}, polled{}, fmt.Errorf("poll script exited %d", res.ExitCode)
	}
	// Run splits lines and the rebuilt text ends with a newline even when the
	// output did not; the \001 after each file tells where its bytes end, so
	// a partial last line stays partial.
	parts := strings.Split(strings.TrimSuffix(raw.String(), "\n"), pollSep)
	if len(parts) != 3 {
		return Status{}, polled{}, polled{}, errors.New("unexpected poll output")
	}
	for i := 1; i < 3; i++ {
		var ok bool
		if parts[i], ok = strings.CutSuffix(parts[i], "\n\x01"); !ok {
			return Status{}, polled{}, polled{}, errors.New("truncated poll output")
		}
	}
	head := strings.Split(strings.TrimSpace(parts[0]), "\n")
	st, err := parseStatus(strings.TrimSpace(head[0]))
	if err != nil {
		return Status{}, polled{}, polled{}, err
	}
	out, errOut := polled{b: []byte(parts[1])}, polled{b: []byte(parts[2])}
	for _, l := range head[1:] {
		switch strings.TrimSpace(l) {
		case "more-stdout":
			out.more = true
		case "more-stderr":
			errOut.more = true
		}
	}
	return st, out, errOut, nil
}

// polled is one poll's read of an output file: at most pollChunk bytes, and
// whether the file holds more from there.
type polled struct {
	b    []byte
	more bool
}
