package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"scalar-tui/ops/sshx"
)

// DefaultRemoteDir is where detached commands keep their files on a host,
// relative to the SSH user's login directory: <dir>/<run>/<step>-<n>.
const DefaultRemoteDir = ".scalar-tui/runs"

// cleanupTimeout bounds cleanup steps, lock release and journal work that run
// after the run's context was canceled.
const cleanupTimeout = 5 * time.Minute

// lockTakeTimeout bounds taking the cluster lock, which a cancel does not
// cut (Engine.takeLock).
const lockTakeTimeout = time.Minute

// RefusedError is a run that did not start: a preflight check failed, the
// plan no longer matches the journal, or a crash left a step whose state is
// unknown.
type RefusedError struct {
	Check  string // the preflight check, when one failed
	Reason error
}

// Error implements error.
func (e *RefusedError) Error() string {
	if e.Check != "" {
		return fmt.Sprintf("refused: preflight %s: %v", e.Check, e.Reason)
	}
	return "refused: " + e.Reason.Error()
}

// Unwrap returns the reason.
func (e *RefusedError) Unwrap() error { return e.Reason }

// Engine runs plans. Build one with New; it may run several plans, one after
// the other or concurrently (each run has its own journal), but RequestPause
// applies to every run in progress.
//
// Caveats: a run journals to <stateDir>/runs/<id>.json and keeps per-host
// output in <stateDir>/runs/<id>/<host>.log. While a run executes, this
// process holds a flock on <stateDir>/runs/<id>.lock, so a second local
// Resume of a live run is refused; the kernel drops it when the process dies.
// The cluster lock on the bastion is re-entrant for the run that holds it, so
// Resume works after a crash, and Resume from another machine is not
// prevented (its journal would be missing anyway).
type Engine struct {
	r        Runner
	det      Detacher
	stateDir string
	operator string
	onEvent  func(Event)
	red      *Redactor
	lock     *ClusterLock
	canary   bool
	remote   string
	now      func() time.Time
	audit    *auditLog
	evMu     sync.Mutex
	noteMu   sync.Mutex // keepNotice
	pause    atomic.Bool
	hold     atomic.Bool
	contC    chan struct{} // Continue; buffered 1

	deployment     string
	noMirror       bool
	takeover       string
	detachOnCancel bool
	detachReq      atomic.Bool
	detachMu       sync.Mutex
	detachC        chan struct{} // closed by RequestDetach
}

// Option configures an Engine.
type Option func(*Engine)

// WithOperator sets the user@host written to the audit log and the lock
// (default Operator()).
func WithOperator(op string) Option { return func(e *Engine) { e.operator = op } }

// WithEvents sets the event callback. Calls are serialized; the callback
// should not block for long (the TUI forwards to a buffered channel).
func WithEvents(f func(Event)) Option { return func(e *Engine) { e.onEvent = f } }

// WithRedactor sets the redaction of secrets in the audit log, host logs,
// events and journal.
func WithRedactor(r *Redactor) Option { return func(e *Engine) { e.red = r } }

// WithLockPath sets the cluster lock directory on the bastion (default
// DefaultLockPath).
func WithLockPath(p string) Option {
	return func(e *Engine) { e.lock = &ClusterLock{R: e.r, Path: p} }
}

// WithoutLock disables the cluster lock. For tests and the lab only.
func WithoutLock() Option { return func(e *Engine) { e.lock = nil } }

// WithCanary stops a run with status canary-wait after the steps of the first
// host, until Resume.
func WithCanary(on bool) Option { return func(e *Engine) { e.canary = on } }

// WithDetacher replaces the ShellDetacher used for Detached steps.
func WithDetacher(d Detacher) Option { return func(e *Engine) { e.det = d } }

// WithRemoteDir sets the directory for detached commands on hosts (default
// DefaultRemoteDir).
func WithRemoteDir(dir string) Option { return func(e *Engine) { e.remote = dir } }

// WithDeployment records the deployment (network name and bastion) in every
// run's journal, so that `runs --all` can tell runs of different
// deployments apart.
func WithDeployment(name string) Option { return func(e *Engine) { e.deployment = name } }

// WithDetachOnCancel makes a canceled run leave its detached remote
// commands running on purpose (a long repair) instead of stopping them: the
// run ends with StatusDetached, keeps the cluster lock (marked detached on
// the bastion), names what still runs where in its journal, and Resume
// re-attaches. Cleanup steps still run.
func WithDetachOnCancel(on bool) Option { return func(e *Engine) { e.detachOnCancel = on } }

// WithoutJournalMirror stops copying each run's journal to the bastion
// beside the lock (MirrorDir). The copy is on by default.
func WithoutJournalMirror() Option { return func(e *Engine) { e.noMirror = true } }

