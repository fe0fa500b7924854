package main

// Shared plumbing of the workflow commands (repair, resume; upgrade and backup
// build on it): load the deployment, connect SSH, build the plan, dry-run or
// confirm, run it on the engine, print events, map the outcome to an exit code.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
)

// workflowFlags are the flags every workflow command shares.
type workflowFlags struct {
	dryRun   bool
	yes      bool
	json     bool
	canary   bool
	lockPath string
	// detachOnCancel leaves a detached remote command running on Ctrl-C
	// (--leave-running-on-cancel).
	detachOnCancel bool
	// takeover (resume --takeover) continues another operator's dead run
	// from its journal on the bastion.
	takeover bool
	// noSilence (--no-silence) runs without an Alertmanager silence of the
	// touched hosts' alerts.
	noSilence bool
	// dep is the deployment the command works on, resolved once the
	// inventory is loaded (journal dir, lock path). Not a flag.
	dep deployment
	// redactor, when set by the command, hides secrets the plan's commands
	// carry (the plan builder may Add to it). Not a flag.
	redactor *workflow.Redactor
	// cancel, when the workflow registered a cancelReport, says what a
	// cancel really stopped. Not a flag.
	cancel *boundCancel
}

// cancelReport lets a workflow say truthfully what Ctrl-C stopped and what
// goes on (repair: the nodetool client stops, Cassandra's server-side repair
// does not). Either function may return "" for the generic wording.
type cancelReport struct {
	// canceling is printed when the cancel arrives.
	canceling func(p *workflow.Plan) string
	// report replaces "the remote command was stopped, ..." after the run
	// ended canceled; ctx is a fresh, bounded context.
	report func(ctx context.Context, p *workflow.Plan, inv *inventory.Inventory, cl *sshx.Client) string
}

var cancelReports = map[string]cancelReport{}

// registerCancelReport sets the cancelReport of workflowName's runs.
func registerCancelReport(workflowName string, r cancelReport) { cancelReports[workflowName] = r }

// boundCancel is a cancelReport bound to one run's plan and deployment.
type boundCancel struct {
	canceling string
	report    func(ctx context.Context) string
}

func bindCancelReport(p *workflow.Plan, inv *inventory.Inventory, cl *sshx.Client) *boundCancel {
	r, ok := cancelReports[p.Workflow]
	if !ok {
		return nil
	}
	b := &boundCancel{}
	if r.canceling != nil {
		b.canceling = r.canceling(p)
	}
	if r.report != nil {
		b.report = func(ctx context.Context) string { return r.report(ctx, p, inv, cl) }
	}
	return b
}

// addFlags registers the shared flags. canary is false for commands where a
// canary stop means nothing (resume keeps the journalled choice).
func (wf *workflowFlags) addFlags(f *pflag.FlagSet, canary bool) {
	f.BoolVar(&wf.yes, "yes", false, "do not ask for confirmation (required when stdin is not a terminal)")
	f.BoolVar(&wf.json, "json", false, "print events as JSON lines on stdout instead of text")
	if canary {
		f.BoolVar(&wf.dryRun, "dry-run", false, "print the plan (every remote command, preflight checks, gates) and exit; nothing is changed")
		f.BoolVar(&wf.canary, "canary", false, "stop after the first host with status canary-wait; continue with `scalar-tui resume ID`")
		f.BoolVar(&wf.noSilence, "no-silence", false, "do not silence the touched hosts' alerts in the monitor's Alertmanager while the run lasts")
	}
	f.BoolVar(&wf.detachOnCancel, "leave-running-on-cancel", false, "on Ctrl-C/SIGTERM/SIGHUP leave a detached remote command (a long repair) running on purpose: the run ends \"detached\", keeps the cluster lock, and `scalar-tui resume ID` re-attaches")
	addLockPathFlag(f, &wf.lockPath)
}

// addLockPathFlag registers the hidden --lock-path (tests and labs that share
// one bastion between several simulated clusters).
func addLockPathFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "lock-path", "", "cluster lock directory on the bastion (default /tmp/scalar-tui-<network>.lock)")
	_ = f.MarkHidden("lock-path")
}

// cmdStreams are a command's standard streams.
type cmdStreams struct {
	in       io.Reader
	out, err io.Writer
}

func streamsOf(cmd *cobra.Command) cmdStreams {
	return cmdStreams{in: cmd.InOrStdin(), out: cmd.OutOrStdout(), err: cmd.ErrOrStderr()}
}

