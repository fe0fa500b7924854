package workflow

// The catalog of workflow kinds. Each kind registers itself from its own
// package (its kind.go) with Register: name, typed options, plan builder,
// resume-from-journal and danger. The CLI's subcommands and the console's
// actions and `:` commands are derived from it (cmd/scalar-tui only maps
// flags onto options; tui/backend plans through Kind.Plan); import
// scalar-tui/ops/workflow/catalog to link every kind.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
)

// OptionType is the type of a KindOption's value.
type OptionType int

// Option types and the Go type their values have in Values.
const (
	// OptBool is a bool.
	OptBool OptionType = iota + 1
	// OptString is a string.
	OptString
	// OptStringList is a []string given repeatedly or comma-separated.
	OptStringList
	// OptStringArray is a []string given repeatedly (commas kept).
	OptStringArray
	// OptDuration is a time.Duration.
	OptDuration
	// OptFloat is a float64.
	OptFloat
)

// KindOption is one typed option of a workflow kind: a CLI flag of the same
// name and a field of the console's option form.
type KindOption struct {
	// Name is the flag name without dashes and the key in Values.
	Name string
	// Type is the value's type; Default has that Go type (nil for none).
	Type    OptionType
	Default any
	// Help is the flag's usage text.
	Help string
	// Hidden keeps the flag out of --help (still accepted).
	Hidden bool
	// Positive refuses zero and negative numbers; NegativeOK lets a
	// negative number through ("skip"); Max, when non-zero, is the
	// largest value accepted.
	Positive   bool
	NegativeOK bool
	Max        float64
	// Label names the option's field in the console's option form
	// ("tag": "current tag", "new tag"); "" reads as Name.
	Label string
	// Note is said under the form field (what preflight refuses).
	Note string
	// Complete names the console's completion of the form field
	// ("image-tag": the tags the nodes have loaded); "" is free text.
	Complete string
	// RemoteDir options name a directory on the nodes: Check accepts
	// only what shell.CheckDir does (absolute or ~/x, no "..").
	RemoteDir bool
	// PerRun options are said for each run: what it acts on, or a guard
	// the operator types (the tag to restore, --confirm-deployment,
	// --force). A deployment's option defaults (CheckDefaults: the
	// config's `options:`, the demo's layout) never set them.
	PerRun bool
}

// Values are a kind's options by name, typed as their KindOption says.
// A missing value reads as the option's zero value.
type Values map[string]any

// Bool returns option name as a bool.
func (v Values) Bool(name string) bool { b, _ := v[name].(bool); return b }

// String returns option name as a string.
func (v Values) String(name string) string { s, _ := v[name].(string); return s }

// Strings returns option name as a []string.
func (v Values) Strings(name string) []string { s, _ := v[name].([]string); return s }

// Duration returns option name as a time.Duration.
func (v Values) Duration(name string) time.Duration { d, _ := v[name].(time.Duration); return d }

// Float returns option name as a float64.
func (v Values) Float(name string) float64 { f, _ := v[name].(float64); return f }

// Deps is what a kind's builders need of the deployment they plan for.
type Deps struct {
	// Inventory and Client are the deployment and its SSH client (through
	// the bastion).
	Inventory *inventory.Inventory
	Client    *sshx.Client
	// Health returns the health source a gate reads: "prometheus",
	// "scrape", "auto" (Prometheus, else the exporters) or "off" (nil).
	Health func(gate string) (health.Source, error)
	// StateDir is the deployment's journal directory.
	StateDir string
	// Redactor, when set, learns the secrets a plan's commands carry.
	Redactor *Redactor
	// Report, when set, gets what a run reports beside its events (the
	// backup's pause window).
	Report io.Writer
	// Faults injects and clears the simulator's faults of a demo or lab
	// deployment (drills); nil elsewhere.
	Faults FaultInjector
	// EnvKind is the environment's kind from the config (production,
	// staging, lab; "" counts as production).
	EnvKind string
	// Console is true when the console plans: kinds whose CLI reports
	// after the run (the drill) add that report as a step instead.
	Console bool
}

// FaultInjector injects and clears a simulated fault on a host.
type FaultInjector interface {
	InjectFault(ctx context.Context, host, kind string) error
	ClearFault(ctx context.Context, host, kind string) error
}

// HealthSource returns the source of gate, or an error when Deps has no
// health wiring and the gate is not "off".
func (d Deps) HealthSource(gate string) (health.Source, error) {
	if gate == "" || gate == HealthGateOff {
		return nil, nil
	}
	if d.Health == nil {
		return nil, fmt.Errorf("health gate %q: no health source wired", gate)
	}
	return d.Health(gate)
}

