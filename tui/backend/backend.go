package backend

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/tui/vm"
)

// Config wires the backend to the real parts. The functions are called
// lazily, inside the console's tea.Cmds, and their results are cached.
type Config struct {
	// LoadInventory reads the deployment (inventory.Load with the CLI's options).
	LoadInventory func(ctx context.Context) (*inventory.Inventory, error)
	// Inventory, when set, is the deployment as the caller already read it
	// at start-up: the console's first LoadInventory returns it instead of
	// reading the Terraform state again; later ones read it.
	Inventory *inventory.Inventory
	// Connect opens the SSH client through the bastion for inv.
	Connect func(inv *inventory.Inventory) (*sshx.Client, error)
	// HealthSource builds the health source for inv; dial goes through the bastion.
	HealthSource func(inv *inventory.Inventory, dial health.DialFunc) (health.Source, error)
	// StateDir is the deployment's own state directory (journal, audit
	// log), workflow.DeploymentDir under $XDG_STATE_HOME/scalar-tui: the
	// console shows and offers only this deployment's runs.
	StateDir string
	// ShellArgv is the argv that opens an interactive shell on a host, with
	// the host appended: e.g. [scalar-tui --tf-root DIR ssh].
	ShellArgv []string
	// Workflows wires the workflow catalog to the deployment; nil makes
	// workflows unsupported.
	Workflows *Workflows
	// Runbooks maps a firing alert to its runbook action (ops/runbook.For
	// through RunbookView); nil shows alerts without one.
	Runbooks RunbookFunc
}

// Workflows is what the backend needs beside the workflow catalog
// (ops/workflow/catalog), which plans every kind: what the kinds' builders
// need of the deployment, and the engine that runs their plans. The CLI
// fills it with the same functions its commands use.
type Workflows struct {
	// Deps returns what the catalog's builders need on inv through client
	// (health gates, journal directory, the demo's fault injector).
	Deps func(inv *inventory.Inventory, client *sshx.Client) workflow.Deps
	// Engine returns an engine for client that reports events to events,
	// journalling in the deployment's state dir and taking its lock.
	Engine func(client *sshx.Client, events func(workflow.Event), canary bool) *workflow.Engine
	// Defaults, when set, returns the deployment's defaults of a kind's
	// options as flag text by name (the config's `options:`, the demo's
	// layout): over the kind's console defaults, under what the operator
	// chose in the console.
	Defaults func(kind string) map[string]string
}

// Backend implements vm.Backend.
type Backend struct {
	cfg Config

	mu  sync.Mutex
	inv *inventory.Inventory
	// initial is Config.Inventory until the first LoadInventory takes it.
	initial *inventory.Inventory
	client  *sshx.Client
	source  health.Source
	plans   map[string]plannedRun

	// runs are the workflows started by this backend and not yet ended.
	runs   map[*control]struct{}
	runsWG sync.WaitGroup
}

// plannedRun is a plan the operator was shown, with the options chosen for it.
type plannedRun struct {
	plan   *workflow.Plan
	kind   vm.WorkflowKind
	canary bool
}

var (
	_ vm.Backend        = (*Backend)(nil)
	_ vm.Resumer        = (*Backend)(nil)
	_ vm.HistoryBackend = (*Backend)(nil)
	_ vm.Preflighter    = (*Backend)(nil)
	_ vm.RunDetailer    = (*Backend)(nil)
	_ vm.Unlocker       = (*Backend)(nil)
	_ vm.Discarder      = (*Backend)(nil)
)

// New returns a backend over cfg.
func New(cfg Config) (*Backend, error) {
	if cfg.LoadInventory == nil || cfg.Connect == nil || cfg.HealthSource == nil {
		return nil, errors.New("backend: LoadInventory, Connect and HealthSource are required")
	}
	return &Backend{cfg: cfg, initial: cfg.Inventory, plans: map[string]plannedRun{}, runs: map[*control]struct{}{}}, nil
}

// Close closes the SSH client. Call Shutdown first when a workflow may be
// running: its cleanup needs the client.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil {
		err := b.client.Close()
		b.client = nil
		return err
	}
	return nil
}

