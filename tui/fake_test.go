package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/vm"
)

// testNow is the injected clock of every test.
var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func testClock() time.Time { return testNow }

func f(v float64) *float64 { return &v }

// fakeBackend is a test double of our own UI seam: fixed data, recorded calls.
type fakeBackend struct {
	mu      sync.Mutex
	inv     *inventory.Inventory
	health  vm.HealthView
	plans   map[vm.WorkflowKind]vm.PlanView
	planned []vm.WorkflowParams
	started []vm.PlanView
	events  []vm.WorkflowEvent
	closeCh bool
	ctl     *fakeControl
	audit   []vm.AuditEntry
	runs    []vm.RunView
	healthN int
	// invErr, healthErr and runsErr make the loads fail.
	invErr, healthErr, runsErr error
	// resumed records ResumeWorkflow's ids; resumeErr makes it fail and
	// resumePlan is what it returns (the repair plan with the run's ID and
	// its first two steps done when zero).
	resumed    []string
	resumeErr  error
	resumePlan *vm.PlanView
	// failCheck makes the preflight check with this description fail
	// with failReason; preflightErr makes Preflight itself fail;
	// preflightN counts the calls.
	failCheck, failReason string
	preflightErr          error
	preflightN            int
	// details are the runs RunDetail knows, by ID.
	details map[string]vm.RunDetail
	// shellArgv replaces `true HOST` as the shell command.
	shellArgv []string
	// lock is the cluster lock's holder (nil: free); ForceUnlock clears
	// it and counts in unlocks. discarded records DiscardRun's ids;
	// discardErr makes it fail.
	lock       *vm.LockView
	unlocks    int
	discarded  []string
	discardErr error
}

// LockHolder implements vm.Unlocker.
func (fb *fakeBackend) LockHolder(context.Context) (*vm.LockView, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.lock == nil {
		return nil, nil
	}
	l := *fb.lock
	return &l, nil
}

// ForceUnlock implements vm.Unlocker.
func (fb *fakeBackend) ForceUnlock(context.Context) (vm.LockView, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.lock == nil {
		return vm.LockView{}, errors.New("cluster is not locked")
	}
	was := *fb.lock
	fb.lock = nil
	fb.unlocks++
	return was, nil
}

// DiscardRun implements vm.Discarder: it drops the run from Runs.
func (fb *fakeBackend) DiscardRun(_ context.Context, id, _ string) error {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.discardErr != nil {
		return fb.discardErr
	}
	fb.discarded = append(fb.discarded, id)
	for i, r := range fb.runs {
		if r.ID == id {
			fb.runs = append(fb.runs[:i:i], fb.runs[i+1:]...)
			break
		}
	}
	return nil
}

// Preflight implements vm.Preflighter: every check of the plan passes but
// failCheck.
func (fb *fakeBackend) Preflight(_ context.Context, planID string) ([]vm.CheckView, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.preflightN++
	if fb.preflightErr != nil {
		return nil, fb.preflightErr
	}
	for _, p := range fb.plans {
		if p.ID != planID {
			continue
		}
		var out []vm.CheckView
		for _, c := range p.Checks {
			cv := vm.CheckView{Name: c, Description: c, OK: c != fb.failCheck}
			if !cv.OK {
				cv.Reason = fb.failReason
			}
			out = append(out, cv)
		}
		return out, nil
	}
	return nil, fmt.Errorf("plan %s is no longer available: plan again", planID)
}

// RunDetail implements vm.RunDetailer.
func (fb *fakeBackend) RunDetail(_ context.Context, id string) (vm.RunDetail, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	d, ok := fb.details[id]
	if !ok {
		return vm.RunDetail{}, fmt.Errorf("no run %s in the journal", id)
	}
	return d, nil
}

type fakeControl struct {
	mu                         sync.Mutex
	pauses, continues, cancels int
}

func (c *fakeControl) Pause(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pauses++
	return nil
}

