package vm

import (
	"context"
	"time"
)

// Preflighter is implemented by backends that can run a plan's preflight
// checks on their own, while the plan is shown and before the operator
// confirms it. Backends that cannot simply omit it; the console then shows
// the checks as not yet checked (the run checks them anyway).
type Preflighter interface {
	// Preflight runs the checks of the plan planID (a PlanView.ID returned by
	// PlanWorkflow) without taking the cluster lock or journalling, and
	// returns one result per check, in the plan's order.
	Preflight(ctx context.Context, planID string) ([]CheckView, error)
}

// CheckView is the result of one preflight check.
type CheckView struct {
	Name        string
	Description string
	// OK is true when the check holds. Reason says why it does not.
	OK     bool
	Reason string
}

// RunDetailer is implemented by backends that can show one journalled run
// in full (the console's run detail, Enter on :runs or :audit).
type RunDetailer interface {
	// RunDetail returns run id as the journal and its per-host logs have it.
	RunDetail(ctx context.Context, id string) (RunDetail, error)
}

// RunDetail is one run in full: every step, the error, what the cleanup
// steps did and every host's output.
type RunDetail struct {
	// Run is the run's line in :runs (full ID, kind, state, times).
	Run      RunView
	Operator string
	// Error is the run's final error, whole.
	Error  string
	Canary bool
	// Markers are the cluster-state markers still set, e.g.
	// "scalardl-paused (set by pause-scalardl at 12:01:02)".
	Markers []string
	Steps   []RunStepView
	// Output holds each host's log, in the order hosts first appear in
	// Steps ("" is the cluster-wide log).
	Output []HostOutput
}

// RunStepView is one journalled step.
type RunStepView struct {
	ID       string
	Title    string
	Host     string
	Status   string // the journal's word: pending, running, done, failed, canceled, skipped
	Error    string
	Commands []string
	Attempts int
	Started  time.Time
	Ended    time.Time
	// Cleanup steps run even after a failure or a cancel (unpause, rollback).
	Cleanup bool
	// Detached says where a detached command ran, e.g. "cassandra-1:.scalar-tui/runs/…".
	Detached string
}

// HostOutput is one host's output during a run.
type HostOutput struct {
	Host  string
	Lines []string
}
