package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Status is the state of a run or of one step.
type Status string

// Run and step statuses. A step is pending, running, done, failed, canceled or
// skipped. A run is running, done, failed, canceled, refused (preflight or
// lock), paused (operator asked) or canary-wait (stopped after the first host,
// waiting for Resume).
const (
	StatusPending    Status = "pending"
	StatusRunning    Status = "running"
	StatusDone       Status = "done"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
	StatusSkipped    Status = "skipped"
	StatusRefused    Status = "refused"
	StatusPaused     Status = "paused"
	StatusCanaryWait Status = "canary-wait"
	// StatusDetached is a run stopped on purpose while a detached remote
	// command goes on (a long repair): it keeps the cluster lock, its
	// journal names what still runs where (RunState.Left), and Resume
	// re-attaches.
	StatusDetached Status = "detached"
	// StatusDiscarded is a stale run an operator discarded (Discard): it is
	// no longer offered for resume.
	StatusDiscarded Status = "discarded"
	// StatusCrashed is never written: DisplayStatus reports it for a run the
	// journal says is running whose process is gone.
	StatusCrashed Status = "crashed"
)

// Resumable reports whether a run in this status can be continued with Resume.
// A "running" run is resumable because it is what a crash leaves behind.
func (s Status) Resumable() bool {
	switch s {
	case StatusRunning, StatusFailed, StatusCanceled, StatusRefused, StatusPaused, StatusCanaryWait,
		StatusDetached, StatusCrashed:
		return true
	}
	return false
}

// Cluster-state markers are journalled key/value flags that say the cluster
// is in a state a workflow must undo, whatever happens to the console.
//
// A workflow sets a marker (Env.SetMarker) in the same step, just before it
// changes the cluster, and clears it (Env.ClearMarker) just after the change
// is undone. While any marker is set the engine does not honour a pause or
// canary stop, and Resume first runs the plan's Compensations for every marker
// still set, before continuing at the first unfinished step.
const (
	// MarkerScalarDLPaused is set before `scalar-admin -c pause` and cleared
	// after `unpause` succeeded. While set, Scalar DL may be refusing
	// requests; the compensation is to unpause.
	MarkerScalarDLPaused = "scalardl-paused"
)

// Marker is one cluster-state marker in the journal.
type Marker struct {
	Value string    `json:"value"`
	Step  string    `json:"step,omitempty"`
	Set   time.Time `json:"set"`
}

// DetachedHandle locates a detached remote command, so a later process can
// re-attach to it.
type DetachedHandle struct {
	Host string `json:"host"`
	// Dir is the remote run directory (relative to the login directory
	// unless absolute) holding cmd.sh, pid, stdout, stderr and rc.
	Dir     string    `json:"dir"`
	Command string    `json:"command"`
	Index   int       `json:"index"` // which of the step's Commands
	Started time.Time `json:"started"`
}

// Leftover is something a stopped run left behind in the cluster: a remote
// command that still runs, or a cluster-state marker still set.
type Leftover struct {
	Host string `json:"host,omitempty"`
	Step string `json:"step,omitempty"`
	// What says what is left, for the operator, e.g. "detached command
	// `nodetool repair -full -pr scalar` still running (.scalar-tui/runs/…)".
	What string `json:"what"`
	// OnPurpose is set when the operator chose to leave it running.
	OnPurpose bool `json:"on_purpose,omitempty"`
}

// String reads like "cassandra-2: detached command … still running".
func (l Leftover) String() string {
	if l.Host == "" {
		return l.What
	}
	return l.Host + ": " + l.What
}

// StepState is the journalled state of one step.
type StepState struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Host     string   `json:"host,omitempty"`
	Commands []string `json:"commands,omitempty"`
	Status   Status   `json:"status"`
	Attempts int      `json:"attempts,omitempty"`
	// CommandsDone counts the step's Commands that finished with exit 0.
	CommandsDone int             `json:"commands_done,omitempty"`
	Detached     *DetachedHandle `json:"detached,omitempty"`
	Idempotent   bool            `json:"idempotent,omitempty"`
	Cleanup      bool            `json:"cleanup,omitempty"`
	Started      *time.Time      `json:"started,omitempty"`
	Ended        *time.Time      `json:"ended,omitempty"`
	Error        string          `json:"error,omitempty"`
	Percent      float64         `json:"percent,omitempty"`
	// Manual is set when an operator marked the step with MarkStep; a
	// manually skipped step stays skipped on Resume, while steps the engine
	// skipped after a failure run again.
	Manual bool `json:"manual,omitempty"`
}

