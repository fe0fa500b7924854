package sshx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"scalar-tui/ops/shell"
)

// Run runs command on host (a name, or host:port; port 22 by default) through
// the bastion, streaming its output line by line to opts.
//
// A command that ran returns a nil error and its exit code in Result, zero or
// not. Killed by a signal, or ended without an exit status, it returns
// ExitCode -1 and an error. When ctx is cancelled or the timeout passes, the
// command's whole process group on the host is sent SIGTERM and, after a grace
// period, SIGKILL, from a second session (SSH "signal" requests are not relied
// on: OpenSSH ignores them); the error then wraps ctx's error.
//
// command is given to the user's login shell as is: quote every value in it
// with shell.Quote.
func (c *Client) Run(ctx context.Context, host, command string, opts RunOptions) (Result, error) {
	return c.audited(ctx, AuditRecord{Host: host, Kind: AuditCommand, Command: command}, &opts, func() (Result, error) {
		return c.run(ctx, host, command, opts)
	})
}

func (c *Client) run(ctx context.Context, host, command string, opts RunOptions) (Result, error) {
	addr := hostAddr(host)
	res := Result{Host: host, ExitCode: -1}
	start := time.Now()
	ctx, cancel := c.commandContext(ctx, opts)
	defer cancel()
	for attempt := 0; ; attempt++ {
		bc, hc, err := c.host(ctx, addr)
		if err != nil {
			return res, fmt.Errorf("run on %s: %w", host, err)
		}
		res.ExitCode, err = c.runSession(ctx, hc.client, host, command, opts, c.hostLost(bc, hc, addr))
		res.Duration = time.Since(start)
		if errors.Is(err, errNoSession) && attempt == 0 {
			// The cached connection died before we used it: nothing ran, so
			// dial again once.
			hc.client.Close()
			<-hc.done
			continue
		}
		if err != nil {
			return res, fmt.Errorf("run on %s: %w", host, err)
		}
		return res, nil
	}
}

// hostLost builds the error for a connection that failed mid-call.
func (c *Client) hostLost(bc *bastionConn, hc *hostConn, addr string) func(error) error {
	return func(err error) error {
		select {
		case <-bc.done:
		case <-hc.done:
			// The host connection rides on the bastion's: see whether that
			// one went too, which is the likelier story.
			if !bc.diedWithin(200 * time.Millisecond) {
				return &ConnectionLostError{Bastion: c.cfg.BastionAddr, Host: addr, Err: orCause(hc.why.get(), err)}
			}
		case <-time.After(time.Second):
			return &ConnectionLostError{Bastion: c.cfg.BastionAddr, Host: addr, Err: err}
		}
		return &ConnectionLostError{Bastion: c.cfg.BastionAddr, Host: addr, BastionLost: true, Err: orCause(bc.why.get(), err)}
	}
}

// RunBastion runs command on the bastion itself (workflows take their lock
// there). It behaves like Run.
func (c *Client) RunBastion(ctx context.Context, command string, opts RunOptions) (Result, error) {
	return c.audited(ctx, AuditRecord{Host: BastionHost, Kind: AuditCommand, Command: command}, &opts, func() (Result, error) {
		return c.runBastion(ctx, command, opts)
	})
}

func (c *Client) runBastion(ctx context.Context, command string, opts RunOptions) (Result, error) {
	res := Result{Host: c.cfg.BastionAddr, ExitCode: -1}
	start := time.Now()
	ctx, cancel := c.commandContext(ctx, opts)
	defer cancel()
	for attempt := 0; ; attempt++ {
		bc, err := c.bastion(ctx)
		if err != nil {
			return res, fmt.Errorf("run on bastion: %w", err)
		}
		lost := func(err error) error {
			select {
			case <-bc.done:
				return &ConnectionLostError{Bastion: c.cfg.BastionAddr, BastionLost: true, Err: orCause(bc.why.get(), err)}
			case <-time.After(time.Second):
				return &ConnectionLostError{Bastion: c.cfg.BastionAddr, BastionLost: true, Err: err}
			}
		}
		res.ExitCode, err = c.runSession(ctx, bc.client, BastionHost, command, opts, lost)
		res.Duration = time.Since(start)
		if errors.Is(err, errNoSession) && attempt == 0 {
			bc.client.Close()
			<-bc.done
			continue
		}
		if err != nil {
			return res, fmt.Errorf("run on bastion %s: %w", c.cfg.BastionAddr, err)
		}
		return res, nil
	}
}

// errNoSession marks a failure to open a session: nothing ran remotely.
var errNoSession = errors.New("could not open an SSH session")

// orCause adds why the connection died (keepalive timeout, EOF) to err.
func orCause(why, err error) error {
	if why == nil || errors.Is(err, why) {
		return err
	}
	return fmt.Errorf("%w (connection closed: %v)", err, why)
}

// commandContext applies RunOptions.Timeout or Config.CommandTimeout.
func (c *Client) commandContext(ctx context.Context, opts RunOptions) (context.Context, context.CancelFunc) {
	d := opts.Timeout
	if d == 0 {
		d = c.cfg.CommandTimeout
	}
	if d > 0 {
		return context.WithTimeoutCause(ctx, d, fmt.Errorf("command timed out after %s: %w", d, context.DeadlineExceeded))
	}
	return context.WithCancel(ctx)
}

