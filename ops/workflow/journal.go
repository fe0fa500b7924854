package workflow

import (
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
)

// Resumable reports whether a run in this status can be continued with Resume.
// A "running" run is resumable because it is what a crash leaves behind.
func (s Status) Resumable() bool {
	switch s {
	case StatusRunning, StatusFailed, StatusCanceled, StatusRefused, StatusPaused, StatusCanaryWait:
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
