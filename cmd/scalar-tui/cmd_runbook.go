package main

// Shared plumbing of the runbook commands (restart-cassandra, rolling-restart,
// restart-container, free-disk, reachability): the flags they all take, the
// Alertmanager silence around the plan, the health source of their gates.
// Each runbook is its own cmd_<name>.go; ops/runbook maps alerts to them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"scalar-tui/inventory"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
)

// runbookFlags are the flags every runbook command takes.
type runbookFlags struct {
	wf           workflowFlags
	healthGate   string
	gateDeadline time.Duration
	gateInterval time.Duration
}

// runbookParams is what every runbook journals beside its options, so that
// resume rebuilds the same silence and health gate.
type runbookParams struct {
	NoSilence  bool   `json:"no_silence,omitempty"`
	HealthGate string `json:"health_gate,omitempty"`
}

// add registers the shared flags. canary is true for the rolling restart.
func (o *runbookFlags) add(f *pflag.FlagSet, canary, mutating bool) {
	o.wf.addFlags(f, canary)
	if !canary {
		f.BoolVar(&o.wf.dryRun, "dry-run", false, "print the plan (every remote command, preflight checks, gates) and exit; nothing is changed")
	}
	if mutating && f.Lookup("no-silence") == nil { // the rolling restart has it from addFlags
		f.BoolVar(&o.wf.noSilence, "no-silence", false, "do not silence the touched hosts' alerts in Alertmanager while the run lasts")
	}
	f.StringVar(&o.healthGate, "health-gate", healthGatePrometheus, "monitoring the last gate reads: prometheus (the alert must clear), scrape (the exporters, for when Prometheus is down), auto or off")
	f.DurationVar(&o.gateDeadline, "gate-deadline", 10*time.Minute, "how long each gate waits")
	f.DurationVar(&o.gateInterval, "gate-interval", 5*time.Second, "poll interval of the gates")
	positive(f, "gate-deadline", "gate-interval")
}

// params validates the shared flags.
func (o *runbookFlags) params() (runbookParams, error) {
	switch o.healthGate {
	case healthGatePrometheus, healthGateScrape, healthGateAuto, healthGateOff:
	default:
		return runbookParams{}, fmt.Errorf("--health-gate %q: want prometheus, scrape, auto or off", o.healthGate)
	}
	if o.gateDeadline <= 0 || o.gateInterval <= 0 {
		return runbookParams{}, errors.New("--gate-deadline and --gate-interval must be positive")
	}
	return runbookParams{NoSilence: o.wf.noSilence, HealthGate: o.healthGate}, nil
}

// runbookHealth returns the health source of rp's gate (nil for off) and
// adds a preflight check that it answers: a gate that can never pass should
// refuse the run before it changes anything.
func runbookHealth(inv *inventory.Inventory, cl *sshx.Client, rp runbookParams) (health.Source, workflow.Check, error) {
	src, err := healthGateSource(inv, cl, rp.HealthGate)
	if err != nil || src == nil {
		return nil, workflow.Check{}, err
	}
	return src, workflow.Check{
		Name:        "health-" + rp.HealthGate,
		Description: "monitoring (" + rp.HealthGate + ") answers: the last gate reads it",
		Run: func(ctx context.Context, _ *workflow.Env) error {
			if _, err := src.Snapshot(ctx); err != nil {
				return fmt.Errorf("%w (use --health-gate scrape when Prometheus is down, or --health-gate off)", err)
			}
			return nil
		},
	}, nil
}

// wrapRunbookSilence wraps p in an Alertmanager silence of hosts unless
// --no-silence (see ops/workflow/silence).
func wrapRunbookSilence(inv *inventory.Inventory, cl *sshx.Client, p *workflow.Plan, rp runbookParams, hosts ...string) error {
	if rp.NoSilence || p.ReadOnly {
		return nil
	}
	u, err := silence.URL(inv.Endpoints.Prometheus)
	if err != nil {
		return badInput(fmt.Errorf("%w; pass --no-silence to run without one", err))
	}
	am, err := alertmanager.New(u, alertmanager.Options{Dial: cl.DialContext, Timeout: 10 * time.Second})
	if err != nil {
		return badInput(err)
	}
	silence.Wrap(p, silence.Options{Client: am, Hosts: hosts})
	return nil
}

// registerJSONResume registers a resume builder for a workflow that
// journals its parameters as P: they are decoded and handed to build.
func registerJSONResume[P any](name string, build func(*inventory.Inventory, *sshx.Client, P) (*workflow.Plan, error)) {
	registerResume(name, func(_ context.Context, inv *inventory.Inventory, cl *sshx.Client, raw json.RawMessage) (*workflow.Plan, error) {
		var p P
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("journalled %s parameters: %w", name, err)
		}
		return build(inv, cl, p)
	})
}
