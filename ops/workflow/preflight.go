package workflow

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// CheckResult is the outcome of one preflight check run by Engine.Preflight.
type CheckResult struct {
	Name        string
	Description string
	// Err is nil when the check holds; otherwise it says why a run of the
	// plan would be refused now.
	Err error
	// NotRun is set for a check without a Run function (nothing to check).
	NotRun bool
}

// Preflight runs p's preflight checks now, every one of them in order, and
// reports each result, so that an operator sees them beside the plan before
// confirming it. It does not take the cluster lock, writes no journal and
// emits no events; the checks' remote commands are audited under p.ID like
// any other command. A run still checks preflight again after taking the
// lock (Run): this answer is advice, not a reservation.
//
// It returns an error only when the checks could not be run at all (no
// runner, ctx canceled); a failed check is a CheckResult with Err set.
//
// Caveat: checks get an Env with no journal behind it: Markers is empty and
// SetMarker goes to a throw-away directory; a preflight check must not set
// markers.
func (e *Engine) Preflight(ctx context.Context, p *Plan) ([]CheckResult, error) {
	if e.r == nil {
		return nil, errors.New("engine has no runner")
	}
	// Per-host logs and anything journalled by mistake go to a scratch
	// state directory, removed afterwards: preflight leaves no run behind.
	scratch, err := os.MkdirTemp("", "scalar-tui-preflight-*")
	if err != nil {
		return nil, fmt.Errorf("preflight scratch dir: %w", err)
	}
	defer os.RemoveAll(scratch)
	pe := &Engine{r: e.r, det: e.det, stateDir: scratch, operator: e.operator, red: e.red,
		remote: e.remote, now: e.now, audit: e.audit}
	rc := &runCtx{st: &RunState{ID: p.ID, Workflow: p.Workflow, Operator: e.operator, Status: StatusPending}, plan: p, e: pe}
	defer rc.closeLogs()
	env := &Env{e: pe, rc: rc}
	out := make([]CheckResult, 0, len(p.Preflight))
	for _, c := range p.Preflight {
		r := CheckResult{Name: c.Name, Description: c.Description}
		if c.Run == nil {
			r.NotRun = true
			out = append(out, r)
			continue
		}
		if cerr := c.Run(ctx, env); cerr != nil {
			if ctx.Err() != nil {
				return out, fmt.Errorf("preflight %s: %w", c.Name, ctx.Err())
			}
			r.Err = errors.New(e.red.Redact(cerr.Error()))
		}
		out = append(out, r)
	}
	return out, nil
}