func (c *fakeControl) Continue(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.continues++
	return nil
}

func (c *fakeControl) Cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancels++
}

func (fb *fakeBackend) LoadInventory(context.Context) (*inventory.Inventory, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.invErr != nil {
		return nil, fb.invErr
	}
	return fb.inv, nil
}

func (fb *fakeBackend) Health(context.Context) (vm.HealthView, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.healthN++
	return fb.health, fb.healthErr
}

func (fb *fakeBackend) PlanWorkflow(_ context.Context, kind vm.WorkflowKind, p vm.WorkflowParams) (vm.PlanView, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.planned = append(fb.planned, p)
	plan, ok := fb.plans[kind]
	if !ok {
		return vm.PlanView{}, fmt.Errorf("no %s plan", kind)
	}
	plan.Params = p
	if tag := p.Options["to"]; tag != "" {
		plan.Title += " to " + tag
	}
	return withLines(plan), nil
}

// withLines renders v as the backend does (workflow.Plan.Lines), with IDs
// and names made from the titles: step "cassandra-1/check-ring", check
// "3/3-nodes", gate "all-nodes".
func withLines(v vm.PlanView) vm.PlanView {
	slug := func(s string) string {
		w := strings.Fields(s)
		return strings.Join(w[:min(len(w), 2)], "-")
	}
	p := &wf.Plan{ID: v.ID, Workflow: string(v.Kind), Operator: "ops@laptop-3", Created: testNow, Fingerprint: "3f9a0c1d2e4b5a69"}
	for _, c := range v.Checks {
		p.Preflight = append(p.Preflight, wf.Check{Name: slug(c), Description: c})
	}
	for _, s := range v.Steps {
		id := slug(s.Title)
		if s.Host != "" {
			id = strings.SplitN(s.Host, ".", 2)[0] + "/" + id
		}
		st := wf.Step{ID: id, Title: s.Title, Host: s.Host, Commands: s.Commands}
		if s.Gate != "" {
			st.Gate = &wf.Gate{Name: slug(s.Gate), Description: s.Gate}
		}
		p.Steps = append(p.Steps, st)
	}
	v.Lines = p.Lines()
	return v
}

func (fb *fakeBackend) StartWorkflow(_ context.Context, plan vm.PlanView) (<-chan vm.WorkflowEvent, vm.WorkflowControl, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.started = append(fb.started, plan)
	return fb.stream(), fb.ctl, nil
}

// stream returns fb.events on a channel (closed when closeCh) and a new
// control; fb.mu is held.
func (fb *fakeBackend) stream() <-chan vm.WorkflowEvent {
	ch := make(chan vm.WorkflowEvent, len(fb.events)+1)
	for _, e := range fb.events {
		ch <- e
	}
	if fb.closeCh {
		close(ch)
	}
	fb.ctl = &fakeControl{}
	return ch
}

// ResumeWorkflow implements vm.Resumer.
func (fb *fakeBackend) ResumeWorkflow(_ context.Context, id string) (vm.PlanView, <-chan vm.WorkflowEvent, vm.WorkflowControl, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.resumed = append(fb.resumed, id)
	if fb.resumeErr != nil {
		return vm.PlanView{}, nil, nil, fb.resumeErr
	}
	plan := fb.plans[vm.KindRepair]
	plan.ID, plan.DoneSteps = id, []int{0, 1}
	if fb.resumePlan != nil {
		plan = *fb.resumePlan
	}
	return withLines(plan), fb.stream(), fb.ctl, nil
}

func (fb *fakeBackend) resumedIDs() []string {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return append([]string(nil), fb.resumed...)
}

// plainBackend hides every optional interface (Resumer, EnvSwitcher, ...)
// of the backend it wraps.
type plainBackend struct{ vm.Backend }

// envFake is a fakeBackend that can switch environments (vm.EnvSwitcher).
type envFake struct {
	*fakeBackend
	switched []string
}

