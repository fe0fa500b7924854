// Package drill is the catalog of drills: destructive tests that inject ONE
// fault on one chosen host, expect the monitoring to notice (the alert fires
// in Prometheus and health marks the host), recover with the matching
// runbook's plan steps and expect everything to clear. Each drill is a
// workflow.Plan; the recovery steps are cleanup steps, so they run when an
// earlier step failed, on cancel and on a signal, like the backup's unpause.
//
// A drill measures time to detect (fault → alert firing, fault → health
// marks the host) and time to recover (recovery start → alert resolved,
// health green) with the caller's clock, and whether clients were affected
// as far as Envoy tells (some Envoy kept healthy scalar-service members).
//
// Faults of the simulator (node unreachable, disk full) need a Simulator and
// run on the demo and the lab only. It must not import tui, cmd or internal.
package drill

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restartcassandra"
	"scalar-tui/ops/workflow/restartcontainer"
)

// Workflow is the workflow's name in plans, journals and run IDs.
const Workflow = "drill"

// Drill names.
const (
	CassandraStopped = "cassandra-stopped"
	ScalarDLKilled   = "scalardl-killed"
	EnvoyKilled      = "envoy-killed"
	NodeUnreachable  = "node-unreachable"
	DiskLow          = "disk-low"
)

// Environment kinds (config `kind:`). The demo counts as KindLab.
const (
	KindProduction = "production"
	KindStaging    = "staging"
	KindLab        = "lab"
)

// Simulator injects and clears the simulator's faults (internal/sim fault
// kinds: "node-down", "disk-full") on the demo or the lab. Nil elsewhere.
type Simulator interface {
	InjectFault(ctx context.Context, host, kind string) error
	ClearFault(ctx context.Context, host, kind string) error
}

// Spec describes one drill of the catalog.
type Spec struct {
	Name  string
	Title string
	// Roles are the host roles the drill can target.
	Roles []inventory.Role
	// Alerts are the alerts expected to fire for the host (any of them
	// counts as detected; all must clear).
	Alerts []string
	// Fault is the remote command that injects the fault, or "" when the
	// fault is the simulator's SimFault.
	Fault    string
	SimFault string
	// Runbook names the runbook workflow whose steps recover.
	Runbook string
}

// SimOnly reports whether the drill needs the simulator (demo and lab only).
func (s Spec) SimOnly() bool { return s.SimFault != "" }

var catalog = []Spec{
	{Name: CassandraStopped, Title: "Cassandra stopped on one node", Roles: []inventory.Role{inventory.RoleCassandra},
		Alerts: []string{restartcassandra.Alert}, Fault: "sudo systemctl stop cassandra", Runbook: restartcassandra.Workflow},
	{Name: ScalarDLKilled, Title: "Scalar DL container killed", Roles: []inventory.Role{inventory.RoleScalarDLBlue, inventory.RoleScalarDLGreen},
		Alerts: []string{"ScalarDLContainerDown"}, Fault: "docker kill provision_scalar_1", Runbook: restartcontainer.Workflow},
	{Name: EnvoyKilled, Title: "Envoy container killed", Roles: []inventory.Role{inventory.RoleEnvoy},
		Alerts: []string{"EnvoyContainerDown"}, Fault: "docker kill provision_envoy_1", Runbook: restartcontainer.Workflow},
	{Name: NodeUnreachable, Title: "node unreachable (demo and lab only)", Roles: []inventory.Role{inventory.RoleCassandra,
		inventory.RoleScalarDLBlue, inventory.RoleEnvoy, inventory.RoleCassy, inventory.RoleReaper},
		Alerts: []string{"InstanceDown"}, SimFault: "node-down", Runbook: "reachability (read-only); the fault is cleared as an instance reboot would"},
	{Name: DiskLow, Title: "disk below the alert threshold (demo and lab only)", Roles: []inventory.Role{inventory.RoleCassandra},
		Alerts: []string{"CassandraDriveSpaceLow", "InstanceDriveSpaceLow"}, SimFault: "disk-full", Runbook: "free-disk (the simulated fill is removed)"},
}