// planBuilder builds a workflow's plan for the loaded deployment. Errors are
// input errors (exit code 2) unless already marked otherwise.
type planBuilder func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error)

// openDeployment loads the inventory and returns an SSH client for it. The
// client connects lazily; close it when done.
func openDeployment(ctx context.Context, g *globalOptions) (*inventory.Inventory, *sshx.Client, error) {
	inv, err := g.loadSSHInventory(ctx)
	if err != nil {
		return nil, nil, err
	}
	cl, err := g.sshClient(inv)
	if err != nil {
		return nil, nil, err
	}
	return inv, cl, nil
}

// runWorkflow runs a new workflow: load the deployment, connect, build the
// plan, then either print it (--dry-run, exit 0, no lock, no change) or
// confirm and run it. See docs/headless.md for the contract.
func runWorkflow(ctx context.Context, g *globalOptions, wf workflowFlags, s cmdStreams, build planBuilder) error {
	inv, cl, err := openDeployment(ctx, g)
	if err != nil {
		return err
	}
	defer cl.Close()
	wf.dep = g.deploymentOf(inv, wf.lockPath)
	p, err := build(ctx, inv, cl)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) || errors.Is(err, context.Canceled) {
			return err
		}
		return badInput(err)
	}
	if err := wrapSilence(inv, cl, p, wf.noSilence); err != nil {
		return err
	}
	p.ID = workflow.UniqueRunID(p.ID)
	if wf.dryRun {
		if err := p.Render(s.out); err != nil {
			return failed(err)
		}
		fmt.Fprintln(s.out, "\ndry run: nothing was changed and no lock was taken")
		return nil
	}
	if err := confirmPlan(wf, s, p, p.Workflow, "run"); err != nil {
		return err
	}
	opts := []workflow.Option{workflow.WithCanary(wf.canary)}
	wf.cancel = bindCancelReport(p, inv, cl)
	return execWorkflow(ctx, wf, s, cl, opts, p.ID, func(e *workflow.Engine) (workflow.Status, error) {
		return e.Run(ctx, p)
	})
}

// confirmPlan shows p and asks the operator to type its workflow name or
// "yes" unless --yes. Without --yes a stdin that is not a terminal is a
// refusal. verb is "run" or "resume".
func confirmPlan(wf workflowFlags, s cmdStreams, p *workflow.Plan, name, verb string) error {
	if wf.yes {
		if !wf.json {
			if err := p.Render(s.out); err != nil {
				return failed(err)
			}
			fmt.Fprintln(s.out)
		}
		return nil
	}
	if !stdinIsTerminal(s.in) {
		return badInput(fmt.Errorf("%s %s: stdin is not a terminal; review the plan with --dry-run, then pass --yes to %s without confirmation", verb, name, verb))
	}
	// The plan goes where the operator reads it; with --json stdout stays
	// JSON lines only.
	w := s.out
	if wf.json {
		w = s.err
	}
	if err := p.Render(w); err != nil {
		return failed(err)
	}
	fmt.Fprintf(w, "\nType %q or \"yes\" to %s run %s: ", name, verb, p.ID)
	line, err := bufio.NewReader(s.in).ReadString('\n')
	answer := strings.TrimSpace(line)
	if err != nil && answer == "" {
		return failed(fmt.Errorf("not confirmed (%v); nothing was done", err))
	}
	if answer != name && !strings.EqualFold(answer, "yes") {
		return failed(fmt.Errorf("not confirmed (answer %q); nothing was done", answer))
	}
	return nil
}

// stdinIsTerminal is isTerminalReader; tests replace it to drive the prompt.
var stdinIsTerminal = isTerminalReader

// isTerminalReader reports whether r is a terminal.
func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newEngine returns the engine of a workflow command: deploymentEngine
// with the command's --leave-running-on-cancel and redactor.
func newEngine(cl *sshx.Client, wf workflowFlags, extra ...workflow.Option) *workflow.Engine {
	opts := []workflow.Option{workflow.WithDetachOnCancel(wf.detachOnCancel)}
	if wf.redactor != nil {
		opts = append(opts, workflow.WithRedactor(wf.redactor))
	}
	return deploymentEngine(cl, wf.dep, wf.lockPath, append(opts, extra...)...)
}