// SwitchEnv points the fake at a one-Cassandra "staging" environment.
func (e *envFake) SwitchEnv(_ context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if name == "nowhere" {
		return fmt.Errorf("no environment %q in the config", name)
	}
	e.switched = append(e.switched, name)
	e.inv = &inventory.Inventory{NetworkName: "scalar-" + name, Cloud: "aws", Region: "us-west-2", BastionIP: "34.1.2.3", BastionPort: 22,
		Hosts: []inventory.Host{host(inventory.RoleCassandra, 7, "10.9.2.10")}}
	e.health = vm.HealthView{At: testNow.Add(-2 * time.Second), Source: "prometheus staging:9090", State: vm.StateHealthy,
		Hosts:   []vm.HostRow{row("cassandra-7", vm.StateHealthy, 10, 20, 30, "cassandra active", vm.StateHealthy)},
		Cluster: []vm.ClusterLine{{Name: "Cassandra", Summary: "1/1 UN", State: vm.StateHealthy}}}
	e.runs = nil
	return nil
}

func (fb *fakeBackend) Audit(_ context.Context, q vm.AuditQuery) ([]vm.AuditEntry, error) {
	var out []vm.AuditEntry
	for _, e := range fb.audit {
		if q.Host == "" || e.Host == q.Host {
			out = append(out, e)
		}
	}
	return out, nil
}

func (fb *fakeBackend) Runs(context.Context, int) ([]vm.RunView, error) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.runs, fb.runsErr
}

func (fb *fakeBackend) ShellCommand(host string) *exec.Cmd {
	if len(fb.shellArgv) > 0 {
		c := exec.Command(fb.shellArgv[0], append(fb.shellArgv[1:], host)...)
		c.Stderr = io.Discard // kept off the test's terminal; the console still sees it
		return c
	}
	return exec.Command("true", host)
}

func (fb *fakeBackend) startedPlans() []vm.PlanView {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return append([]vm.PlanView(nil), fb.started...)
}

const domain = "internal.scalar-labs.com"

func host(role inventory.Role, i int, ip string) inventory.Host {
	short := fmt.Sprintf("%s-%d", role, i)
	h := inventory.Host{Name: short + "." + domain, Short: short, Role: role, Index: i, PrivateIP: ip, Zone: "ap-northeast-1a", InstanceID: fmt.Sprintf("i-0%s%d", role[:2], i)}
	if role.IsScalarDL() {
		h.Image, h.ImageTag = "ghcr.io/scalar-labs/scalar-ledger", "2.1.0"
	}
	return h
}

func fixtureInventory() *inventory.Inventory {
	return &inventory.Inventory{
		NetworkName: "scalar-prod-tokyo", Cloud: "aws", Region: "ap-northeast-1",
		BastionIP: "54.65.10.20", BastionPort: 22, UserName: "centos", InternalDomain: domain,
		Hosts: []inventory.Host{
			host(inventory.RoleMonitor, 1, "10.42.1.50"),
			host(inventory.RoleBastion, 1, "10.42.0.10"),
			host(inventory.RoleCassandra, 1, "10.42.2.10"),
			host(inventory.RoleCassandra, 2, "10.42.2.11"),
			host(inventory.RoleCassandra, 3, "10.42.2.12"),
			host(inventory.RoleCassy, 1, "10.42.2.20"),
			host(inventory.RoleReaper, 1, "10.42.2.21"),
			host(inventory.RoleScalarDLBlue, 1, "10.42.3.4"),
			host(inventory.RoleScalarDLBlue, 2, "10.42.3.6"),
			host(inventory.RoleScalarDLBlue, 3, "10.42.3.8"),
			host(inventory.RoleEnvoy, 1, "10.42.1.10"),
			host(inventory.RoleEnvoy, 2, "10.42.1.11"),
			host(inventory.RoleEnvoy, 3, "10.42.1.12"),
		},
	}
}

