package vm

import (
	"context"
	"time"
)

// LockView is who holds the cluster lock on the bastion (maps from
// workflow.LockOwner).
type LockView struct {
	Operator string
	Run      string
	Since    time.Time
	// Host and PID are the machine and process that took the lock.
	Host string
	PID  int
	// Detached is set when the run was left detached on purpose while its
	// remote command goes on; Note says what runs where.
	Detached bool
	Note     string
}

// Unlocker is implemented by backends that can show and break the cluster
// lock (the console's dangerous unlock action). Backends that cannot simply
// omit it; the console then says unlock is not supported.
type Unlocker interface {
	// LockHolder returns who holds the lock, or nil when it is free. It
	// never takes the lock.
	LockHolder(ctx context.Context) (*LockView, error)
	// ForceUnlock breaks the lock whoever holds it and returns whose it was;
	// an error (saying the cluster is not locked) when it was free.
	ForceUnlock(ctx context.Context) (LockView, error)
}

// Discarder is implemented by backends that can mark a journalled run
// discarded, so it is no longer offered for resume. Backends that cannot
// simply omit it.
type Discarder interface {
	// DiscardRun discards run id with the operator's note. It refuses a
	// run that is done, still live, or left a cluster-state marker set
	// (e.g. Scalar DL paused); the error says why and what to do.
	DiscardRun(ctx context.Context, id, note string) error
}