// WithTakeover lets Resume of run id take the cluster lock from another
// operator's run with that ID: the explicit takeover of a dead run whose
// journal was fetched with TakeOver.
func WithTakeover(id string) Option { return func(e *Engine) { e.takeover = id } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// New returns an Engine that runs commands with r and journals under
// stateDir (normally $XDG_STATE_HOME/scalar-tui, resolved by the caller).
func New(r Runner, stateDir string, opts ...Option) *Engine {
	e := &Engine{
		r:        r,
		stateDir: stateDir,
		operator: Operator(),
		remote:   DefaultRemoteDir,
		now:      time.Now,
		detachC:  make(chan struct{}),
		contC:    make(chan struct{}, 1),
	}
	e.lock = &ClusterLock{R: r}
	e.det = ShellDetacher{R: r}
	for _, o := range opts {
		o(e)
	}
	if e.lock != nil {
		e.lock.R = r
	}
	e.audit = &auditLog{path: AuditPath(stateDir), red: e.red}
	return e
}

// StateDir is where this engine journals runs and appends the audit log.
func (e *Engine) StateDir() string { return e.stateDir }

// RequestPause asks every run in progress to stop after its current step with
// status paused (the TUI's `p`). It is deferred while a cluster-state marker
// is set, so the cluster is never left e.g. paused. Resume clears it.
func (e *Engine) RequestPause() { e.pause.Store(true) }

// HoldAtStops makes Run and Resume wait at an operator's pause and at the
// canary stop instead of returning: the run sends a Paused event (not
// Finished) and waits for Continue, then goes on as Resume would, or ends
// with its status (paused or canary-wait) and an error wrapping
// context.Canceled when ctx ends first. The cluster lock is released while
// the run waits, exactly as when it returns, and taken again by Continue.
// The console uses it; the CLI, which exits at a stop, does not.
func (e *Engine) HoldAtStops(on bool) { e.hold.Store(on) }

// Continue lets a run held at a stop (HoldAtStops) go on. A Continue sent
// while no run is held is kept for the next stop. With several runs held,
// one of them goes on.
func (e *Engine) Continue() {
	select {
	case e.contC <- struct{}{}:
	default:
	}
}

// holdAtStops waits at the stop a run ended at when the engine holds (see
// HoldAtStops) and resumes it on Continue, until the run ends otherwise.
// st is the run's journal as the run left it.
func (e *Engine) holdAtStops(ctx context.Context, p *Plan, st *RunState, status Status, err error) (Status, error) {
	for e.hold.Load() && (status == StatusPaused || status == StatusCanaryWait) {
		msg := ""
		if err != nil {
			msg = e.red.Redact(err.Error())
		}
		e.emit(&Paused{Header: Header{Run: p.ID}, Index: lastDone(st), Canary: status == StatusCanaryWait, Reason: msg})
		select {
		case <-ctx.Done():
			err = fmt.Errorf("stopped while %s; run %s stays %s in the journal (resume it from :runs): %w", status, p.ID, status, context.Canceled)
			e.emit(&Finished{Header: Header{Run: p.ID}, Status: status, Err: err.Error()})
			return status, err
		case <-e.contC:
		}
		st, status, err = e.resume(ctx, p.ID, p)
	}
	return status, err
}

// RequestDetach asks every run in progress to stop following its detached
// remote commands and leave them running on purpose: the run ends with
// StatusDetached as soon as its current detached command is let go (steps
// that are not detached finish first), keeps the cluster lock and can be
// re-attached with Resume. Nothing is killed.
func (e *Engine) RequestDetach() {
	e.detachMu.Lock()
	defer e.detachMu.Unlock()
	if !e.detachReq.Load() {
		e.detachReq.Store(true)
		close(e.detachC)
	}
}

func (e *Engine) detachChan() <-chan struct{} {
	e.detachMu.Lock()
	defer e.detachMu.Unlock()
	return e.detachC
}

// clearDetach forgets a RequestDetach (Resume starts following again).
func (e *Engine) clearDetach() {
	e.detachMu.Lock()
	defer e.detachMu.Unlock()
	if e.detachReq.Load() {
		e.detachReq.Store(false)
		e.detachC = make(chan struct{})
	}
}

// LeftRunningError is returned by a step whose detached remote command was
// not stopped: left running on purpose (OnPurpose), or because stopping it
// failed on cancel.
type LeftRunningError struct {
	Handle    DetachedHandle
	OnPurpose bool
	// Cause is why it could not be stopped (kill failed), or the
	// cancellation.
	Cause error
}

// Error implements error.
func (e *LeftRunningError) Error() string {
	if e.OnPurpose {
		return fmt.Sprintf("detached command on %s left running on purpose (%s); resume re-attaches", e.Handle.Host, e.Handle.Dir)
	}
	return fmt.Sprintf("detached command on %s may still be running (%s): %v", e.Handle.Host, e.Handle.Dir, e.Cause)
}

// Unwrap returns the cause.
func (e *LeftRunningError) Unwrap() error { return e.Cause }

// leftover describes e for the journal.
func (e *LeftRunningError) leftover(step string) Leftover {
	what := fmt.Sprintf("detached command `%s` still running in %s", e.Handle.Command, e.Handle.Dir)
	if e.OnPurpose {
		what += ", left running on purpose"
	} else if e.Cause != nil {
		what += fmt.Sprintf(" (could not stop it: %v)", e.Cause)
	}
	return Leftover{Host: e.Handle.Host, Step: step, What: what, OnPurpose: e.OnPurpose}
}

// runCtx is one run in progress.
type runCtx struct {
	mu      sync.Mutex
	st      *RunState
	plan    *Plan
	index   map[string]int // step ID -> index in plan.Steps
	e       *Engine
	logMu   sync.Mutex
	logs    map[string]*os.File
	saveErr error
	left    []Leftover // guarded by mu

	// mirror, once the lock is held, copies the journal to the bastion at
	// every transition (not at every progress update).
	mirror     *ClusterLock
	mirrorSig  string // guarded by mu
	mirrorSeq  int    // guarded by mu
	mirrorMu   sync.Mutex
	mirrorDone int // guarded by mirrorMu
	mirrorErr  bool
}

// stepIndex is the index of step id in the plan, -1 for a step that is not
// one of its Steps (a compensation).
func (rc *runCtx) stepIndex(id string) int {
	if i, ok := rc.index[id]; ok {
		return i
	}
	return -1
}

func (rc *runCtx) addLeft(l Leftover) {
	rc.mu.Lock()
	rc.left = append(rc.left, l)
	rc.mu.Unlock()
}

func (rc *runCtx) update(f func(*RunState)) error {
	rc.mu.Lock()
	f(rc.st)
	rc.st.Updated = rc.e.now().UTC()
	err := saveRun(rc.e.stateDir, rc.st)
	if err != nil && rc.saveErr == nil {
		rc.saveErr = err
	}
	var snap []byte
	var seq int
	if rc.mirror != nil {
		if sig := transitionSig(rc.st); sig != rc.mirrorSig {
			rc.mirrorSig = sig
			rc.mirrorSeq++
			seq = rc.mirrorSeq
			snap, _ = json.Marshal(rc.st)
		}
	}
	rc.mu.Unlock()
	if snap != nil {
		rc.writeMirror(snap, seq)
	}
	return err
}

// transitionSig changes when the run or a step changes state, not on
// progress updates.
func transitionSig(st *RunState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%t|%d|%s|", st.Status, st.CanaryDone, len(st.Left), st.Error)
	keys := make([]string, 0, len(st.Markers))
	for k := range st.Markers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString(strings.Join(keys, ","))
	for _, s := range st.Steps {
		fmt.Fprintf(&b, "|%s:%d:%t", s.Status, s.CommandsDone, s.Detached != nil)
	}
	return b.String()
}

// writeMirror copies journal snapshot seq to the bastion, unless a newer
// one was already written. A failure is said once and does not stop the run
// (the local journal is the one Resume uses).
func (rc *runCtx) writeMirror(snap []byte, seq int) {
	rc.mirrorMu.Lock()
	defer rc.mirrorMu.Unlock()
	if seq <= rc.mirrorDone {
		return
	}
	var st RunState
	if json.Unmarshal(snap, &st) != nil {
		return
	}
	// Part of the run: an audited runner records the copy with its run ID.
	ctx, cancel := context.WithTimeout(sshx.WithAuditScope(context.Background(), sshx.AuditScope{Run: st.ID, Redact: rc.e.red.Redact}), time.Minute)
	defer cancel()
	if err := rc.mirror.WriteJournal(ctx, &st); err != nil {
		if !rc.mirrorErr {
			rc.mirrorErr = true
			rc.e.emit(&Notice{Header: Header{Run: st.ID}, Message: "could not copy the journal to the bastion: " + err.Error()})
		}
		return
	}
	rc.mirrorDone = seq
}

func (rc *runCtx) closeLogs() {
	rc.logMu.Lock()
	defer rc.logMu.Unlock()
	for _, f := range rc.logs {
		_ = f.Close()
	}
	rc.logs = nil
}

func (rc *runCtx) logLine(host, stream, line string) {
	rc.logMu.Lock()
	defer rc.logMu.Unlock()
	if rc.logs == nil {
		rc.logs = map[string]*os.File{}
	}
	f, ok := rc.logs[host]
	if !ok {
		p := HostLogPath(rc.e.stateDir, rc.st.ID, host)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return
		}
		var err error
		f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return
		}
		rc.logs[host] = f
	}
	_, _ = f.WriteString(logRecord(rc.e.now(), stream, rc.e.red.Redact(line)))
}

