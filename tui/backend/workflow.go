package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	_ "scalar-tui/ops/workflow/catalog" // every workflow kind
	"scalar-tui/ops/workflow/silence"
	"scalar-tui/tui/vm"
)

// PlanWorkflow builds the plan of kind through the workflow catalog and
// keeps it, keyed by its ID, for StartWorkflow: what the operator confirmed
// is exactly what runs.
func (b *Backend) PlanWorkflow(ctx context.Context, kind vm.WorkflowKind, params vm.WorkflowParams) (vm.PlanView, error) {
	if b.cfg.Workflows == nil {
		return vm.PlanView{}, fmt.Errorf("workflows: %w", vm.ErrNotSupported)
	}
	if !canaryHonoured(kind) {
		params.Canary = false
	}
	inv, client, err := b.session(ctx)
	if err != nil {
		return vm.PlanView{}, err
	}
	if kind == vm.KindRestore {
		// The plan is built for this deployment; the console makes the
		// operator type its name in the confirm dialog (ConfirmName).
		opts := map[string]string{}
		for k, v := range params.Options {
			opts[k] = v
		}
		opts["confirm-deployment"] = inv.NetworkName
		params.Options = opts
	}
	plan, err := PlanKind(ctx, b.cfg.Workflows, inv, client, kind, params)
	if err != nil {
		return vm.PlanView{}, err
	}
	plan.ID = workflow.UniqueRunID(plan.ID)
	b.mu.Lock()
	b.plans[plan.ID] = plannedRun{plan: plan, kind: kind, canary: params.Canary}
	b.mu.Unlock()
	pv := PlanView(plan, kind, params)
	if kind == vm.KindRestore {
		pv.ConfirmName = inv.NetworkName
	}
	return pv, nil
}

// PlanKind builds the plan of kind through the workflow catalog for the
// console, from the console's parameters, wrapped in the Alertmanager
// silence the CLI would make. Nothing runs.
func PlanKind(ctx context.Context, w *Workflows, inv *inventory.Inventory, client *sshx.Client, kind vm.WorkflowKind, params vm.WorkflowParams) (*workflow.Plan, error) {
	k, ok := workflow.Lookup(string(kind))
	if !ok || k.Plan == nil {
		return nil, fmt.Errorf("%s: %w", kind, vm.ErrNotSupported)
	}
	var defs map[string]string
	if w.Defaults != nil {
		defs = w.Defaults(k.Name)
	}
	v, noSilence, err := kindValues(k, defs, params)
	if err != nil {
		return nil, err
	}
	d := w.Deps(inv, client)
	d.Console = true
	plan, err := k.Plan(ctx, d, v)
	if err != nil {
		return nil, err
	}
	if err := silence.Around(inv, client.DialContext, plan, noSilence || k.NoSilence); err != nil {
		return nil, err
	}
	return plan, nil
}

// kindValues maps the console's parameters onto k's typed options, over
// the deployment's defaults (defs), over the kind's console defaults:
// Options by flag name (the upgrade's tag is its "to"), Hosts its --host
// (all of them where the option repeats), Args[0] its positional option.
// no-silence is every kind's shared flag, not an option of the kind.
func kindValues(k *workflow.Kind, defs map[string]string, p vm.WorkflowParams) (workflow.Values, bool, error) {
	opts := map[string]string{}
	for n, x := range k.ConsoleDefaults {
		opts[n] = x
	}
	for n, x := range defs {
		opts[n] = x
	}
	for n, x := range p.Options {
		opts[n] = x
	}
	noSilence := opts["no-silence"] == "true"
	if _, own := k.Option("no-silence"); !own {
		delete(opts, "no-silence")
	}
	if len(p.Args) > 0 && k.Arg != "" {
		opts[k.Arg] = p.Args[0]
	}
	v, err := k.Parse(opts)
	if err != nil {
		return nil, false, err
	}
	if o, ok := k.Option("host"); ok && len(p.Hosts) > 0 && opts["host"] == "" {
		switch o.Type {
		case workflow.OptStringArray, workflow.OptStringList:
			v["host"] = append([]string(nil), p.Hosts...)
		default:
			v["host"] = p.Hosts[0]
		}
	}
	v["no-silence"] = noSilence
	if k.Validate != nil {
		if err := k.Validate(v); err != nil {
			if !strings.HasPrefix(err.Error(), k.Name) {
				err = fmt.Errorf("%s: %w", k.Name, err)
			}
			return nil, false, err
		}
	}
	return v, noSilence, nil
}

