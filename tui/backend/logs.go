package backend

import (
	"context"
	"fmt"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/logs"
	"scalar-tui/tui/vm"
)

// LogBufferLines is how many lines a console log view keeps: the oldest go
// first, so a 1 GB log never grows the console's memory.
const LogBufferLines = 5000

// logBatchWait lets lines that arrive together reach the console as one
// update, so a busy log costs one redraw per batch, not per line.
const logBatchWait = 50 * time.Millisecond

var _ vm.LogStreamer = (*Backend)(nil)

// OpenLogs starts reading host's log through the bastion with ops/logs (the
// same reader as `scalar-tui logs`): Cassandra's system.log on Cassandra
// nodes, the role's container elsewhere.
func (b *Backend) OpenLogs(ctx context.Context, host string, o vm.LogOptions) (vm.LogStream, error) {
	inv, client, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	h, ok := findHost(inv, host)
	if !ok {
		return nil, fmt.Errorf("logs: %s is not in the inventory", host)
	}
	lo := logs.Options{Since: o.Since, Tail: o.Tail, Follow: o.Follow}
	src, err := logs.For(h, lo)
	if err != nil {
		return nil, err
	}
	return startLogStream(ctx, &logs.Follower{R: client, Source: src, Opts: lo}, LogBufferLines), nil
}

func findHost(inv *inventory.Inventory, name string) (inventory.Host, bool) {
	if inv == nil {
		return inventory.Host{}, false
	}
	for _, h := range inv.Hosts {
		if h.Name == name || h.Short == name {
			return h, true
		}
	}
	return inventory.Host{}, false
}

// logStream runs a logs.Follower into a bounded logs.Buffer and tells the
// console when something new is there (vm.LogStream).
type logStream struct {
	desc   string
	buf    *logs.Buffer
	cancel context.CancelFunc
	done   chan struct{}
	// wake holds one pending "something new" signal: signals coalesce, so
	// the reader never waits for the console.
	wake chan struct{}

	mu      sync.Mutex
	added   int
	notices []string
	err     error
}

// startLogStream runs f (its OnLine and OnNotice are replaced) until the
// stream is closed or the read ends by itself.
func startLogStream(ctx context.Context, f *logs.Follower, max int) *logStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &logStream{desc: f.Source.Desc, buf: logs.NewBuffer(max), cancel: cancel,
		done: make(chan struct{}), wake: make(chan struct{}, 1)}
	f.OnLine = func(l logs.Line) {
		s.buf.Add(l)
		s.mu.Lock()
		s.added++
		s.mu.Unlock()
		s.signal()
	}
	f.OnNotice = func(n logs.Notice) {
		s.mu.Lock()
		s.notices = append(s.notices, string(n))
		if len(s.notices) > 20 {
			s.notices = s.notices[len(s.notices)-20:]
		}
		s.mu.Unlock()
		s.signal()
	}
	go func() {
		err := f.Run(ctx)
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	}()
	return s
}

func (s *logStream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Desc implements vm.LogStream.
func (s *logStream) Desc() string { return s.desc }

// Next implements vm.LogStream.
func (s *logStream) Next(ctx context.Context) vm.LogUpdate {
	select {
	case <-s.wake:
		select {
		case <-time.After(logBatchWait):
		case <-s.done:
		case <-ctx.Done():
		}
	case <-s.done:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := vm.LogUpdate{New: s.added, Notices: s.notices}
	s.added, s.notices = 0, nil
	select {
	case <-s.done:
		u.Done, u.Err = true, s.err
	default:
		if ctx.Err() != nil {
			u.Done, u.Err = true, ctx.Err()
		}
	}
	return u
}

// Snapshot implements vm.LogStream.
func (s *logStream) Snapshot() vm.LogSnapshot {
	lines, dropped := s.buf.Lines()
	out := make([]vm.LogLine, len(lines))
	for i, l := range lines {
		out[i] = vm.LogLine{Text: l.Text, Cut: l.Cut}
	}
	return vm.LogSnapshot{Lines: out, Kept: s.buf.Len(), Dropped: dropped}
}

// SetFilter implements vm.LogStream.
func (s *logStream) SetFilter(expr string) error { return s.buf.SetFilter(expr) }

// Close implements vm.LogStream: it stops the follower and waits for it.
func (s *logStream) Close() {
	s.cancel()
	<-s.done
}
