// Package logs reads and follows the logs of a deployment's hosts through
// the bastion: Cassandra's system.log on Cassandra nodes (what td-agent tails
// and ships; `journalctl -u cassandra` holds only the init script's lines),
// and `docker logs` of the role's docker-compose container elsewhere. Lines
// are kept in a bounded ring (never the whole log in memory), a filter keeps
// matching while new lines arrive, and a follow survives an SSH drop by
// reconnecting and skipping what it has already shown.
//
// It must not import tui/ or internal/.
package logs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
)

// CassandraSystemLog is the Cassandra rpm's main log (logback's SYSTEMLOG).
const CassandraSystemLog = "/var/log/cassandra/system.log"

// DefaultTail is how many lines a read starts with when Options.Tail is 0.
const DefaultTail = 200

// MaxLineBytes cuts longer lines (a stack trace on one line, a binary blob).
const MaxLineBytes = 8 << 10

// containers maps a role to its docker-compose service (domain.md §3: the
// project is "provision", so the container is provision_<service>_1).
var containers = map[inventory.Role]string{
	inventory.RoleScalarDLBlue:  "scalar",
	inventory.RoleScalarDLGreen: "scalar",
	inventory.RoleEnvoy:         "envoy",
	inventory.RoleCassy:         "cassy",
	inventory.RoleReaper:        "reaper",
	inventory.RoleMonitor:       "prometheus",
}

// Options says what to read.
type Options struct {
	// Since reads lines newer than this (0: the last Tail lines).
	Since time.Duration
	// Tail is how many lines to start with (default DefaultTail).
	Tail int
	// Follow keeps reading new lines until the context ends.
	Follow bool
	// Service picks another docker-compose service on the host (e.g.
	// "alertmanager" on the monitor); "" is the role's own.
	Service string
	// Journal reads `journalctl -u UNIT` instead (e.g. "cassandra").
	Journal string
}

// Source is one log on one host and the command that reads it.
type Source struct {
	Host inventory.Host
	// Desc names the log for the operator ("provision_scalar_1 (docker logs)").
	Desc string
	kind string // "file", "docker", "journal"
	path string // file path, container name or unit
}

// For returns the log of h that o asks for.
func For(h inventory.Host, o Options) (Source, error) {
	switch {
	case o.Journal != "":
		return Source{Host: h, Desc: "journalctl -u " + o.Journal, kind: "journal", path: o.Journal}, nil
	case o.Service != "":
		c := "provision_" + o.Service + "_1"
		return Source{Host: h, Desc: c + " (docker logs)", kind: "docker", path: c}, nil
	case h.Role == inventory.RoleCassandra:
		return Source{Host: h, Desc: CassandraSystemLog, kind: "file", path: CassandraSystemLog}, nil
	}
	svc, ok := containers[h.Role]
	if !ok {
		return Source{}, fmt.Errorf("%s (%s) runs no container of its own: name a unit with --journal UNIT (e.g. sshd)", h.Short, h.Role)
	}
	c := "provision_" + svc + "_1"
	return Source{Host: h, Desc: c + " (docker logs)", kind: "docker", path: c}, nil
}

// Command is the remote command that reads s: the last o.Tail lines (or
// those since o.Since), following when o.Follow. resumeAfter, when not zero,
// starts from that time instead (a reconnect).
func (s Source) Command(o Options, now time.Time, resumeAfter time.Time) string {
	tail := o.Tail
	if tail <= 0 {
		tail = DefaultTail
	}
	since := time.Time{}
	if o.Since > 0 {
		since = now.Add(-o.Since)
	}
	if !resumeAfter.IsZero() {
		since = resumeAfter
	}
	switch s.kind {
	case "docker":
		args := []string{"docker", "logs", "--timestamps"}
		if !since.IsZero() {
			args = append(args, "--since", since.UTC().Format(time.RFC3339Nano))
		} else {
			args = append(args, "--tail", strconv.Itoa(tail))
		}
		if o.Follow {
			args = append(args, "--follow")
		}
		return shell.Join(append(args, s.path)...) + " 2>&1"
	case "journal":
		args := []string{"journalctl", "--no-pager", "-o", "short-iso-precise", "-u", s.path}
		if !since.IsZero() {
			args = append(args, "--since", since.UTC().Format("2006-01-02 15:04:05")+" UTC")
		} else {
			args = append(args, "-n", strconv.Itoa(tail))
		}
		if o.Follow {
			args = append(args, "-f")
		}
		return "sudo " + shell.Join(args...)
	}
	// A file: tail -F keeps following across logback's rotation. A reconnect
	// re-reads a window and skips up to the last line shown (Follower).
	n := tail
	if !resumeAfter.IsZero() {
		n = 1000
	}
	args := []string{"tail", "-n", strconv.Itoa(n)}
	if o.Follow {
		args = append(args, "-F")
	}
	return "sudo " + shell.Join(append(args, s.path)...)
}

