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
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"scalar-tui/inventory"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
	"scalar-tui/tui/vm"
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
	if c, ok := ctx.Value(planCaptureKey{}).(*planCapture); ok {
		// The console plans through this command: build, never run.
		c.plan, c.err = build(ctx, c.inv, c.cl)
		return nil
	}
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

// newEngine returns the engine every workflow command uses, journalling in
// the deployment's own state directory and taking its lock.
func newEngine(cl *sshx.Client, wf workflowFlags, extra ...workflow.Option) *workflow.Engine {
	dir, lock := wf.dep.dir, wf.dep.lock
	if dir == "" {
		dir = stateDir()
	}
	if lock == "" {
		lock = wf.lockPath
	}
	if lock == "" {
		lock = workflow.DefaultLockPath
	}
	opts := []workflow.Option{workflow.WithLockPath(lock), workflow.WithDeployment(wf.dep.name),
		workflow.WithDetachOnCancel(wf.detachOnCancel)}
	if wf.redactor != nil {
		opts = append(opts, workflow.WithRedactor(wf.redactor))
	}
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
	switch {
	case status == workflow.StatusDone && err == nil:
		return nil
	case status == workflow.StatusCanaryWait:
		if !wf.json {
			fmt.Fprintf(s.err, "canary host done: check it, then continue with `scalar-tui resume %s`\n", runID)
		}
		return nil
	case status == workflow.StatusDetached:
		// Left running on purpose after a cancel: still an interruption.
		if !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: %w", err, context.Canceled)
		}
		return fmt.Errorf("left detached on purpose: the remote command goes on and the cluster lock stays with run %s; `scalar-tui resume %s` re-attaches: %w", runID, runID, err)
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
		return fmt.Errorf("canceled: %s; `scalar-tui resume %s` continues: %w", what, runID, err)
	case err == nil:
		return failed(fmt.Errorf("run %s ended %s", runID, status))
	}
	var le *workflow.LockedError
	if errors.As(err, &le) {
		return failed(err)
	}
	if status.Resumable() && status != workflow.StatusRefused {
		if st, lerr := workflow.LoadRun(e.StateDir(), runID); lerr == nil && resumeHints[st.Workflow] != nil {
			if hint := resumeHints[st.Workflow](st); hint != "" {
				return failed(fmt.Errorf("%w\nsee `scalar-tui runs show %s`; %s", err, runID, hint))
			}
		}
		return failed(fmt.Errorf("%w\nsee `scalar-tui runs show %s`; fix the cause, then `scalar-tui resume %s`", err, runID, runID))
	}
	return failed(err)
}

// resumeHints maps a workflow name to what to tell the operator after a
// failure when "fix the cause, then resume" would mislead ("" keeps that).
var resumeHints = map[string]func(*workflow.RunState) string{}

// leftSummary joins what a run left in the cluster.
func leftSummary(left []workflow.Leftover) string {
	parts := make([]string, len(left))
	for i, l := range left {
		parts[i] = l.String()
	}
	return strings.Join(parts, "; ")
}

// resumeBuilder rebuilds a journalled run's plan from its Params.
type resumeBuilder func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, params json.RawMessage) (*workflow.Plan, error)

// resumeBuilders maps a workflow name to its resumeBuilder; each workflow
// command registers its own from init with registerResume.
var resumeBuilders = map[string]resumeBuilder{}

// registerResume makes `scalar-tui resume` able to continue runs of workflow.
func registerResume(workflowName string, b resumeBuilder) { resumeBuilders[workflowName] = b }

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
	build, ok := resumeBuilders[st.Workflow]
	if !ok {
		return badInput(fmt.Errorf("run %s is a %s workflow, which this build cannot resume", id, st.Workflow))
	}
	cl, err := g.sshClient(inv)
	if err != nil {
		return err
	}
	defer cl.Close()
	p, err := build(ctx, inv, cl, st.Params)
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
	if fin := resumeFinishers[st.Workflow]; err == nil && fin != nil {
		if end, lerr := workflow.LoadRun(wf.dep.dir, id); lerr == nil && end.Status == workflow.StatusDone {
			return fin(inv, end.Params, wf, s)
		}
	}
	return err
}

// resumeFinishers run after a resumed run of their workflow ends done (the
// upgrade offers its tfvars edit); registered with registerResumeFinisher.
var resumeFinishers = map[string]func(inv *inventory.Inventory, params json.RawMessage, wf workflowFlags, s cmdStreams) error{}

// registerResumeFinisher sets what runs after a resumed run of
// workflowName is done.
func registerResumeFinisher(workflowName string, f func(inv *inventory.Inventory, params json.RawMessage, wf workflowFlags, s cmdStreams) error) {
	resumeFinishers[workflowName] = f
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
// on (ops/workflow/silence), unless off, p changes nothing, or p already
// carries one (the runbooks make their own). A deployment without a monitor
// host has no Alertmanager: the plan says so and runs without.
func wrapSilence(inv *inventory.Inventory, cl *sshx.Client, p *workflow.Plan, off bool) error {
	if off || p.ReadOnly {
		return nil
	}
	for _, s := range p.Steps {
		if s.ID == "silence-alerts" {
			return nil
		}
	}
	hosts := silence.HostsOf(p)
	if len(hosts) == 0 {
		return nil
	}
	u, err := silence.URL(inv.Endpoints.Prometheus)
	if err != nil {
		p.Notes = append(p.Notes, "The deployment has no monitor host: no alert is silenced while the run lasts.")
		return nil
	}
	am, err := alertmanager.New(u, alertmanager.Options{Dial: cl.DialContext, Timeout: 10 * time.Second})
	if err != nil {
		return badInput(err)
	}
	silence.Wrap(p, silence.Options{Client: am, Hosts: hosts})
	return nil
}

// planCapture makes runWorkflow return the plan its command builds instead
// of running it (planViaCommand).
type planCapture struct {
	inv  *inventory.Inventory
	cl   *sshx.Client
	plan *workflow.Plan
	err  error
}

type planCaptureKey struct{}

// planViaCommand builds the plan of the workflow command name (a runbook:
// restart-cassandra, restart-container, ...) from options given by flag name
// without dashes, exactly as the CLI would with those flags, on the console's
// own deployment and SSH client. Nothing runs.
func planViaCommand(ctx context.Context, g *globalOptions, inv *inventory.Inventory, cl *sshx.Client, name string, p vm.WorkflowParams) (*workflow.Plan, error) {
	var cmd *cobra.Command
	for _, f := range subcommands {
		if c := f(g); c.Name() == name {
			cmd = c
			break
		}
	}
	if cmd == nil {
		return nil, fmt.Errorf("%s: %w", name, vm.ErrNotSupported)
	}
	args := append([]string(nil), p.Args...)
	if len(p.Hosts) > 0 && cmd.Flags().Lookup("host") != nil && p.Options["host"] == "" {
		args = append(args, "--host", p.Hosts[0])
	}
	keys := make([]string, 0, len(p.Options))
	for k := range p.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if cmd.Flags().Lookup(k) == nil {
			return nil, fmt.Errorf("%s has no option %q", name, k)
		}
		args = append(args, "--"+k+"="+p.Options[k])
	}
	c := &planCapture{inv: inv, cl: cl}
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(context.WithValue(ctx, planCaptureKey{}, c)); err != nil {
		return nil, err
	}
	if c.plan == nil && c.err == nil {
		return nil, fmt.Errorf("%s built no plan", name)
	}
	return c.plan, c.err
}