// Kind is one workflow kind of the catalog.
type Kind struct {
	// Name is the workflow's name: the journal's Workflow and the CLI
	// subcommand.
	Name string
	// Command is the CLI path when it is not Name ("backups clear"); "-"
	// means no generated command (the kind is run through another one:
	// restore --undo, or main writes its own: drill).
	Command string
	// Summary, Usage, Long and Example are the CLI's help texts.
	Summary, Usage, Long, Example string
	// Arg, when set, is the option the command's one positional argument
	// fills (backups clear TAG).
	Arg string
	// Dangerous kinds change the cluster: hidden in --readonly, confirmed
	// before they run.
	Dangerous bool
	// ReadOnly kinds change nothing: no lock, no silence, no confirmation.
	ReadOnly bool
	// Canary is true when --canary means something (the run stops after
	// its first host); HiddenCanary accepts a meaningless --canary without
	// showing it.
	Canary, HiddenCanary bool
	// Runbook kinds take --dry-run beside the shared flags without a
	// --canary (unless Canary).
	Runbook bool
	// Options are the kind's own options.
	Options []KindOption
	// Exclusive lists groups of options that cannot be given together.
	Exclusive [][]string
	// ConsoleCommand is the console's `:` command that plans the kind
	// ("" none); ConsoleKey the key action name of the console's keymap
	// that plans it ("" none).
	ConsoleCommand, ConsoleKey string
	// ConsoleArgs are the options the `:` command's arguments fill, in
	// order, and ConsoleUsage its usage when they do not match
	// (":upgrade TAG").
	ConsoleArgs  []string
	ConsoleUsage string
	// ConsoleAsk is the option the console asks for in a form before it
	// plans after the key (the upgrade's target tag); "" plans at once.
	// ConsoleTitle is the form's title ("" reads as Name).
	ConsoleAsk, ConsoleTitle string
	// ConsoleDefaults override option defaults when the console plans
	// (the console's gates read Prometheus, else the exporters: "auto").
	ConsoleDefaults map[string]string
	// NoSilence keeps the console from wrapping the plan in an Alertmanager
	// silence (the drill: the operator watches its alert fire).
	NoSilence bool
	// Validate checks the options before the deployment is loaded (bad
	// input, exit 2); nil accepts all.
	Validate func(Values) error
	// Plan builds a new run's plan.
	Plan func(ctx context.Context, d Deps, v Values) (*Plan, error)
	// Resume rebuilds a journalled run's plan from its Params; nil when
	// the kind cannot be resumed.
	Resume func(ctx context.Context, d Deps, params json.RawMessage) (*Plan, error)
	// ConfirmResume kinds replace data again when resumed (a restore, its
	// undo): the resume needs the deployment's name typed again
	// (--confirm-deployment, the console's resume dialog), and every hint
	// that names the resume command says so (ResumeCommand). Their Params
	// hold the name typed at the start as "confirm_deployment".
	ConfirmResume bool
	// ResumeHint, when set, says what to do after a failure instead of
	// "fix the cause, then resume" ("" keeps that).
	ResumeHint func(*RunState) string
}

// Option returns the kind's option name.
func (k *Kind) Option(name string) (KindOption, bool) {
	for _, o := range k.Options {
		if o.Name == name {
			return o, true
		}
	}
	return KindOption{}, false
}

// Defaults returns every option at its default.
func (k *Kind) Defaults() Values {
	v := Values{}
	for _, o := range k.Options {
		if o.Default != nil {
			v[o.Name] = o.Default
		}
	}
	return v
}

// Parse returns the defaults overridden by opts, given as text by option
// name (the console's options, a form's fields). Lists are comma-separated.
func (k *Kind) Parse(opts map[string]string) (Values, error) {
	v := k.Defaults()
	for _, n := range slices.Sorted(maps.Keys(opts)) {
		o, ok := k.Option(n)
		if !ok {
			return nil, fmt.Errorf("%s has no option %q", k.Name, n)
		}
		x, err := o.ParseValue(opts[n])
		if err != nil {
			return nil, fmt.Errorf("%s --%s: %w", k.Name, n, err)
		}
		v[n] = x
	}
	return v, nil
}

// CheckDefaults checks option defaults given as text by option name, as a
// deployment's config sets them (`options: {restore: {data-dir: …}}`):
// each is an option of k that is not PerRun (nor the positional one), and
// its value is one the option's flag accepts.
func (k *Kind) CheckDefaults(opts map[string]string) error {
	for _, n := range slices.Sorted(maps.Keys(opts)) {
		o, ok := k.Option(n)
		switch {
		case !ok:
			return fmt.Errorf("%s has no option %q", k.Name, n)
		case o.PerRun || n == k.Arg:
			return fmt.Errorf("%s --%s is said for each run: it cannot have a default", k.Name, n)
		}
		x, err := o.ParseValue(opts[n])
		if err == nil {
			err = o.Check(x)
		}
		if err != nil {
			return fmt.Errorf("%s --%s %q: %w", k.Name, n, opts[n], err)
		}
	}
	return nil
}

