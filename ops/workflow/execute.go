package workflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// execute runs a plan whose journal is st: the cluster lock, the markers'
// compensations (on a resume), preflight, then the steps, group by group,
// stopping at a canary or pause point; every way out goes through finish.
func (e *Engine) execute(ctx context.Context, p *Plan, st *RunState, resumed bool) (status Status, err error) {
	rc := &runCtx{st: st, plan: p, e: e, index: make(map[string]int, len(p.Steps))}
	stepIDs := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		rc.index[s.ID] = i
		stepIDs[i] = s.ID
	}
	ctx = e.auditScope(ctx, rc)
	defer rc.closeLogs()
	runID := st.ID
	unlock, lerr := lockLocal(e.stateDir, runID)
	if lerr != nil {
		return StatusRefused, &RefusedError{Reason: lerr}
	}
	defer unlock()
	e.emit(&PlanEvent{Header: Header{Run: runID}, Workflow: p.Workflow, Steps: stepIDs, Resumed: resumed})

	// The lock comes first so that nothing changes between preflight and steps.
	if !p.ReadOnly && e.lock != nil {
		lock := &ClusterLock{R: auditingRunner{e: e, rc: rc}, Path: e.lock.Path}
		if s, lerr, ok := e.takeLock(ctx, rc, lock, resumed); !ok {
			return s, lerr
		}
		defer func() { e.releaseLock(ctx, rc, lock, status, &err) }()
	}
	host, _ := os.Hostname()
	if uerr := rc.update(func(st *RunState) {
		st.Status, st.Error, st.Left = StatusRunning, "", nil
		st.PID, st.Hostname = os.Getpid(), host
		if st.Deployment == "" {
			st.Deployment = e.deployment
		}
	}); uerr != nil {
		return e.finish(rc, StatusFailed, fmt.Errorf("journal: %w", uerr))
	}

	// Compensations for cluster-state markers left set by a crash run first,
	// before preflight: a check such as "nothing is paused" must not stop the
	// run that is about to unpause.
	if resumed {
		if cerr := e.compensateMarkers(ctx, rc); cerr != nil {
			return e.finish(rc, StatusFailed, cerr)
		}
	}
	if s, perr := e.preflight(ctx, rc); perr != nil {
		return e.finish(rc, s, perr)
	}
	return e.runSteps(ctx, rc)
}

// finish ends the run with status s (and ferr): the journal says how it
// ended and what it left in the cluster, and a Finished event says so,
// except at a canary or pause stop held by HoldAtStops (Paused says it once
// the lock is released). A journal that could not be written turns a clean
// end into a failure.
func (e *Engine) finish(rc *runCtx, s Status, ferr error) (Status, error) {
	runID, p := rc.st.ID, rc.plan
	msg := ""
	if ferr != nil {
		msg = e.red.Redact(ferr.Error())
	}
	var left []Leftover
	_ = rc.update(func(st *RunState) {
		st.Left = leftovers(st, rc.left, s, p.Compensations)
		left = st.Left
		st.Status = s
		st.Error = msg
	})
	if len(left) > 0 && s != StatusDone {
		parts := make([]string, len(left))
		for i, l := range left {
			parts[i] = l.String()
		}
		if msg == "" {
			msg = string(s)
		}
		msg += "; left in the cluster: " + strings.Join(parts, "; ")
	}
	if ferr == nil && rc.saveErr != nil {
		s, ferr = StatusFailed, fmt.Errorf("journal: %w", rc.saveErr)
		msg = ferr.Error()
	}
	if e.hold.Load() && (s == StatusPaused || s == StatusCanaryWait) {
		// holdAtStops says Paused once the lock is released.
		return s, ferr
	}
	e.emit(&Finished{Header: Header{Run: runID}, Status: s, Err: msg})
	return s, ferr
}

