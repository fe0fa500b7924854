package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
)

// UndoOptions selects the restore run to revert.
type UndoOptions struct {
	// Run is the restore run's ID.
	Run string `json:"run"`
	// Original are that run's Options, from its journal (LoadOriginal).
	Original Options `json:"original"`
	// ConfirmDeployment must equal the inventory's network name.
	ConfirmDeployment string `json:"confirm_deployment,omitempty"`
	// GateDeadline and GateInterval tune the start gates (defaults as Options).
	GateDeadline time.Duration `json:"gate_deadline,omitempty"`
	GateInterval time.Duration `json:"gate_interval,omitempty"`
	// Silence wraps the run in an Alertmanager silence. Not journalled.
	Silence silence.Options `json:"-"`
}

// LoadOriginal reads the Options of restore run id from the journal in stateDir.
func LoadOriginal(stateDir, id string) (Options, error) {
	st, err := workflow.LoadRun(stateDir, id)
	if err != nil {
		return Options{}, err
	}
	if st.Workflow != Workflow {
		return Options{}, fmt.Errorf("run %s is a %s run, not a restore", id, st.Workflow)
	}
	var o Options
	if err := json.Unmarshal(st.Params, &o); err != nil {
		return Options{}, fmt.Errorf("journalled restore parameters of %s: %w", id, err)
	}
	return o, nil
}

var runIDRE = workflowIDRE()

func workflowIDRE() func(string) bool {
	return func(s string) bool {
		if s == "" || len(s) > 120 || s == "." || s == ".." {
			return false
		}
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return false
			}
		}
		return true
	}
}

// UndoPlan builds the plan that puts back the data restore run o.Run kept
// aside: stop Scalar DL and Cassandra, on every node move the restored files
// (and anything written since) into RUNDIR/undo-UNDORUN (kept) and the kept
// files back, start Cassandra one node at a time and Scalar DL, and verify
// that every table holds exactly what was kept.
func UndoPlan(inv *inventory.Inventory, o UndoOptions) (*workflow.Plan, error) {
	return UndoPlanAt(inv, o, time.Now())
}

// UndoPlanAt is UndoPlan with an explicit clock.
func UndoPlanAt(inv *inventory.Inventory, o UndoOptions, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("restore --undo: no inventory")
	}
	if !runIDRE(o.Run) {
		return nil, fmt.Errorf("restore --undo: bad run ID %q", o.Run)
	}
	opts := o.Original
	opts.ConfirmDeployment = o.ConfirmDeployment
	opts.GateDeadline, opts.GateInterval = o.GateDeadline, o.GateInterval
	opts.Silence = o.Silence
	if err := opts.normalize(true); err != nil {
		return nil, fmt.Errorf("restore --undo: %w", err)
	}
	opts.undoOf = o.Run
	c, err := clusterOf(inv)
	if err != nil {
		return nil, fmt.Errorf("restore --undo: %w", err)
	}
	r := &restorer{inv: inv, opts: opts, c: c, source: "the data kept by run " + o.Run}
	p := workflow.NewPlan(UndoWorkflow, inv, now)
	p.Params = o
	kept := RunDir(opts.DataDir, o.Run)
	p.Notes = append(p.Notes, fmt.Sprintf("This puts back on every Cassandra node the data restore run %s kept in %s. The restored files, and anything written since, are moved into %s/undo-<this run> (kept, never deleted).", o.Run, kept, kept),
		"Scalar DL is stopped on every node until the last step.")
	// Preflight: only what cannot break an undo of a half-done restore.
	checks := r.preflight()
	var pre []workflow.Check
	for _, ch := range checks {
		switch ch.Name {
		case "confirm-deployment", "reachable", "alertmanager":
			pre = append(pre, ch)
		}
	}
	p.Preflight = pre
	p.Steps = append(p.Steps, r.beginStep())
	p.Steps = append(p.Steps, r.stopSteps()...)
	for _, h := range c.ring {
		p.Steps = append(p.Steps, r.unswapStep(h))
	}
	p.Steps = append(p.Steps, r.startSteps()...)
	silence.Wrap(p, opts.Silence)
	p.Steps = append(p.Steps, r.verifyUndoStep(), r.reportStep(true))
	return p, nil
}

func (r *restorer) undoDir(undoRun string) string {
	return r.runDir(r.opts.undoOf) + "/" + shell.Quote("undo-"+undoRun)
}

