package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"

	"scalar-tui/internal/sshtest"
)

// interactive serves a login shell: a read-eval loop over the interpreter,
// with the prompt of a CentOS bash ("[centos@cassandra-1 ~]$ "). With a PTY
// it also does what the terminal driver would: echo, backspace, Ctrl-U,
// Ctrl-C (drops the line, or stops the running command), Ctrl-D on an empty
// line (logout) and \n -> \r\n on output. Commands get an empty stdin.
func (s *hostShell) interactive(ctx context.Context, sess sshtest.Session) int {
	tty := sess.PTY != nil
	out := &syncWriter{w: sess.Stdout}
	var stdout, stderr io.Writer = out, sess.Stderr
	if tty {
		// A PTY has one output stream, with the terminal's newline mapping.
		stdout = &crlfWriter{w: out}
		stderr = stdout
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 1
	}
	defer devnull.Close()
	env := map[string]string{}
	for k, v := range sess.Env {
		env[k] = v
	}
	if tty && sess.PTY.Term != "" {
		env["TERM"] = sess.PTY.Term
	}
	r, err := s.runner(devnull, stdout, stderr, env, true)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 1
	}
	in := newKeyReader(sess.Stdin)
	fmt.Fprintf(stdout, "scalar-tui demo: simulated host %s (%s). nodetool, systemctl, docker and docker-compose are simulated;\nother commands run for real in %s.\n", s.host.Short, s.host.Role, s.host.Home)
	var src strings.Builder
	for {
		prompt := s.prompt(r.Dir)
		if src.Len() > 0 {
			prompt = "> "
		}
		io.WriteString(stdout, prompt)
		line, ok := in.readLine(ctx, stdout, tty)
		switch {
		case !ok && line == "" && src.Len() == 0:
			if tty {
				io.WriteString(stdout, "logout\n")
			}
			return 0
		case line == "\x03": // Ctrl-C at the prompt
			src.Reset()
			continue
		}
		src.WriteString(line)
		src.WriteByte('\n')
		file, err := syntax.NewParser().Parse(strings.NewReader(src.String()), "")
		if syntax.IsIncomplete(err) && ok {
			continue
		}
		src.Reset()
		if err != nil {
			fmt.Fprintf(stderr, "sh: %v\n", err)
			continue
		}
		interrupted := false
		runErr := in.run(ctx, hasBackground(file), func(ctx context.Context) error { return r.Run(ctx, file) }, func() {
			interrupted = true
			if tty {
				io.WriteString(stdout, "^C\n")
			}
		})
		if ctx.Err() != nil {
			return -1
		}
		if interrupted {
			continue // like bash after Ctrl-C: $? is lost, the shell goes on
		}
		if r.Exited() {
			return exitCode(context.Background(), runErr, stderr)
		}
		if !ok {
			return exitCode(context.Background(), runErr, stderr)
		}
	}
}

// prompt renders bash's default CentOS prompt for the working directory.
func (s *hostShell) prompt(dir string) string {
	d := filepath.Base(dir)
	if dir == s.host.Home {
		d = "~"
	}
	return fmt.Sprintf("[%s@%s %s]$ ", User, s.host.Short, d)
}

// keyReader delivers what the client types, in chunks, and keeps what was
// typed while a command ran for the next line.
type keyReader struct {
	chunks  chan []byte
	pending []byte
	eof     bool
}

func newKeyReader(r io.Reader) *keyReader {
	k := &keyReader{chunks: make(chan []byte, 16)}
	go func() {
		defer close(k.chunks)
		buf := make([]byte, 1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				k.chunks <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return k
}

// next returns the next byte; false at end of input or when ctx is done.
func (k *keyReader) next(ctx context.Context) (byte, bool) {
	for len(k.pending) == 0 {
		if k.eof {
			return 0, false
		}
		select {
		case c, ok := <-k.chunks:
			if !ok {
				k.eof = true
				return 0, false
			}
			k.pending = c
		case <-ctx.Done():
			return 0, false
		}
	}
	b := k.pending[0]
	k.pending = k.pending[1:]
	return b, true
}

// readLine reads one line. With tty it echoes and edits like a terminal in
// canonical mode; a Ctrl-C returns "\x03". ok is false at end of input.
func (k *keyReader) readLine(ctx context.Context, echo io.Writer, tty bool) (line string, ok bool) {
	var buf []byte
	for {
		b, more := k.next(ctx)
		if !more {
			return string(buf), false
		}
		if !tty {
			if b == '\n' {
				return strings.TrimSuffix(string(buf), "\r"), true
			}
			buf = append(buf, b)
			continue
		}
		switch {
		case b == '\r' || b == '\n':
			io.WriteString(echo, "\n")
			return string(buf), true
		case b == 0x03:
			io.WriteString(echo, "^C\n")
			return "\x03", true
		case b == 0x04:
			if len(buf) == 0 {
				return "", false
			}
		case b == 0x7f || b == 0x08:
			if len(buf) > 0 {
				// drop a whole UTF-8 sequence
				i := len(buf) - 1
				for i > 0 && buf[i]&0xC0 == 0x80 {
					i--
				}
				buf = buf[:i]
				io.WriteString(echo, "\b \b")
			}
		case b == 0x15: // Ctrl-U
			io.WriteString(echo, strings.Repeat("\b \b", len([]rune(string(buf)))))
			buf = buf[:0]
		case b == 0x1b: // an escape sequence (arrow keys ...): ignored
			if c, more := k.next(ctx); more && (c == '[' || c == 'O') {
				for {
					c, more := k.next(ctx)
					if !more || (c >= 0x40 && c <= 0x7e) {
						break
					}
				}
			}
		case b == '\t':
			buf = append(buf, ' ')
			io.WriteString(echo, " ")
		case b >= 0x20:
			buf = append(buf, b)
			echo.Write([]byte{b})
		}
	}
}

// run runs fn, cancelling it (and calling onInterrupt) when the client types
// Ctrl-C; other input is kept for the next line. Jobs started with & (bg)
// keep running until the session ends.
func (k *keyReader) run(ctx context.Context, bg bool, fn func(context.Context) error, onInterrupt func()) error {
	cctx, cancel := context.WithCancel(ctx)
	defer func() {
		if !bg {
			cancel()
		}
	}()
	done := make(chan error, 1)
	go func() { done <- fn(cctx) }()
	chunks := k.chunks
	for {
		select {
		case err := <-done:
			return err
		case c, ok := <-chunks:
			if !ok {
				k.eof = true
				chunks = nil
				continue
			}
			if i := bytes.IndexByte(c, 0x03); i >= 0 && cctx.Err() == nil {
				cancel()
				onInterrupt()
				c = c[i+1:]
			}
			k.pending = append(k.pending, c...)
		}
	}
}

// syncWriter serialises writes from the interpreter's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p under the lock.
func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// crlfWriter maps \n to \r\n, as a terminal's ONLCR does.
type crlfWriter struct{ w io.Writer }

// Write writes p with every \n preceded by \r.
func (c *crlfWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