// takeLock takes the cluster lock for the run. When it cannot, ok is false
// and status and err are how the run ends: a new run's journal says so
// (finish); a resumed run's journal is left as it was, still resumable.
func (e *Engine) takeLock(ctx context.Context, rc *runCtx, lock *ClusterLock, resumed bool) (status Status, err error, ok bool) {
	runID := rc.st.ID
	// Taking the lock is one short script on the bastion: mkdir, then the
	// owner file. A signal must not cut it between the two: that leaves a
	// lock without an owner, which no release removes (seen with SIGTERM
	// right after a console run started). So it runs to its end, bounded,
	// and a run canceled meanwhile ends through finish and releases it.
	actx, acancel := bounded(ctx, lockTakeTimeout)
	lerr := lock.acquire(actx, e.operator, runID, e.now(), resumed && e.takeover == runID)
	acancel()
	if lerr == nil {
		e.emit(&Notice{Header: Header{Run: runID}, Message: "cluster lock taken (" + lock.path() + ")"})
		if !e.noMirror {
			rc.mu.Lock()
			rc.mirror = lock
			rc.mu.Unlock()
		}
		return "", nil, true
	}
	// The bastion may have taken the lock before the command was cut (a
	// signal, an SSH drop): the answer never came back, so a new run
	// releases what may be its own lock; a resumed run leaves a lock it held
	// before alone (a detached run's command may still run under it).
	if errors.Is(lerr, errLockUnanswered) && !resumed {
		rctx, cancel := bounded(ctx, cleanupTimeout)
		if rerr := lock.Release(rctx, runID); rerr != nil {
			lerr = fmt.Errorf("%w; the lock may be held by this run on the bastion and could not be released (%v): `scalar-tui unlock` shows it", lerr, rerr)
		} else {
			lerr = fmt.Errorf("%w; the lock was released again", lerr)
		}
		cancel()
	}
	status = StatusRefused
	if ctx.Err() != nil {
		status = StatusCanceled
	}
	if resumed {
		// Leave the journal as it was: the run is still resumable.
		e.emit(&Finished{Header: Header{Run: runID}, Status: status, Err: lerr.Error()})
		return status, lerr, false
	}
	if status == StatusCanceled {
		lerr = fmt.Errorf("canceled while taking the cluster lock, before any step: %w", lerr)
	}
	status, err = e.finish(rc, status, lerr)
	return status, err, false
}

// releaseLock releases the run's cluster lock at its end (a release error
// becomes the run's error when it had none), except for a run left detached
// on purpose: its remote command goes on, so the lock stays with the run,
// saying so, until Resume re-attaches and finishes it.
func (e *Engine) releaseLock(ctx context.Context, rc *runCtx, lock *ClusterLock, status Status, err *error) {
	runID := rc.st.ID
	rctx, cancel := bounded(ctx, cleanupTimeout)
	defer cancel()
	if status == StatusDetached {
		if serr := lock.SetState(rctx, runID, LockStateDetached, detachedNote(rc)); serr != nil {
			e.emit(&Notice{Header: Header{Run: runID}, Message: "could not mark the cluster lock detached: " + serr.Error()})
		} else {
			e.emit(&Notice{Header: Header{Run: runID}, Message: "cluster lock kept for run " + runID + " (" + lock.path() + "): its remote command is still running"})
		}
		return
	}
	if rerr := lock.Release(rctx, runID); rerr != nil {
		e.emit(&Notice{Header: Header{Run: runID}, Message: "could not release the cluster lock: " + rerr.Error()})
		if *err == nil {
			*err = rerr
		}
	}
}

// compensateMarkers runs, in marker order, the compensation of every
// cluster-state marker a crashed run left set.
func (e *Engine) compensateMarkers(ctx context.Context, rc *runCtx) error {
	st, p := rc.st, rc.plan
	keys := make([]string, 0, len(st.Markers))
	for k := range st.Markers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		comp, ok := p.Compensations[k]
		if !ok {
			continue
		}
		e.emit(&Notice{Header: Header{Run: st.ID}, Message: fmt.Sprintf("marker %s is set: running %s first", k, comp.ID)})
		if cerr := e.runStepBody(ctx, rc, &comp, nil, false); cerr != nil {
			return fmt.Errorf("compensation %s for marker %s: %w", comp.ID, k, cerr)
		}
	}
	return nil
}

// preflight runs the plan's checks in order; the first that fails refuses
// the run (or cancels it, when ctx ended).
func (e *Engine) preflight(ctx context.Context, rc *runCtx) (Status, error) {
	env := &Env{e: e, rc: rc}
	for _, c := range rc.plan.Preflight {
		if c.Run == nil {
			continue
		}
		if cerr := c.Run(ctx, env); cerr != nil {
			if ctx.Err() != nil {
				return StatusCanceled, fmt.Errorf("preflight %s: %w", c.Name, ctx.Err())
			}
			return StatusRefused, &RefusedError{Check: c.Name, Reason: cerr}
		}
		e.emit(&Notice{Header: Header{Run: rc.st.ID}, Message: "preflight " + c.Name + ": ok"})
	}
	return "", nil
}

// outcome gathers how the steps went: the first error, and whether the run
// was canceled or left detached.
type outcome struct {
	firstErr      error
	canceled      bool
	detached      bool // a detached command was left running on purpose
	detachSkipped bool // steps were skipped because of RequestDetach
}

// stop records a step's error.
func (o *outcome) stop(ctx context.Context, serr error) {
	var lre *LeftRunningError
	if errors.As(serr, &lre) && lre.OnPurpose {
		o.detached = true
	}
	if o.firstErr == nil {
		o.firstErr = serr
	}
	if ctx.Err() != nil || errors.Is(serr, context.Canceled) {
		o.canceled = true
	}
}