func (e *Engine) emit(ev Event) {
	h := ev.header()
	if h.Time.IsZero() {
		h.Time = e.now().UTC()
	}
	if n, ok := ev.(*Notice); ok {
		e.keepNotice(h.Run, h.Time, n.Message)
	}
	if e.onEvent == nil {
		return
	}
	e.evMu.Lock()
	defer e.evMu.Unlock()
	e.onEvent(ev)
}

// keepNotice appends a run's notice to its cluster log
// (HostLogPath(stateDir, run, "")) as "TIME note LINE", a line each: what
// the run said (preflight results, the lock, a verdict, the commands to run
// next) stays readable in `runs show` and the console's run detail after
// the run, not only in its live view.
func (e *Engine) keepNotice(run string, at time.Time, msg string) {
	if run == "" || e.stateDir == "" {
		return
	}
	e.noteMu.Lock()
	defer e.noteMu.Unlock()
	p := HostLogPath(e.stateDir, run, "")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(e.red.Redact(msg), "\n"), "\n") {
		b.WriteString(logRecord(at, "note", line))
	}
	_, _ = f.WriteString(b.String())
}

// logRecord is one line of a run's host log: "RFC3339 STREAM LINE\n"
// (stream stdout, stderr, $ for a command, note for a notice).
func logRecord(at time.Time, stream, line string) string {
	return at.UTC().Format(time.RFC3339) + " " + stream + " " + line + "\n"
}

