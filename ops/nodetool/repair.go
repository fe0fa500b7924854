package nodetool

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RepairKind classifies one line of `nodetool repair` output.
type RepairKind string

// The kinds of repair lines. Cassandra's RepairRunner prints every JMX
// progress notification as "[yyyy-MM-dd HH:mm:ss,SSS] <message>", adding
// " (progress: N%)" to PROGRESS notifications.
const (
	// RepairStarted: "Starting repair command #1 (uuid), repairing keyspace scalar with repair options (...)".
	RepairStarted RepairKind = "started"
	// RepairProgress: any other message carrying "(progress: N%)".
	RepairProgress RepairKind = "progress"
	// RepairSessionFinished: "Repair session <uuid> for range [...] finished (progress: N%)".
	RepairSessionFinished RepairKind = "session-finished"
	// RepairCompleted: "Repair completed successfully" (or the parent-session
	// query that "discovered repair completed", or RF=1 "No repair is needed").
	RepairCompleted RepairKind = "completed"
	// RepairFinished: "Repair command #1 finished in 5 seconds" (printed after completed or failed).
	RepairFinished RepairKind = "finished"
	// RepairFailed: "Repair session ... failed with error ...", "Repair command #1 failed with error ...",
	// "Repair command #1 finished with error", "discovered repair failed" or
	// nodetool's final "error: Repair job has failed with the error message: ...".
	RepairFailed RepairKind = "failed"
)

// RepairEvent is one parsed line of `nodetool repair` output.
type RepairEvent struct {
	// Kind classifies the line.
	Kind RepairKind
	// Time is the bracketed timestamp (server-local time, parsed as UTC), zero if absent.
	Time time.Time
	// Command is the repair command number (#N) when the line names it, else 0.
	Command int
	// Keyspace is set on started lines.
	Keyspace string
	// Session is the repair session UUID on session lines.
	Session string
	// Percent is the "(progress: N%)" value, or -1 when the line has none.
	Percent float64
	// Message is the line without its timestamp.
	Message string
}

// RepairTimeLayout is the layout of the bracketed timestamp RepairRunner prints.
const RepairTimeLayout = "2006-01-02 15:04:05,000"

var (
	reRepairTS       = regexp.MustCompile(`^\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})\]\s*(.*)$`)
	reRepairProgress = regexp.MustCompile(`\(progress: (\d+(?:\.\d+)?)%\)\s*$`)
	reRepairStart    = regexp.MustCompile(`^Starting repair command #(\d+)(?: \(([^)]*)\))?, repairing keyspace (\S+) with`)
	reRepairSession  = regexp.MustCompile(`^Repair session (\S+) for range .*? (finished|failed with error)`)
	reRepairCmd      = regexp.MustCompile(`^Repair command #(\d+) (finished with error|finished|failed)`)
)

// ParseRepairLine parses one line of `nodetool repair` output (3.11 or
// 4.x). ok is false for blank lines and for lines that are not repair
// progress messages (stack traces, "-- StackTrace --", warnings).
func ParseRepairLine(line string) (ev RepairEvent, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" {
		return RepairEvent{}, false
	}
	ev = RepairEvent{Percent: -1}
	msg := line
	if m := reRepairTS.FindStringSubmatch(line); m != nil {
		if t, err := time.Parse(RepairTimeLayout, m[1]); err == nil {
			ev.Time = t
		}
		msg = m[2]
	}
	ev.Message = msg
	if m := reRepairProgress.FindStringSubmatch(msg); m != nil {
		if p, err := strconv.ParseFloat(m[1], 64); err == nil {
			ev.Percent = p
		}
	}
	switch {
	case strings.HasPrefix(msg, "error: Repair job has failed"),
		strings.HasPrefix(msg, "Repair job has failed"):
		ev.Kind = RepairFailed
		return ev, true
	case strings.HasPrefix(msg, "Starting repair command #"):
		ev.Kind = RepairStarted
		if m := reRepairStart.FindStringSubmatch(msg); m != nil {
			ev.Command, _ = strconv.Atoi(m[1])
			ev.Session = m[2]
			ev.Keyspace = m[3]
		}
		return ev, true
	case strings.HasPrefix(msg, "Repair session "):
		if m := reRepairSession.FindStringSubmatch(msg); m != nil {
			ev.Session = m[1]
			if m[2] == "finished" {
				ev.Kind = RepairSessionFinished
			} else {
				ev.Kind = RepairFailed
			}
			return ev, true
		}
	case strings.HasPrefix(msg, "Repair completed successfully"),
		strings.Contains(msg, "discovered repair completed"),
		strings.HasPrefix(msg, "Replication factor is 1. No repair is needed"):
		ev.Kind = RepairCompleted
		return ev, true
	case strings.Contains(msg, "discovered repair failed"):
		ev.Kind = RepairFailed
		return ev, true
	case strings.HasPrefix(msg, "Repair command #"):
		if m := reRepairCmd.FindStringSubmatch(msg); m != nil {
			ev.Command, _ = strconv.Atoi(m[1])
			if m[2] == "finished" {
				ev.Kind = RepairFinished
			} else {
				ev.Kind = RepairFailed
			}
			return ev, true
		}
	}
	if ev.Percent >= 0 {
		ev.Kind = RepairProgress
		return ev, true
	}
	return RepairEvent{}, false
}