// RunState is the journal of one run, at <stateDir>/runs/<id>.json.
type RunState struct {
	ID          string            `json:"id"`
	Workflow    string            `json:"workflow"`
	Operator    string            `json:"operator"`
	Created     time.Time         `json:"created"`
	Updated     time.Time         `json:"updated"`
	Status      Status            `json:"status"`
	Error       string            `json:"error,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	ReadOnly    bool              `json:"read_only,omitempty"`
	Params      json.RawMessage   `json:"params,omitempty"`
	Canary      bool              `json:"canary,omitempty"`
	CanaryDone  bool              `json:"canary_done,omitempty"`
	Markers     map[string]Marker `json:"markers,omitempty"`
	Steps       []StepState       `json:"steps"`
	// Deployment names the deployment the run belongs to (network name and
	// bastion), see DeploymentKey.
	Deployment string `json:"deployment,omitempty"`
	// PID and Hostname are the process executing the run (the last one, after
	// a Resume), so that a run whose process is gone shows as crashed.
	PID      int    `json:"pid,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	// Left is what the run left behind when it stopped (canceled, failed,
	// detached): remote commands still running, markers still set.
	Left []Leftover `json:"left,omitempty"`
	// Discarded says who discarded the run, when and why (see Discard).
	Discarded string `json:"discarded,omitempty"`
}

// Step returns the state of the step with id, or nil.
func (r *RunState) Step(id string) *StepState {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return &r.Steps[i]
		}
	}
	return nil
}

// RunsDir is where journals and per-host logs live under stateDir.
func RunsDir(stateDir string) string { return filepath.Join(stateDir, "runs") }

// JournalPath is the journal file of run id.
func JournalPath(stateDir, id string) string {
	return filepath.Join(RunsDir(stateDir), id+".json")
}

// HostLogPath is the file holding one host's output for run id. Cluster-wide
// output goes to "cluster.log", the bastion's to "bastion.log".
func HostLogPath(stateDir, id, host string) string {
	name := host
	if name == "" {
		name = "cluster"
	}
	return filepath.Join(RunsDir(stateDir), id, safeName(name)+".log")
}

// safeName keeps a host or step name usable as one path element.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// LoadRun reads the journal of run id.
func LoadRun(stateDir, id string) (*RunState, error) {
	if id == "" || id != safeName(id) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("bad run id %q", id)
	}
	b, err := os.ReadFile(JournalPath(stateDir, id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no run %s in %s (see `scalar-tui runs`): %w", id, RunsDir(stateDir), err)
		}
		return nil, fmt.Errorf("read journal of run %s: %w", id, err)
	}
	var st RunState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("journal of run %s is corrupt: %w", id, err)
	}
	return &st, nil
}