// deploymentEngine is the one engine factory of the CLI and the console:
// it journals in the deployment's own state directory and takes its lock
// (dep's, else lockPath, else workflow.DefaultLockPath).
func deploymentEngine(cl *sshx.Client, dep deployment, lockPath string, extra ...workflow.Option) *workflow.Engine {
	dir, lock := dep.dir, dep.lock
	if dir == "" {
		dir = stateDir()
	}
	if lock == "" {
		lock = lockPath
	}
	if lock == "" {
		lock = workflow.DefaultLockPath
	}
	opts := []workflow.Option{workflow.WithLockPath(lock), workflow.WithDeployment(dep.name)}
	return workflow.New(cl, dir, append(opts, extra...)...)
}

// execWorkflow runs start on an engine that prints events to s.out, and maps
// the final status to an exit code: done and canary-wait exit 0, canceled
// 130 (through context.Canceled), everything else 1.
func execWorkflow(ctx context.Context, wf workflowFlags, s cmdStreams, cl *sshx.Client, opts []workflow.Option, runID string, start func(*workflow.Engine) (workflow.Status, error)) error {
	var mu sync.Mutex
	var writeErr error
	onEvent := func(ev workflow.Event) {
		mu.Lock()
		defer mu.Unlock()
		var line []byte
		if wf.json {
			b, err := workflow.MarshalEventJSON(ev)
			if err != nil {
				slog.Error("encode event", "kind", ev.Kind(), "err", err)
				return
			}
			line = append(b, '\n')
		} else {
			line = []byte(workflow.FormatEvent(ev) + "\n")
		}
		if _, err := s.out.Write(line); err != nil && writeErr == nil {
			// Keep running: the journal and the host logs have everything.
			writeErr = err
			slog.Warn("write event", "err", err)
		}
		switch e := ev.(type) {
		case *workflow.PlanEvent:
			slog.Info("workflow started", "run", e.Run, "workflow", e.Workflow, "steps", len(e.Steps), "resumed", e.Resumed)
		case *workflow.StepFailed:
			slog.Warn("workflow step failed", "run", e.Run, "step", e.Step, "err", e.Err)
		case *workflow.Finished:
			slog.Info("workflow finished", "run", e.Run, "status", e.Status, "err", e.Err)
		}
	}
	e := newEngine(cl, wf, append(opts, workflow.WithEvents(onEvent))...)
	// Tell the operator why Ctrl-C does not return at once.
	stopWatch, watchDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
			what := "stopping the remote command"
			if wf.cancel != nil && wf.cancel.canceling != "" {
				what = wf.cancel.canceling
			}
			fmt.Fprintln(s.err, "scalar-tui: canceling: "+what+", running cleanup steps and releasing the cluster lock ...")
		case <-stopWatch:
		}
	}()
	defer func() { close(stopWatch); <-watchDone }()
	status, err := start(e)
	// resumeCmd is the resume command as the hints print it (a restore's
	// needs --confirm-deployment).
	resumeCmd := func() string {
		if st, lerr := workflow.LoadRun(e.StateDir(), runID); lerr == nil {
			return workflow.ResumeCommand(st)
		}
		return "scalar-tui resume " + runID
	}
	switch {
	case status == workflow.StatusDone && err == nil:
		return nil
	case status == workflow.StatusCanaryWait:
		if !wf.json {
			fmt.Fprintf(s.err, "canary host done: check it, then continue with `%s`\n", resumeCmd())
		}
		return nil
	case status == workflow.StatusDetached:
		// Left running on purpose after a cancel: still an interruption.
		if !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: %w", err, context.Canceled)
		}
		return fmt.Errorf("left detached on purpose: the remote command goes on and the cluster lock stays with run %s; `%s` re-attaches: %w", runID, resumeCmd(), err)
	case errors.Is(err, context.Canceled) || status == workflow.StatusCanceled:
		if err == nil {
			err = context.Canceled
		}
		if !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: %w", err, context.Canceled)
		}
		what := "the remote command was stopped, cleanup steps ran and the lock was released"
		if st, lerr := workflow.LoadRun(e.StateDir(), runID); lerr == nil && len(st.Left) > 0 {
			what = "cleanup steps ran and the lock was released, but the run left: " + leftSummary(st.Left)
		}
		if wf.cancel != nil && wf.cancel.report != nil {
			// The workflow says itself what goes on and how to continue.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			r := wf.cancel.report(rctx)
			cancel()
			if r != "" {
				return fmt.Errorf("canceled: %s: %w", r, err)
			}
		}
		return fmt.Errorf("canceled: %s; `%s` continues: %w", what, resumeCmd(), err)
	case err == nil:
		return failed(fmt.Errorf("run %s ended %s", runID, status))
	}
	var le *workflow.LockedError
	if errors.As(err, &le) {
		return failed(err)
	}
	if status.Resumable() && status != workflow.StatusRefused {
		if st, lerr := workflow.LoadRun(e.StateDir(), runID); lerr == nil && resumeHintOf(st.Workflow) != nil {
			if hint := resumeHintOf(st.Workflow)(st); hint != "" {
				return failed(fmt.Errorf("%w\nsee `scalar-tui runs show %s`; %s", err, runID, hint))
			}
		}
		return failed(fmt.Errorf("%w\nsee `scalar-tui runs show %s`; fix the cause, then `%s`", err, runID, resumeCmd()))
	}
	return failed(err)
}

