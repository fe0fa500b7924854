// Package vm holds the view-model types the console renders and the Backend
// interface through which it reaches the cluster.
//
// These types are the seam between the console and the ops packages: the
// backend maps ops/health and the audit journal onto them. A running
// workflow's events are ops/workflow's own (WorkflowEvent), not a copy.
// Everything here is plain data; vm must not import bubbletea, lipgloss, any
// ops package but ops/workflow (for its event types), or any other tui
// package, and it does no I/O itself.
package vm

import (
	"context"
	"errors"
	"os/exec"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/workflow"
)

// Backend is everything the console asks of the outside world. Every method
// is called only from inside a tea.Cmd, never from Update or View, so
// implementations may block on the network. Methods must honour ctx.
type Backend interface {
	// LoadInventory returns the deployment as read from Terraform state.
	LoadInventory(ctx context.Context) (*inventory.Inventory, error)
	// Health returns one health snapshot (maps from health.Snapshot).
	Health(ctx context.Context) (HealthView, error)
	// PlanWorkflow builds, without running anything, the plan of a workflow.
	PlanWorkflow(ctx context.Context, kind WorkflowKind, params WorkflowParams) (PlanView, error)
	// StartWorkflow runs plan. Events arrive on the channel, which the
	// backend closes after sending Finished. The control pauses, continues
	// and cancels the run; cancelling ctx also cancels it.
	StartWorkflow(ctx context.Context, plan PlanView) (<-chan WorkflowEvent, WorkflowControl, error)
	// Audit returns recent audit entries, newest first.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// Runs returns recent workflow runs from the journal, newest first.
	Runs(ctx context.Context, limit int) ([]RunView, error)
	// ShellCommand returns the command that opens an interactive shell on
	// host (an FQDN), e.g. ssh through the bastion. It must not start it:
	// the console hands it to tea.ExecProcess.
	ShellCommand(host string) *exec.Cmd
}

// EnvSwitcher is implemented by backends that can switch to another
// environment (`:env NAME`). Backends that cannot simply omit it.
type EnvSwitcher interface {
	// SwitchEnv points the backend at environment name; the console then
	// reloads the inventory and health.
	SwitchEnv(ctx context.Context, name string) error
}

// Resumer is implemented by backends that can resume a run left unfinished
// in the journal (failed, canceled, paused, canary-wait, or running when its
// console died). Backends that cannot simply omit it; the console then does
// not offer resume.
type Resumer interface {
	// ResumeWorkflow resumes run id where it stopped: it first undoes any
	// cluster-state marker still set (e.g. unpauses Scalar DL), then runs the
	// remaining steps. It returns the run's plan (PlanView.ID is the run's
	// ID; DoneSteps lists the steps already done) and, like StartWorkflow, an
	// event channel closed after Finished and a control. An error means
	// nothing was resumed (e.g. the inventory changed: plan a new run).
	ResumeWorkflow(ctx context.Context, id string) (PlanView, <-chan WorkflowEvent, WorkflowControl, error)
}

// ErrNotSupported is returned (wrapped) for operations a backend lacks.
var ErrNotSupported = errors.New("not supported by this backend")

// State is the health state of a host, a service or the cluster.
type State string

// The states; they map one-to-one onto ops/health's states.
const (
	StateHealthy  State = "healthy"
	StateDegraded State = "degraded"
	StateDown     State = "down"
	StateUnknown  State = "unknown"
)

// rank orders states from best to worst so Worst can pick one.
func (s State) rank() int {
	switch s {
	case StateHealthy:
		return 0
	case StateDegraded:
		return 2
	case StateDown:
		return 3
	default:
		return 1
	}
}

// Worst returns the worst of the given states, or StateUnknown for none.
func Worst(states ...State) State {
	if len(states) == 0 {
		return StateUnknown
	}
	w := states[0]
	for _, s := range states[1:] {
		if s.rank() > w.rank() {
			w = s
		}
	}
	if w == "" {
		return StateUnknown
	}
	return w
}

// HostRow is one host as the overview shows it: its inventory entry joined
// with its health (health.HostHealth).
type HostRow struct {
	// Host is the inventory entry; Host.Name (the FQDN) is the row's key.
	Host inventory.Host
	// State is the host's overall state; the zero value renders as unknown.
	State State
	// Reasons say why the state is not healthy, e.g. "cassandra.service inactive".
	Reasons []string
	// CPU, Mem, DiskRoot and DiskData are used percentages (0-100); Load1 is
	// the 1-minute load average. Nil means not measured.
	CPU, Mem, DiskRoot, DiskData, Load1 *float64
	// Service describes the role's main service, e.g. "cassandra active",
	// "scalar up", "envoy stale 42s" (from CassandraActive / ContainerFresh).
	Service string
	// ServiceState colours Service.
	ServiceState State
	// ImageTag is the running Scalar DL image tag when known; empty falls back
	// to Host.ImageTag (the tag Terraform deployed).
	ImageTag string
	// Alerts are the firing alerts whose instance is this host.
	Alerts []AlertView
	// SampleAge is how old the host's newest sample was when the snapshot
	// was taken (Prometheus); nil when unknown or read directly.
	SampleAge *time.Duration
}