// List returns every journalled run, newest first. Unreadable journals are
// skipped and reported in the error (the runs that could be read are still
// returned).
func List(stateDir string) ([]RunState, error) {
	ents, err := os.ReadDir(RunsDir(stateDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var out []RunState
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		st, err := LoadRun(stateDir, strings.TrimSuffix(name, ".json"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, *st)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID > out[j].ID
	})
	return out, errors.Join(errs...)
}

// MarkStep sets a step's status by hand, for the operator who checked a host
// after Resume refused to re-run a non-idempotent step (typically to "done" or
// "skipped"). It is the only way the engine's refusal is overridden.
func MarkStep(stateDir, id, stepID string, status Status, note string) error {
	st, err := LoadRun(stateDir, id)
	if err != nil {
		return err
	}
	ss := st.Step(stepID)
	if ss == nil {
		return fmt.Errorf("run %s has no step %q", id, stepID)
	}
	switch status {
	case StatusDone, StatusSkipped, StatusPending:
	default:
		return fmt.Errorf("a step can be marked done, skipped or pending, not %s", status)
	}
	ss.Status = status
	ss.Error = note
	ss.Manual = true
	if status == StatusPending {
		ss.CommandsDone = 0
		ss.Detached = nil
	}
	st.Updated = time.Now().UTC()
	return saveRun(stateDir, st)
}

// saveRun writes the journal atomically: temp file, fsync, rename, fsync dir.
func saveRun(stateDir string, st *RunState) error {
	dir := RunsDir(stateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("journal dir: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode journal: %w", err)
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(dir, "."+st.ID+".*.tmp")
	if err != nil {
		return fmt.Errorf("journal temp file: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	if err := os.Rename(tmpName, JournalPath(stateDir, st.ID)); err != nil {
		return fmt.Errorf("rename journal: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// lockLocal takes an exclusive flock on <stateDir>/runs/<id>.lock so that two
// processes on this machine never execute the same run. It returns the
// release function.
func lockLocal(stateDir, id string) (func(), error) {
	if err := os.MkdirAll(RunsDir(stateDir), 0o700); err != nil {
		return nil, fmt.Errorf("journal dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(RunsDir(stateDir), id+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("run %s is being executed by another scalar-tui process on this machine", id)
		}
		return nil, fmt.Errorf("run lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// DeploymentKey names one deployment's local state: its network name made
// safe for a path, then 8 hex digits of a hash of the network name and the
// bastion ("example-aws-0j5y83k-1a2b3c4d"). Two deployments that share a
// network name but not a bastion never share a journal.
func DeploymentKey(network, bastion string) string {
	sum := sha256.Sum256([]byte(network + "\x00" + bastion))
	name := safeName(network)
	if name == "" || strings.HasPrefix(name, ".") {
		name = "deployment"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name + "-" + hex.EncodeToString(sum[:4])
}

// DeploymentsDir holds one directory per deployment under root (the
// $XDG_STATE_HOME/scalar-tui of the operator).
func DeploymentsDir(root string) string { return filepath.Join(root, "deployments") }

// DeploymentDir is the state directory of one deployment under root:
// <root>/deployments/<DeploymentKey>. Journals (runs/), host logs and the
// audit log of that deployment live there; pass it as an Engine's stateDir.
func DeploymentDir(root, network, bastion string) string {
	return filepath.Join(DeploymentsDir(root), DeploymentKey(network, bastion))
}

// DeploymentLockPath is the cluster lock directory on the bastion for the
// deployment named network: /tmp/scalar-tui-<network>.lock. A bastion shared
// by several deployments (a lab, demos) then holds one lock for each.
func DeploymentLockPath(network string) string {
	name := safeName(network)
	if name == "" || strings.HasPrefix(name, ".") {
		return DefaultLockPath
	}
	return "/tmp/scalar-tui-" + name + ".lock"
}

// ListAll returns the runs of every deployment under root, newest first,
// and those journalled directly under root by older versions.
func ListAll(root string) ([]RunState, error) {
	dirs := []string{root}
	ents, err := os.ReadDir(DeploymentsDir(root))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(DeploymentsDir(root), e.Name()))
		}
	}
	var out []RunState
	var errs []error
	for _, d := range dirs {
		runs, err := List(d)
		out = append(out, runs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID > out[j].ID
	})
	return out, errors.Join(errs...)
}

// LocalRunLive reports whether a process on this machine executes run id
// now: it holds the run's flock (see lockLocal). The kernel drops the flock
// when the process dies, however it dies.
func LocalRunLive(stateDir, id string) bool {
	f, err := os.OpenFile(filepath.Join(RunsDir(stateDir), id+".lock"), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// DisplayStatus is the status to show for st, a run journalled under
// stateDir: StatusCrashed for a run the journal says is running although
// the process that ran it on this machine is gone. A running run started on
// another machine (Hostname differs) cannot be checked from here and keeps
// its journalled status. On this machine the run's flock decides: the kernel
// drops it when the process dies (PID and Hostname are in the journal for
// the operator, and so that a run of another machine is never called dead).
func DisplayStatus(stateDir string, st *RunState) Status {
	if st.Status != StatusRunning {
		return st.Status
	}
	host, _ := os.Hostname()
	if st.Hostname != "" && st.Hostname != host {
		return st.Status
	}
	if LocalRunLive(stateDir, st.ID) {
		return st.Status
	}
	// The flock is the check: a live PID without it is another process
	// that reused the number.
	return StatusCrashed
}

// Discard marks run id discarded so that it is no longer offered for
// resume. It refuses a run that is live on this machine, a run that is done,
// and a run that still holds a cluster-state marker (Scalar DL may be
// paused: resume it, which undoes the marker first). by and note are kept
// in the journal.
func Discard(stateDir, id, by, note string, now time.Time) error {
	unlock, err := lockLocal(stateDir, id)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := LoadRun(stateDir, id)
	if err != nil {
		return err
	}
	switch st.Status {
	case StatusDone:
		return fmt.Errorf("run %s is done: nothing to discard", id)
	case StatusDiscarded:
		return nil
	}
	if _, paused := st.Markers[MarkerScalarDLPaused]; paused {
		return fmt.Errorf("run %s still holds marker %s: Scalar DL may be paused; `scalar-tui resume %s` unpauses it first (then cancel it if you want)", id, MarkerScalarDLPaused, id)
	}
	msg := "by " + by + " at " + now.UTC().Format(time.RFC3339)
	if note != "" {
		msg += ": " + note
	}
	st.Discarded = msg
	st.Status = StatusDiscarded
	st.Updated = now.UTC()
	return saveRun(stateDir, st)
}
