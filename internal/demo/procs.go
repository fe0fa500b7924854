package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"mvdan.cc/sh/v3/interp"

	"scalar-tui/internal/sim"
)

// killGrace is how long a cancelled foreground program has between SIGTERM
// and SIGKILL.
const killGrace = 2 * time.Second

// procTable runs the real programs of every host's shell and remembers the
// ones still running, so Close can kill them.
type procTable struct {
	// marker is SCALAR_SIM_STATE=<dir>: every real process of this demo
	// inherits it, which is how Close finds grandchildren too.
	marker string
	mu     sync.Mutex
	live   map[int]bool // PIDs (= process group IDs) not yet waited for
}

func newProcTable(simState string) *procTable {
	return &procTable{marker: sim.EnvState + "=" + simState, live: map[int]bool{}}
}

// middleware replaces the interpreter's default exec handler. Every program
// runs in its own process group (so cancelling stops its children too, and a
// Ctrl-C in the terminal running the demo does not reach it). `setsid` and
// `nohup` are detached: they are not stopped when the session ends, as sshd
// leaves them alone too.
func (t *procTable) middleware(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		hc := interp.HandlerCtx(ctx)
		path, err := lookPath(hc.Dir, hc.Env, args[0])
		if err != nil {
			fmt.Fprintf(hc.Stderr, "sh: %s: command not found\n", args[0])
			return interp.ExitStatus(127)
		}
		name := base(args[0])
		detached := name == "setsid" || name == "nohup"
		cmd := exec.Command(path)
		cmd.Args = args
		cmd.Env = envList(hc.Env)
		cmd.Dir = hc.Dir
		cmd.Stdin, cmd.Stdout, cmd.Stderr = hc.Stdin, hc.Stdout, hc.Stderr
		// setsid(1) forks when it is a group leader already; let it make
		// its own session in place so its PID stays the one we track.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: name != "setsid"}
		if err := t.start(cmd); err != nil {
			fmt.Fprintf(hc.Stderr, "sh: %s: %v\n", args[0], err)
			return interp.ExitStatus(126)
		}
		pid := cmd.Process.Pid
		waited := make(chan error, 1)
		go func() {
			err := cmd.Wait()
			t.mu.Lock()
			delete(t.live, pid)
			t.mu.Unlock()
			waited <- err
		}()
		var werr error
		if detached {
			werr = <-waited
		} else {
			select {
			case werr = <-waited:
			case <-ctx.Done():
				_ = syscall.Kill(-pid, syscall.SIGTERM)
				select {
				case werr = <-waited:
				case <-time.After(killGrace):
					_ = syscall.Kill(-pid, syscall.SIGKILL)
					werr = <-waited
				}
				return ctx.Err()
			}
		}
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return interp.ExitStatus(uint8(128 + int(ws.Signal())))
			}
			return interp.ExitStatus(uint8(ee.ExitCode()))
		}
		if werr != nil {
			fmt.Fprintf(hc.Stderr, "sh: %s: %v\n", args[0], werr)
			return interp.ExitStatus(1)
		}
		return nil
	}
}

// start starts cmd and records it under the lock, so killAll never misses
// a process that started.
func (t *procTable) start(cmd *exec.Cmd) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	t.live[cmd.Process.Pid] = true
	return nil
}

// alive returns the PIDs not yet waited for.
func (t *procTable) alive() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int
	for pid := range t.live {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// killAll SIGKILLs every process group it started that has not been waited
// for (their PIDs cannot have been reused), then every process that carries
// this demo's SCALAR_SIM_STATE in its environment (what they left behind in
// other groups), until none is left or 5s have passed.
func (t *procTable) killAll() error {
	t.mu.Lock()
	for pid := range t.live {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	t.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := t.marked()
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		t.mu.Lock()
		n := len(t.live)
		t.mu.Unlock()
		if len(left) == 0 && n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %d processes still running after kill (PIDs %v)", len(left)+n, left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// marked lists the live processes (not zombies) whose environment holds the
// marker.
func (t *procTable) marked() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !containsVar(env, t.marker) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && len(st) > i+2 && st[i+2] == 'Z' {
				continue
			}
		}
		out = append(out, pid)
	}
	return out
}

func containsVar(environ []byte, kv string) bool {
	for _, v := range strings.Split(string(environ), "\x00") {
		if v == kv {
			return true
		}
	}
	return false
}
