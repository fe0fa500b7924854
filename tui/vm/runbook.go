package vm

import (
	"context"
	"time"
)

// Runbook is what to do about one firing alert, as the console shows it
// beside the alert (it maps from ops/runbook.Action): the catalog workflow
// that fixes it, planned for the alert's host, or, when there is none, the
// scalar-terraform runbook page and the commands it has the operator type.
type Runbook struct {
	// Title is a short label, e.g. "Restart Cassandra on cassandra-2".
	Title string
	// Workflow is the catalog workflow's name, e.g. "restart-cassandra";
	// "" when no workflow fixes the alert (show Doc and Commands).
	Workflow WorkflowKind
	// Host is the FQDN the workflow runs on; "" for a cluster-wide one.
	Host string
	// Options are the workflow's other options by CLI flag name without
	// dashes, e.g. {"service": "scalar"}.
	Options map[string]string
	// ReadOnly is true when the workflow changes nothing (reachability).
	ReadOnly bool
	// Doc is the runbook page, e.g. "docs/CassandraProcessStopped.md".
	Doc string
	// Commands are what the page has the operator run by hand.
	Commands []string
}

// Runnable reports whether a workflow fixes the alert.
func (r Runbook) Runnable() bool { return r.Workflow != "" }

// Params are the plan request's parameters: the host and the options.
func (r Runbook) Params() WorkflowParams {
	p := WorkflowParams{}
	if r.Host != "" {
		p.Hosts = []string{r.Host}
	}
	if len(r.Options) > 0 {
		p.Options = make(map[string]string, len(r.Options))
		for k, v := range r.Options {
			p.Options[k] = v
		}
	}
	return p
}

// LogStreamer is implemented by backends that can read a host's logs
// through the bastion (the console's `l`). Backends that cannot simply
// omit it; the console then says so.
type LogStreamer interface {
	// OpenLogs starts reading host's log (the role's: Cassandra's
	// system.log, the role's container elsewhere). The stream keeps a
	// bounded number of lines; Close stops it.
	OpenLogs(ctx context.Context, host string, o LogOptions) (LogStream, error)
}

// LogOptions say where a log read starts and whether it follows.
type LogOptions struct {
	// Since starts with the lines of the last Since; 0 starts with the last
	// Tail lines.
	Since time.Duration
	// Tail is how many lines to start with when Since is 0 (0: the
	// backend's default).
	Tail int
	// Follow keeps reading new lines (and reconnects after an SSH drop).
	Follow bool
}

// LogStream is one open log. Its methods may block and are called only
// inside tea.Cmds; it is safe for concurrent use.
type LogStream interface {
	// Desc names the log for the operator, e.g. "/var/log/cassandra/system.log".
	Desc() string
	// Next blocks until something new arrived (lines, notices) or the
	// read ended, and says what. After an update with Done, it returns
	// Done again at once.
	Next(ctx context.Context) LogUpdate
	// Snapshot returns the kept lines that match the filter.
	Snapshot() LogSnapshot
	// SetFilter keeps showing only lines matching the Go regexp expr ("" for
	// all), new lines included; a bad expression is an error and the old
	// filter stays.
	SetFilter(expr string) error
	// Close stops the read; Next then returns Done.
	Close()
}

// LogUpdate is what Next saw since the previous call.
type LogUpdate struct {
	// New is how many lines arrived (before the filter).
	New int
	// Notices are what the reader said about the stream itself, e.g.
	// "connection lost: …; reconnecting in 2s", "reconnected".
	Notices []string
	// Done is set when the read ended; Err says why when it failed.
	Done bool
	Err  error
}

// LogSnapshot is the kept lines matching the filter, oldest first.
type LogSnapshot struct {
	Lines []LogLine
	// Kept is how many lines the buffer holds (before the filter);
	// Dropped how many older ones it let go.
	Kept, Dropped int
}

// LogLine is one log line; Cut is set when it was too long and was cut.
type LogLine struct {
	Text string
	Cut  bool
}