// canaryHonoured reports whether kind stops after its first host when run
// with a canary: not where the catalog says a canary means nothing (the CLI
// hides its --canary). A backup pauses every Scalar DL node at once and the
// engine never stops while that marker is set; a restore stops the whole
// cluster in one run.
func canaryHonoured(kind vm.WorkflowKind) bool {
	k, ok := workflow.Lookup(string(kind))
	return !ok || !k.HiddenCanary
}

// PlanView maps a workflow plan onto the console's view model.
func PlanView(p *workflow.Plan, kind vm.WorkflowKind, params vm.WorkflowParams) vm.PlanView {
	v := vm.PlanView{ID: p.ID, Kind: kind, Title: p.Workflow, Params: params,
		CanaryOK: canaryHonoured(kind), Lines: p.Lines()}
	for _, c := range p.Preflight {
		v.Checks = append(v.Checks, c.Description)
	}
	for _, s := range p.Steps {
		sv := vm.StepView{Title: s.Title, Host: s.Host, Commands: s.Commands}
		if s.Gate != nil {
			sv.Gate = s.Gate.Description
			if sv.Gate == "" {
				sv.Gate = s.Gate.Name
			}
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

// StartWorkflow runs the plan the operator confirmed. Events are mapped onto
// the view model and sent on the returned channel, closed after Finished.
func (b *Backend) StartWorkflow(ctx context.Context, pv vm.PlanView) (<-chan vm.WorkflowEvent, vm.WorkflowControl, error) {
	b.mu.Lock()
	pr, ok := b.plans[pv.ID]
	b.mu.Unlock()
	if !ok {
		return nil, nil, fmt.Errorf("plan %s is no longer available: plan again", pv.ID)
	}
	_, client, err := b.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	ch, ctl := b.run(ctx, client, pr.plan, pr.canary, func(eng *workflow.Engine, runCtx context.Context) (workflow.Status, error) {
		return eng.Run(runCtx, pr.plan)
	})
	return ch, ctl, nil
}

// ResumeWorkflow continues a journalled run: the plan is rebuilt from its
// parameters, markers still set are compensated first (Scalar DL unpaused),
// and the steps not done run.
func (b *Backend) ResumeWorkflow(ctx context.Context, id string) (vm.PlanView, <-chan vm.WorkflowEvent, vm.WorkflowControl, error) {
	if b.cfg.Workflows == nil {
		return vm.PlanView{}, nil, nil, fmt.Errorf("workflows: %w", vm.ErrNotSupported)
	}
	st, err := workflow.LoadRun(b.cfg.StateDir, id)
	if err != nil {
		return vm.PlanView{}, nil, nil, err
	}
	if st.Status == workflow.StatusDone {
		return vm.PlanView{}, nil, nil, fmt.Errorf("run %s already finished: nothing to resume", id)
	}
	inv, client, err := b.session(ctx)
	if err != nil {
		return vm.PlanView{}, nil, nil, err
	}
	plan, err := b.rebuild(ctx, inv, client, st)
	if err != nil {
		return vm.PlanView{}, nil, nil, fmt.Errorf("rebuild the plan of run %s: %w", id, err)
	}
	plan.ID = st.ID
	pv := PlanView(plan, vm.WorkflowKind(st.Workflow), vm.WorkflowParams{})
	for i, s := range plan.Steps {
		if ss := st.Step(s.ID); ss != nil && ss.Status == workflow.StatusDone {
			pv.DoneSteps = append(pv.DoneSteps, i)
		}
	}
	ch, ctl := b.run(ctx, client, plan, false, func(eng *workflow.Engine, runCtx context.Context) (workflow.Status, error) {
		return eng.Resume(runCtx, st.ID, plan)
	})
	return pv, ch, ctl, nil
}

// rebuild rebuilds a journalled run's plan with its kind's Resume, as
// `scalar-tui resume` does, wrapped again in its silence if it had one.
func (b *Backend) rebuild(ctx context.Context, inv *inventory.Inventory, client *sshx.Client, st *workflow.RunState) (*workflow.Plan, error) {
	k, ok := workflow.Lookup(st.Workflow)
	if !ok || k.Resume == nil {
		return nil, fmt.Errorf("run %s is a %s workflow, which this build cannot resume", st.ID, st.Workflow)
	}
	p, err := k.Resume(ctx, b.cfg.Workflows.Deps(inv, client), st.Params)
	if err != nil {
		return nil, err
	}
	if silence.Wrapped(st) {
		if err := silence.Around(inv, client.DialContext, p, false); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// run starts plan in the background with start and forwards its events. The
// engine holds at pauses and canary stops (Engine.HoldAtStops) until the
// control's Continue or Cancel.
func (b *Backend) run(ctx context.Context, client *sshx.Client, plan *workflow.Plan, canary bool,
	start func(*workflow.Engine, context.Context) (workflow.Status, error)) (<-chan vm.WorkflowEvent, vm.WorkflowControl) {
	ch := make(chan vm.WorkflowEvent, 256)
	runCtx, cancel := context.WithCancel(ctx)
	ctl := &control{cancel: cancel}
	b.mu.Lock()
	b.runs[ctl] = struct{}{}
	b.runsWG.Add(1)
	b.mu.Unlock()
	// ended is called once the engine has returned (its cleanup done, the
	// lock released, the journal final), before the last event is sent.
	var endOnce sync.Once
	ended := func() {
		endOnce.Do(func() {
			b.mu.Lock()
			delete(b.runs, ctl)
			b.mu.Unlock()
			b.runsWG.Done()
		})
	}
	// finished is the engine's Finished, held back until the engine has
	// returned; fmu guards it because parallel steps report events from
	// their own goroutines.
	var (
		fmu      sync.Mutex
		finished *workflow.Finished
	)
	onEvent := func(e workflow.Event) {
		if f, ok := e.(*workflow.Finished); ok {
			fmu.Lock()
			finished = f
			fmu.Unlock()
			return
		}
		// Never block the engine for long: the console drains the channel.
		select {
		case ch <- e:
		case <-runCtx.Done():
		}
	}
	go func() {
		defer close(ch)
		defer cancel()
		defer ended()
		eng := b.cfg.Workflows.Engine(client, onEvent, canary)
		eng.HoldAtStops(true)
		ctl.setEngine(eng)
		status, err := start(eng, runCtx)
		fmu.Lock()
		f := finished
		fmu.Unlock()
		if f == nil {
			// Refused before the run started: the engine said nothing.
			f = &workflow.Finished{Header: workflow.Header{Run: plan.ID, Time: time.Now().UTC()}, Status: status}
		}
		if f.Err == "" && status != workflow.StatusDone {
			f.Err = string(status)
			if err != nil {
				f.Err = err.Error()
			}
		}
		ended()
		// Finished must arrive: the console waits for it to end the run;
		// but a console that has gone (Shutdown) does not hold it long.
		if runCtx.Err() == nil {
			ch <- f
			return
		}
		select {
		case ch <- f:
		case <-time.After(5 * time.Second):
		}
	}()
	return ch, ctl
}

// control implements vm.WorkflowControl over one run.
type control struct {
	cancel context.CancelFunc

	mu  sync.Mutex
	eng *workflow.Engine
}

func (c *control) setEngine(e *workflow.Engine) {
	c.mu.Lock()
	c.eng = e
	c.mu.Unlock()
}

func (c *control) engine() (*workflow.Engine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eng == nil {
		return nil, errors.New("the run has not started")
	}
	return c.eng, nil
}

// Pause asks the engine to stop after the current step.
func (c *control) Pause(ctx context.Context) error {
	eng, err := c.engine()
	if err != nil {
		return err
	}
	eng.RequestPause()
	return nil
}

// Continue lets a paused or canary-stopped run go on.
func (c *control) Continue(ctx context.Context) error {
	eng, err := c.engine()
	if err != nil {
		return err
	}
	eng.Continue()
	return nil
}

// Cancel stops the run; cleanup steps still run inside the engine.
func (c *control) Cancel() { c.cancel() }

// Preflight runs the preflight checks of a plan PlanWorkflow returned, with
// no lock and no journal (workflow.Engine.Preflight), so the console can
// show each check's result before the operator confirms.
func (b *Backend) Preflight(ctx context.Context, planID string) ([]vm.CheckView, error) {
	if b.cfg.Workflows == nil {
		return nil, fmt.Errorf("workflows: %w", vm.ErrNotSupported)
	}
	b.mu.Lock()
	pr, ok := b.plans[planID]
	b.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("plan %s is no longer available: plan again", planID)
	}
	_, client, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	res, err := b.cfg.Workflows.Engine(client, nil, false).Preflight(ctx, pr.plan)
	if err != nil {
		return nil, err
	}
	out := make([]vm.CheckView, 0, len(res))
	for _, r := range res {
		c := vm.CheckView{Name: r.Name, Description: r.Description, OK: r.Err == nil}
		if r.Err != nil {
			c.Reason = r.Err.Error()
		}
		out = append(out, c)
	}
	return out, nil
}

// Detach stops following the run's detached remote command and leaves it
// running on purpose (a long repair): the run ends "detached", keeps the
// cluster lock, says what still runs where, and resume re-attaches. The
// console may offer it through interface{ Detach(context.Context) error }.
func (c *control) Detach(ctx context.Context) error {
	eng, err := c.engine()
	if err != nil {
		return err
	}
	eng.RequestDetach()
	return nil
}

// RunningWorkflows is how many workflows this backend started are still
// running (their engine has not returned).
func (b *Backend) RunningWorkflows() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.runs)
}

// Shutdown cancels every workflow this backend runs and waits until each
// has gone through the engine's cleanup (cleanup steps such as unpause,
// detached commands stopped or recorded as left, the final status
// journalled, the cluster lock released), or until ctx ends. The console
// calls it when it exits for any reason (quit, Ctrl-C, SIGTERM, SIGHUP),
// before Close. It returns ctx's error when the wait was cut short.
func (b *Backend) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	for c := range b.runs {
		c.Cancel()
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.runsWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("workflows still running after cancel: %w", ctx.Err())
	}
}

// DiscardRun marks run id of this deployment discarded, so that it is no
// longer offered for resume (the console's discard action, `scalar-tui runs
// discard ID`). A run that still holds a cluster-state marker is refused:
// resume it, which undoes the marker first.
func (b *Backend) DiscardRun(ctx context.Context, id, note string) error {
	return workflow.Discard(b.cfg.StateDir, id, b.operator(), note, time.Now())
}

// LockHolder returns who holds the deployment's cluster lock (operator,
// host, run, since; State "detached" for a run left detached on purpose), or
// nil when it is free. It never takes the lock.
func (b *Backend) LockHolder(ctx context.Context) (*vm.LockView, error) {
	eng, err := b.lockEngine(ctx)
	if err != nil {
		return nil, err
	}
	o, err := eng.LockOwner(ctx)
	if err != nil || o == nil {
		return nil, err
	}
	v := lockView(*o)
	return &v, nil
}

// ForceUnlock breaks the deployment's cluster lock whoever holds it (the
// console's dangerous unlock action: show LockHolder first) and returns
// whose it was; workflow.ErrNotLocked when it was free. Audited.
func (b *Backend) ForceUnlock(ctx context.Context) (vm.LockView, error) {
	eng, err := b.lockEngine(ctx)
	if err != nil {
		return vm.LockView{}, err
	}
	// As `unlock --force`: a dead run that left Scalar DL paused must be
	// taken over (its compensation unpauses), not have its lock broken
	// under it. The console has no override; the CLI's --ignore-markers is.
	if holder, herr := eng.LockOwner(ctx); herr == nil && holder != nil && holder.Run != "" {
		if st, merr := eng.MirroredRun(ctx, holder.Run); merr == nil {
			if ms := workflow.CompensatingMarkers(st); len(ms) > 0 {
				return vm.LockView{}, fmt.Errorf("the lock is held by %s, whose run left the cluster in a state to undo (marker %s: Scalar DL may be paused); "+
					"breaking the lock would leave it so with nobody's journal to undo it: take the run over with `scalar-tui resume %s --takeover` (it unpauses first); "+
					"the lock was not broken", holder.Describe(time.Now()), strings.Join(ms, ", "), holder.Run)
			}
		}
	}
	o, err := eng.ForceUnlock(ctx)
	return lockView(o), err
}

// lockView maps a lock owner onto the console's view model.
func lockView(o workflow.LockOwner) vm.LockView {
	return vm.LockView{Operator: o.Operator, Run: o.Run, Since: o.Since, Host: o.Host, PID: o.PID,
		Detached: o.State == workflow.LockStateDetached, Note: o.Note}
}

func (b *Backend) lockEngine(ctx context.Context) (*workflow.Engine, error) {
	if b.cfg.Workflows == nil {
		return nil, fmt.Errorf("cluster lock: %w", vm.ErrNotSupported)
	}
	_, client, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	return b.cfg.Workflows.Engine(client, nil, false), nil
}

func (b *Backend) operator() string { return workflow.Operator() }