// Tag returns the running image tag, or the deployed one when unknown.
func (r HostRow) Tag() string {
	if r.ImageTag != "" {
		return r.ImageTag
	}
	return r.Host.ImageTag
}

// TagText is the Scalar DL tag as the overview shows it: the running tag, and
// when Terraform state records another, both ("2.2.0 ≠ state 2.1.0"), since a
// routine terraform apply would put the recorded one back.
func (r HostRow) TagText() string {
	if r.Drift() {
		return r.ImageTag + " ≠ state " + r.Host.ImageTag
	}
	return r.Tag()
}

// Drift reports whether the running tag differs from the one Terraform state records.
func (r HostRow) Drift() bool {
	return r.ImageTag != "" && r.Host.ImageTag != "" && r.ImageTag != r.Host.ImageTag
}

// ClusterLine is one line of the cluster summary, e.g. {"Cassandra", "3/3 UN", healthy}.
type ClusterLine struct {
	Name    string
	Summary string
	State   State
}

// AlertView is one firing Prometheus alert.
type AlertView struct {
	Name     string // alertname, e.g. "ScalarDLContainerDown"
	Severity string // "critical", "warning", ...
	Instance string // host FQDN without the port, or "" for cluster alerts
	Summary  string // value or description to show after the name
	Since    time.Time
	// Runbook is what to do about the alert (see Runbook); nil when the
	// backend knows no runbook for it.
	Runbook *Runbook
}

// HealthView is one health snapshot (health.Snapshot) as the console needs it.
type HealthView struct {
	// At is when the snapshot was taken.
	At time.Time
	// Source says where the figures came from, e.g. "prometheus monitor:9090" or "ssh".
	Source string
	// State is the cluster's overall state; empty means "worst of Cluster".
	State State
	// Hosts holds one row per host the health source knows; the console joins
	// them to the inventory by Host.Name, so only Host.Name must be set.
	Hosts   []HostRow
	Cluster []ClusterLine
	Alerts  []AlertView
	// Errors are partial failures (a query that failed) shown in the header.
	Errors []string
}

// Overall returns State, or the worst cluster line when State is empty.
func (h HealthView) Overall() State {
	if h.State != "" {
		return h.State
	}
	states := make([]State, 0, len(h.Cluster))
	for _, c := range h.Cluster {
		states = append(states, c.State)
	}
	return Worst(states...)
}

// WorkflowKind names a workflow.
type WorkflowKind string

// The workflows the console can plan and run.
const (
	KindRepair  WorkflowKind = "repair"
	KindUpgrade WorkflowKind = "upgrade"
	KindBackup  WorkflowKind = "backup"
	// KindRestore is the catalog's restore command; its plan's ConfirmName
	// makes the operator type the deployment's name.
	KindRestore WorkflowKind = "restore"
)

// WorkflowParams are the operator's inputs to a plan.
type WorkflowParams struct {
	// Hosts optionally restricts the workflow to these host FQDNs.
	Hosts []string
	// Canary asks the run to stop after the first host and wait for
	// WorkflowControl.Continue (the console's `c`) before the rest.
	Canary bool
	// Options are a catalog workflow's options by CLI flag name without
	// dashes (e.g. {"to": "2.2.0"} for an upgrade, {"service": "scalar"}
	// for a runbook's restart-container).
	Options map[string]string
	// Args are a catalog workflow's positional CLI arguments (the drill's
	// name for `drill NAME`); nil for the others.
	Args []string
}

// PlanView is a workflow plan (workflow.Plan) shown in full before it runs.
type PlanView struct {
	// ID identifies the plan; the confirm dialog captures it.
	ID     string
	Kind   WorkflowKind
	Title  string
	Params WorkflowParams
	// Checks are the preflight checks the run verifies before its first step.
	Checks []string
	Steps  []StepView
	// Lines is the plan as workflow.Plan.Lines renders it, the same text
	// --dry-run prints; the console shows these, marking the checks.
	Lines []workflow.PlanLine
	// DoneSteps are indexes into Steps already done before this console
	// followed the run: set by Resumer.ResumeWorkflow so the progress map
	// starts with them done. Empty for a fresh plan.
	DoneSteps []int
	// CanaryOK is true when the workflow honours a canary stop (stops after
	// the first host); the console offers canary only then.
	CanaryOK bool
	// ConfirmName, when set, is what the operator must type in the confirm
	// dialog instead of pressing y (a restore: the deployment's network name).
	ConfirmName string
}