func row(short string, st vm.State, cpu, mem, disk float64, svc string, svcState vm.State) vm.HostRow {
	return vm.HostRow{Host: inventory.Host{Name: short + "." + domain}, State: st, CPU: f(cpu), Mem: f(mem), DiskRoot: f(disk), Load1: f(cpu / 50), Service: svc, ServiceState: svcState}
}

func fixtureHealth() vm.HealthView {
	down := row("scalardl-blue-2", vm.StateDown, 0, 0, 41, "scalar stale 2m", vm.StateDown)
	down.CPU, down.Mem = nil, nil
	down.Reasons = []string{"container scalar last seen 2m ago", "not a healthy Envoy upstream"}
	deg := row("cassandra-2", vm.StateDegraded, 35, 71, 91, "cassandra active", vm.StateHealthy)
	deg.DiskData = f(92.4)
	deg.Reasons = []string{"/data 92% used (alert at 90%)"}
	alerts := []vm.AlertView{
		{Name: "ScalarDLContainerDown", Severity: "critical", Instance: "scalardl-blue-2." + domain, Summary: "container_last_seen 131s", Since: testNow.Add(-2 * time.Minute)},
		{Name: "InstanceDriveSpaceLow", Severity: "warning", Instance: "cassandra-2." + domain, Summary: "7.6% free on /data", Since: testNow.Add(-14 * time.Minute)},
	}
	rows := []vm.HostRow{
		row("bastion-1", vm.StateHealthy, 2, 21, 30, "sshd", vm.StateHealthy),
		row("cassandra-1", vm.StateHealthy, 22, 68, 40, "cassandra active", vm.StateHealthy),
		deg,
		row("cassandra-3", vm.StateHealthy, 19, 66, 39, "cassandra active", vm.StateHealthy),
		row("cassy-1", vm.StateHealthy, 3, 30, 22, "cassy up", vm.StateHealthy),
		row("reaper-1", vm.StateHealthy, 5, 44, 25, "reaper up", vm.StateHealthy),
		row("scalardl-blue-1", vm.StateHealthy, 31, 52, 41, "scalar up", vm.StateHealthy),
		down,
		row("scalardl-blue-3", vm.StateHealthy, 29, 50, 41, "scalar up", vm.StateHealthy),
		row("envoy-1", vm.StateHealthy, 8, 20, 30, "envoy up · 2/3 upstreams", vm.StateDegraded),
		row("envoy-2", vm.StateHealthy, 7, 21, 30, "envoy up · 2/3 upstreams", vm.StateDegraded),
		row("envoy-3", vm.StateHealthy, 7, 20, 30, "envoy up · 2/3 upstreams", vm.StateDegraded),
	}
	return vm.HealthView{
		At: testNow.Add(-5 * time.Second), Source: "prometheus monitor:9090", State: vm.StateDegraded,
		Hosts: rows,
		Cluster: []vm.ClusterLine{
			{Name: "Cassandra", Summary: "3/3 UN", State: vm.StateHealthy},
			{Name: "Scalar DL", Summary: "2/3 serving", State: vm.StateDegraded},
			{Name: "Envoy", Summary: "3/3 up, 2/3 upstreams healthy", State: vm.StateDegraded},
		},
		Alerts: alerts,
	}
}