// canaryRange returns the canary host (the first host of a step) and the
// index of its last step, or "" and -1 when the run has no canary stop.
func canaryRange(p *Plan, st *RunState) (host string, last int) {
	last = -1
	if !st.Canary || st.CanaryDone {
		return "", -1
	}
	for i, s := range p.Steps {
		if s.Host == "" {
			continue
		}
		if host == "" {
			host = s.Host
		}
		if s.Host == host {
			last = i
		}
	}
	return host, last
}

// runSteps runs the steps not yet done, a group of Parallel steps at a
// time; after an error, a cancel or a detach request only cleanup steps
// run, the others are skipped with the reason. Between groups the run
// stops after the canary host and at a pause request, unless a
// cluster-state marker is set (Scalar DL paused): never stop there.
func (e *Engine) runSteps(ctx context.Context, rc *runCtx) (Status, error) {
	p, st, runID := rc.plan, rc.st, rc.st.ID
	var o outcome
	canaryHost, lastCanaryStep := canaryRange(p, st)
	for i := 0; i < len(p.Steps); {
		j := i + 1
		if g := p.Steps[i].Parallel; g != "" {
			for j < len(p.Steps) && p.Steps[j].Parallel == g {
				j++
			}
		}
		for _, serr := range e.runGroup(ctx, rc, e.groupToRun(ctx, rc, &o, i, j)) {
			if serr != nil {
				o.stop(ctx, serr)
			}
		}
		i = j
		if o.firstErr != nil || ctx.Err() != nil || i >= len(p.Steps) || !e.hasWork(p, st, i) {
			continue
		}
		markersSet := clusterStateMarkers(rc.markers()) > 0
		if lastCanaryStep >= 0 && i > lastCanaryStep && !markersSet {
			_ = rc.update(func(st *RunState) { st.CanaryDone = true })
			return e.finish(rc, StatusCanaryWait, fmt.Errorf("canary host %s done; check it, then resume run %s", canaryHost, runID))
		}
		if e.pause.Load() && !markersSet {
			return e.finish(rc, StatusPaused, fmt.Errorf("paused by the operator; resume run %s to continue", runID))
		}
	}
	switch {
	case o.detached:
		return e.finish(rc, StatusDetached, fmt.Errorf("run %s left detached on purpose; `scalar-tui resume %s` re-attaches", runID, runID))
	case o.detachSkipped && o.firstErr == nil && ctx.Err() == nil:
		// Asked to detach while nothing detached was running: a pause.
		return e.finish(rc, StatusPaused, fmt.Errorf("stopped by the operator with nothing left running; resume run %s to continue", runID))
	case o.canceled || ctx.Err() != nil:
		cerr := o.firstErr
		if cerr == nil || !errors.Is(cerr, context.Canceled) {
			cerr = fmt.Errorf("run %s canceled: %w", runID, context.Canceled)
		}
		return e.finish(rc, StatusCanceled, cerr)
	case o.firstErr != nil:
		return e.finish(rc, StatusFailed, o.firstErr)
	}
	return e.finish(rc, StatusDone, nil)
}

// groupToRun returns the steps of [i, j) to run now: not done or skipped
// already, and, once the run is stopping, only cleanup steps; the others are
// journalled skipped with the reason.
func (e *Engine) groupToRun(ctx context.Context, rc *runCtx, o *outcome, i, j int) []int {
	p := rc.plan
	var group []int
	for k := i; k < j; k++ {
		ss := &rc.st.Steps[k]
		if ss.Status == StatusDone || ss.Status == StatusSkipped {
			continue
		}
		s := &p.Steps[k]
		if (o.firstErr != nil || ctx.Err() != nil || e.detachReq.Load()) && !s.Cleanup {
			reason := "an earlier step failed"
			switch {
			case o.detached || (o.firstErr == nil && e.detachReq.Load()):
				reason = "the run was left detached"
				o.detachSkipped = true
			case o.canceled || ctx.Err() != nil:
				reason = "the run was canceled"
			}
			_ = rc.update(func(st *RunState) { st.Steps[k].Status = StatusSkipped; st.Steps[k].Error = reason })
			e.emit(&StepSkipped{Header: Header{Run: rc.st.ID}, Step: s.ID, Index: k, Host: s.Host, Reason: reason})
			continue
		}
		group = append(group, k)
	}
	return group
}

// runGroup runs the steps of group, concurrently when there are several,
// and returns their errors in order. A cleanup step that runs after a
// cancel gets a bounded context of its own.
func (e *Engine) runGroup(ctx context.Context, rc *runCtx, group []int) []error {
	errs := make([]error, len(group))
	var wg sync.WaitGroup
	for gi, k := range group {
		sctx := ctx
		var cancel context.CancelFunc = func() {}
		if rc.plan.Steps[k].Cleanup && ctx.Err() != nil {
			sctx, cancel = bounded(ctx, cleanupTimeout)
		}
		if len(group) == 1 {
			errs[gi] = e.runStep(sctx, rc, k)
			cancel()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			errs[gi] = e.runStep(sctx, rc, k)
		}()
	}
	wg.Wait()
	return errs
}