// exec runs one audited command; host "" is the bastion. When step is set,
// output lines become events and feed progress.
func (e *Engine) exec(ctx context.Context, rc *runCtx, host, command string, opts sshx.RunOptions, step string, progress func(string) (float64, bool)) (sshx.Result, error) {
	logHost := host
	if host == "" {
		logHost = "bastion"
	}
	wrap := func(stream string, next func(string)) func(string) {
		return func(line string) {
			rc.logLine(logHost, stream, line)
			if step != "" {
				e.emit(&OutputLine{Header: Header{Run: rc.st.ID}, Step: step, Index: rc.stepIndex(step), Host: host, Stream: stream, Line: e.red.Redact(line)})
				if progress != nil {
					if p, ok := progress(line); ok {
						if s := rc.plan.step(step); s != nil {
							e.progress(rc, s, p)
						}
					}
				}
			}
			if next != nil {
				next(line)
			}
		}
	}
	opts.Stdout = wrap("stdout", opts.Stdout)
	opts.Stderr = wrap("stderr", opts.Stderr)
	rc.logLine(logHost, "$", command)
	start := e.now()
	var res sshx.Result
	var err error
	if host == "" {
		res, err = e.r.RunBastion(ctx, command, opts)
	} else {
		res, err = e.r.Run(ctx, host, command, opts)
	}
	ent := AuditEntry{
		Time: start.UTC(), Operator: e.operator, Run: rc.st.ID, Host: logHost, Command: command,
		ExitCode: res.ExitCode, DurationMS: e.now().Sub(start).Milliseconds(),
	}
	if err != nil {
		ent.Error = err.Error()
		ent.ExitCode = -1
	}
	if aerr := e.auditCommand(ent); aerr != nil && err == nil {
		// An operation we cannot audit must not go on.
		return res, fmt.Errorf("audit: %w", aerr)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", logHost, err)
	}
	return res, nil
}

// auditingRunner lets the Detacher and the lock go through exec.
type auditingRunner struct {
	e  *Engine
	rc *runCtx
}

// Run implements Runner through the engine's audited exec.
func (a auditingRunner) Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error) {
	return a.e.exec(ctx, a.rc, host, command, opts, "", nil)
}

// RunBastion implements BastionRunner through the engine's audited exec.
func (a auditingRunner) RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error) {
	return a.e.exec(ctx, a.rc, "", command, opts, "", nil)
}

func (e *Engine) progress(rc *runCtx, s *Step, pct float64) {
	_ = rc.update(func(st *RunState) {
		if ss := st.Step(s.ID); ss != nil {
			ss.Percent = pct
		}
	})
	e.emit(&Progress{Header: Header{Run: rc.st.ID}, Step: s.ID, Index: rc.stepIndex(s.ID), Host: s.Host, Percent: pct})
}

