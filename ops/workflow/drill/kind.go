package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"scalar-tui/ops/workflow"
)

// Journal is what a drill run journals: the drill's options and, for a
// drill the console runs, where its report step keeps the result.
type Journal struct {
	Options
	ReportDir string `json:"console_report_dir,omitempty"`
}

// SafetyError is a drill refused by CheckSafety (exit 1, not bad input).
type SafetyError struct{ Err error }

func (e *SafetyError) Error() string { return e.Err.Error() }

// Unwrap returns the refusal.
func (e *SafetyError) Unwrap() error { return e.Err }

func init() {
	workflow.Register(&workflow.Kind{
		Name: Workflow,
		// The CLI's `drill NAME` is written by cmd (it injects the lab's
		// faults and keeps the result after the run).
		Command:   "-",
		Arg:       "name",
		Dangerous: true,
		Summary:   "Run a drill: inject one fault, watch the alert fire, recover with the runbook",
		Options: []workflow.KindOption{
			{Name: "name", Type: workflow.OptString, Help: "the drill"},
			{Name: "host", PerRun: true, Type: workflow.OptString, Default: "", Help: "the host to inject the fault on: name, short name or IP"},
			{Name: "allow-production", PerRun: true, Type: workflow.OptBool, Default: false, Help: "allow a drill on a production environment (with --confirm-deployment)"},
			{Name: "confirm-deployment", PerRun: true, Type: workflow.OptString, Default: "", Help: "the deployment's network name, typed, to confirm a production drill"},
			{Name: "interval", Type: workflow.OptDuration, Default: time.Second, Help: "poll interval of the monitoring"},
			{Name: "deadline", Type: workflow.OptDuration, Default: 5 * time.Minute, Help: "bound of detection and of each recovery wait"},
		},
		ConsoleCommand: "drill",
		// Not silenced: the operator watches its alert fire and clear.
		NoSilence: true,
		Validate:  validate,
		Plan: func(_ context.Context, d workflow.Deps, v workflow.Values) (*workflow.Plan, error) {
			dr, err := Prepare(d, v)
			if err != nil {
				return nil, err
			}
			if !d.Console {
				return dr.Plan, nil
			}
			dir := ResultsDir(d.StateDir)
			p := dr.Plan
			p.Steps = append(p.Steps, ReportStep(dr, dir))
			// Journalled so that a resume rebuilds the same steps.
			if po, ok := p.Params.(Options); ok {
				p.Params = Journal{Options: po, ReportDir: dir}
			}
			return p, nil
		},
		// A drill whose console died (kill -9, a lost pod) is resumed for
		// its recovery only: the plan is rebuilt with RecoverOnly, so
		// nothing is injected again. Simulator drills need the simulator by
		// hand (the clear step says how).
		Resume: workflow.DecodeParams(Workflow, func(_ context.Context, d workflow.Deps, j Journal) (*workflow.Plan, error) {
			o := j.Options
			src, err := d.HealthSource(workflow.HealthGateEnvoy)
			if err != nil {
				return nil, err
			}
			o.Health, o.RecoverOnly = src, true
			dr, err := Build(d.Inventory, o)
			if err != nil {
				return nil, err
			}
			if j.ReportDir != "" {
				// Started from the console: its report step too.
				dr.Plan.Steps = append(dr.Plan.Steps, ReportStep(dr, j.ReportDir))
			}
			return dr.Plan, nil
		}),
	})
}

func validate(v workflow.Values) error {
	if _, ok := Lookup(v.String("name")); !ok {
		return fmt.Errorf("unknown drill %q (known: %s)", v.String("name"), strings.Join(Names(), ", "))
	}
	if v.String("host") == "" {
		return errors.New("--host is required")
	}
	if v.Duration("interval") <= 0 || v.Duration("deadline") <= 0 {
		return errors.New("--interval and --deadline must be positive")
	}
	return nil
}

// Prepare checks the options and the environment's safety (a *SafetyError
// when refused) and builds the drill on d's deployment, with d.Faults as
// the simulator (its presence marks the deployment as a lab).
func Prepare(d workflow.Deps, v workflow.Values) (*Drill, error) {
	if err := validate(v); err != nil {
		return nil, err
	}
	name := v.String("name")
	kind := d.EnvKind
	var sim Simulator
	if d.Faults != nil {
		kind, sim = KindLab, d.Faults
	}
	safety := Safety{Kind: kind, Deployment: d.Inventory.NetworkName, AllowProduction: v.Bool("allow-production"), Confirm: v.String("confirm-deployment")}
	if err := CheckSafety(safety); err != nil {
		return nil, &SafetyError{fmt.Errorf("drill %s: %w", name, err)}
	}
	src, err := d.HealthSource(workflow.HealthGateEnvoy)
	if err != nil {
		return nil, fmt.Errorf("drill: monitoring: %w", err)
	}
	return Build(d.Inventory, Options{Name: name, Host: v.String("host"), Health: src, Sim: sim,
		Safety: safety, Interval: v.Duration("interval"), Deadline: v.Duration("deadline")})
}

// ReportStep is the last step of a drill the console runs: it shows the
// measured times as notices on the workflow screen and keeps the result
// for `drills`, as the CLI does after the run. A cleanup step, so a failed
// drill reports what it measured too; the drill passed only when every time
// was measured (the all-clear step is the last one before it).
func ReportStep(d *Drill, resultsDir string) workflow.Step {
	last := d.Plan.Steps[len(d.Plan.Steps)-1]
	short, _, _ := strings.Cut(last.Host, ".")
	return workflow.Step{
		ID:         short + "/report",
		Title:      "report the measured times and keep the result (scalar-tui drills)",
		Host:       last.Host,
		Cleanup:    true,
		Idempotent: true,
		Run: func(_ context.Context, env *workflow.Env) error {
			r := d.Result(workflow.StatusDone, nil)
			if !r.Pass() {
				r = d.Result(workflow.StatusFailed, nil)
			}
			if _, err := Save(resultsDir, r); err != nil {
				env.Notice("keep the drill result: " + err.Error())
			}
			// The workflow screen shows the last notice: the times go
			// last, on one line.
			env.Notice("clients: " + ClientsText(r))
			env.Notice(Summary(r))
			return nil
		},
	}
}

// Summary is a drill's result on one line.
func Summary(r Result) string {
	verdict := "FAIL"
	if r.Pass() {
		verdict = "PASS"
	}
	short, _, _ := strings.Cut(r.Host, ".")
	clients := "clients unknown"
	if r.ClientsAffected != nil {
		clients = map[bool]string{true: "clients AFFECTED", false: "clients not affected"}[*r.ClientsAffected]
	}
	return fmt.Sprintf("drill %s on %s: %s · detect: alert %s, health %s · recover: alert %s, healthy %s · %s",
		r.Drill, short, verdict, Dur(r.DetectAlert), Dur(r.DetectHealth), Dur(r.RecoverAlert), Dur(r.RecoverHealthy), clients)
}

// Dur is a measured time for display ("-" when not measured).
func Dur(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(100 * time.Millisecond).String()
}

// ClientsText says whether clients were affected, with the note.
func ClientsText(r Result) string {
	switch {
	case r.ClientsAffected == nil:
		return r.ClientsNote
	case *r.ClientsAffected:
		return "AFFECTED: " + r.ClientsNote
	default:
		return "not affected: " + r.ClientsNote
	}
}