// runSession runs command in a new session on cl (host, for the audit of a
// kill) and returns its exit code.
func (c *Client) runSession(ctx context.Context, cl *ssh.Client, host, command string, opts RunOptions, lost func(error) error) (int, error) {
	sess, err := cl.NewSession()
	if err != nil {
		return -1, lost(fmt.Errorf("%w: %v", errNoSession, err))
	}
	defer sess.Close()
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return -1, fmt.Errorf("session stdout: %w", err)
	}
	stderr, err := sess.StderrPipe()
	if err != nil {
		return -1, fmt.Errorf("session stderr: %w", err)
	}
	if opts.Stdin != nil {
		// Copy stdin ourselves: with Session.Stdin, Wait would also wait for
		// the local reader to reach EOF after the remote command exited.
		in, err := sess.StdinPipe()
		if err != nil {
			return -1, fmt.Errorf("session stdin: %w", err)
		}
		go func() {
			io.Copy(in, opts.Stdin)
			in.Close()
		}()
	}
	pgid := make(chan int, 1)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		readLines(stdout, opts.Stdout, nil)
	}()
	go func() {
		defer readers.Done()
		readLines(stderr, opts.Stderr, pgid)
	}()
	if err := sess.Start(shell.WithPGID(command)); err != nil {
		sess.Close()
		readers.Wait()
		return -1, lost(fmt.Errorf("start command: %w", err))
	}
	waited := make(chan error, 1)
	go func() {
		err := sess.Wait()
		readers.Wait()
		waited <- err
	}()
	select {
	case err := <-waited:
		return exitCode(err, lost)
	case <-ctx.Done():
	}
	// Cancelled: stop the remote process group, not only our session.
	_ = sess.Signal(ssh.SIGTERM)
	var group int
	select {
	case group = <-pgid:
	case <-time.After(c.killGrace):
	case err := <-waited:
		code, _ := exitCode(err, lost)
		return code, cancelError(ctx)
	}
	if group > 0 {
		c.killGroup(ctx, cl, host, "TERM", group)
		select {
		case <-waited:
			return -1, cancelError(ctx)
		case <-time.After(c.killGrace):
			c.killGroup(ctx, cl, host, "KILL", group)
		}
	}
	sess.Close()
	select {
	case <-waited:
	case <-time.After(c.killGrace):
	}
	return -1, cancelError(ctx)
}

func cancelError(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return fmt.Errorf("stopped the remote command: %w", cause)
	}
	return fmt.Errorf("stopped the remote command: %w", ctx.Err())
}

// killGroup signals a remote process group from a new session on host's
// connection cl; the session is audited as an AuditKill.
func (c *Client) killGroup(ctx context.Context, cl *ssh.Client, host, sig string, pgid int) {
	cmd := shell.KillGroup(sig, pgid)
	_, _ = c.audited(ctx, AuditRecord{Host: host, Kind: AuditKill, Command: cmd}, nil, func() (Result, error) {
		res := Result{Host: host, ExitCode: -1}
		sess, err := cl.NewSession()
		if err != nil {
			c.log.Warn("kill remote process group: no session", "pgid", pgid, "err", err)
			return res, err
		}
		defer sess.Close()
		done := make(chan error, 1)
		go func() { done <- sess.Run(cmd) }()
		select {
		case err := <-done:
			var ee *ssh.ExitError
			switch {
			case err == nil:
				res.ExitCode = 0
			case errors.As(err, &ee) && ee.Signal() == "":
				res.ExitCode = ee.ExitStatus()
				c.log.Warn("kill remote process group", "pgid", pgid, "sig", sig, "err", err)
			default:
				c.log.Warn("kill remote process group", "pgid", pgid, "sig", sig, "err", err)
				return res, err
			}
			return res, nil
		case <-time.After(c.cfg.DialTimeout):
			c.log.Warn("kill remote process group timed out", "pgid", pgid, "sig", sig)
			return res, fmt.Errorf("kill process group %d: no answer within %s", pgid, c.cfg.DialTimeout)
		}
	})
}

func exitCode(err error, lost func(error) error) (int, error) {
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.Signal() != "":
		return -1, fmt.Errorf("command killed by signal SIG%s %s", ee.Signal(), strings.TrimSpace(ee.Msg()))
	case errors.As(err, &ee):
		return ee.ExitStatus(), nil
	case errors.As(err, &missing):
		return -1, lost(errors.New("the command ended without an exit status"))
	}
	return -1, lost(err)
}

// readLines calls fn with each line of r (without "\n" or "\r\n"); a final
// line without a newline counts too. A line longer than MaxLineBytes is cut
// there, ends with LineCutMarker, and the rest of it is read and dropped.
// When pgid is not nil, the first line carrying shell.PGIDMarker is consumed
// and its number sent there.
func readLines(r io.Reader, fn func(string), pgid chan<- int) {
	br := bufio.NewReaderSize(r, MaxLineBytes)
	for {
		line, err := readLine(br)
		if line != "" {
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			if pgid != nil {
				if n, ok := strings.CutPrefix(line, shell.PGIDMarker); ok {
					if id, err := strconv.Atoi(n); err == nil {
						pgid <- id
					}
					pgid = nil
					continue
				}
			}
			if fn != nil {
				fn(line)
			}
		}
		if err != nil {
			if pgid != nil {
				close(pgid)
			}
			return
		}
	}
}

// readLine reads up to and including the next newline, keeping at most the
// reader's buffer size (MaxLineBytes) of a longer line.
func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return string(b), err
	}
	line := string(b) + LineCutMarker + "\n"
	for err == bufio.ErrBufferFull {
		_, err = br.ReadSlice('\n')
	}
	if err == io.EOF {
		err = nil // the cut line is complete; the next read reports EOF
	}
	return line, err
}
