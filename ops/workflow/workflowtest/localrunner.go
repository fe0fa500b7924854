// Package workflowtest holds test helpers for the workflow engine and the
// workflows: LocalRunner runs "remote" commands with a real local shell.
//
// Production code must not import it.
package workflowtest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	"scalar-tui/ops/sshx"
)

// LocalRunner runs commands with a real `sh -c` on this machine. Each "host"
// is a directory under Root (the command's working directory, like an SSH
// login directory). Commands get HOST=<name> and LOCAL_ROOT=<Root> in their
// environment, and <Root>/<host>/bin and <Root>/bin first on PATH, so tests
// can install per-host fake tools. The bastion is the host "bastion". Real
// processes, real exit codes, real detached processes; on cancellation the
// command's process group is killed, as an SSH session drop would.
type LocalRunner struct {
	Root string
	mu   sync.Mutex
	ran  []string // host + "\x00" + command, in order
}

// Dir returns (and creates) the directory of host.
func (l *LocalRunner) Dir(host string) string {
	d := filepath.Join(l.Root, host)
	_ = os.MkdirAll(d, 0o755)
	return d
}

// RunBastion runs command on the host "bastion".
func (l *LocalRunner) RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error) {
	return l.Run(ctx, "bastion", command, opts)
}

// Run runs command in host's directory.
func (l *LocalRunner) Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error) {
	l.mu.Lock()
	l.ran = append(l.ran, host+"\x00"+command)
	l.mu.Unlock()
	res := sshx.Result{Host: host}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	cmd := exec.Command("sh", "-c", command)
	cmd.Dir = l.Dir(host)
	path := filepath.Join(l.Root, host, "bin") + ":" + filepath.Join(l.Root, "bin") + ":" + os.Getenv("PATH")
	cmd.Env = append(os.Environ(), "HOST="+host, "LOCAL_ROOT="+l.Root, "PATH="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if opts.Stdin != nil {
		cmd.Stdin = opts.Stdin
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	var wg sync.WaitGroup
	pump := func(r io.Reader, f func(string)) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if f != nil {
				f(sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}
	wg.Add(2)
	go pump(stdout, opts.Stdout)
	go pump(stderr, opts.Stderr)
	wg.Wait()
	werr := cmd.Wait()
	close(done)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		res.ExitCode = ee.ExitCode()
	case werr != nil:
		return res, werr
	}
	return res, nil
}

// Commands returns every command run so far as host + "\x00" + command.
func (l *LocalRunner) Commands() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ran...)
}