// LoadInventory reads the deployment again. When it changed, the SSH client
// and the health source are rebuilt on next use.
func (b *Backend) LoadInventory(ctx context.Context) (*inventory.Inventory, error) {
	b.mu.Lock()
	inv := b.initial
	b.initial = nil
	b.mu.Unlock()
	if inv == nil {
		var err error
		if inv, err = b.cfg.LoadInventory(ctx); err != nil {
			return nil, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inv == nil || workflow.Fingerprint(b.inv) != workflow.Fingerprint(inv) {
		if b.client != nil {
			_ = b.client.Close()
			b.client = nil
		}
		b.source = nil
	}
	b.inv = inv
	return inv, nil
}

// session returns the inventory and the SSH client, connecting on first use.
func (b *Backend) session(ctx context.Context) (*inventory.Inventory, *sshx.Client, error) {
	b.mu.Lock()
	inv := b.inv
	b.mu.Unlock()
	if inv == nil {
		var err error
		if inv, err = b.LoadInventory(ctx); err != nil {
			return nil, nil, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client == nil {
		c, err := b.cfg.Connect(inv)
		if err != nil {
			return nil, nil, err
		}
		b.client = c
	}
	return inv, b.client, nil
}

// Health takes one snapshot from the health source.
func (b *Backend) Health(ctx context.Context) (vm.HealthView, error) {
	inv, client, err := b.session(ctx)
	if err != nil {
		return vm.HealthView{}, err
	}
	b.mu.Lock()
	src := b.source
	if src == nil {
		src, err = b.cfg.HealthSource(inv, client.DialContext)
		if err != nil {
			b.mu.Unlock()
			return vm.HealthView{}, err
		}
		b.source = src
	}
	b.mu.Unlock()
	snap, err := src.Snapshot(ctx)
	if snap == nil {
		return vm.HealthView{}, err
	}
	v := HealthView(snap)
	b.enrichAlerts(ctx, &v, snap, inv, client, src)
	if err != nil {
		v.Errors = append([]string{err.Error()}, v.Errors...)
	}
	return v, nil
}

// ShellCommand returns `scalar-tui ... ssh HOST`, which opens a shell through
// the bastion with the same host-key checks as everything else.
func (b *Backend) ShellCommand(host string) *exec.Cmd {
	if len(b.cfg.ShellArgv) == 0 {
		return exec.Command("false")
	}
	argv := append(append([]string{}, b.cfg.ShellArgv...), host)
	return exec.Command(argv[0], argv[1:]...)
}

// Audit reads the audit log, newest first.
func (b *Backend) Audit(ctx context.Context, q vm.AuditQuery) ([]vm.AuditEntry, error) {
	entries, err := workflow.ReadAudit(b.cfg.StateDir, workflow.AuditFilter{Host: q.Host})
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 200
	}
	out := make([]vm.AuditEntry, 0, min(limit, len(entries)))
	for i := len(entries) - 1; i >= 0 && len(out) < limit; i-- {
		e := entries[i]
		res := "ok"
		switch {
		case e.Error != "":
			res = "error: " + e.Error
		case e.ExitCode != 0:
			res = fmt.Sprintf("exit %d", e.ExitCode)
		}
		action := e.Run
		if i := strings.LastIndexByte(action, '-'); i >= 0 {
			action = action[i+1:]
		}
		if action == "" {
			action = e.Kind // exec, ssh and the console's shells: command, shell, upload
		}
		cmd := e.Command
		if cmd == "" && e.Kind == "shell" {
			cmd = "(interactive shell)"
		}
		out = append(out, vm.AuditEntry{At: e.Time, User: e.Operator, Host: e.Host, Action: action, Command: cmd, Result: res, Run: e.Run})
	}
	return out, nil
}

// Runs lists the journal's runs, newest first.
func (b *Backend) Runs(ctx context.Context, limit int) ([]vm.RunView, error) {
	runs, err := workflow.List(b.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Created.After(runs[j].Created) })
	if limit > 0 && len(runs) > limit {
		runs = runs[:limit]
	}
	out := make([]vm.RunView, 0, len(runs))
	for i := range runs {
		r := &runs[i]
		if r.Status == workflow.StatusDiscarded {
			// Discarded by an operator: never offered for resume again
			// (`scalar-tui runs` still lists it).
			continue
		}
		r.Status = workflow.DisplayStatus(b.cfg.StateDir, r)
		out = append(out, runView(r))
	}
	return out, nil
}

// runView is a run's line in :runs.
func runView(r *workflow.RunState) vm.RunView {
	hosts := map[string]bool{}
	done := 0
	for _, s := range r.Steps {
		if s.Host != "" {
			hosts[s.Host] = true
		}
		if s.Status == workflow.StatusDone {
			done++
		}
	}
	rv := vm.RunView{ID: r.ID, Kind: vm.WorkflowKind(r.Workflow), Title: r.Workflow, Started: r.Created,
		State: string(r.Status), Hosts: len(hosts), Detail: fmt.Sprintf("%d/%d steps done", done, len(r.Steps))}
	if r.Error != "" {
		rv.Detail += ": " + r.Error
	}
	if _, paused := r.Markers[workflow.MarkerScalarDLPaused]; paused {
		rv.Warning = "Scalar DL may still be paused: resume unpauses it first"
		if r.Status == workflow.StatusCrashed {
			rv.Warning = "CRASHED while Scalar DL was paused: `scalar-tui resume " + r.ID + "` unpauses it"
		}
	}
	rv.ConfirmName = workflow.ResumeConfirmName(r)
	for _, l := range r.Left {
		if l.OnPurpose {
			rv.Detail += "; left running: " + l.String()
		}
	}
	// Every status but running (or pending) is an end for now: TOOK stops
	// at the journal's last update.
	if r.Status != workflow.StatusRunning && r.Status != workflow.StatusPending {
		rv.Ended = r.Updated
	}
	return rv
}

// historyWindow is how far back the host detail's sparklines reach.
const historyWindow = 15 * time.Minute

// History returns the host's CPU and the cluster counts over the last 15
// minutes from Prometheus. The scrape fallback has no history, and says so.
func (b *Backend) History(ctx context.Context, host string) (vm.HostHistory, error) {
	b.mu.Lock()
	src := b.source
	b.mu.Unlock()
	if src == nil {
		if _, err := b.Health(ctx); err != nil {
			return vm.HostHistory{}, err
		}
		b.mu.Lock()
		src = b.source
		b.mu.Unlock()
	}
	var prom *health.PrometheusSource
	var scraped *health.ScrapeSource
	switch s := src.(type) {
	case *health.PrometheusSource:
		prom = s
	case *health.ScrapeSource:
		scraped = s
	case *health.FallbackSource:
		if p, ok := s.Primary.(*health.PrometheusSource); ok && s.PrimaryError() == nil {
			prom = p
		} else if f, ok := s.Fallback.(*health.ScrapeSource); ok {
			scraped = f
		}
	}
	if prom == nil && scraped != nil {
		return scrapedHistory(scraped.History(), host)
	}
	if prom == nil {
		return vm.HostHistory{}, errors.New("no history: Prometheus is not reachable (the exporters keep no history)")
	}
	h, err := prom.History(ctx, historyWindow, historyWindow/60)
	if err != nil {
		return vm.HostHistory{}, err
	}
	out := vm.HostHistory{Window: historyWindow, Cluster: map[string][]float64{}}
	out.CPU = values(h.CPU[host])
	if len(h.CassandraActive) > 0 {
		out.Cluster["Cassandra active"] = values(h.CassandraActive)
	}
	if len(h.ScalarDLBlue) > 0 {
		out.Cluster["Scalar DL blue"] = values(h.ScalarDLBlue)
	}
	if len(h.ScalarDLGreen) > 0 {
		out.Cluster["Scalar DL green"] = values(h.ScalarDLGreen)
	}
	return out, nil
}

// scrapedHistory turns the scrape source's own samples into the host's
// history, labelled so that nobody takes it for Prometheus' 15 minutes.
func scrapedHistory(h *health.History, host string) (vm.HostHistory, error) {
	if h == nil || h.End.IsZero() {
		return vm.HostHistory{}, errors.New("no history yet: Prometheus is not reachable; the console keeps what it scrapes from now on")
	}
	out := vm.HostHistory{Window: h.End.Sub(h.Start), Label: "since start, scraped", Cluster: map[string][]float64{}}
	out.CPU = values(h.CPU[host])
	if len(h.CassandraActive) > 0 {
		out.Cluster["Cassandra active"] = values(h.CassandraActive)
	}
	if len(h.ScalarDLBlue) > 0 {
		out.Cluster["Scalar DL blue"] = values(h.ScalarDLBlue)
	}
	if len(h.ScalarDLGreen) > 0 {
		out.Cluster["Scalar DL green"] = values(h.ScalarDLGreen)
	}
	return out, nil
}

func values(ps []health.Point) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p.V
	}
	return out
}