// Line is one log line.
type Line struct {
	Text string
	// Cut is set when the line was longer than MaxLineBytes.
	Cut bool
}

// Notice is something the follower says about the stream itself
// ("connection lost …, reconnecting", "reconnected").
type Notice string

// Runner runs a command on a host, streaming its output by lines.
type Runner interface {
	Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error)
}

// Follower reads one Source into a Buffer, reconnecting after SSH drops.
type Follower struct {
	R      Runner
	Source Source
	Opts   Options
	// Clock gives "now" for --since; default time.Now.
	Clock func() time.Time
	// Retry is the wait between reconnects (default 2s), doubled up to 30s.
	Retry time.Duration
	// OnLine and OnNotice receive what arrives, from one goroutine at a time.
	OnLine   func(Line)
	OnNotice func(Notice)
}

// ErrExited is wrapped when the log command exits non-zero.
var ErrExited = errors.New("log command failed")

// Run reads until the command ends (not following) or ctx ends (following).
// An SSH failure while following is retried; a command that exits non-zero
// (no such container, permission denied) is not, and its last output is in
// the error.
func (f *Follower) Run(ctx context.Context) error {
	now := time.Now
	if f.Clock != nil {
		now = f.Clock
	}
	retry := f.Retry
	if retry <= 0 {
		retry = 2 * time.Second
	}
	var (
		mu        sync.Mutex
		last      string    // last line shown
		lastAt    time.Time // its timestamp, when the format has one
		skipping  bool      // after a reconnect: drop lines up to `last`
		seenLast  bool
		skipped   int
		lastLines []string // the command's last output lines, for its error
	)
	emit := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if skipping {
			// After a reconnect the command re-reads from the last line's
			// time (or a window of the file): drop what was already shown.
			if s == last {
				skipping, seenLast = false, true
				return
			}
			t, ok := Timestamp(s)
			skipped++
			switch {
			case ok && !lastAt.IsZero() && t.After(lastAt):
				skipping, seenLast = false, true // newer than anything shown
			case lastAt.IsZero() && skipped > 1000:
				skipping = false // the window no longer holds the last line
				if f.OnNotice != nil {
					f.OnNotice(Notice("some lines written while disconnected may be missing"))
				}
				seenLast = true
			default:
				return
			}
		}
		cut := false
		if len(s) > MaxLineBytes {
			s, cut = s[:MaxLineBytes], true
		}
		last = s
		if t, ok := Timestamp(s); ok {
			lastAt = t
		}
		lastLines = append(lastLines, s)
		if len(lastLines) > 5 {
			lastLines = lastLines[1:]
		}
		if f.OnLine != nil {
			f.OnLine(Line{Text: s, Cut: cut})
		}
	}
	resume := time.Time{}
	for attempt := 0; ; attempt++ {
		mu.Lock()
		lastLines = nil
		mu.Unlock()
		cmd := f.Source.Command(f.Opts, now(), resume)
		res, err := f.R.Run(ctx, f.Source.Host.Name, cmd, sshx.RunOptions{Stdout: emit, Stderr: emit})
		if ctx.Err() != nil {
			return nil
		}
		mu.Lock()
		if skipping && !seenLast && f.OnNotice != nil {
			// The window re-read after the drop no longer holds the last line.
			f.OnNotice(Notice("some lines written while disconnected may be missing"))
		}
		skipping = false
		tail := strings.Join(lastLines, "\n")
		mu.Unlock()
		if err == nil {
			if res.ExitCode != 0 {
				return fmt.Errorf("%w on %s: %s exited %d: %s", ErrExited, f.Source.Host.Short, f.Source.Desc, res.ExitCode, tail)
			}
			if !f.Opts.Follow {
				return nil
			}
			// A follow that ended by itself (the container was recreated):
			// start again from where it was.
		}
		if !f.Opts.Follow {
			return fmt.Errorf("read %s on %s: %w", f.Source.Desc, f.Source.Host.Short, err)
		}
		wait := retry << min(attempt, 4)
		if wait > 30*time.Second {
			wait = 30 * time.Second
		}
		if f.OnNotice != nil {
			why := "the log command ended"
			if err != nil {
				why = "connection lost: " + err.Error()
			}
			f.OnNotice(Notice(fmt.Sprintf("%s; reconnecting in %s", why, wait)))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		mu.Lock()
		resume, skipping, seenLast, skipped = lastAt, last != "", false, 0
		if resume.IsZero() && f.Source.kind != "file" {
			// No timestamp seen: take the recent tail again and skip to the last line.
			resume = now().Add(-time.Minute)
		}
		mu.Unlock()
		if f.OnNotice != nil {
			f.OnNotice(Notice("reconnected"))
		}
	}
}