func fixturePlans() map[vm.WorkflowKind]vm.PlanView {
	var steps []vm.StepView
	for i := 1; i <= 3; i++ {
		h := fmt.Sprintf("cassandra-%d.%s", i, domain)
		steps = append(steps,
			vm.StepView{Title: "check ring", Host: h, Commands: []string{"sudo nodetool status"}, Gate: "all nodes UN"},
			vm.StepView{Title: "repair primary ranges", Host: h, Commands: []string{"sudo nodetool repair -pr -full ScalarDL"}, Gate: "all nodes UN"},
		)
	}
	up := []vm.StepView{{Title: "save image", Commands: []string{"docker pull ghcr.io/scalar-labs/scalar-ledger:TAG"}}}
	for i := 1; i <= 3; i++ {
		h := fmt.Sprintf("scalardl-blue-%d.%s", i, domain)
		up = append(up, vm.StepView{Title: "restart with new image", Host: h,
			Commands: []string{"cd ~/provision && sed -i 's/^export SCALAR_IMAGE=.*/export SCALAR_IMAGE=ghcr.io\\/scalar-labs\\/scalar-ledger:TAG/' env", ". ./env && docker-compose up -d scalar"},
			Gate:     "healthy in Envoy"})
	}
	return map[vm.WorkflowKind]vm.PlanView{
		vm.KindRepair: {ID: "repair-20261124-1200", Kind: vm.KindRepair, Title: "Repair Cassandra", CanaryOK: true,
			Checks: []string{"3/3 nodes UN (nodetool status on cassandra-1)", "no repair running (reaper-1)"}, Steps: steps},
		vm.KindUpgrade: {ID: "upgrade-20261124-1200", Kind: vm.KindUpgrade, Title: "Upgrade Scalar DL", Steps: up, CanaryOK: true,
			Checks: []string{"at least one node does not run the target tag yet"}},
		vm.KindBackup: {ID: "backup-20261124-1200", Kind: vm.KindBackup, Title: "Cassy cluster backup",
			Steps: []vm.StepView{{Title: "take cluster backup", Host: "cassy-1." + domain, Commands: []string{"grpcurl -d '{\"backup_type\":1}' cassy-1:20051 rpc.Cassy/TakeBackup"}}}},
	}
}

func newFake() *fakeBackend {
	return &fakeBackend{
		inv: fixtureInventory(), health: fixtureHealth(), plans: fixturePlans(),
		audit: []vm.AuditEntry{
			{At: testNow.Add(-3 * time.Hour), User: "alice", Host: "cassandra-2." + domain, Action: "repair", Command: "sudo nodetool repair -pr -full ScalarDL", Result: "ok"},
			{At: testNow.Add(-26 * time.Hour), User: "bob", Host: "cassandra-2." + domain, Action: "shell", Command: "ssh cassandra-2", Result: "exit 0"},
		},
		runs: []vm.RunView{
			{ID: "repair-1", Kind: vm.KindRepair, Title: "Repair Cassandra", Started: testNow.Add(-3 * time.Hour), Ended: testNow.Add(-2 * time.Hour), State: "done", Hosts: 3},
		},
		details: map[string]vm.RunDetail{failedBackupDetail().Run.ID: failedBackupDetail()},
	}
}

// runningEvents is a run stopped mid-way: cassandra-1 done, cassandra-2 repairing.
func runningEvents() []vm.WorkflowEvent {
	c1, c2 := "cassandra-1."+domain, "cassandra-2."+domain
	return []vm.WorkflowEvent{
		&wf.StepStarted{Index: 0, Host: c1, Title: "check ring", Header: wf.Header{Time: testNow.Add(-300 * time.Second)}},
		&wf.OutputLine{Host: c1, Line: "UN  10.42.2.10  1.2 GiB  256  ?  rack1"},
		&wf.StepDone{Index: 0, Host: c1},
		&wf.StepStarted{Index: 1, Host: c1, Title: "repair primary ranges", Header: wf.Header{Time: testNow.Add(-290 * time.Second)}},
		&wf.OutputLine{Host: c1, Line: "[2026-11-24 11:55:10] Repair completed successfully"},
		&wf.StepDone{Index: 1, Host: c1},
		&wf.GatePassed{Index: 1, Host: c1, Gate: "all nodes UN"},
		&wf.StepStarted{Index: 2, Host: c2, Title: "check ring", Header: wf.Header{Time: testNow.Add(-120 * time.Second)}},
		&wf.StepDone{Index: 2, Host: c2},
		&wf.StepStarted{Index: 3, Host: c2, Title: "repair primary ranges", Header: wf.Header{Time: testNow.Add(-83 * time.Second)}},
		&wf.OutputLine{Host: c2, Line: "[2026-11-24 11:58:37] Starting repair command #1, repairing keyspace ScalarDL"},
		&wf.OutputLine{Host: c2, Line: "[2026-11-24 11:59:10] Repair session 1 for range (-3074,-2911] finished (progress: 45%)"},
		&wf.Progress{Host: c2, Percent: 45},
	}
}

