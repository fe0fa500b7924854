// Package nodetool parses the text output of Apache Cassandra's nodetool
// (3.11 and 4.x): status, repair progress lines, listsnapshots, info, and
// compactionstats and netstats (what a repair runs on the server side).
//
// The parsers are pure functions over strings so that workflows can run
// nodetool over SSH and feed them the captured output. They never panic on
// malformed input; they return an error instead. This package must not
// import anything above ops (tui, cmd).
package nodetool

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Node is one row of `nodetool status`.
type Node struct {
	// Datacenter is the name from the "Datacenter: dc1" heading above the row.
	Datacenter string
	// Status is "U" (up) or "D" (down) as gossip sees the node, or "?" when
	// the node is in neither the live nor the unreachable set (3.11 Status.java).
	Status string
	// State is "N" (normal), "L" (leaving), "J" (joining) or "M" (moving).
	State string
	// Address is the node's broadcast address, e.g. "10.42.2.10".
	Address string
	// Load is the on-disk load as printed, e.g. "1.2 GiB", or "?" when unknown.
	Load string
	// LoadBytes is Load converted to bytes, or -1 when Load is "?".
	LoadBytes float64
	// Tokens is the number of tokens (vnodes) owned, or 0 for the
	// one-token-per-node layout (which prints a Token column instead).
	Tokens int
	// Token is the single token of the one-token-per-node layout.
	Token string
	// Owns is the ownership column as printed, e.g. "100.0%" or "?".
	Owns string
	// OwnsPercent is Owns as a number, or -1 when Owns is "?".
	OwnsPercent float64
	// HostID is the node's host id (a UUID).
	HostID string
	// Rack is the node's rack, e.g. "rack1".
	Rack string
}

// Up reports whether gossip sees the node as up.
func (n Node) Up() bool { return n.Status == "U" }

// Normal reports whether the node is in the Normal state.
func (n Node) Normal() bool { return n.State == "N" }

// UN reports whether the node is Up and Normal (the only state in which the
// repair and restart workflows may proceed).
func (n Node) UN() bool { return n.Up() && n.Normal() }

// ErrNoNodes is returned when the text contains no node rows at all, which
// usually means nodetool failed (its error text is included in the wrapping error).
var ErrNoNodes = errors.New("nodetool status: no node rows found")

// ParseStatus parses the output of `nodetool status` from Cassandra 3.11
// (fixed printf columns) or 4.x (TableBuilder columns). Rows of every
// datacenter are returned in the order printed. Heading, legend and "Note:"
// lines are skipped. A row that starts with a status/state pair but cannot be
// parsed is an error, so truncated output is not mistaken for a healthy ring.
func ParseStatus(text string) ([]Node, error) {
	var (
		nodes []Node
		dc    string
		other []string
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r ")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case strings.HasPrefix(trimmed, "Datacenter:"):
			dc = strings.TrimSpace(strings.TrimPrefix(trimmed, "Datacenter:"))
			continue
		case strings.HasPrefix(trimmed, "==="),
			strings.HasPrefix(trimmed, "Status="),
			strings.HasPrefix(trimmed, "|/"),
			strings.HasPrefix(trimmed, "--"),
			strings.HasPrefix(trimmed, "Note:"):
			continue
		}
		f := strings.Fields(trimmed)
		if !isStatusState(f[0]) {
			other = append(other, trimmed)
			continue
		}
		n, err := parseStatusRow(f)
		if err != nil {
			return nodes, fmt.Errorf("nodetool status line %d %q: %w", lineNo, trimmed, err)
		}
		n.Datacenter = dc
		nodes = append(nodes, n)
	}
	if err := sc.Err(); err != nil {
		return nodes, fmt.Errorf("nodetool status: %w", err)
	}
	if len(nodes) == 0 {
		if len(other) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrNoNodes, strings.Join(other, " "))
		}
		return nil, ErrNoNodes
	}
	return nodes, nil
}