// Catalog returns every drill, in a stable order.
func Catalog() []Spec { return append([]Spec(nil), catalog...) }

// Lookup returns the drill named name.
func Lookup(name string) (Spec, bool) {
	for _, s := range catalog {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Names returns the drill names.
func Names() []string {
	n := make([]string, len(catalog))
	for i, s := range catalog {
		n[i] = s.Name
	}
	return n
}

// Safety is what the caller knows about the environment.
type Safety struct {
	// Kind is the environment's kind (KindProduction, KindStaging,
	// KindLab); "" is treated as production: a drill is dangerous.
	Kind string
	// Deployment is the deployment's name the operator must type.
	Deployment string
	// AllowProduction and Confirm are --allow-production and
	// --confirm-deployment.
	AllowProduction bool
	Confirm         string
}

// CheckSafety refuses a production environment (or one of unknown kind)
// unless AllowProduction is set and Confirm is the deployment's name.
func CheckSafety(s Safety) error {
	switch s.Kind {
	case KindLab, KindStaging:
		return nil
	case KindProduction, "":
	default:
		return fmt.Errorf("unknown environment kind %q (want production, staging or lab)", s.Kind)
	}
	what := "a production environment"
	if s.Kind == "" {
		what = "an environment whose kind is not set (set `kind:` in the config)"
	}
	if !s.AllowProduction {
		return fmt.Errorf("refused: this is %s; a drill there needs --allow-production and --confirm-deployment %q", what, s.Deployment)
	}
	if s.Confirm != s.Deployment {
		return fmt.Errorf("refused: --confirm-deployment %q does not match the deployment %q", s.Confirm, s.Deployment)
	}
	return nil
}

// Options configures a drill.
type Options struct {
	// Name is the drill (see Names). Host is the target host.
	Name string `json:"name"`
	Host string `json:"host"`
	// Safety is checked by Build.
	Safety Safety `json:"-"`
	// Health is the monitoring to watch (required): Prometheus with the
	// real rules, for the alerts.
	Health health.Source `json:"-"`
	// Sim injects the simulator's faults (demo and lab only).
	Sim Simulator `json:"-"`
	// Now is the clock of the measurements (default time.Now).
	Now func() time.Time `json:"-"`
	// Deadline bounds detection and each recovery wait (default 5 min);
	// Interval is the poll interval (default 1 s).
	Deadline time.Duration `json:"deadline,omitempty"`
	Interval time.Duration `json:"interval,omitempty"`
	// RecoverOnly rebuilds the plan of a journalled drill for Resume: the
	// inject and detect steps do nothing (a resumed drill never injects),
	// the safety was checked when it started, and a simulator drill without
	// Sim fails its clear step with the command to run by hand.
	RecoverOnly bool `json:"-"`
}

// Result is what a drill measured.
type Result struct {
	Drill      string    `json:"drill"`
	Host       string    `json:"host"`
	RunID      string    `json:"run_id,omitempty"`
	Deployment string    `json:"deployment,omitempty"`
	Started    time.Time `json:"started"`
	// Status is the run's status (done, failed, canceled, refused).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Injected is when the fault was injected.
	Injected time.Time `json:"injected,omitempty"`
	// AlertFiring is when an expected alert was first seen firing;
	// HealthMarked when health first marked the host not healthy.
	AlertFiring  time.Time `json:"alert_firing,omitempty"`
	HealthMarked time.Time `json:"health_marked,omitempty"`
	// RecoverStart is when the recovery started; AlertResolved when the
	// alerts had cleared; HealthGreen when every host was healthy.
	RecoverStart  time.Time `json:"recover_start,omitempty"`
	AlertResolved time.Time `json:"alert_resolved,omitempty"`
	HealthGreen   time.Time `json:"health_green,omitempty"`
	// DetectAlert etc. are the durations (zero when not measured).
	DetectAlert    time.Duration `json:"detect_alert_ns,omitempty"`
	DetectHealth   time.Duration `json:"detect_health_ns,omitempty"`
	RecoverAlert   time.Duration `json:"recover_alert_ns,omitempty"`
	RecoverHealthy time.Duration `json:"recover_healthy_ns,omitempty"`
	// ClientsAffected is true when, at some sample, no Envoy had all its
	// scalar-service members healthy... see ClientsNote; nil when unknown.
	ClientsAffected *bool  `json:"clients_affected,omitempty"`
	ClientsNote     string `json:"clients_note,omitempty"`
	// Samples is how many health snapshots the drill read.
	Samples int `json:"samples"`
}

// Pass reports whether the drill detected and recovered.
func (r *Result) Pass() bool {
	return r.Status == string(workflow.StatusDone) && !r.AlertFiring.IsZero() && !r.HealthMarked.IsZero() &&
		!r.AlertResolved.IsZero() && !r.HealthGreen.IsZero()
}

// finish computes the durations.
func (r *Result) finish() {
	d := func(a, b time.Time) time.Duration {
		if a.IsZero() || b.IsZero() {
			return 0
		}
		return b.Sub(a)
	}
	r.DetectAlert = d(r.Injected, r.AlertFiring)
	r.DetectHealth = d(r.Injected, r.HealthMarked)
	r.RecoverAlert = d(r.RecoverStart, r.AlertResolved)
	r.RecoverHealthy = d(r.RecoverStart, r.HealthGreen)
}

// Drill is a built drill: its plan and what it measures while it runs.
type Drill struct {
	Plan *workflow.Plan
	Spec Spec
	mu   sync.Mutex
	res  Result
	// envoy sampling
	sampled, anyServing, allServing int
}

// Result returns a copy of the measurements with the run's outcome.
func (d *Drill) Result(status workflow.Status, err error) Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.res
	r.Status = string(status)
	if err != nil {
		r.Error = err.Error()
	}
	r.finish()
	if d.sampled > 0 {
		affected := d.anyServing < d.sampled
		r.ClientsAffected = &affected
		r.ClientsNote = fmt.Sprintf("%d of %d samples had every Envoy's scalar-service members healthy; %d had at least one Envoy with all members healthy", d.allServing, d.sampled, d.anyServing)
	} else {
		r.ClientsNote = "unknown: no Envoy membership seen by monitoring"
	}
	return r
}

// Build returns the drill's plan for inv. It checks the drill, the host and
// the safety, but not the cluster: that is the plan's preflight.
func Build(inv *inventory.Inventory, opts Options) (*Drill, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	opts.Now = now
	if inv == nil {
		return nil, errors.New("drill: no inventory")
	}
	spec, ok := Lookup(opts.Name)
	if !ok {
		return nil, fmt.Errorf("drill: unknown drill %q (known: %s)", opts.Name, strings.Join(Names(), ", "))
	}
	if opts.Host == "" {
		return nil, fmt.Errorf("drill %s: --host is required (one %s host)", spec.Name, rolesText(spec.Roles))
	}
	h, ok := inv.Find(opts.Host)
	if !ok {
		return nil, fmt.Errorf("drill %s: unknown host %q", spec.Name, opts.Host)
	}
	if !hasRole(spec.Roles, h.Role) {
		return nil, fmt.Errorf("drill %s: %s is a %s host; the drill targets a %s host", spec.Name, h.Short, h.Role, rolesText(spec.Roles))
	}
	if opts.Health == nil {
		return nil, fmt.Errorf("drill %s: no monitoring (Prometheus) to watch: a drill needs the monitor host", spec.Name)
	}
	if spec.SimOnly() && !opts.RecoverOnly {
		if opts.Safety.Kind != KindLab || opts.Sim == nil {
			return nil, fmt.Errorf("drill %s: runs on the demo and the lab only (it uses the simulator's %s fault)", spec.Name, spec.SimFault)
		}
	}
	if !opts.RecoverOnly {
		if err := CheckSafety(opts.Safety); err != nil {
			return nil, fmt.Errorf("drill %s: %w", spec.Name, err)
		}
	}
	if opts.Deadline <= 0 {
		opts.Deadline = 5 * time.Minute
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	opts.Host = h.Name

	d := &Drill{Spec: spec}
	d.res = Result{Drill: spec.Name, Host: h.Name, Deployment: opts.Safety.Deployment, Started: now()}
	p := workflow.NewPlan(Workflow, inv, now())
	p.ID = workflow.NewRunID(now(), Workflow+"-"+spec.Name)
	p.Params = opts
	p.Notes = append(p.Notes, fmt.Sprintf("DRILL: injects %q on %s, waits for %s to fire, then recovers (%s). The recovery steps always run.",
		faultText(spec), h.Short, strings.Join(spec.Alerts, " or "), spec.Runbook))
	p.Preflight = []workflow.Check{{
		Name:        "cluster-healthy",
		Description: "every host healthy and no alert firing (a drill never injects a second fault)",
		Run: func(ctx context.Context, _ *workflow.Env) error {
			snap, err := opts.Health.Snapshot(ctx)
			if err != nil {
				return fmt.Errorf("monitoring: %w", err)
			}
			return FullyHealthy(snap)
		},
	}}
	p.Steps = append(p.Steps, workflow.Step{
		ID:       h.Short + "/inject",
		Title:    "inject the fault: " + faultText(spec),
		Host:     h.Name,
		Commands: injectCommands(spec),
		Timeout:  2 * time.Minute,
		Run: func(ctx context.Context, env *workflow.Env) error {
			if opts.RecoverOnly {
				return nil
			}
			d.set(func(r *Result) { r.Injected = now(); r.RunID = env.RunID() })
			if spec.SimOnly() {
				return opts.Sim.InjectFault(ctx, h.Name, spec.SimFault)
			}
			return env.Run(ctx, h.Name, spec.Fault)
		},
	}, workflow.Step{
		ID:    h.Short + "/detect",
		Title: "wait for " + strings.Join(spec.Alerts, " or ") + " to fire and health to mark " + h.Short,
		Host:  h.Name,
		Run: func(ctx context.Context, _ *workflow.Env) error {
			if opts.RecoverOnly {
				return nil
			}
			return d.poll(ctx, opts, "detection", func(snap *health.Snapshot, t time.Time) bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				if d.res.AlertFiring.IsZero() && len(firing(snap, h, spec.Alerts)) > 0 {
					d.res.AlertFiring = t
				}
				if hh, ok := snap.Host(h.Name); ok && d.res.HealthMarked.IsZero() && hh.State != health.StateHealthy && hh.State != health.StateUnknown {
					d.res.HealthMarked = t
				}
				if hh, ok := snap.Host(h.Name); ok && d.res.HealthMarked.IsZero() && spec.Name == NodeUnreachable && hh.State == health.StateUnknown {
					d.res.HealthMarked = t
				}
				return !d.res.AlertFiring.IsZero() && !d.res.HealthMarked.IsZero()
			})
		},
	}, workflow.Step{
		ID:         h.Short + "/recover-start",
		Title:      "start the recovery (" + spec.Runbook + ")",
		Host:       h.Name,
		Cleanup:    true,
		Idempotent: true,
		Run: func(context.Context, *workflow.Env) error {
			d.set(func(r *Result) { r.RecoverStart = now() })
			return nil
		},
	})
	rec, err := recoverySteps(inv, spec, h, opts)
	if err != nil {
		return nil, err
	}
	p.Steps = append(p.Steps, rec...)
	p.Steps = append(p.Steps, workflow.Step{
		ID:         h.Short + "/all-clear",
		Title:      "wait for every alert to resolve and every host to be healthy",
		Host:       h.Name,
		Cleanup:    true,
		Idempotent: true,
		Run: func(ctx context.Context, _ *workflow.Env) error {
			return d.poll(ctx, opts, "recovery", func(snap *health.Snapshot, t time.Time) bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				if d.res.AlertResolved.IsZero() && len(firing(snap, h, spec.Alerts)) == 0 && len(snap.Alerts) == 0 {
					d.res.AlertResolved = t
				}
				if FullyHealthy(snap) == nil {
					if d.res.AlertResolved.IsZero() {
						d.res.AlertResolved = t
					}
					d.res.HealthGreen = t
					return true
				}
				return false
			})
		},
	})
	if opts.RecoverOnly {
		// The fault is in; the cluster is not healthy: recover, no preflight.
		p.Preflight = nil
		p.Notes = append(p.Notes, "RESUMED drill: the fault is not injected again and detection is not measured; only the recovery runs.")
	}
	d.Plan = p
	return d, nil
}

