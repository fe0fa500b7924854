package nodetool

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"scalar-tui/ops/shell"
)

// Snapshot is one row of `nodetool listsnapshots` (one table of one snapshot).
type Snapshot struct {
	// Name is the snapshot tag given with `nodetool snapshot -t`.
	Name string
	// Keyspace and Table identify the snapshotted table.
	Keyspace, Table string
	// TrueSize is the space used only by the snapshot (files no longer live), as printed.
	TrueSize string
	// SizeOnDisk is the total size of the snapshot's files, as printed.
	SizeOnDisk string
	// Extra holds the 4.1+ columns (Creation time, Expiration time, Ephemeral) keyed by header.
	Extra map[string]string
}

var snapshotHeaders = []string{"Snapshot name", "Keyspace name", "Column family name", "True size", "Size on disk"}

// ParseListSnapshots parses `nodetool listsnapshots`. "There are no
// snapshots" yields an empty slice. Columns are located from the header line
// (Cassandra pads every column to its widest cell and separates them by one
// space), so values containing spaces ("13.15 KiB") are read correctly.
func ParseListSnapshots(text string) ([]Snapshot, error) {
	var (
		out     []Snapshot
		starts  []int
		names   []string
		sawHead bool
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			continue
		case strings.HasPrefix(t, "There are no snapshots"):
			return []Snapshot{}, nil
		case strings.HasPrefix(t, "Snapshot Details:"):
			sawHead = true
			continue
		case strings.HasPrefix(t, "Total TrueDiskSpaceUsed:"):
			continue
		case strings.HasPrefix(line, "Snapshot name"):
			starts, names = headerColumns(line)
			if len(starts) < len(snapshotHeaders) {
				return nil, fmt.Errorf("listsnapshots: unexpected header %q", t)
			}
			continue
		}
		if starts == nil {
			if sawHead {
				return nil, fmt.Errorf("listsnapshots: row before header: %q", t)
			}
			continue // noise before the table (warnings)
		}
		cells := cutColumns(line, starts)
		if len(cells) < 5 || cells[0] == "" || cells[1] == "" || cells[2] == "" {
			return out, fmt.Errorf("listsnapshots: malformed row %q", t)
		}
		s := Snapshot{Name: cells[0], Keyspace: cells[1], Table: cells[2], TrueSize: cells[3], SizeOnDisk: cells[4]}
		for i := 5; i < len(cells) && i < len(names); i++ {
			if s.Extra == nil {
				s.Extra = map[string]string{}
			}
			s.Extra[names[i]] = cells[i]
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("listsnapshots: %w", err)
	}
	if !sawHead && starts == nil {
		return nil, fmt.Errorf("listsnapshots: no snapshot table in output: %q", shell.FirstLine(text))
	}
	if out == nil {
		out = []Snapshot{}
	}
	return out, nil
}

// headerColumns finds the start offset of each known header in a header line.
func headerColumns(line string) (starts []int, names []string) {
	known := append(append([]string{}, snapshotHeaders...), "Creation time", "Expiration time", "Ephemeral")
	pos := 0
	for _, h := range known {
		i := strings.Index(line[pos:], h)
		if i < 0 {
			continue
		}
		starts = append(starts, pos+i)
		names = append(names, h)
		pos += i + len(h)
	}
	return starts, names
}

// cutColumns slices line at the given starts; a cell that overflowed its
// column is recovered by falling back to whitespace splitting.
func cutColumns(line string, starts []int) []string {
	cells := make([]string, 0, len(starts))
	for i, s := range starts {
		if s >= len(line) {
			cells = append(cells, "")
			continue
		}
		e := len(line)
		if i+1 < len(starts) && starts[i+1] < len(line) {
			e = starts[i+1]
		}
		cells = append(cells, strings.TrimSpace(line[s:e]))
	}
	return cells
}

// Info is the subset of `nodetool info` the console uses.
type Info struct {
	// ID is the node's host id.
	ID string
	// GossipActive reports "Gossip active: true".
	GossipActive bool
	// NativeTransportActive reports "Native Transport active: true" (CQL).
	NativeTransportActive bool
	// Load is the load as printed, e.g. "1.2 GiB".
	Load string
	// UptimeSeconds is "Uptime (seconds)".
	UptimeSeconds int64
	// Datacenter and Rack as printed.
	Datacenter, Rack string
	// Fields holds every "Key : value" line as printed.
	Fields map[string]string
}

// ParseInfo parses `nodetool info` ("%-23s: %s" lines). It needs at least the
// ID line; other fields are optional.
func ParseInfo(text string) (Info, error) {
	info := Info{Fields: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" || strings.ContainsAny(k, "[]") {
			continue
		}
		if _, dup := info.Fields[k]; !dup {
			info.Fields[k] = v
		}
	}
	info.ID = info.Fields["ID"]
	if info.ID == "" {
		return info, fmt.Errorf("nodetool info: no ID line in output: %q", shell.FirstLine(text))
	}
	info.GossipActive = info.Fields["Gossip active"] == "true"
	info.NativeTransportActive = info.Fields["Native Transport active"] == "true"
	info.Load = info.Fields["Load"]
	info.Datacenter = info.Fields["Data Center"]
	info.Rack = info.Fields["Rack"]
	if up, ok := info.Fields["Uptime (seconds)"]; ok {
		n, err := strconv.ParseInt(up, 10, 64)
		if err != nil {
			return info, fmt.Errorf("nodetool info: uptime %q: %w", up, err)
		}
		info.UptimeSeconds = n
	}
	return info, nil
}