// ParseValue converts s to the option's type.
func (o KindOption) ParseValue(s string) (any, error) {
	switch o.Type {
	case OptBool:
		return strconv.ParseBool(s)
	case OptString:
		return s, nil
	case OptStringList:
		var l []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				l = append(l, p)
			}
		}
		return l, nil
	case OptStringArray:
		if s == "" {
			return []string(nil), nil
		}
		return []string{s}, nil
	case OptDuration:
		d, err := time.ParseDuration(s)
		if err == nil && o.Positive && d <= 0 {
			err = fmt.Errorf("%s must be positive", s)
		}
		return d, err
	case OptFloat:
		return strconv.ParseFloat(s, 64)
	}
	return nil, fmt.Errorf("option %s has no type", o.Name)
}

// Check range-checks v, a value ParseValue returned, as the CLI checks
// the option's flag: no NaN or infinity, no negative number unless
// NegativeOK, no zero where Positive, no float above Max.
func (o KindOption) Check(v any) error {
	var x, limit float64
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%v: want a finite number", v)
		}
		x, limit = v, o.Max
	case time.Duration:
		x = float64(v)
	case string:
		if o.RemoteDir && v != "" {
			return shell.CheckDir(v)
		}
		return nil
	default:
		return nil
	}
	switch {
	case o.Positive && x <= 0:
		return fmt.Errorf("%v: must be greater than 0", v)
	case x < 0 && !o.NegativeOK:
		return fmt.Errorf("%v: must not be negative", v)
	case limit != 0 && x > limit:
		return fmt.Errorf("%v: must be at most %g", v, o.Max)
	}
	return nil
}

var (
	catalogMu sync.RWMutex
	catalog   = map[string]*Kind{}
)

// Register adds k to the catalog; each kind's package calls it from init.
// A second kind of the same name panics: names are journalled.
func Register(k *Kind) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	if k.Name == "" || k.Plan == nil && k.Resume == nil {
		panic("workflow.Register: a kind needs a name and a builder")
	}
	if _, dup := catalog[k.Name]; dup {
		panic("workflow.Register: kind " + k.Name + " registered twice")
	}
	catalog[k.Name] = k
}

// Lookup returns the kind named name.
func Lookup(name string) (*Kind, bool) {
	catalogMu.RLock()
	defer catalogMu.RUnlock()
	k, ok := catalog[name]
	return k, ok
}

// Kinds returns every registered kind, by name.
func Kinds() []*Kind {
	catalogMu.RLock()
	defer catalogMu.RUnlock()
	ks := make([]*Kind, 0, len(catalog))
	for _, k := range catalog {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].Name < ks[j].Name })
	return ks
}

// DecodeParams is a Resume for kinds that journal their parameters as P:
// they are decoded and handed to build.
func DecodeParams[P any](name string, build func(ctx context.Context, d Deps, p P) (*Plan, error)) func(context.Context, Deps, json.RawMessage) (*Plan, error) {
	return func(ctx context.Context, d Deps, raw json.RawMessage) (*Plan, error) {
		var p P
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, fmt.Errorf("journalled %s parameters: %w", name, err)
			}
		}
		return build(ctx, d, p)
	}
}

// Health gate sources a kind's gate may read (Deps.Health); the first four
// are the values of --health-gate.
const (
	// HealthGatePrometheus is the monitor's Prometheus through the bastion.
	HealthGatePrometheus = "prometheus"
	// HealthGateScrape is the exporters directly (Prometheus down).
	HealthGateScrape = "scrape"
	// HealthGateAuto asks Prometheus and scrapes the exporters while it is
	// unreachable (what the console uses).
	HealthGateAuto = "auto"
	// HealthGateOff is no monitoring (Deps.HealthSource returns nil).
	HealthGateOff = "off"
	// HealthGateEnvoy is Prometheus with Envoy's admin pages read too (the
	// drills' clients-affected measure); not a --health-gate value.
	HealthGateEnvoy = "prometheus+envoy"
)

// CheckHealthGate refuses a --health-gate value that is not a known source.
func CheckHealthGate(gate string) error {
	switch gate {
	case HealthGatePrometheus, HealthGateScrape, HealthGateAuto, HealthGateOff:
		return nil
	}
	return fmt.Errorf("--health-gate %q: want prometheus, scrape, auto or off", gate)
}

// ReadSecret reads a one-line secret file named by option what (a password
// file): the secret without its line end; an empty file is an error.
func ReadSecret(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s %s is empty", what, path)
	}
	return s, nil
}