// resumeHintOf is the kind's ResumeHint (nil: none).
func resumeHintOf(name string) func(*workflow.RunState) string {
	if k, ok := workflow.Lookup(name); ok {
		return k.ResumeHint
	}
	return nil
}

// leftSummary joins what a run left in the cluster.
func leftSummary(left []workflow.Leftover) string {
	parts := make([]string, len(left))
	for i, l := range left {
		parts[i] = l.String()
	}
	return strings.Join(parts, "; ")
}

// resumeWorkflow continues run id: it rebuilds the plan from the journalled
// Params against the current inventory and lets the engine check the
// fingerprint, the steps and preflight again.
func resumeWorkflow(ctx context.Context, g *globalOptions, wf workflowFlags, s cmdStreams, id string) error {
	inv, err := g.loadSSHInventory(ctx)
	if err != nil {
		return err
	}
	wf.dep = g.deploymentOf(inv, wf.lockPath)
	var takeoverCl *sshx.Client
	st, err := workflow.LoadRun(wf.dep.dir, id)
	if err != nil && wf.takeover {
		// Another operator's run: fetch its journal from the bastion.
		if takeoverCl, err = g.sshClient(inv); err != nil {
			return err
		}
		defer takeoverCl.Close()
		st, err = newEngine(takeoverCl, wf).TakeOver(ctx, id)
		if err != nil {
			return failed(fmt.Errorf("take over run %s: %w", id, err))
		}
		fmt.Fprintf(s.err, "took over run %s of %s (last on %s, pid %d): its journal is now in %s\n", id, st.Operator, st.Hostname, st.PID, wf.dep.dir)
	}
	if err != nil {
		return badInput(elsewhere(g, id, err))
	}
	if st.Status == workflow.StatusDone {
		return badInput(fmt.Errorf("run %s already finished (done); nothing to resume", id))
	}
	k, ok := workflow.Lookup(st.Workflow)
	if !ok || k.Resume == nil {
		return badInput(fmt.Errorf("run %s is a %s workflow, which this build cannot resume", id, st.Workflow))
	}
	cl, err := g.sshClient(inv)
	if err != nil {
		return err
	}
	defer cl.Close()
	p, err := k.Resume(ctx, kindDeps(inv, cl, wf, s), st.Params)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) || errors.Is(err, context.Canceled) {
			return err
		}
		return badInput(fmt.Errorf("rebuild the plan of run %s: %w", id, err))
	}
	p.ID = st.ID
	if silence.Wrapped(st) {
		if err := wrapSilence(inv, cl, p, false); err != nil {
			return err
		}
	}
	if err := confirmResume(wf, s, p, st); err != nil {
		return err
	}
	var opts []workflow.Option
	if wf.takeover {
		opts = append(opts, workflow.WithTakeover(id))
	}
	wf.cancel = bindCancelReport(p, inv, cl)
	err = execWorkflow(ctx, wf, s, cl, opts, st.ID, func(e *workflow.Engine) (workflow.Status, error) {
		return e.Resume(ctx, id, p)
	})
	if fin := kindCLIs[st.Workflow].after; err == nil && fin != nil {
		if end, lerr := workflow.LoadRun(wf.dep.dir, id); lerr == nil && end.Status == workflow.StatusDone {
			return fin(inv, end.Params, wf, s)
		}
	}
	return err
}

// confirmResume shows where the run stands before the usual confirmation.
func confirmResume(wf workflowFlags, s cmdStreams, p *workflow.Plan, st *workflow.RunState) error {
	if !wf.json || !wf.yes {
		w := s.out
		if wf.json {
			w = s.err
		}
		fmt.Fprintf(w, "Run %s (%s) is %s; its steps:\n", st.ID, st.Workflow, st.Status)
		for _, ss := range st.Steps {
			fmt.Fprintf(w, "  %-10s %s\n", ss.Status, ss.ID)
		}
		fmt.Fprintln(w, "Done steps are not run again; a detached command still running is re-attached.")
		fmt.Fprintln(w)
	}
	return confirmPlan(wf, s, p, st.Workflow, "resume")
}