func (p *Plan) step(id string) *Step {
	for i := range p.Steps {
		if p.Steps[i].ID == id {
			return &p.Steps[i]
		}
	}
	return nil
}

// Run executes a new plan: lock, preflight, then steps. It returns the final
// status and, unless the run is done, an error saying why. The error wraps
// context.Canceled when ctx was canceled, and is a *RefusedError or
// *LockedError when the run did not start.
func (e *Engine) Run(ctx context.Context, p *Plan) (Status, error) {
	if e.r == nil {
		return StatusRefused, &RefusedError{Reason: errors.New("engine has no runner")}
	}
	if err := p.validate(); err != nil {
		return StatusRefused, &RefusedError{Reason: err}
	}
	if p.ID == "" {
		p.ID = NewRunID(e.now(), p.Workflow)
	}
	base := p.ID
	for {
		if _, err := os.Stat(JournalPath(e.stateDir, p.ID)); errors.Is(err, os.ErrNotExist) {
			break
		}
		p.ID = base + "-" + randomSuffix()
	}
	now := e.now().UTC()
	st := &RunState{
		ID: p.ID, Workflow: p.Workflow, Operator: e.operator, Created: now, Updated: now,
		Status: StatusPending, Fingerprint: p.Fingerprint, ReadOnly: p.ReadOnly,
		Params: p.paramsJSON(), Canary: e.canary, Deployment: e.deployment,
	}
	for _, s := range p.Steps {
		st.Steps = append(st.Steps, StepState{
			ID: s.ID, Title: s.Title, Host: s.Host, Commands: redactAll(e.red, s.Commands),
			Status: StatusPending, Idempotent: s.Idempotent, Cleanup: s.Cleanup,
		})
	}
	status, err := e.execute(ctx, p, st, false)
	return e.holdAtStops(ctx, p, st, status, err)
}

func redactAll(r *Redactor, in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = r.Redact(s)
	}
	return out
}

// Resume continues run id with p, the same plan rebuilt by the workflow from
// the journalled Params (steps are matched by ID). It refuses when the
// inventory fingerprint changed, when the steps differ, or when a step that is
// neither detached nor idempotent was running when the run stopped (check the
// host by hand, then MarkStep). Preflight is checked again. Compensations of
// markers still set run first. Running detached steps are re-attached.
func (e *Engine) Resume(ctx context.Context, id string, p *Plan) (Status, error) {
	st, status, err := e.resume(ctx, id, p)
	return e.holdAtStops(ctx, p, st, status, err)
}

// resume is Resume without holding at stops; it returns the journal as the
// run left it (nil when refused before reading it).
func (e *Engine) resume(ctx context.Context, id string, p *Plan) (*RunState, Status, error) {
	if e.r == nil {
		return nil, StatusRefused, &RefusedError{Reason: errors.New("engine has no runner")}
	}
	st, err := LoadRun(e.stateDir, id)
	if err != nil {
		return nil, StatusRefused, &RefusedError{Reason: err}
	}
	refuse := func(format string, a ...any) (*RunState, Status, error) {
		return st, StatusRefused, &RefusedError{Reason: fmt.Errorf("resume %s: "+format, append([]any{id}, a...)...)}
	}
	if st.Status == StatusDone {
		return refuse("the run already finished")
	}
	if st.Status == StatusDiscarded {
		return refuse("the run was discarded (%s); start a new run", st.Discarded)
	}
	if err := p.validate(); err != nil {
		return refuse("%v", err)
	}
	if p.Workflow != st.Workflow {
		return refuse("the run is a %s workflow, the plan given is %s", st.Workflow, p.Workflow)
	}
	if p.Fingerprint != st.Fingerprint {
		return refuse("the inventory changed since the run started (fingerprint %s, now %s): a node may have been replaced; start a new run", st.Fingerprint, p.Fingerprint)
	}
	if len(p.Steps) != len(st.Steps) {
		return refuse("the plan now has %d steps, the journal %d: start a new run", len(p.Steps), len(st.Steps))
	}
	for i, s := range p.Steps {
		if s.ID != st.Steps[i].ID {
			return refuse("step %d is %q in the plan but %q in the journal: start a new run", i+1, s.ID, st.Steps[i].ID)
		}
	}
	for i := range st.Steps {
		ss := &st.Steps[i]
		if ss.Status != StatusRunning {
			continue
		}
		s := p.Steps[i]
		switch {
		case s.Detached || s.Idempotent:
			// Re-attach, or re-run safely.
		case s.Run == nil && ss.CommandsDone >= len(s.Commands):
			// Only the gate was left: checking it again is safe.
		default:
			host := s.Host
			if host == "" {
				host = "the cluster"
			}
			return refuse("step %s (%s) was running on %s when the run stopped and is not safe to run again; check %s by hand, then mark it with `scalar-tui runs mark %s %s done|pending`", s.ID, s.Title, host, host, id, s.ID)
		}
	}
	for i := range st.Steps {
		if ss := &st.Steps[i]; ss.Status == StatusSkipped && !ss.Manual {
			ss.Status, ss.Error = StatusPending, ""
		}
	}
	p.ID = st.ID
	e.pause.Store(false)
	e.clearDetach()
	status, err := e.execute(ctx, p, st, true)
	return st, status, err
}

