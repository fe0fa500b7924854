package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/ops/workflow"
)

func init() {
	register(newRunsCmd)
	register(newResumeCmd)
	register(newUnlockCmd)
}

// currentDeployment resolves the deployment the global flags point at. ok
// is false when none is given (no --tf-root, --tf-dir or --env).
func currentDeployment(ctx context.Context, g *globalOptions) (dep deployment, ok bool, err error) {
	if _, err := g.inventoryOptions(); err != nil {
		if g.tfRoot == "" && len(g.tfDirs) == 0 && g.envName == "" {
			return deployment{}, false, nil
		}
		return deployment{}, false, err
	}
	inv, err := g.loadSSHInventory(ctx)
	if err != nil {
		return deployment{}, false, err
	}
	return g.deploymentOf(inv, ""), true, nil
}

// runDir is the state dir of the current deployment, for the commands that
// work on one run (show, mark, discard).
func runDir(ctx context.Context, g *globalOptions) (string, error) {
	dep, ok, err := currentDeployment(ctx, g)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", badInput(errors.New("no deployment given: pass --tf-root DIR, --tf-dir DIR or --env NAME (runs are kept per deployment)"))
	}
	return dep.dir, nil
}

func newRunsCmd(g *globalOptions) *cobra.Command {
	var asJSON, all, fromBastion bool
	var lockPath string
	cmd := &cobra.Command{
		Use:   "runs [--json] [--all]",
		Short: "List the deployment's journalled workflow runs (newest first)",
		Long: "List the workflow runs of the deployment (--tf-root/--tf-dir/--env), journalled in\n" +
			"$XDG_STATE_HOME/scalar-tui/deployments/<network>-<hash>/runs: id, workflow, status, steps\n" +
			"done/total, operator, start time and what a stopped run left in the cluster. A run whose\n" +
			"process is gone shows as crashed; a crashed run that left Scalar DL paused is shown first.\n" +
			"--all lists every deployment's runs. `runs show ID` details one run; `runs discard ID`\n" +
			"stops offering a stale one; `scalar-tui resume ID` continues a failed, canceled or crashed one.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var runs []workflow.RunState
			var err error
			dir := ""
			dep, ok, derr := currentDeployment(cmd.Context(), g)
			switch {
			case all:
				runs, err = workflow.ListAll(g.stateRootDir())
			case derr != nil:
				return derr
			case !ok:
				fmt.Fprintln(cmd.ErrOrStderr(), "scalar-tui: no deployment given: listing every deployment's runs (as --all)")
				all = true
				runs, err = workflow.ListAll(g.stateRootDir())
			default:
				dir = dep.dir
				runs, err = workflow.List(dir)
			}
			if err != nil && len(runs) == 0 {
				return failed(err)
			}
			if fromBastion {
				if !ok {
					return badInput(errors.New("--bastion needs a deployment: pass --tf-root DIR, --tf-dir DIR or --env NAME"))
				}
				runs, err = withMirrored(cmd.Context(), g, lockPath, runs)
				if err != nil {
					return err
				}
			}
			for i := range runs {
				d := dir
				if d == "" {
					d = runStateDir(g, &runs[i])
				}
				runs[i].Status = workflow.DisplayStatus(d, &runs[i])
			}
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "scalar-tui: some journals could not be read:", err)
			}
			if asJSON {
				if runs == nil {
					runs = []workflow.RunState{}
				}
				return writeJSON(cmd.OutOrStdout(), runs)
			}
			where := dir
			if all {
				where = workflow.DeploymentsDir(g.stateRootDir())
			}
			renderRuns(cmd.OutOrStdout(), runs, where, all, isTerminal(cmd.OutOrStdout()))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the journals as a JSON array")
	cmd.Flags().BoolVar(&all, "all", false, "list the runs of every deployment")
	addLockPathFlag(cmd.Flags(), &lockPath)
	cmd.Flags().BoolVar(&fromBastion, "bastion", false, "also list the deployment's runs of every operator, from the journals kept on the bastion beside the cluster lock")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show ID [--json]",
		Short: "Show one run: every step with its status, attempts, host and error",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := runDir(cmd.Context(), g)
			if err != nil {
				return err
			}
			st, err := workflow.LoadRun(dir, args[0])
			if err != nil {
				return badInput(elsewhere(g, args[0], err))
			}
			st.Status = workflow.DisplayStatus(dir, st)
			if showJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			renderRun(cmd.OutOrStdout(), st, dir)
			return nil
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print the journal as JSON")

	var note string
	mark := &cobra.Command{
		Use:   "mark ID STEP done|skipped|pending",
		Short: "Set a step's status by hand, after checking the host (when resume refuses)",
		Long: "Set a step's status by hand, for a step resume refuses to run again because it was\n" +
			"running when the run stopped and is not safe to repeat. Check the host first.\n" +
			"A step marked skipped stays skipped on resume; pending runs it again.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, step, status := args[0], args[1], workflow.Status(args[2])
			dir, err := runDir(cmd.Context(), g)
			if err != nil {
				return err
			}
			if _, err := workflow.LoadRun(dir, id); err != nil {
				return badInput(elsewhere(g, id, err))
			}
			unlock, err := tryRunLock(dir, id)
			if err != nil {
				return failed(err)
			}
			defer unlock()
			if note == "" {
				note = "marked " + string(status) + " by " + workflow.Operator()
			}
			if err := workflow.MarkStep(dir, id, step, status, note); err != nil {
				return badInput(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s: step %s marked %s\n", id, step, status)
			return nil
		},
	}
	mark.Flags().StringVar(&note, "note", "", "why (kept in the journal)")

	var discardNote string
	discard := &cobra.Command{
		Use:   "discard ID [--note TEXT]",
		Short: "Mark a stale run discarded: it is no longer offered for resume",
		Long: "Mark a run that will never be resumed (stale, superseded) as discarded, so that the\n" +
			"console stops offering it. Refused for a run still executing on this machine, a done run,\n" +
			"and a run that left Scalar DL paused (resume it: it unpauses first).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := runDir(cmd.Context(), g)
			if err != nil {
				return err
			}
			id := args[0]
			if _, err := workflow.LoadRun(dir, id); err != nil {
				return badInput(elsewhere(g, id, err))
			}
			if err := workflow.Discard(dir, id, workflow.Operator(), discardNote, time.Now()); err != nil {
				return failed(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s discarded: it is no longer offered for resume\n", id)
			return nil
		},
	}
	discard.Flags().StringVar(&discardNote, "note", "", "why (kept in the journal)")
	cmd.AddCommand(show, mark, discard)
	return cmd
}

// withMirrored adds to runs the deployment's runs journalled on the bastion
// that this machine does not have (other operators' runs).
func withMirrored(ctx context.Context, g *globalOptions, lockPath string, runs []workflow.RunState) ([]workflow.RunState, error) {
	inv, cl, err := openDeployment(ctx, g)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	dep := g.deploymentOf(inv, lockPath)
	remote, err := newEngine(cl, workflowFlags{dep: dep}).MirroredRuns(ctx)
	if err != nil && len(remote) == 0 {
		return nil, failed(err)
	}
	have := map[string]bool{}
	for _, r := range runs {
		have[r.ID] = true
	}
	for _, r := range remote {
		if !have[r.ID] {
			runs = append(runs, r)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Created.After(runs[j].Created) })
	return runs, nil
}

// runStateDir is the deployment directory a run listed by ListAll lives in.
func runStateDir(g *globalOptions, st *workflow.RunState) string {
	root := g.stateRootDir()
	if _, err := os.Stat(workflow.JournalPath(root, st.ID)); err == nil {
		return root
	}
	ents, _ := os.ReadDir(workflow.DeploymentsDir(root))
	for _, e := range ents {
		d := filepath.Join(workflow.DeploymentsDir(root), e.Name())
		if _, err := os.Stat(workflow.JournalPath(d, st.ID)); err == nil {
			return d
		}
	}
	return root
}

// tryRunLock takes the engine's per-run flock so that a step is never marked
// while another process on this machine executes the run.
func tryRunLock(stateDir, id string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(workflow.RunsDir(stateDir), id+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("run %s is being executed by another scalar-tui process on this machine; stop it first", id)
		}
		return nil, fmt.Errorf("run lock: %w", err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return failed(err)
	}
	return nil
}

// stepCounts returns how many steps are done (or skipped by hand) and the total.
func stepCounts(st *workflow.RunState) (done, total int) {
	for _, s := range st.Steps {
		if s.Status == workflow.StatusDone {
			done++
		}
	}
	return done, len(st.Steps)
}

// renderRuns writes the run table (statuses already as DisplayStatus). A
// crashed run that left Scalar DL paused comes first, with the one command
// that fixes it (in red on a terminal). where names the directory listed.
func renderRuns(w io.Writer, runs []workflow.RunState, where string, all, color bool) {
	if len(runs) == 0 {
		fmt.Fprintf(w, "no runs in %s\n", where)
		return
	}
	for i := range runs {
		if l := dangerLine(&runs[i]); l != "" {
			if color {
				l = "\x1b[1;31m" + l + "\x1b[0m"
			}
			fmt.Fprintln(w, l)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "ID\tWORKFLOW\tSTATUS\tSTEPS\tOPERATOR\tSTARTED\tCURRENT/ERROR"
	if all {
		head += "\tDEPLOYMENT"
	}
	fmt.Fprintln(tw, head)
	for i := range runs {
		st := &runs[i]
		done, total := stepCounts(st)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s", st.ID, st.Workflow, st.Status, done, total,
			st.Operator, st.Created.UTC().Format("2006-01-02 15:04"), oneLine(currentOf(st), 80))
		if all {
			dep := st.Deployment
			if dep == "" {
				dep = "-"
			}
			fmt.Fprintf(tw, "\t%s", dep)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// dangerLine is the warning for a run that crashed (or whose state is
// otherwise unknown) while Scalar DL was paused, with the command that
// unpauses it; "" otherwise.
func dangerLine(st *workflow.RunState) string {
	if _, paused := st.Markers[workflow.MarkerScalarDLPaused]; !paused || st.Status == workflow.StatusDone {
		return ""
	}
	if st.Status == workflow.StatusRunning {
		// Live: it will unpause itself.
		return ""
	}
	return fmt.Sprintf("!! run %s (%s) is %s and left Scalar DL PAUSED: run `scalar-tui resume %s` (it unpauses first)", st.ID, st.Workflow, st.Status, st.ID)
}

// currentOf names the step a run stopped at, with its error, and what it
// left running.
func currentOf(st *workflow.RunState) string {
	for _, l := range st.Left {
		if l.OnPurpose {
			return "left running on purpose: " + l.String()
		}
	}
	for _, s := range st.Steps {
		switch s.Status {
		case workflow.StatusRunning, workflow.StatusFailed, workflow.StatusCanceled:
			if s.Error != "" {
				return s.ID + ": " + s.Error
			}
			return s.ID + " " + string(s.Status)
		}
	}
	return st.Error
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}

// renderRun writes one run's details; dir is its deployment's state dir.
func renderRun(w io.Writer, st *workflow.RunState, dir string) {
	done, total := stepCounts(st)
	fmt.Fprintf(w, "Run %s (workflow %s)\n", st.ID, st.Workflow)
	fmt.Fprintf(w, "  status:    %s\n", st.Status)
	if st.Error != "" {
		fmt.Fprintf(w, "  error:     %s\n", st.Error)
	}
	if st.Discarded != "" {
		fmt.Fprintf(w, "  discarded: %s\n", st.Discarded)
	}
	if st.Deployment != "" {
		fmt.Fprintf(w, "  deployment: %s\n", st.Deployment)
	}
	if st.Hostname != "" || st.PID != 0 {
		fmt.Fprintf(w, "  process:   pid %d on %s\n", st.PID, st.Hostname)
	}
	for _, l := range st.Left {
		fmt.Fprintf(w, "  left:      %s\n", l)
	}
	fmt.Fprintf(w, "  steps:     %d/%d done\n", done, total)
	fmt.Fprintf(w, "  operator:  %s\n", st.Operator)
	fmt.Fprintf(w, "  started:   %s\n", st.Created.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  updated:   %s\n", st.Updated.UTC().Format(time.RFC3339))
	if st.Fingerprint != "" {
		fmt.Fprintf(w, "  inventory: %s\n", st.Fingerprint)
	}
	if st.Canary {
		fmt.Fprintf(w, "  canary:    yes (first host done: %t)\n", st.CanaryDone)
	}
	for k, m := range st.Markers {
		fmt.Fprintf(w, "  marker:    %s=%s (set by %s at %s)\n", k, m.Value, m.Step, m.Set.UTC().Format(time.RFC3339))
	}
	if len(st.Params) > 0 {
		fmt.Fprintf(w, "  params:    %s\n", st.Params)
	}
	fmt.Fprintln(w, "\nSteps:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTEP\tSTATUS\tATTEMPTS\tHOST\tDURATION\tERROR")
	for i, s := range st.Steps {
		dur := "-"
		if s.Started != nil && s.Ended != nil {
			dur = s.Ended.Sub(*s.Started).Round(time.Second).String()
		}
		status := string(s.Status)
		if s.Manual {
			status += " (by hand)"
		}
		if s.Status == workflow.StatusRunning && s.Percent > 0 {
			status += fmt.Sprintf(" %.0f%%", s.Percent)
		}
		host := s.Host
		if host == "" {
			host = "(cluster)"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%d\t%s\t%s\t%s\n", i+1, s.ID, status, s.Attempts, host, dur, oneLine(s.Error, 100))
	}
	tw.Flush()
	for _, s := range st.Steps {
		if s.Status != workflow.StatusFailed || s.Host == "" {
			continue
		}
		p := workflow.HostLogPath(dir, st.ID, s.Host)
		if lines := tailLog(p, "stderr", 5); len(lines) > 0 {
			fmt.Fprintf(w, "\nLast errors on %s (%s):\n", s.Host, p)
			for _, l := range lines {
				fmt.Fprintf(w, "  %s\n", oneLine(l, 300))
			}
		}
	}
	if notes := tailLog(workflow.HostLogPath(dir, st.ID, ""), "note", 10); len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes (the last 10):")
		for _, l := range notes {
			fmt.Fprintf(w, "  %s\n", oneLine(l, 300))
		}
	}
	fmt.Fprintf(w, "\nHost logs: %s\n", filepath.Join(workflow.RunsDir(dir), st.ID))
	if st.Status.Resumable() {
		fmt.Fprintf(w, "Continue with: %s\n", workflow.ResumeCommand(st))
	}
}

// tailLog returns the last n lines of a host log ("TIME STREAM LINE") from
// stream, without the time and stream.
func tailLog(path, stream string, n int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) == 3 && f[1] == stream && strings.TrimSpace(f[2]) != "" {
			out = append(out, f[2])
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

func newResumeCmd(g *globalOptions) *cobra.Command {
	var wf workflowFlags
	var confirm string
	cmd := &cobra.Command{
		Use:   "resume ID [--yes] [--json] [--confirm-deployment NAME]",
		Short: "Continue a failed, canceled, paused or crashed workflow run at its first unfinished step",
		Long: "Rebuild the run's plan from its journalled parameters against the current deployment,\n" +
			"check preflight again, and continue at the first unfinished step: done steps are not\n" +
			"run again, a detached command that is still running (the console died, SSH dropped)\n" +
			"is re-attached. Refused when the Terraform inventory changed since the run started.\n" +
			"A restore (or restore --undo) run replaces data again: its resume needs\n" +
			"--confirm-deployment NAME, as the restore itself does.\n\n" +
			"Exit status as for the workflow commands: 0 done, 1 failed/refused/locked, 2 bad input, 130 canceled.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if confirm != "" {
				ctx = workflow.WithConfirmDeployment(ctx, confirm)
			}
			return resumeWorkflow(ctx, g, wf, streamsOf(cmd), args[0])
		},
	}
	wf.addFlags(cmd.Flags(), false)
	cmd.Flags().StringVar(&confirm, "confirm-deployment", "", "the deployment's name (network_name): required to resume a restore or restore --undo run, as to start one")
	cmd.Flags().BoolVar(&wf.takeover, "takeover", false, "take over another operator's dead run from its journal on the bastion (beside the cluster lock), its lock included")
	return cmd
}

func newUnlockCmd(g *globalOptions) *cobra.Command {
	var force, ignoreMarkers bool
	var lockPath string
	cmd := &cobra.Command{
		Use:   "unlock [--force]",
		Short: "Show who holds the cluster lock on the bastion; --force breaks a stale one",
		Long: "Without --force, print the holder of the cluster lock (operator, run, since) and exit.\n" +
			"With --force, break the lock whoever holds it and print whose it was: do this only when\n" +
			"that run is dead (its console crashed), then resume it or start a new one.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUnlock(cmd.Context(), g, force, ignoreMarkers, lockPath, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "break the lock, whoever holds it")
	cmd.Flags().BoolVar(&ignoreMarkers, "ignore-markers", false, "with --force: break it even while the holder's run left Scalar DL paused (nobody's journal will unpause it)")
	addLockPathFlag(cmd.Flags(), &lockPath)
	return cmd
}

func runUnlock(ctx context.Context, g *globalOptions, force, ignoreMarkers bool, lockPath string, out io.Writer) error {
	inv, cl, err := openDeployment(ctx, g)
	if err != nil {
		return err
	}
	defer cl.Close()
	dep := g.deploymentOf(inv, lockPath)
	lockPath = dep.lock
	e := newEngine(cl, workflowFlags{dep: dep})
	if !force {
		owner, err := e.LockOwner(ctx)
		if err != nil {
			return failed(err)
		}
		if owner == nil {
			fmt.Fprintf(out, "the cluster is not locked (%s on the bastion)\n", lockPath)
			return nil
		}
		fmt.Fprintf(out, "the cluster is locked by %s (%s on the bastion)\n", owner.Describe(time.Now()), lockPath)
		if owner.Host != "" {
			fmt.Fprintf(out, "taken on %s by process %d\n", owner.Host, owner.PID)
		}
		fmt.Fprintln(out, "if that run is dead, break the lock with `scalar-tui unlock --force`")
		return nil
	}
	if !ignoreMarkers {
		// A dead run that left Scalar DL paused must be taken over (its
		// compensation unpauses), not have its lock broken under it.
		if holder, herr := e.LockOwner(ctx); herr == nil && holder != nil && holder.Run != "" {
			if st, merr := e.MirroredRun(ctx, holder.Run); merr == nil {
				if ms := workflow.CompensatingMarkers(st); len(ms) > 0 {
					return failed(fmt.Errorf("the lock is held by %s, whose run left the cluster in a state to undo (marker %s: Scalar DL may be paused); breaking the lock would leave it so with nobody's journal to undo it: take the run over with `scalar-tui resume %s --takeover` (it unpauses first), or pass --ignore-markers",
						holder.Describe(time.Now()), strings.Join(ms, ", "), holder.Run))
				}
			}
		}
	}
	// A dead run's detached repair outlives its console: show it before the
	// lock that kept others off goes.
	showRunningRepairs(ctx, inv, cl, out)
	owner, err := e.ForceUnlock(ctx)
	if errors.Is(err, workflow.ErrNotLocked) {
		fmt.Fprintf(out, "the cluster is not locked (%s on the bastion); nothing to do\n", lockPath)
		return nil
	}
	if err != nil {
		return failed(err)
	}
	fmt.Fprintf(out, "broke the cluster lock held by %s\n", owner)
	if owner.Run != "" {
		fmt.Fprintf(out, "check that run, then `scalar-tui resume %s` or start a new one\n", owner.Run)
	}
	return nil
}