// elsewhere adds to a "no such run" error the deployment the run belongs to
// when it is journalled under another one.
func elsewhere(g *globalOptions, id string, err error) error {
	all, _ := workflow.ListAll(g.stateRootDir())
	for _, r := range all {
		if r.ID == id {
			dep := r.Deployment
			if dep == "" {
				dep = "another deployment"
			}
			return fmt.Errorf("run %s belongs to %s, not to this deployment: point --tf-root/--env at that deployment (`scalar-tui runs --all` lists every deployment's runs)", id, dep)
		}
	}
	return err
}

// wrapSilence wraps p in an Alertmanager silence of the hosts its steps run
// on (silence.Around), unless off.
func wrapSilence(inv *inventory.Inventory, cl *sshx.Client, p *workflow.Plan, off bool) error {
	if err := silence.Around(inv, cl.DialContext, p, off); err != nil {
		return badInput(err)
	}
	return nil
}

// kindCLI is what a generated workflow command adds for the terminal, where
// the catalog's kind cannot: all optional.
type kindCLI struct {
	// before runs once the flags are valid; done ends the command there
	// (free-disk without a selection lists instead of planning).
	before func(ctx context.Context, g *globalOptions, v workflow.Values, wf workflowFlags, s cmdStreams) (done bool, err error)
	// run replaces runKind (restore: the deployment's name typed).
	run func(ctx context.Context, g *globalOptions, k *workflow.Kind, v workflow.Values, wf workflowFlags, s cmdStreams) error
	// after runs once a run (new or resumed) ended done, with its
	// journalled Params (the upgrade's tfvars offer).
	after func(inv *inventory.Inventory, params json.RawMessage, wf workflowFlags, s cmdStreams) error
	// extend adds subcommands (repair status).
	extend func(g *globalOptions, cmd *cobra.Command)
}

// kindCLIs are the kindCLI of each kind that has one, by kind name; each
// cmd_<kind>.go sets its own from init.
var kindCLIs = map[string]kindCLI{}

func init() {
	// Every kind of the catalog with a top-level command of its own.
	for _, k := range workflow.Kinds() {
		if k.Command == "" {
			k := k
			register(func(g *globalOptions) *cobra.Command { return newKindCmd(g, k) })
		}
	}
}

// newKindCmd generates the CLI subcommand of kind k: the shared workflow
// flags, one flag per option (name, type, default, help and checks from
// the catalog), and a run that maps the flags onto the kind's options and
// plans through the catalog.
func newKindCmd(g *globalOptions, k *workflow.Kind) *cobra.Command {
	var wf workflowFlags
	cmd := &cobra.Command{Use: k.Usage, Short: k.Summary, Long: k.Long, Example: k.Example, Args: cobra.NoArgs}
	if k.Arg != "" {
		cmd.Args = cobra.ExactArgs(1)
	}
	f := cmd.Flags()
	if k.Runbook && !k.Canary {
		wf.addFlags(f, false)
		f.BoolVar(&wf.dryRun, "dry-run", false, "print the plan (every remote command, preflight checks, gates) and exit; nothing is changed")
	} else {
		wf.addFlags(f, true)
		if !k.Canary {
			_ = f.MarkHidden("canary")
		}
	}
	values := addKindFlags(f, k)
	for _, group := range k.Exclusive {
		cmd.MarkFlagsMutuallyExclusive(group...)
	}
	if k.ReadOnly {
		_ = f.MarkHidden("yes")
	}
	h := kindCLIs[k.Name]
	if h.extend != nil {
		h.extend(g, cmd)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, s := cmd.Context(), streamsOf(cmd)
		if err := setOptionDefaults(g, k, f); err != nil {
			return err
		}
		v := values()
		if k.Arg != "" {
			v[k.Arg] = args[0]
		}
		if _, own := k.Option("no-silence"); own {
			wf.noSilence = v.Bool("no-silence")
		}
		v["no-silence"] = wf.noSilence
		if k.ReadOnly {
			wf.yes = true // nothing to confirm
		}
		if k.Validate != nil {
			if err := k.Validate(v); err != nil {
				return badInput(err)
			}
		}
		if h.before != nil {
			if done, err := h.before(ctx, g, v, wf, s); done || err != nil {
				return err
			}
		}
		if h.run != nil {
			return h.run(ctx, g, k, v, wf, s)
		}
		return runKind(ctx, g, k, v, wf, s)
	}
	return cmd
}

