package sshx

import (
	"fmt"
	"strings"
	"sync"
)

// MaxLineBytes is the longest output line Run passes on; the rest of a longer
// line is dropped and the line ends with LineCutMarker. A remote command that
// prints hundreds of megabytes without a newline cannot fill the console's
// memory.
const MaxLineBytes = 64 << 10

// LineCutMarker ends a line that was longer than MaxLineBytes.
const LineCutMarker = " [scalar-tui: line cut at 64 KiB]"

// MaxCapturedOutput is the default bound of a Tail: the last 1 MiB of a
// stream is kept.
const MaxCapturedOutput = 1 << 20

// Tail captures the lines of a command's output stream and keeps only the
// last Limit bytes of them, counting what it dropped. It is safe for
// concurrent use; its Line method fits RunOptions.Stdout and Stderr.
type Tail struct {
	// Limit is the number of bytes kept (default MaxCapturedOutput).
	Limit int

	mu      sync.Mutex
	lines   []string // ring of kept lines, oldest first from head
	head    int
	size    int // bytes kept, newlines included
	dropped int64
	cutAt   int // the limit that applied when dropping
}

// Line adds one line (without its newline).
func (t *Tail) Line(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	limit := t.Limit
	if limit <= 0 {
		limit = MaxCapturedOutput
	}
	if len(l)+1 > limit {
		t.dropped += int64(len(l) + 1 - limit)
		t.cutAt = limit
		l = l[len(l)+1-limit:]
	}
	t.lines = append(t.lines, l)
	t.size += len(l) + 1
	for t.size > limit {
		old := t.lines[t.head]
		t.lines[t.head] = ""
		t.head++
		t.size -= len(old) + 1
		t.dropped += int64(len(old) + 1)
		t.cutAt = limit
	}
	// Compact once the dropped prefix dominates, so memory stays bounded.
	if t.head > 1024 && t.head > len(t.lines)/2 {
		t.lines = append([]string(nil), t.lines[t.head:]...)
		t.head = 0
	}
}

// Cut reports how many bytes were dropped from the start of the output.
func (t *Tail) Cut() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

// String returns the kept lines, each ending in a newline. When output was
// dropped, the first line says so (CutNotice), so that whoever reads it knows
// the start is missing.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	if t.dropped > 0 {
		b.WriteString(CutNotice(t.dropped, t.cutAt))
		b.WriteByte('\n')
	}
	for _, l := range t.lines[t.head:] {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// CutNotice is the line that starts a Tail's text when its start was dropped.
func CutNotice(dropped int64, kept int) string {
	return fmt.Sprintf("[scalar-tui: output cut: the first %d bytes were dropped, the last %d kept]", dropped, kept)
}
