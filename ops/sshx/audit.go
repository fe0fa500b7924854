package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// AuditKind says what an audited SSH session was for.
type AuditKind string

// The kinds of audited sessions.
const (
	// AuditCommand is a command run with Run or RunBastion (detached
	// commands, their polls and status checks are commands too).
	AuditCommand AuditKind = "command"
	// AuditUpload is a command fed from a local stream (RunOptions.Stdin):
	// a file transfer such as the upgrade's image tarball copy.
	AuditUpload AuditKind = "upload"
	// AuditShell is an interactive login shell (Shell).
	AuditShell AuditKind = "shell"
	// AuditKill is the extra session that signals the process group of a
	// cancelled command.
	AuditKill AuditKind = "kill"
)

// BastionHost is the Host of records for commands run on the bastion itself.
const BastionHost = "bastion"

// AuditRecord is one SSH session the Client opened for its caller: every
// remote command, shell and transfer, whether it ran or not.
type AuditRecord struct {
	// Start is when the call began, Duration how long it took (dial included).
	Start    time.Time
	Duration time.Duration
	// Host is the host as the caller named it; BastionHost for RunBastion.
	Host string
	Kind AuditKind
	// Command is the caller's command line (without the transport's own
	// process-group wrapper); empty for a login shell. It has passed through
	// the scope's Redact, if any.
	Command string
	// Run is the workflow run the call belongs to (see WithAuditScope).
	Run string
	// ExitCode is the remote exit status, or -1 when there is none (the
	// command could not start, was killed, or the connection dropped).
	ExitCode int
	// Err says why there is no exit status (dial, auth, host key, cancel).
	Err string
	// Bytes is how many bytes were read from RunOptions.Stdin (uploads).
	Bytes int64
}

// Auditor receives one AuditRecord for each session, after it ended. An
// error from Audit is returned by the call that was audited (when it had no
// error of its own): an operation that cannot be audited must not look
// successful. Audit may be called from several goroutines at once.
type Auditor interface {
	Audit(AuditRecord) error
}

// AuditorFunc adapts a function to Auditor.
type AuditorFunc func(AuditRecord) error

// Audit implements Auditor.
func (f AuditorFunc) Audit(r AuditRecord) error { return f(r) }

// WithAuditor sends one AuditRecord per remote command, shell and transfer
// to a. Every caller of the Client is then audited without doing anything.
func WithAuditor(a Auditor) Option { return func(c *Client) { c.audit.a = a } }

// WithAuditClock sets the clock of AuditRecord.Start and Duration (default
// time.Now).
func WithAuditClock(now func() time.Time) Option { return func(c *Client) { c.audit.now = now } }

// auditHook is the Client's auditor and its clock.
type auditHook struct {
	a   Auditor
	now func() time.Time
}

// Audited reports whether the Client audits every session itself (so a
// caller that keeps its own audit log should not log them again).
func (c *Client) Audited() bool { return c.audit.a != nil }

// AuditScope is what the caller's context adds to the records of calls made
// with it.
type AuditScope struct {
	// Run is the workflow run ID.
	Run string
	// Redact, when set, hides secrets the caller knows of in Command and Err.
	Redact func(string) string
}

type auditScopeKey struct{}

// WithAuditScope returns ctx carrying s: calls made with it are recorded
// with s.Run and redacted with s.Redact.
func WithAuditScope(ctx context.Context, s AuditScope) context.Context {
	return context.WithValue(ctx, auditScopeKey{}, s)
}

// AuditScopeFrom returns the scope set with WithAuditScope (zero if none).
func AuditScopeFrom(ctx context.Context) AuditScope {
	s, _ := ctx.Value(auditScopeKey{}).(AuditScope)
	return s
}

// countingReader counts what the session read from the caller's stdin.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// audited runs call and records it. opts, when not nil, is the call's
// options: a Stdin is wrapped to count bytes and makes the record an upload.
// A shell's *ssh.ExitError is its exit code, not an error, in the record.
func (c *Client) audited(ctx context.Context, rec AuditRecord, opts *RunOptions, call func() (Result, error)) (Result, error) {
	if c.audit.a == nil {
		return call()
	}
	now := c.audit.now
	if now == nil {
		now = time.Now
	}
	var counter *countingReader
	if opts != nil && opts.Stdin != nil {
		counter = &countingReader{r: opts.Stdin}
		opts.Stdin = counter
		rec.Kind = AuditUpload
	}
	rec.Start = now()
	res, err := call()
	rec.Duration = now().Sub(rec.Start)
	rec.ExitCode = res.ExitCode
	if err != nil {
		var ee *ssh.ExitError
		if errors.As(err, &ee) && ee.Signal() == "" {
			rec.ExitCode = ee.ExitStatus()
		} else {
			rec.ExitCode, rec.Err = -1, err.Error()
		}
	}
	if counter != nil {
		rec.Bytes = counter.n.Load()
	}
	scope := AuditScopeFrom(ctx)
	rec.Run = scope.Run
	if scope.Redact != nil {
		rec.Command, rec.Err = scope.Redact(rec.Command), scope.Redact(rec.Err)
	}
	if aerr := c.audit.a.Audit(rec); aerr != nil {
		c.log.Error("audit record lost", "host", rec.Host, "kind", rec.Kind, "run", rec.Run, "err", aerr)
		if err == nil {
			return res, fmt.Errorf("audit %s on %s: %w", rec.Kind, rec.Host, aerr)
		}
	}
	return res, err
}