func (d *Drill) set(f func(*Result)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.res)
}

// poll reads health every opts.Interval until done returns true (which
// records its own times), sampling Envoy membership on the way.
func (d *Drill) poll(ctx context.Context, opts Options, what string, done func(*health.Snapshot, time.Time) bool) error {
	start := opts.Now()
	var last string
	for {
		snap, err := opts.Health.Snapshot(ctx)
		t := opts.Now()
		if err == nil && snap != nil {
			d.sample(snap)
			if done(snap, t) {
				return nil
			}
			last = summary(snap)
		} else if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			last = err.Error()
		}
		if t.Sub(start) > opts.Deadline {
			return fmt.Errorf("%s: not done within %s (last seen: %s)", what, opts.Deadline, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opts.Interval):
		}
	}
}

// sample records whether clients could be served: some Envoy that is up
// with every scalar-service member healthy.
func (d *Drill) sample(snap *health.Snapshot) {
	var envoys, all, any int
	for _, hh := range snap.Hosts {
		if hh.Host.Role != inventory.RoleEnvoy || hh.EnvoyHealthyMembers == nil || hh.EnvoyTotalMembers == nil {
			continue
		}
		if hh.Up != nil && !*hh.Up {
			continue
		}
		envoys++
		if *hh.EnvoyHealthyMembers > 0 {
			any++
		}
		if *hh.EnvoyHealthyMembers == *hh.EnvoyTotalMembers && *hh.EnvoyTotalMembers > 0 {
			all++
		}
	}
	if envoys == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sampled++
	d.res.Samples++
	if any > 0 {
		d.anyServing++
	}
	if all == envoys {
		d.allServing++
	}
}

