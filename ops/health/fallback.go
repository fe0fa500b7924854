package health

import (
	"context"
	"errors"
	"sync"
)

// FallbackSource asks Primary (Prometheus) first and, while Primary cannot be
// reached at all (ErrUnreachable), answers from Fallback (scraping the
// exporters) instead, saying so in Snapshot.Source and Snapshot.Errors. It
// tries Primary again on every refresh, so it switches back by itself.
//
// Any other Primary error (401, a broken proxy) is returned as is: a wrong
// credential must not hide behind a silent fallback.
type FallbackSource struct {
	Primary  Source
	Fallback Source

	mu   sync.Mutex
	last error
}

// Snapshot implements Source.
func (f *FallbackSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	snap, err := f.Primary.Snapshot(ctx)
	if err == nil || !errors.Is(err, ErrUnreachable) || f.Fallback == nil {
		f.mu.Lock()
		f.last = nil // Primary answered (or failed in a way that is not a fallback)
		f.mu.Unlock()
		return snap, err
	}
	f.mu.Lock()
	f.last = err
	f.mu.Unlock()
	fs, ferr := f.Fallback.Snapshot(ctx)
	if fs == nil {
		return snap, errors.Join(err, ferr)
	}
	fs.Source += " (Prometheus unreachable)"
	fs.Errors = append([]QueryError{{Query: "prometheus", Message: err.Error(), Err: err}}, fs.Errors...)
	return fs, ferr
}

// PrimaryError is the error that made the last Snapshot fall back, or nil
// when the last Snapshot came from Primary.
func (f *FallbackSource) PrimaryError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}
