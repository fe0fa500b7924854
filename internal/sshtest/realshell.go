package sshtest

import (
	"context"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// RealShell serves exec requests with a real local /bin/sh, the way sshd
// does: the command runs as `sh -c COMMAND` in a new session (so its PID is
// its process group), with HOME and the working directory set to home and the
// client's env variables added.
//
// Like OpenSSH's sshd it does not kill the command when the session closes:
// it only closes the command's pipes. Kill-by-process-group commands sent in
// another session therefore do the real work. Close kills every process group
// it started that is still running, so tests leave nothing behind (commands
// that started their own session with setsid are not touched).
type RealShell struct {
	home string
	mu   sync.Mutex
	pids map[int]bool
}

// NewRealShell returns a RealShell whose HOME is home.
func NewRealShell(home string) *RealShell { return &RealShell{home: home, pids: map[int]bool{}} }

// Home is the directory used as HOME and working directory.
func (r *RealShell) Home() string { return r.home }

func (r *RealShell) serve(ctx context.Context, s Session) int {
	cmd := exec.Command("/bin/sh", "-c", s.Command)
	cmd.Dir = r.home
	cmd.Env = append(os.Environ(), "HOME="+r.home)
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	inR, inW, err := os.Pipe()
	if err != nil {
		return 255
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return 255
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 255
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	if err := cmd.Start(); err != nil {
		io.WriteString(s.Stderr, "sh: "+err.Error()+"\n")
		return 127
	}
	inR.Close()
	outW.Close()
	errW.Close()
	pid := cmd.Process.Pid
	r.mu.Lock()
	r.pids[pid] = true
	r.mu.Unlock()

	go func() { io.Copy(inW, s.Stdin); inW.Close() }()
	var copies sync.WaitGroup
	copies.Add(2)
	go func() { io.Copy(s.Stdout, outR); copies.Done() }()
	go func() { io.Copy(s.Stderr, errR); copies.Done() }()
	waited := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		delete(r.pids, pid)
		r.mu.Unlock()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = -int(ws.Signal())
			}
		} else if err != nil {
			code = 255
		}
		waited <- code
	}()
	select {
	case code := <-waited:
		copies.Wait()
		outR.Close()
		errR.Close()
		return code
	case <-ctx.Done():
		// The session is gone: close our ends so the command gets SIGPIPE on
		// its next write, and leave it running, as sshd would.
		outR.Close()
		errR.Close()
		inW.Close()
		return 255
	}
}

// Close kills the process groups of commands still running.
func (r *RealShell) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid := range r.pids {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}