// failedBackupDetail is a backup whose pause failed on scalardl-blue-2 and
// whose cleanup unpaused every admin target again.
func failedBackupDetail() vm.RunDetail {
	id := "20261124-1100-backup-3fa2b1"
	at := testNow.Add(-time.Hour)
	end := at.Add(90 * time.Second)
	why := "step pause-scalardl: pausing Scalar DL failed (scalardl-blue-2.internal.scalar-labs.com:50053: rpc error: code = Unavailable desc = connection refused); every admin target was unpaused again"
	return vm.RunDetail{
		Run:      vm.RunView{ID: id, Kind: vm.KindBackup, Title: "backup", Started: at, Ended: end, State: "failed", Hosts: 3, Detail: "1/5 steps done: " + why},
		Operator: "alice@jump-1", Error: why,
		Markers: []string{"pause-window = 1.204s (set by unpause-scalardl at 11:01:30)"},
		Steps: []vm.RunStepView{
			{ID: "pause-scalardl", Title: "pause Scalar DL on all 3 admin targets", Status: "failed", Error: "pausing Scalar DL failed (scalardl-blue-2.internal.scalar-labs.com:50053: rpc error: code = Unavailable desc = connection refused); every admin target was unpaused again",
				Commands: []string{"rpc.Admin/Pause {wait_outstanding: true} scalardl-blue-1.internal.scalar-labs.com:50053"}, Attempts: 1, Started: at, Ended: at.Add(80 * time.Second)},
			{ID: "cassandra-1/snapshot", Title: "snapshot", Host: "cassandra-1." + domain, Status: "skipped", Error: "an earlier step failed"},
			{ID: "unpause-scalardl", Title: "unpause Scalar DL on every admin target", Status: "done", Cleanup: true, Attempts: 1, Started: at.Add(80 * time.Second), Ended: end},
		},
		Output: []vm.HostOutput{
			{Host: "", Lines: []string{"11:00:00 $ rpc.Admin/Pause scalardl-blue-1.internal.scalar-labs.com:50053", "11:01:20 ! scalardl-blue-2: connection refused", "11:01:30 $ rpc.Admin/Unpause scalardl-blue-1.internal.scalar-labs.com:50053"}},
			{Host: "bastion", Lines: []string{"11:00:00 $ mkdir /tmp/scalar-tui.lock"}},
		},
	}
}

// unfinishedRun is a repair that failed on cassandra-2 an hour ago, leaving
// a marker behind.
func unfinishedRun() vm.RunView {
	return vm.RunView{ID: "repair-20261124-1100", Kind: vm.KindRepair, Title: "Repair Cassandra", Started: testNow.Add(-time.Hour),
		State: "failed", Hosts: 3, Detail: "2/6 steps done: nodetool exited 2", Warning: "Scalar DL may be paused: resume unpauses it first"}
}

// withUnfinished adds unfinished runs to fb's journal, newest first.
func withUnfinished(fb *fakeBackend) *fakeBackend {
	canary := vm.RunView{ID: "upgrade-20261124-0900", Kind: vm.KindUpgrade, Title: "Upgrade Scalar DL to 2.2.0", Started: testNow.Add(-3 * time.Hour),
		State: "canary-wait", Hosts: 3, Detail: "2/4 steps done"}
	fb.runs = append([]vm.RunView{unfinishedRun()}, append(fb.runs, canary)...)
	return fb
}
