package nodetool

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// StreamSession is one peer of a stream plan in `nodetool netstats`.
type StreamSession struct {
	// Peer is the peer as printed, e.g. "/10.42.2.11"; Using is the
	// "(using /10.0.0.1)" private address when printed.
	Peer  string
	Using string
	// Receiving: files and bytes to receive, and received so far.
	FilesToReceive, FilesReceived int64
	BytesToReceive, BytesReceived int64
	// Sending: files and bytes to send, and sent so far.
	FilesToSend, FilesSent int64
	BytesToSend, BytesSent int64
}

// StreamPlan is one stream operation ("Repair", "Bootstrap", "Rebuild", ...).
type StreamPlan struct {
	// Description is what started the streams; "Repair" for repair sessions.
	Description string
	// PlanID is the stream plan's UUID.
	PlanID string
	// Sessions are the peers streamed with.
	Sessions []StreamSession
}

// Repair reports whether the streams belong to a repair.
func (p StreamPlan) Repair() bool { return p.Description == "Repair" }

// NetStats is the part of `nodetool netstats` that says what streams.
type NetStats struct {
	// Mode is the node's operation mode, e.g. "NORMAL", "JOINING".
	Mode string
	// Streams are the active stream plans (none when the node printed
	// "Not sending any streams.").
	Streams []StreamPlan
}

// RepairStreams returns the stream plans started by repairs.
func (n NetStats) RepairStreams() []StreamPlan {
	var out []StreamPlan
	for _, p := range n.Streams {
		if p.Repair() {
			out = append(out, p)
		}
	}
	return out
}

// ErrNotNetStats is returned for text without a "Mode:" line.
var ErrNotNetStats = errors.New("nodetool netstats: no \"Mode:\" line")

var (
	planRE = regexp.MustCompile(`^(\S.*) ([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`)
	peerRE = regexp.MustCompile(`^(\S+)(?: \(using (\S+)\))?$`)
	// 3.11: "Receiving 2 files, 4194304 bytes total. Already received 1 files, 1048576 bytes total";
	// 4.x adds " (50.00%)" after the files and the bytes received.
	recvRE = regexp.MustCompile(`^Receiving (\d+) files, (\d+) bytes total\. Already received (\d+) files(?: \([0-9.,]+%\))?, (\d+) bytes total`)
	sendRE = regexp.MustCompile(`^Sending (\d+) files, (\d+) bytes total\. Already sent (\d+) files(?: \([0-9.,]+%\))?, (\d+) bytes total`)
)

// ParseNetStats parses the streaming part of `nodetool netstats` (3.11 and
// 4.x, without -H): the mode, then per stream plan "<description> <plan
// uuid>", its peers indented by 4, their Receiving/Sending summaries by 8 and
// the files by 12. Parsing stops at "Read Repair Statistics:" (read repair is
// not a repair session). An indented line outside a plan or a summary that
// cannot be read is an error, so that garbled output never reads as idle.
func ParseNetStats(text string) (NetStats, error) {
	var (
		ns    NetStats
		mode  bool
		other []string
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		raw := strings.TrimRight(sc.Text(), "\r ")
		line := strings.TrimLeft(raw, " \t")
		indent := len(raw) - len(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "Read Repair Statistics") || strings.HasPrefix(line, "Pool Name") {
			break
		}
		bad := func(why string) error {
			return fmt.Errorf("nodetool netstats line %d %q: %s", lineNo, line, why)
		}
		switch {
		case indent == 0 && strings.HasPrefix(line, "Mode:"):
			ns.Mode, mode = strings.TrimSpace(strings.TrimPrefix(line, "Mode:")), true
		case indent == 0 && strings.HasPrefix(line, "Not sending any streams"),
			indent == 0 && strings.HasPrefix(line, "Not receiving any streams"):
		case indent == 0 && mode && planRE.MatchString(line):
			m := planRE.FindStringSubmatch(line)
			ns.Streams = append(ns.Streams, StreamPlan{Description: m[1], PlanID: strings.ToLower(m[2])})
		case indent == 0:
			other = append(other, line)
		case len(ns.Streams) == 0:
			return ns, bad("indented line outside a stream plan")
		case indent <= 4:
			m := peerRE.FindStringSubmatch(line)
			if m == nil {
				return ns, bad("not a peer")
			}
			p := &ns.Streams[len(ns.Streams)-1]
			p.Sessions = append(p.Sessions, StreamSession{Peer: m[1], Using: m[2]})
		case indent <= 8:
			p := &ns.Streams[len(ns.Streams)-1]
			if len(p.Sessions) == 0 {
				return ns, bad("summary outside a session")
			}
			s := &p.Sessions[len(p.Sessions)-1]
			if m := recvRE.FindStringSubmatch(line); m != nil {
				s.FilesToReceive, s.BytesToReceive, s.FilesReceived, s.BytesReceived = atoi64(m[1]), atoi64(m[2]), atoi64(m[3]), atoi64(m[4])
			} else if m := sendRE.FindStringSubmatch(line); m != nil {
				s.FilesToSend, s.BytesToSend, s.FilesSent, s.BytesSent = atoi64(m[1]), atoi64(m[2]), atoi64(m[3]), atoi64(m[4])
			} else {
				return ns, bad("not a Receiving/Sending summary")
			}
		default:
			// One file's progress: the summaries already count it.
		}
	}
	if err := sc.Err(); err != nil {
		return ns, fmt.Errorf("nodetool netstats: %w", err)
	}
	if !mode {
		if len(other) > 0 {
			return ns, fmt.Errorf("%w: %s", ErrNotNetStats, strings.Join(other, " "))
		}
		return ns, ErrNotNetStats
	}
	return ns, nil
}

// atoi64 parses a string of digits the regexps matched; it saturates
// instead of failing on overflow.
func atoi64(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 1<<63 - 1
	}
	return v
}
