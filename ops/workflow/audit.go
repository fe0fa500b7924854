package workflow

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"scalar-tui/ops/redact"
	"scalar-tui/ops/sshx"
)

// AuditEntry is one remote command, shell session or file transfer in
// <stateDir>/audit.jsonl.
type AuditEntry struct {
	Time     time.Time `json:"time"`
	Operator string    `json:"operator"`
	// Deployment names the deployment (network name and bastion) when the
	// entry came through an AuditLog.
	Deployment string `json:"deployment,omitempty"`
	Run        string `json:"run"`
	Host       string `json:"host"` // "bastion" for commands run on the bastion
	// Kind is sshx's AuditKind: command, upload, shell or kill ("" in
	// entries written before kinds existed, and by the engine itself: a
	// command).
	Kind     string `json:"kind,omitempty"`
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
	// DurationMS is the command's wall time in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Bytes is what an upload sent.
	Bytes int64 `json:"bytes,omitempty"`
	// Error is set when the command could not run or finish (dial, cancel).
	Error string `json:"error,omitempty"`
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	Run   string
	Host  string
	Since time.Time
	Until time.Time
}

func (f AuditFilter) match(e AuditEntry) bool {
	return (f.Run == "" || e.Run == f.Run) &&
		(f.Host == "" || e.Host == f.Host) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until))
}

// AuditPath is the audit log under stateDir.
func AuditPath(stateDir string) string { return filepath.Join(stateDir, "audit.jsonl") }

// ReadAudit returns the entries of <stateDir>/audit.jsonl that match f, in
// file order. A missing file is an empty log. Lines that do not parse (a torn
// last line after a crash) are skipped.
func ReadAudit(stateDir string, f AuditFilter) ([]AuditEntry, error) {
	file, err := os.Open(AuditPath(stateDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	defer file.Close()
	var out []AuditEntry
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var e AuditEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if f.match(e) {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// Redactor replaces registered secret values with "***" in everything the
// engine writes: audit entries, per-host logs, events and the journal's error
// texts. It is safe for concurrent use. A nil *Redactor redacts only URLs'
// user information.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// NewRedactor returns a Redactor that knows secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		r.Add(s)
	}
	return r
}

// Add registers a secret. Empty and very short values (under 3 bytes) are
// ignored because replacing them would mangle ordinary text.
func (r *Redactor) Add(secret string) {
	if r == nil || len(secret) < 3 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, secret)
	// Longest first, so a secret containing another is replaced whole.
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// Redact returns s with every secret replaced by "***", and the user
// information of every URL in it too (redact.URLs).
func (r *Redactor) Redact(s string) string {
	s = redact.URLs(s)
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// auditLog appends entries with one write(2) per line on an O_APPEND file,
// so concurrent writers (two consoles) never interleave within a line.
type auditLog struct {
	mu   sync.Mutex
	path string
	red  *Redactor
}

func (a *auditLog) append(e AuditEntry) error {
	e.Command = redact.Secrets(a.red.Redact(e.Command))
	e.Error = redact.Secrets(a.red.Redact(e.Error))
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(a.path), 0o700); err != nil {
		return fmt.Errorf("audit dir: %w", err)
	}
	f, err := os.OpenFile(a.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("append audit log: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("close audit log: %w", cerr)
	}
	return nil
}

// AuditLog writes the records of an audited SSH client (sshx.WithAuditor)
// to an audit.jsonl, with the operator and the deployment, secrets redacted.
// An Engine whose Runner is such a client leaves the auditing to it, so each
// remote command is one entry; inside a run the entry carries the run ID
// (the engine puts it in the context, see sshx.WithAuditScope).
type AuditLog struct {
	log        *auditLog
	operator   string
	deployment string
}

// NewAuditLog returns an AuditLog appending to path (normally AuditPath of
// the state directory) for operator (Operator()) on deployment. red may be
// nil; values that look like secrets are redacted anyway (redact.Secrets).
func NewAuditLog(path, operator, deployment string, red *Redactor) *AuditLog {
	return &AuditLog{log: &auditLog{path: path, red: red}, operator: operator, deployment: deployment}
}

// Audit implements sshx.Auditor.
func (a *AuditLog) Audit(r sshx.AuditRecord) error {
	return a.log.append(AuditEntry{
		Time: r.Start.UTC(), Operator: a.operator, Deployment: a.deployment, Run: r.Run,
		Host: r.Host, Kind: string(r.Kind), Command: r.Command, ExitCode: r.ExitCode,
		DurationMS: r.Duration.Milliseconds(), Bytes: r.Bytes, Error: r.Err,
	})
}

// runnerAudits reports whether r audits every command itself (an audited
// *sshx.Client).
func runnerAudits(r Runner) bool {
	a, ok := r.(interface{ Audited() bool })
	return ok && a.Audited()
}

// auditCommand appends ent unless the runner already audited the command.
func (e *Engine) auditCommand(ent AuditEntry) error {
	if runnerAudits(e.r) {
		return nil
	}
	return e.audit.append(ent)
}

// auditScope makes the runner's own audit records of commands made with ctx
// carry rc's run ID and the engine's redaction.
func (e *Engine) auditScope(ctx context.Context, rc *runCtx) context.Context {
	return sshx.WithAuditScope(ctx, sshx.AuditScope{Run: rc.st.ID, Redact: e.red.Redact})
}