// timestamp formats at the start of a line: docker --timestamps (RFC 3339
// nano), journalctl short-iso-precise, Cassandra's logback ISO8601 after the
// level and thread.
var (
	rfc3339At   = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))`)
	cassandraAt = regexp.MustCompile(`^[A-Z]+ +\[[^\]]*\] (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})`)
)

// Timestamp reads the time a line starts with, if it has one.
func Timestamp(line string) (time.Time, bool) {
	if m := rfc3339At.FindStringSubmatch(line); m != nil {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999-0700"} {
			if t, err := time.Parse(layout, m[1]); err == nil {
				return t, true
			}
		}
	}
	if m := cassandraAt.FindStringSubmatch(line); m != nil {
		if t, err := time.ParseInLocation("2006-01-02 15:04:05,000", m[1], time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Buffer keeps the last Max lines and shows those matching a filter.
// It is safe for concurrent use.
type Buffer struct {
	mu      sync.Mutex
	max     int
	lines   []Line // ring
	start   int
	dropped int
	filter  *regexp.Regexp
}

// NewBuffer keeps at most max lines (default 5,000).
func NewBuffer(max int) *Buffer {
	if max <= 0 {
		max = 5000
	}
	return &Buffer{max: max}
}

// Add appends a line, dropping the oldest when full.
func (b *Buffer) Add(l Line) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) < b.max {
		b.lines = append(b.lines, l)
		return
	}
	b.lines[b.start] = l
	b.start = (b.start + 1) % b.max
	b.dropped++
}

// SetFilter keeps only lines matching expr (a Go regexp; "" shows all).
func (b *Buffer) SetFilter(expr string) error {
	var re *regexp.Regexp
	if expr != "" {
		var err error
		if re, err = regexp.Compile(expr); err != nil {
			return fmt.Errorf("filter %q: %w", expr, err)
		}
	}
	b.mu.Lock()
	b.filter = re
	b.mu.Unlock()
	return nil
}

// Lines returns the kept lines that match the filter, oldest first, and how
// many older lines were dropped from the ring.
func (b *Buffer) Lines() ([]Line, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Line, 0, len(b.lines))
	for i := 0; i < len(b.lines); i++ {
		l := b.lines[(b.start+i)%len(b.lines)]
		if b.filter == nil || b.filter.MatchString(l.Text) {
			out = append(out, l)
		}
	}
	return out, b.dropped
}

// Len is how many lines are kept.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lines)
}