// unswapScript moves the live files out (when the restore had moved the
// original data aside on this node) and the kept files back. It can be run
// again at any point.
func (r *restorer) unswapScript(undoRun string) string {
	var ksq []string
	for _, ks := range r.opts.Keyspaces {
		ksq = append(ksq, shell.Quote(ks))
	}
	return strings.Join([]string{
		"set -e",
		vars("D", rpath(r.opts.DataDir), "C", rpath(r.opts.CommitlogDir), "A", r.runDir(r.opts.undoOf), "U", r.undoDir(undoRun)),
		`if [ ! -d "$A" ]; then echo "run ` + r.opts.undoOf + ` moved nothing on this node"; exit 0; fi`,
		`mkdir -p "$U/data" "$U/commitlog"`,
		`if [ ! -e "$U/.moved-out" ]; then`,
		`  if [ -e "$A/.moved" ]; then`,
		"    for ks in " + strings.Join(ksq, " ") + `; do for t in "$D/$ks"/*/; do [ -d "$t" ] || continue; t=${t%/}; n=${t##*/}; mkdir -p "$U/data/$ks/$n"`,
		`      for f in "$t"/*; do if [ -f "$f" ]; then mv "$f" "$U/data/$ks/$n/"; fi; done; done; done`,
		`    for f in "$C"/*; do if [ -f "$f" ]; then mv "$f" "$U/commitlog/"; fi; done`,
		"  fi",
		`  : > "$U/.moved-out"`,
		"fi",
		`if [ ! -e "$U/.moved-back" ]; then`,
		`  for d in "$A/data"/*/*/; do [ -d "$d" ] || continue; d=${d%/}; n=${d##*/}; k=${d%/*}; k=${k##*/}; mkdir -p "$D/$k/$n"`,
		`    for f in "$d"/*; do if [ -f "$f" ]; then mv "$f" "$D/$k/$n/"; fi; done; done`,
		`  mkdir -p "$C"; for f in "$A/commitlog"/*; do if [ -f "$f" ]; then mv "$f" "$C/"; fi; done`,
		`  : > "$U/.moved-back"`,
		"fi",
	}, "\n")
}

func (r *restorer) unswapStep(h inventory.Host) workflow.Step {
	kept := RunDir(r.opts.DataDir, r.opts.undoOf)
	return workflow.Step{
		ID:         h.Short + "/put-back",
		Title:      fmt.Sprintf("move the restored files (and anything written since) into %s/undo-<run>, then the data kept in %s back into place", kept, kept),
		Host:       h.Name,
		Commands:   []string{r.unswapScript("<run>")},
		Timeout:    30 * time.Minute,
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			if st := cassandraState(ctx, env, h); st == "active" {
				return fmt.Errorf("%s: Cassandra is running; its files are not touched while it runs", h.Short)
			}
			if err := env.Run(ctx, h.Name, r.unswapScript(env.RunID())); err != nil {
				return fmt.Errorf("putting %s's kept data back stopped: %w; nothing was deleted: `scalar-tui resume %s --confirm-deployment %s` continues", h.Short, err, env.RunID(), r.inv.NetworkName)
			}
			return nil
		},
	}
}

func (r *restorer) verifyUndoStep() workflow.Step {
	kept := RunDir(r.opts.DataDir, r.opts.undoOf)
	return workflow.Step{
		ID:         "verify",
		Title:      fmt.Sprintf("verify: every node's tables hold exactly the files listed in %s/kept.cksum; the ring is UN; every Scalar DL node serves", kept),
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			var bad []string
			for _, h := range r.c.ring {
				out, err := execOut(ctx, env, h, vars("A", r.runDir(r.opts.undoOf))+`; if [ -f "$A/kept.cksum" ]; then cat "$A/kept.cksum"; else echo NOKEPT; fi`)
				if err != nil {
					return err
				}
				if strings.TrimSpace(out) == "NOKEPT" {
					env.Notice(h.Short + ": run " + r.opts.undoOf + " had not moved this node's data: nothing to compare")
					continue
				}
				want := map[string]string{}
				for _, l := range strings.Split(out, "\n") {
					f := strings.Fields(l)
					if len(f) == 3 {
						want[strings.TrimPrefix(f[2], "./")] = f[0] + " " + f[1]
					}
				}
				got, err := execOut(ctx, env, h, r.listCommand(""))
				if err != nil {
					return err
				}
				if d := diffLists(want, parseList(got)); d != "" {
					bad = append(bad, h.Short+": "+d)
				} else {
					env.Notice(fmt.Sprintf("%s: the %d kept files are back in place", h.Short, len(want)))
				}
			}
			for _, h := range r.c.sdl {
				if ok, why := serving(ctx, env, h); !ok {
					bad = append(bad, why)
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("verification failed: %s", strings.Join(bad, "; "))
			}
			return nil
		},
	}
}