// lastDone is the index of the last step st shows done, 0 when none.
func lastDone(st *RunState) int {
	last := 0
	for i, ss := range st.Steps {
		if ss.Status == StatusDone {
			last = i
		}
	}
	return last
}

// hasWork reports whether a step from i on still has to run.
func (e *Engine) hasWork(p *Plan, st *RunState, i int) bool {
	for ; i < len(p.Steps); i++ {
		if s := st.Steps[i].Status; s != StatusDone && s != StatusSkipped {
			return true
		}
	}
	return false
}

// NoteMarkerPrefix starts the key of a marker that records bookkeeping (the
// ID of an Alertmanager silence), not a state of the cluster: such markers
// never hold back a canary stop or an operator's pause.
const NoteMarkerPrefix = "note/"

// clusterStateMarkers counts the markers that record a state of the cluster.
func clusterStateMarkers(ms map[string]Marker) int {
	n := 0
	for k := range ms {
		if !strings.HasPrefix(k, NoteMarkerPrefix) {
			n++
		}
	}
	return n
}

func (rc *runCtx) markers() map[string]Marker {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]Marker, len(rc.st.Markers))
	for k, v := range rc.st.Markers {
		out[k] = v
	}
	return out
}

// runStep runs step k and journals its transitions.
func (e *Engine) runStep(ctx context.Context, rc *runCtx, k int) error {
	s := &rc.plan.Steps[k]
	runID := rc.st.ID
	var reattach bool
	var attempt int
	start := e.now().UTC()
	_ = rc.update(func(st *RunState) {
		ss := &st.Steps[k]
		reattach = ss.Status == StatusRunning && ss.Detached != nil
		if !reattach {
			// A failed or canceled detached command is never attached to
			// again: the new attempt gets a new run directory.
			ss.Detached = nil
		}
		ss.Status = StatusRunning
		ss.Attempts++
		attempt = ss.Attempts
		ss.Started = &start
		ss.Ended = nil
		ss.Error = ""
	})
	e.emit(&StepStarted{Header: Header{Run: runID}, Step: s.ID, Index: k, Title: s.Title, Host: s.Host, Attempt: attempt, Reattach: reattach})
	err := e.runStepBody(ctx, rc, s, &rc.st.Steps[k], reattach)
	end := e.now().UTC()
	var lre *LeftRunningError
	if errors.As(err, &lre) {
		rc.addLeft(lre.leftover(s.ID))
	}
	if lre != nil && lre.OnPurpose {
		// The step goes on remotely: it stays running with its handle, so
		// Resume re-attaches.
		e.emit(&Notice{Header: Header{Run: runID}, Message: s.ID + ": " + lre.Error()})
		return fmt.Errorf("step %s: %w", s.ID, err)
	}
	if err != nil {
		status := StatusFailed
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			status = StatusCanceled
		}
		msg := e.red.Redact(err.Error())
		_ = rc.update(func(st *RunState) {
			st.Steps[k].Status = status
			st.Steps[k].Ended = &end
			st.Steps[k].Error = msg
		})
		e.emit(&StepFailed{Header: Header{Run: runID}, Step: s.ID, Index: k, Host: s.Host, Err: msg})
		return fmt.Errorf("step %s: %w", s.ID, err)
	}
	_ = rc.update(func(st *RunState) {
		st.Steps[k].Status = StatusDone
		st.Steps[k].Ended = &end
	})
	e.emit(&StepDone{Header: Header{Run: runID}, Step: s.ID, Index: k, Host: s.Host, Duration: end.Sub(start)})
	return nil
}

// runStepBody runs a step's commands (or Run) and its gate. ss is nil for
// compensation steps, which are not journalled step by step.
func (e *Engine) runStepBody(ctx context.Context, rc *runCtx, s *Step, ss *StepState, reattach bool) error {
	env := &Env{e: e, rc: rc, step: s}
	cctx := ctx
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	if s.Run != nil {
		if err := s.Run(cctx, env); err != nil {
			return err
		}
	} else {
		first := 0
		if ss != nil {
			rc.mu.Lock()
			first = ss.CommandsDone
			rc.mu.Unlock()
		}
		for ci := first; ci < len(s.Commands); ci++ {
			var err error
			if s.Detached {
				err = e.runDetached(cctx, rc, s, ss, ci, reattach)
				reattach = false
			} else {
				err = env.Run(cctx, s.Host, s.Commands[ci])
			}
			if err != nil {
				return err
			}
			if ss != nil {
				_ = rc.update(func(*RunState) { ss.CommandsDone = ci + 1; ss.Detached = nil })
			}
		}
	}
	if s.Gate != nil {
		return e.waitGate(ctx, rc, s)
	}
	return nil
}