// setOptionDefaults sets each flag of k the command line left unset to the
// deployment's default for it (config `options:`, the demo's layout).
func setOptionDefaults(g *globalOptions, k *workflow.Kind, f *pflag.FlagSet) error {
	defs, err := g.optionDefaults(k.Name)
	if err != nil {
		return err
	}
	for _, n := range slices.Sorted(maps.Keys(defs)) {
		if fl := f.Lookup(n); fl != nil && !fl.Changed {
			if err := f.Set(n, defs[n]); err != nil {
				return badInput(fmt.Errorf("%s --%s %q (the deployment's default): %w", k.Name, n, defs[n], err))
			}
		}
	}
	return nil
}

// addKindFlags registers one flag per option of k (but the positional
// one) and returns a function that reads them all into Values.
func addKindFlags(f *pflag.FlagSet, k *workflow.Kind) func() workflow.Values {
	get := map[string]func() any{}
	for _, o := range k.Options {
		if o.Name == k.Arg || f.Lookup(o.Name) != nil {
			continue
		}
		switch o.Type {
		case workflow.OptBool:
			p := f.Bool(o.Name, o.Default == true, o.Help)
			get[o.Name] = func() any { return *p }
		case workflow.OptString:
			d, _ := o.Default.(string)
			p := f.String(o.Name, d, o.Help)
			get[o.Name] = func() any { return *p }
		case workflow.OptStringList:
			d, _ := o.Default.([]string)
			p := f.StringSlice(o.Name, d, o.Help)
			get[o.Name] = func() any { return *p }
		case workflow.OptStringArray:
			d, _ := o.Default.([]string)
			p := f.StringArray(o.Name, d, o.Help)
			get[o.Name] = func() any { return *p }
		case workflow.OptDuration:
			d, _ := o.Default.(time.Duration)
			p := f.Duration(o.Name, d, o.Help)
			get[o.Name] = func() any { return *p }
		case workflow.OptFloat:
			d, _ := o.Default.(float64)
			p := f.Float64(o.Name, d, o.Help)
			get[o.Name] = func() any { return *p }
		default:
			panic(fmt.Sprintf("%s --%s: option type %d has no flag", k.Name, o.Name, o.Type))
		}
		if o.Hidden {
			_ = f.MarkHidden(o.Name)
		}
		if o.Positive {
			positive(f, o.Name)
		}
		if o.Max != 0 {
			atMost(f, o.Name, o.Max)
		}
		if o.NegativeOK {
			negativeOK(f, o.Name)
		}
	}
	return func() workflow.Values {
		v := workflow.Values{}
		for n, g := range get {
			v[n] = g()
		}
		return v
	}
}

// kindDeps is what the catalog's builders get on the CLI: the deployment,
// its SSH client, the health gates through the bastion, the journal
// directory, the command's redactor and stderr for reports.
func kindDeps(inv *inventory.Inventory, cl *sshx.Client, wf workflowFlags, s cmdStreams) workflow.Deps {
	return workflow.Deps{Inventory: inv, Client: cl, StateDir: wf.dep.dir, Redactor: wf.redactor, Report: s.err,
		Health: func(gate string) (health.Source, error) { return healthGateSource(inv, cl, gate) }}
}

// runKind plans k with v through runWorkflow and, once the run is done,
// runs the kind's after (the upgrade's tfvars offer).
func runKind(ctx context.Context, g *globalOptions, k *workflow.Kind, v workflow.Values, wf workflowFlags, s cmdStreams) error {
	wf.redactor = workflow.NewRedactor()
	var (
		plan *workflow.Plan
		inv  *inventory.Inventory
	)
	err := runWorkflow(ctx, g, wf, s, func(ctx context.Context, i *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
		wf.dep = g.deploymentOf(i, wf.lockPath)
		p, err := k.Plan(ctx, kindDeps(i, cl, wf, s), v)
		plan, inv = p, i
		return p, err
	})
	after := kindCLIs[k.Name].after
	if err != nil || wf.dryRun || plan == nil || after == nil {
		return err
	}
	st, lerr := workflow.LoadRun(g.deploymentOf(inv, wf.lockPath).dir, plan.ID)
	if lerr != nil || st.Status != workflow.StatusDone {
		return nil
	}
	return after(inv, st.Params, wf, s)
}
