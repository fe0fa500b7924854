// Package runbookkind registers the runbook workflows (restart-cassandra,
// rolling-restart, restart-container, free-disk, reachability) in the
// workflow catalog with what they share: the --health-gate, --gate-deadline
// and --gate-interval options, a preflight that the gate's monitoring
// answers, the Alertmanager silence of the touched hosts, and a journal of
// the kind's options plus those choices so that resume rebuilds the same
// plan. Each runbook's own package calls Register from its kind.go.
//
// It must not import tui or cmd.
package runbookkind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
)

// Params is what every runbook journals beside its options.
type Params struct {
	NoSilence  bool   `json:"no_silence,omitempty"`
	HealthGate string `json:"health_gate,omitempty"`
}

// Journal is a runbook run's journalled parameters: the kind's options O
// and the shared Params, flattened into one JSON object.
type Journal[O any] struct {
	Options O
	Params
}

// MarshalJSON writes the options' and the params' fields as one object.
func (j Journal[O]) MarshalJSON() ([]byte, error) {
	a, err := json.Marshal(j.Options)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(j.Params)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(b, []byte("{}")) {
		return a, nil
	}
	if bytes.Equal(a, []byte("{}")) {
		return b, nil
	}
	return append(append(a[:len(a)-1:len(a)-1], ','), b[1:]...), nil
}

// UnmarshalJSON reads both from the one object.
func (j *Journal[O]) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &j.Options); err != nil {
		return err
	}
	return json.Unmarshal(b, &j.Params)
}

// Spec describes one runbook to Register.
type Spec[O any] struct {
	// Kind carries the name, the help texts, the console entries and the
	// runbook's own options; Register adds the shared ones, Validate,
	// Plan and Resume.
	Kind workflow.Kind
	// GateDeadline is the default of --gate-deadline (10m when zero).
	GateDeadline time.Duration
	// Silence is false for a read-only runbook: --no-silence is accepted
	// but hidden and nothing is silenced.
	Silence bool
	// HealthCheck adds the preflight that the gate's monitoring answers
	// (false where monitoring is one finding among others).
	HealthCheck bool
	// Validate checks the runbook's own options (after the shared ones).
	Validate func(workflow.Values) error
	// Options maps the values onto the runbook's options.
	Options func(workflow.Values) O
	// Plan builds the plan with the gate's source src (nil for off).
	Plan func(d workflow.Deps, o O, src health.Source) (*workflow.Plan, error)
	// SilenceHosts are the hosts whose alerts the run silences.
	SilenceHosts func(inv *inventory.Inventory, o O) []string
}

// Register adds the runbook to the workflow catalog.
func Register[O any](s Spec[O]) {
	k := s.Kind
	k.Runbook, k.Dangerous = true, !k.ReadOnly
	deadline := s.GateDeadline
	if deadline == 0 {
		deadline = 10 * time.Minute
	}
	if !k.Canary { // the rolling restart has it among the shared flags
		k.Options = append(k.Options, workflow.KindOption{Name: "no-silence", Type: workflow.OptBool, Default: false,
			Help: "do not silence the touched hosts' alerts in Alertmanager while the run lasts", Hidden: !s.Silence})
	}
	k.Options = append(k.Options,
		workflow.KindOption{Name: "health-gate", Type: workflow.OptString, Default: workflow.HealthGatePrometheus,
			Help: "monitoring the last gate reads: prometheus (the alert must clear), scrape (the exporters, for when Prometheus is down), auto or off"},
		workflow.KindOption{Name: "gate-deadline", Type: workflow.OptDuration, Default: deadline, Help: "how long each gate waits", Positive: true},
		workflow.KindOption{Name: "gate-interval", Type: workflow.OptDuration, Default: 5 * time.Second, Help: "poll interval of the gates", Positive: true},
	)
	k.Validate = func(v workflow.Values) error {
		if err := workflow.CheckHealthGate(v.String("health-gate")); err != nil {
			return err
		}
		if v.Duration("gate-deadline") <= 0 || v.Duration("gate-interval") <= 0 {
			return errors.New("--gate-deadline and --gate-interval must be positive")
		}
		if s.Validate != nil {
			return s.Validate(v)
		}
		return nil
	}
	k.Plan = func(ctx context.Context, d workflow.Deps, v workflow.Values) (*workflow.Plan, error) {
		if err := k.Validate(v); err != nil {
			return nil, err
		}
		return s.build(d, Journal[O]{Options: s.Options(v),
			Params: Params{NoSilence: v.Bool("no-silence"), HealthGate: v.String("health-gate")}})
	}
	k.Resume = workflow.DecodeParams(k.Name, func(_ context.Context, d workflow.Deps, j Journal[O]) (*workflow.Plan, error) {
		return s.build(d, j)
	})
	workflow.Register(&k)
}

// build plans with the gate's source and its preflight, journals j and
// wraps the plan in the silence.
func (s Spec[O]) build(d workflow.Deps, j Journal[O]) (*workflow.Plan, error) {
	src, err := d.HealthSource(j.HealthGate)
	if err != nil {
		return nil, err
	}
	p, err := s.Plan(d, j.Options, src)
	if err != nil {
		return nil, err
	}
	if o, ok := p.Params.(O); ok {
		j.Options = o
	}
	p.Params = j
	if src != nil && s.HealthCheck {
		p.Preflight = append(p.Preflight, healthCheck(src, j.HealthGate))
	}
	if s.Silence && !j.NoSilence {
		if err := silence.Hosts(d.Inventory, d.Client.DialContext, p, s.SilenceHosts(d.Inventory, j.Options)...); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// healthCheck refuses the run before it changes anything when the gate's
// monitoring does not answer: a gate that can never pass.
func healthCheck(src health.Source, gate string) workflow.Check {
	return workflow.Check{
		Name:        "health-" + gate,
		Description: "monitoring (" + gate + ") answers: the last gate reads it",
		Run: func(ctx context.Context, _ *workflow.Env) error {
			if _, err := src.Snapshot(ctx); err != nil {
				return fmt.Errorf("%w (use --health-gate scrape when Prometheus is down, or --health-gate off)", err)
			}
			return nil
		},
	}
}

// HostRequired refuses a runbook without --host.
func HostRequired(v workflow.Values) error {
	if v.String("host") == "" {
		return errors.New("--host is required")
	}
	return nil
}