// recoverySteps are the runbook's plan steps, made cleanup steps.
func recoverySteps(inv *inventory.Inventory, spec Spec, h inventory.Host, opts Options) ([]workflow.Step, error) {
	var steps []workflow.Step
	switch spec.Name {
	case CassandraStopped:
		p, err := restartcassandra.PlanAt(inv, restartcassandra.Options{Host: h.Name, Force: true, Health: opts.Health,
			GateDeadline: opts.Deadline, GateInterval: opts.Interval}, opts.Now())
		if err != nil {
			return nil, err
		}
		steps = p.Steps
	case ScalarDLKilled, EnvoyKilled:
		svc := "scalar"
		if spec.Name == EnvoyKilled {
			svc = "envoy"
		}
		p, err := restartcontainer.PlanAt(inv, restartcontainer.Options{Host: h.Name, Service: svc, Health: opts.Health,
			GateDeadline: opts.Deadline, GateInterval: opts.Interval}, opts.Now())
		if err != nil {
			return nil, err
		}
		steps = p.Steps
	default:
		// The node is back as after a reboot: the runbook of its services
		// then proves it serves again (ring UN from a peer, or SERVING and
		// back in every Envoy), not only that monitoring sees it.
		var after []workflow.Step
		if spec.Name == NodeUnreachable {
			var err error
			after, err = rejoinSteps(inv, h, opts)
			if err != nil {
				return nil, err
			}
		}
		steps = []workflow.Step{{
			ID:         h.Short + "/clear-" + spec.SimFault,
			Title:      "clear the simulator's " + spec.SimFault + " fault",
			Host:       h.Name,
			Commands:   []string{"scalar-tui sim fault --clear " + h.Short + " " + spec.SimFault},
			Idempotent: true,
			Run: func(ctx context.Context, _ *workflow.Env) error {
				if opts.Sim == nil {
					return fmt.Errorf("no simulator to clear %s on %s: run `scalar-tui sim fault --state DIR --clear %s %s`", spec.SimFault, h.Short, h.Short, spec.SimFault)
				}
				return opts.Sim.ClearFault(ctx, h.Name, spec.SimFault)
			},
		}}
		if spec.Name == NodeUnreachable {
			steps = append(steps, reachableStep(h, opts))
		}
		steps = append(steps, after...)
	}
	for i := range steps {
		steps[i].Cleanup = true
	}
	return steps, nil
}