// runDetached starts (or re-attaches to) command ci of s and follows it to
// its end. On cancellation it kills the remote process group.
func (e *Engine) runDetached(ctx context.Context, rc *runCtx, s *Step, ss *StepState, ci int, reattach bool) error {
	runID := rc.st.ID
	det := e.det
	if sd, ok := det.(ShellDetacher); ok && sd.R == e.r {
		// Audit the detacher's commands too.
		det = ShellDetacher{R: auditingRunner{e: e, rc: rc}}
	}
	var h DetachedHandle
	rc.mu.Lock()
	if ss != nil && ss.Detached != nil && ss.Detached.Index == ci {
		h = *ss.Detached
	} else {
		reattach = false
		h = DetachedHandle{
			Host:    s.Host,
			Dir:     strings.TrimRight(e.remote, "/") + "/" + safeName(runID) + "/" + safeName(s.ID) + fmt.Sprintf("-%d-%d", ci, attemptOf(ss)),
			Command: e.red.Redact(s.Commands[ci]),
			Index:   ci,
			Started: e.now().UTC(),
		}
	}
	rc.mu.Unlock()
	if !reattach {
		// Journal the handle before starting, so a crash right after the
		// start still finds the command. Start refuses an existing dir.
		if ss != nil {
			if err := rc.update(func(*RunState) { hh := h; ss.Detached = &hh }); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		hs := h
		hs.Command = s.Commands[ci]
		err := det.Start(ctx, hs)
		switch {
		case errors.Is(err, ErrAlreadyStarted):
			e.emit(&Notice{Header: Header{Run: runID}, Message: fmt.Sprintf("%s: detached command already started in %s, attaching", s.ID, h.Dir)})
		case err != nil:
			return err
		}
	} else {
		e.emit(&Notice{Header: Header{Run: runID}, Message: fmt.Sprintf("%s: re-attaching to the detached command on %s (%s)", s.ID, h.Host, h.Dir)})
	}

	// The audited ShellDetacher already writes the lines to the host log.
	_, logged := det.(ShellDetacher)
	var outN, errN atomic.Int64
	lineOpts := func() sshx.RunOptions {
		return sshx.RunOptions{
			Stdout: func(l string) { outN.Add(1); e.streamLine(rc, s, "stdout", l, !logged) },
			Stderr: func(l string) { errN.Add(1); e.streamLine(rc, s, "stderr", l, !logged) },
		}
	}
	const maxFollows = 5
	for attempt := 1; ; attempt++ {
		fctx, fcancel := context.WithCancel(ctx)
		detachC := e.detachChan()
		go func() {
			select {
			case <-detachC:
				fcancel()
			case <-fctx.Done():
			}
		}()
		ferr := det.Follow(fctx, h, int(outN.Load()), int(errN.Load()), lineOpts())
		fcancel()
		if e.detachReq.Load() || (ctx.Err() != nil && e.detachOnCancel) {
			if stt, serr := det.Status(context.WithoutCancel(ctx), h); serr == nil && stt.Exited {
				// It ended meanwhile: nothing is left running.
				if stt.ExitCode == 0 {
					return nil
				}
				return &ExitError{Host: h.Host, Command: h.Command, Code: stt.ExitCode}
			}
			return &LeftRunningError{Handle: h, OnPurpose: true, Cause: context.Canceled}
		}
		if ctx.Err() != nil {
			kctx, cancel := bounded(ctx, time.Minute)
			kerr := det.Kill(kctx, h)
			cancel()
			if kerr != nil {
				return &LeftRunningError{Handle: h, Cause: fmt.Errorf("canceled, and stopping it failed (%v): %w", kerr, ctx.Err())}
			}
			return fmt.Errorf("canceled; detached command on %s stopped: %w", h.Host, ctx.Err())
		}
		stt, serr := det.Status(ctx, h)
		if serr != nil {
			if attempt < maxFollows {
				continue
			}
			return serr
		}
		switch {
		case ferr != nil && stt.Exists && !stt.Running && attempt < maxFollows:
			// The follow broke and the command has ended since: follow
			// once more to collect the output we missed.
			e.emit(&Notice{Header: Header{Run: runID}, Message: fmt.Sprintf("%s: lost the output stream (%v); re-attaching to collect the rest", s.ID, ferr)})
			continue
		case stt.Exited && stt.ExitCode == 0:
			return nil
		case stt.Exited:
			return &ExitError{Host: h.Host, Command: h.Command, Code: stt.ExitCode}
		case stt.Running && attempt < maxFollows:
			// The follow broke (SSH drop) but the command goes on.
			e.emit(&Notice{Header: Header{Run: runID}, Message: fmt.Sprintf("%s: lost the output stream (%v); re-attaching", s.ID, ferr)})
			continue
		case stt.Running:
			return fmt.Errorf("detached command on %s still runs but its output cannot be followed: %v", h.Host, ferr)
		case !stt.Exists:
			return fmt.Errorf("detached command on %s: run directory %s is missing", h.Host, h.Dir)
		default:
			return fmt.Errorf("detached command on %s ended without an exit code (killed, or the host rebooted); see %s", h.Host, h.Dir)
		}
	}
}

func attemptOf(ss *StepState) int {
	if ss == nil {
		return 0
	}
	return ss.Attempts
}

func (e *Engine) streamLine(rc *runCtx, s *Step, stream, line string, log bool) {
	if log {
		rc.logLine(s.Host, stream, line)
	}
	e.emit(&OutputLine{Header: Header{Run: rc.st.ID}, Step: s.ID, Index: rc.stepIndex(s.ID), Host: s.Host, Stream: stream, Line: e.red.Redact(line)})
	if s.Progress != nil {
		if p, ok := s.Progress(line); ok {
			e.progress(rc, s, p)
		}
	}
}

// waitGate polls s.Gate until it passes or its deadline expires. Errors and
// missing data count as not passed.
func (e *Engine) waitGate(ctx context.Context, rc *runCtx, s *Step) error {
	g := s.Gate
	runID := rc.st.ID
	env := &Env{e: e, rc: rc}
	start := e.now()
	deadline := g.deadline()
	gctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	t := time.NewTicker(g.interval())
	defer t.Stop()
	last := "not checked yet"
	for {
		ok, reason, err := false, "", error(nil)
		if g.Check == nil {
			err = errors.New("gate has no check")
		} else {
			ok, reason, err = g.Check(gctx, env)
		}
		elapsed := e.now().Sub(start)
		if err == nil && ok {
			e.emit(&GatePassed{Header: Header{Run: runID}, Step: s.ID, Index: rc.stepIndex(s.ID), Host: s.Host, Gate: g.Name, Elapsed: elapsed})
			return nil
		}
		switch {
		case err != nil && gctx.Err() != nil && ctx.Err() == nil && last != "not checked yet":
			// Cut by the gate's own deadline: the previous reason says more.
		case err != nil:
			last = e.red.Redact("check failed: " + err.Error())
		case reason != "":
			last = e.red.Redact(reason)
		default:
			last = "condition not met"
		}
		e.emit(&GateWaiting{Header: Header{Run: runID}, Step: s.ID, Index: rc.stepIndex(s.ID), Host: s.Host, Gate: g.Name, Elapsed: elapsed, LastReason: last})
		select {
		case <-ctx.Done():
			return fmt.Errorf("gate %s: %w", g.Name, ctx.Err())
		case <-gctx.Done():
			return fmt.Errorf("gate %s (%s) not passed within %s: %s", g.Name, g.Description, deadline, last)
		case <-t.C:
		}
	}
}

// leftovers is what a run ending with status s leaves behind: what the
// steps reported (commands not stopped) and the cluster-state markers still
// set (those the plan compensates, i.e. that say the cluster must be put
// back; bookkeeping markers are not cluster state).
func leftovers(st *RunState, steps []Leftover, s Status, comps map[string]Step) []Leftover {
	if s == StatusDone {
		return nil
	}
	out := append([]Leftover(nil), steps...)
	keys := make([]string, 0, len(st.Markers))
	for k := range st.Markers {
		if _, ok := comps[k]; ok || k == MarkerScalarDLPaused {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		m := st.Markers[k]
		what := "marker " + k + " still set"
		if k == MarkerScalarDLPaused {
			what = "Scalar DL may still be paused (marker " + k + "); `scalar-tui resume " + st.ID + "` unpauses it first"
		}
		out = append(out, Leftover{Step: m.Step, What: what})
	}
	return out
}

// detachedNote names what a detached run left running, for the lock.
func detachedNote(rc *runCtx) string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var parts []string
	for _, l := range rc.left {
		if l.OnPurpose {
			parts = append(parts, l.Step+" on "+l.Host)
		}
	}
	return strings.Join(parts, ", ")
}
