package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// Shell runs an interactive login shell on host. When stdin is a terminal it
// is put in raw mode for the duration, a PTY of the terminal's size is
// requested (with $TERM) and window size changes are forwarded; otherwise the
// shell runs without a PTY. It returns when the shell exits: nil for exit
// status 0, an error wrapping *ssh.ExitError otherwise. Cancelling ctx closes
// the session.
func (c *Client) Shell(ctx context.Context, host string, stdin io.Reader, stdout, stderr io.Writer) error {
	_, err := c.audited(ctx, AuditRecord{Host: host, Kind: AuditShell}, nil, func() (Result, error) {
		return Result{Host: host}, c.shell(ctx, host, stdin, stdout, stderr)
	})
	return err
}

func (c *Client) shell(ctx context.Context, host string, stdin io.Reader, stdout, stderr io.Writer) error {
	addr := hostAddr(host)
	_, hc, err := c.host(ctx, addr)
	if err != nil {
		return fmt.Errorf("shell on %s: %w", host, err)
	}
	sess, err := hc.client.NewSession()
	if err != nil {
		return fmt.Errorf("shell on %s: open session: %w", host, err)
	}
	defer sess.Close()
	sess.Stdout, sess.Stderr = stdout, stderr
	// Copy stdin ourselves so that Wait returns when the shell exits, not
	// when the next key is pressed.
	in, err := sess.StdinPipe()
	if err != nil {
		return fmt.Errorf("shell on %s: stdin: %w", host, err)
	}

	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		w, h, err := term.GetSize(fd)
		if err != nil {
			w, h = 80, 24
		}
		termName := os.Getenv("TERM")
		if termName == "" {
			termName = "xterm-256color"
		}
		modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
		if err := sess.RequestPty(termName, h, w, modes); err != nil {
			return fmt.Errorf("shell on %s: request a terminal: %w", host, err)
		}
		old, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("shell on %s: raw mode: %w", host, err)
		}
		defer term.Restore(fd, old)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer close(winch)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if w, h, err := term.GetSize(fd); err == nil {
					_ = sess.WindowChange(h, w)
				}
			}
		}()
	}
	if err := sess.Shell(); err != nil {
		return fmt.Errorf("shell on %s: start: %w", host, err)
	}
	go func() {
		io.Copy(in, stdin)
		in.Close()
	}()
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()
	err = sess.Wait()
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return fmt.Errorf("shell on %s: %w", host, err)
	case ctx.Err() != nil:
		return fmt.Errorf("shell on %s: %w", host, ctx.Err())
	}
	return fmt.Errorf("shell on %s: %w", host, err)
}