// reachableStep waits until h answers over SSH through the bastion again.
func reachableStep(h inventory.Host, opts Options) workflow.Step {
	return workflow.Step{
		ID:         h.Short + "/reachable",
		Title:      "wait for " + h.Short + " to answer over SSH",
		Host:       h.Name,
		Idempotent: true,
		Run:        func(context.Context, *workflow.Env) error { return nil },
		Gate: &workflow.Gate{
			Name:        "ssh-reachable",
			Description: "`true` runs on " + h.Short + " through the bastion",
			Deadline:    opts.Deadline,
			Interval:    opts.Interval,
			Check: func(ctx context.Context, env *workflow.Env) (bool, string, error) {
				r, err := env.Exec(ctx, h.Name, "true")
				if err != nil {
					if ctx.Err() != nil {
						return false, "", err
					}
					return false, err.Error(), nil
				}
				if r.ExitCode != 0 {
					return false, fmt.Sprintf("`true` exited %d", r.ExitCode), nil
				}
				return true, "", nil
			},
		},
	}
}

// rejoinSteps are the runbook steps that prove h serves again after it was
// unreachable: restart-cassandra's (start is a no-op on a running node;
// gates on UN from a peer and the alert) or restart-container's for its
// main service.
func rejoinSteps(inv *inventory.Inventory, h inventory.Host, opts Options) ([]workflow.Step, error) {
	if h.Role == inventory.RoleCassandra {
		p, err := restartcassandra.PlanAt(inv, restartcassandra.Options{Host: h.Name, Force: true, Health: opts.Health,
			GateDeadline: opts.Deadline, GateInterval: opts.Interval}, opts.Now())
		if err != nil {
			return nil, err
		}
		return p.Steps, nil
	}
	if len(restartcontainer.Services(h.Role)) == 0 {
		return nil, nil
	}
	p, err := restartcontainer.PlanAt(inv, restartcontainer.Options{Host: h.Name, Health: opts.Health,
		GateDeadline: opts.Deadline, GateInterval: opts.Interval}, opts.Now())
	if err != nil {
		return nil, err
	}
	return p.Steps, nil
}