func isStatusState(s string) bool {
	return len(s) == 2 && strings.ContainsRune("UD?", rune(s[0])) && strings.ContainsRune("NLJM", rune(s[1]))
}

// parseStatusRow parses the whitespace fields of one node row.
func parseStatusRow(f []string) (Node, error) {
	n := Node{Status: f[0][:1], State: f[0][1:], LoadBytes: -1, OwnsPercent: -1}
	if len(f) < 2 {
		return n, errors.New("missing address")
	}
	n.Address = f[1]
	rest := f[2:]
	if len(rest) == 0 {
		return n, errors.New("missing load")
	}
	// Load is "?" or "<number> <unit>".
	if rest[0] == "?" {
		n.Load = "?"
		rest = rest[1:]
	} else {
		if len(rest) < 2 {
			return n, errors.New("truncated load")
		}
		n.Load = rest[0] + " " + rest[1]
		b, err := ParseSize(n.Load)
		if err != nil {
			return n, err
		}
		n.LoadBytes = b
		rest = rest[2:]
	}
	if len(rest) < 3 {
		return n, errors.New("too few columns after load")
	}
	if tokens, err := strconv.Atoi(rest[0]); err == nil && isOwns(rest[1]) {
		// vnode layout: Tokens Owns HostID Rack
		n.Tokens = tokens
		n.Owns = rest[1]
		n.HostID = rest[2]
		n.Rack = strings.Join(rest[3:], " ")
	} else if isOwns(rest[0]) && len(rest) >= 3 {
		// one token per node: Owns HostID Token Rack
		n.Owns = rest[0]
		n.HostID = rest[1]
		n.Token = rest[2]
		n.Rack = strings.Join(rest[3:], " ")
	} else {
		return n, fmt.Errorf("unrecognised columns %q", strings.Join(rest, " "))
	}
	if n.Owns != "?" {
		p, err := strconv.ParseFloat(strings.TrimSuffix(n.Owns, "%"), 64)
		if err != nil {
			return n, fmt.Errorf("owns %q: %w", n.Owns, err)
		}
		n.OwnsPercent = p
	}
	return n, nil
}

func isOwns(s string) bool {
	if s == "?" {
		return true
	}
	if !strings.HasSuffix(s, "%") {
		return false
	}
	_, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	return err == nil
}

var sizeUnits = map[string]float64{
	"bytes": 1, "B": 1, "byte": 1,
	"KB": 1 << 10, "KiB": 1 << 10,
	"MB": 1 << 20, "MiB": 1 << 20,
	"GB": 1 << 30, "GiB": 1 << 30,
	"TB": 1 << 40, "TiB": 1 << 40,
	"PB": 1 << 50, "PiB": 1 << 50,
}

// ParseSize converts a nodetool size such as "1.2 GiB", "51.59 KB" or
// "0 bytes" to bytes. Both the binary (KiB, 3.x/4.x) and legacy (KB, 2.x)
// suffixes mean powers of 1024, as in Cassandra's FileUtils.stringifyFileSize.
// A decimal comma ("1,25 GiB", from non-English JVM locales) is accepted.
func ParseSize(s string) (float64, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, fmt.Errorf("size %q: want \"<number> <unit>\"", s)
	}
	mult, ok := sizeUnits[f[1]]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q", s, f[1])
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(f[0], ",", "."), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: bad number", s)
	}
	return v * mult, nil
}

// FormatSize renders bytes the way Cassandra 3.11/4.x FileUtils.stringifyFileSize
// does: "0 bytes", "13.15 KiB", "1.20 GiB".
func FormatSize(b float64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	if b < 1024 {
		return strconv.FormatFloat(b, 'f', 0, 64) + " bytes"
	}
	v := b
	u := ""
	for _, unit := range units {
		v /= 1024
		u = unit
		if v < 1024 {
			break
		}
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + " " + u
}
