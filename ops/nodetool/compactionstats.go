package nodetool

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Compaction types (Cassandra's OperationType) that only a repair starts.
const (
	// TypeValidation builds the Merkle trees of a repair session, on every
	// replica the session involves (the coordinator included).
	TypeValidation = "Validation"
	// TypeAnticompaction splits SSTables into repaired and unrepaired after
	// an incremental repair (3.11 prints "Anticompaction after repair").
	TypeAnticompaction = "Anticompaction after repair"
)

// Compaction is one row of the active-compactions table of
// `nodetool compactionstats` (without -H).
type Compaction struct {
	// ID is the compaction id (a UUID; empty in 2.x output, which has none).
	ID string
	// Type is the compaction type as printed, e.g. "Validation",
	// "Compaction" or "Anticompaction after repair".
	Type string
	// Keyspace and Table name what is compacted.
	Keyspace string
	Table    string
	// Completed and Total are in Unit ("bytes", "keys", "ranges"), as printed.
	Completed int64
	Total     int64
	Unit      string
	// Percent is the progress column as a number, or -1 for "n/a".
	Percent float64
}

// Repair reports whether the compaction is part of a repair.
func (c Compaction) Repair() bool {
	return c.Type == TypeValidation || strings.HasPrefix(c.Type, "Anticompaction")
}

// CompactionStats is the output of `nodetool compactionstats`.
type CompactionStats struct {
	// PendingTasks is the "pending tasks: N" figure.
	PendingTasks int
	// PendingByTable maps "keyspace.table" to its pending tasks (3.10+ prints
	// one "- ks.table: N" line per table).
	PendingByTable map[string]int
	// Active are the running compactions, in the order printed.
	Active []Compaction
}

// Repairs returns the active compactions that belong to a repair.
func (s CompactionStats) Repairs() []Compaction {
	var out []Compaction
	for _, c := range s.Active {
		if c.Repair() {
			out = append(out, c)
		}
	}
	return out
}

// ErrNotCompactionStats is returned for text without a "pending tasks:" line
// (nodetool failed; its error text is included in the wrapping error).
var ErrNotCompactionStats = errors.New("nodetool compactionstats: no \"pending tasks\" line")

// ParseCompactionStats parses `nodetool compactionstats` from Cassandra 3.11
// (TableBuilder columns: "id compaction type keyspace table completed total
// unit progress", left-aligned) and from 2.x/3.0 (the same columns
// right-aligned, with or without the id). The compaction type may contain
// spaces ("Anticompaction after repair"), so a row is read from both ends:
// an optional UUID first, then the last six fields, and the type is what
// remains. A row that cannot be read is an error, so that truncated output
// never reads as "nothing running". -H output is not supported.
func ParseCompactionStats(text string) (CompactionStats, error) {
	var (
		st      CompactionStats
		pending bool
		inTable bool
		other   []string
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(strings.TrimRight(sc.Text(), "\r"))
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "pending tasks:"):
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pending tasks:")))
			if err != nil {
				return st, fmt.Errorf("nodetool compactionstats line %d %q: bad pending task count", lineNo, line)
			}
			st.PendingTasks, pending = n, true
			continue
		case strings.HasPrefix(line, "Active compaction remaining time"):
			inTable = false
			continue
		case strings.Contains(line, "compaction type") && strings.Contains(line, "keyspace"):
			inTable = true
			continue
		case pending && !inTable && strings.HasPrefix(line, "- "):
			name, count, ok := strings.Cut(strings.TrimPrefix(line, "- "), ": ")
			if !ok {
				name, count, ok = cutLast(strings.TrimPrefix(line, "- "), ":")
			}
			n, err := strconv.Atoi(strings.TrimSpace(count))
			if !ok || err != nil {
				return st, fmt.Errorf("nodetool compactionstats line %d %q: bad pending task line", lineNo, line)
			}
			if st.PendingByTable == nil {
				st.PendingByTable = map[string]int{}
			}
			st.PendingByTable[strings.TrimSpace(name)] = n
			continue
		case inTable:
			c, err := parseCompactionRow(line)
			if err != nil {
				return st, fmt.Errorf("nodetool compactionstats line %d %q: %w", lineNo, line, err)
			}
			st.Active = append(st.Active, c)
			continue
		}
		other = append(other, line)
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("nodetool compactionstats: %w", err)
	}
	if !pending {
		if len(other) > 0 {
			return st, fmt.Errorf("%w: %s", ErrNotCompactionStats, strings.Join(other, " "))
		}
		return st, ErrNotCompactionStats
	}
	return st, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func parseCompactionRow(line string) (Compaction, error) {
	f := strings.Fields(line)
	var c Compaction
	if len(f) > 0 && isUUID(f[0]) {
		c.ID, f = f[0], f[1:]
	}
	if len(f) < 7 {
		return c, fmt.Errorf("want type, keyspace, table, completed, total, unit and progress, got %d fields", len(f))
	}
	tail := f[len(f)-6:]
	c.Type = strings.Join(f[:len(f)-6], " ")
	c.Keyspace, c.Table, c.Unit = tail[0], tail[1], tail[4]
	var err error
	if c.Completed, err = strconv.ParseInt(tail[2], 10, 64); err != nil {
		return c, fmt.Errorf("bad completed %q", tail[2])
	}
	if c.Total, err = strconv.ParseInt(tail[3], 10, 64); err != nil {
		return c, fmt.Errorf("bad total %q", tail[3])
	}
	c.Percent = -1
	if p := tail[5]; p != "n/a" {
		// DecimalFormat follows the JVM locale: "3,67%" on a German one.
		v, err := strconv.ParseFloat(strings.Replace(strings.TrimSuffix(p, "%"), ",", ".", 1), 64)
		if err != nil || !strings.HasSuffix(p, "%") || v != v || v < 0 || v > 100 {
			return c, fmt.Errorf("bad progress %q", p)
		}
		c.Percent = v
	}
	return c, nil
}

// isUUID reports whether s has the 8-4-4-4-12 hex shape.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if s[i] != '-' {
				return false
			}
		case s[i] >= '0' && s[i] <= '9', s[i] >= 'a' && s[i] <= 'f', s[i] >= 'A' && s[i] <= 'F':
		default:
			return false
		}
	}
	return true
}