// StepView is one step of a plan.
type StepView struct {
	Title string
	// Host is the FQDN the step runs on; empty for local or cluster steps.
	Host string
	// Commands are the exact commands the step runs on Host.
	Commands []string
	// Gate is what must hold before the next step, e.g. "all nodes UN".
	Gate string
}

// HostOrder returns the hosts of the plan in the order they are first used.
func (p PlanView) HostOrder() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range p.Steps {
		if s.Host != "" && !seen[s.Host] {
			seen[s.Host] = true
			out = append(out, s.Host)
		}
	}
	return out
}

// WorkflowControl steers a running workflow. Its methods may block and are
// called only inside tea.Cmds.
type WorkflowControl interface {
	// Pause stops the run after the current step.
	Pause(ctx context.Context) error
	// Continue resumes a paused run, or lets a canary run go on to the rest.
	Continue(ctx context.Context) error
	// Cancel stops the run as soon as possible.
	Cancel()
}

// WorkflowEvent is one event of a running workflow: the engine's own event
// (*workflow.StepStarted, *workflow.OutputLine, *workflow.Paused,
// *workflow.Finished...), which carries the step's index into
// PlanView.Steps and its host. The backend sends them unchanged and ends the
// stream with one *workflow.Finished.
type WorkflowEvent = workflow.Event

// AuditQuery selects audit entries.
type AuditQuery struct {
	Host  string // only entries for this FQDN; empty for all
	Limit int    // at most this many; 0 for the backend's default
}

// AuditEntry is one audited command.
type AuditEntry struct {
	At      time.Time
	User    string
	Host    string
	Action  string // e.g. "repair", "shell"
	Command string
	Result  string // "ok", "exit 1", ...
	// Run is the full ID of the run the command belonged to, if any.
	Run string
}

// RunView is one workflow run from the journal.
type RunView struct {
	ID      string
	Kind    WorkflowKind
	Title   string
	Started time.Time
	Ended   time.Time // zero while running
	// State is the journal's status: "running", "done", "failed",
	// "canceled", "refused", "paused" or "canary-wait".
	State  string
	Hosts  int
	Detail string
	// Warning says what the cluster was left in by an unfinished run, from
	// the journal's markers, e.g. "Scalar DL may be paused: resume unpauses
	// it first". Empty when there is nothing to warn about.
	Warning string
	// ConfirmName, when set, is what the operator must type in the resume
	// dialog (a restore's deployment name, as for the run itself); the
	// console hands the typed text to the backend with
	// WithConfirmDeployment.
	ConfirmName string
}

// The run states that end a run for good; every other state (including
// "running" left behind by a console that died) is unfinished.
const (
	RunStateDone    = "done"
	RunStateRefused = "refused"
)

// Unfinished reports whether the run stopped before its end and may be
// resumed: anything but done or refused.
func (r RunView) Unfinished() bool {
	return r.State != RunStateDone && r.State != RunStateRefused
}

// HistoryBackend is implemented by backends that can show a host's recent
// history (Prometheus range queries); the host detail screen draws it as
// sparklines. Backends without history simply omit it.
type HistoryBackend interface {
	// History returns the host's recent figures, oldest first.
	History(ctx context.Context, host string) (HostHistory, error)
}

// HostHistory is a host's recent figures at a fixed step.
type HostHistory struct {
	// Window is the span the points cover, e.g. 15 minutes.
	Window time.Duration
	// Label, when set, replaces "last <Window>" in the display, e.g.
	// "since start, scraped" for the samples the console scraped itself
	// while Prometheus was down.
	Label string
	// CPU is percent used, oldest first.
	CPU []float64
	// Cluster holds cluster-wide series by name, e.g. "Cassandra active".
	Cluster map[string][]float64
}

// BackupView is one backup (a snapshot tag across the Cassandra nodes).
type BackupView struct {
	// Route is how it was taken: "nodetool" (local snapshots).
	Route     string
	Tag       string
	Keyspaces []string
	// Nodes have the snapshot; Missing answered without it or did not answer.
	Nodes   []string
	Missing []string
	Total   int
	Tables  int
	// Bytes is the size on disk over all nodes.
	Bytes float64
	// NodeBytes is the size on disk per node short name.
	NodeBytes map[string]float64
}

// Complete reports whether every node has the backup.
func (b BackupView) Complete() bool { return b.Total > 0 && len(b.Nodes) == b.Total }

// BackupsView is what BackupLister.Backups found.
type BackupsView struct {
	// Deployment is the inventory's network name (what a restore's
	// confirmation asks to type).
	Deployment string
	Backups    []BackupView
	// Errors maps a node that could not be listed to why.
	Errors map[string]string
}

// BackupLister is implemented by backends that can list backups.
type BackupLister interface {
	Backups(ctx context.Context) (BackupsView, error)
}