// fullyHealthy returns nil when every host is healthy and no alert fires.
func FullyHealthy(snap *health.Snapshot) error {
	var bad []string
	for _, hh := range snap.Hosts {
		if hh.State != health.StateHealthy {
			bad = append(bad, fmt.Sprintf("%s is %s (%s)", hh.Host.Short, hh.State, strings.Join(hh.Reasons, "; ")))
		}
	}
	for _, a := range snap.Alerts {
		bad = append(bad, fmt.Sprintf("alert %s firing for %s", a.Name, firstNonEmpty(a.Host, a.Instance)))
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("the cluster is not fully healthy: %s", strings.Join(bad, ", "))
	}
	return nil
}

func summary(snap *health.Snapshot) string {
	if err := FullyHealthy(snap); err != nil {
		return err.Error()
	}
	return "all healthy"
}

// firing returns the alerts of names firing for host.
func firing(snap *health.Snapshot, host inventory.Host, names []string) []string {
	var out []string
	for _, a := range snap.Alerts {
		on := a.Host == host.Name
		if a.Host == "" {
			ih := strings.ToLower(health.InstanceHost(a.Instance))
			on = ih != "" && (ih == strings.ToLower(host.Name) || ih == host.PrivateIP)
		}
		if !on {
			continue
		}
		for _, n := range names {
			if a.Name == n {
				out = append(out, n)
			}
		}
	}
	return out
}

func injectCommands(s Spec) []string {
	if s.Fault != "" {
		return []string{s.Fault}
	}
	return nil
}

func faultText(s Spec) string {
	if s.Fault != "" {
		return s.Fault
	}
	return "simulator fault " + s.SimFault
}

func hasRole(rs []inventory.Role, r inventory.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func rolesText(rs []inventory.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
