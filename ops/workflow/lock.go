package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
)

// DefaultLockPath is the cluster lock directory on the bastion. /tmp is
// shared by every operator who logs in as the deployment's user.
const DefaultLockPath = "/tmp/scalar-tui.lock"

// LockOwner is who holds the cluster lock, from its owner file.
type LockOwner struct {
	Operator string
	Run      string
	Since    time.Time
	// Host and PID are the machine and process that took the lock.
	Host string
	PID  int
	// State is "detached" when the run was stopped on purpose while its
	// remote command goes on (Note says what runs where); empty otherwise.
	State string
	Note  string
}

// String reads like "ops@laptop-3, run 20261124-2231-repair, since
// 2026-11-24 22:31 UTC". The time is absolute: operators in different time
// zones read the same lock, and String has no clock to make it relative.
func (o LockOwner) String() string {
	op, run := o.Operator, o.Run
	if op == "" {
		op = "unknown operator"
	}
	if run == "" {
		run = "unknown"
	}
	since := "unknown time"
	if !o.Since.IsZero() {
		since = o.Since.UTC().Format("2006-01-02 15:04 MST")
	}
	s := fmt.Sprintf("%s, run %s, since %s", op, run, since)
	if o.State == LockStateDetached {
		s += "; left detached on purpose"
		if o.Note != "" {
			s += " (" + o.Note + ")"
		}
		s += ": `scalar-tui resume " + run + "` re-attaches"
	}
	return s
}

// LockStateDetached marks a lock kept by a run left detached on purpose.
const LockStateDetached = "detached"

// Describe is String with the lock's age relative to now ("…, since
// 2026-11-24 22:31 UTC (3h10m ago)"); now comes from the caller's clock.
func (o LockOwner) Describe(now time.Time) string {
	s := o.String()
	if o.Since.IsZero() || now.IsZero() {
		return s
	}
	age := now.Sub(o.Since)
	if age < 0 {
		return s + " (in the future: check the clocks)"
	}
	return s + " (" + age.Truncate(time.Minute).String() + " ago)"
}

// LockedError means another run holds the cluster lock.
type LockedError struct {
	Owner LockOwner
	Path  string
	// Now is when the lock was found held (the caller's clock); it gives the
	// lock's age in the message. Zero leaves the age out.
	Now time.Time
}

// Error implements error.
func (e *LockedError) Error() string {
	return fmt.Sprintf("cluster is locked by %s (lock %s on the bastion; if that run is dead, break it with `scalar-tui unlock --force`)", e.Owner.Describe(e.Now), e.Path)
}

// ErrNotLocked is returned by ForceUnlock when there is no lock.
var ErrNotLocked = errors.New("cluster is not locked")

// ClusterLock is the mutual exclusion between operators, held on the bastion
// as a directory created with mkdir (atomic) holding an owner file written by
// the same remote command. The owner's run, by the same operator, may take it
// again (Resume after a crash); anyone else gets a *LockedError naming the owner.
//
// Read-only workflows never take it. A lock left by a dead console stays
// until ForceUnlock, because only a human can tell that its run is dead.
type ClusterLock struct {
	R    BastionRunner
	Path string // DefaultLockPath when empty
}

func (l ClusterLock) path() string {
	if l.Path == "" {
		return DefaultLockPath
	}
	return l.Path
}

// errLockUnanswered marks an acquire whose command did not come back (cut by
// a signal, an SSH drop): the lock may or may not have been taken.
var errLockUnanswered = errors.New("no answer from the bastion")

// Acquire takes the lock for run, or returns *LockedError.
func (l ClusterLock) Acquire(ctx context.Context, operator, run string, now time.Time) error {
	return l.acquire(ctx, operator, run, now, false)
}

// acquire takes the lock; takeover also takes it from another operator's
// run with the same ID (an explicit takeover of a dead run).
func (l ClusterLock) acquire(ctx context.Context, operator, run string, now time.Time, takeover bool) error {
	sameOperator := " && grep -qxF " + shell.Quote("operator="+operator) + " " + shell.Quote(l.path()+"/owner") + " 2>/dev/null"
	if takeover {
		sameOperator = ""
	}
	p := shell.Quote(l.path())
	host, _ := os.Hostname()
	owner := shell.Join("printf", `%s\n`, "operator="+operator, "run="+run, "since="+now.UTC().Format(time.RFC3339),
		"host="+host, "pid="+strconv.Itoa(os.Getpid())) + " > " + shell.Quote(l.path()+"/owner")
	script := strings.Join([]string{
		"if mkdir_err=$(mkdir " + p + " 2>&1); then " + owner + " && exit 0; rm -rf " + p + "; exit 4; fi",
		// mkdir failed and there is no lock: it cannot be made at all.
		"if [ ! -d " + p + " ]; then printf '%s\\n' \"$mkdir_err\"; exit 5; fi",
		// Re-entrant for the same run of the same operator: Resume after the
		// console died. Both lines must match, so another operator's run that
		// happens to carry the same ID never shares the lock.
		"if grep -qxF " + shell.Quote("run="+run) + " " + shell.Quote(l.path()+"/owner") + " 2>/dev/null" + sameOperator + "; then " + owner + " && exit 0; exit 4; fi",
		"[ -f " + shell.Quote(l.path()+"/owner") + " ] || exit 6",
		"cat " + shell.Quote(l.path()+"/owner") + " 2>/dev/null",
		"exit 3",
	}, "\n")
	out, code, err := l.run(ctx, script)
	if err != nil {
		return fmt.Errorf("take cluster lock %s on the bastion: %w: %w", l.path(), errLockUnanswered, err)
	}
	switch code {
	case 0:
		return nil
	case 3:
		return &LockedError{Owner: parseOwner(out), Path: l.path(), Now: now}
	case 5:
		return fmt.Errorf("cannot create the cluster lock directory %s on the bastion: %s (does its parent exist and is it writable? see --lock-path)",
			l.path(), strings.TrimSpace(out))
	case 6:
		return fmt.Errorf("the cluster lock directory %s exists on the bastion without an owner file (a lock being taken right now, or one left half-made): if no run holds it, remove it with `scalar-tui unlock --force`", l.path())
	default:
		return fmt.Errorf("take cluster lock %s on the bastion: exit %d", l.path(), code)
	}
}

// Release drops the lock if run holds it; a lock held by someone else (after
// a ForceUnlock and a new run) is left alone.
func (l ClusterLock) Release(ctx context.Context, run string) error {
	script := "if grep -qxF " + shell.Quote("run="+run) + " " + shell.Quote(l.path()+"/owner") + " 2>/dev/null; then rm -rf " + shell.Quote(l.path()) + "; fi"
	_, code, err := l.run(ctx, script)
	if err != nil {
		return fmt.Errorf("release cluster lock %s on the bastion: %w", l.path(), err)
	}
	if code != 0 {
		return fmt.Errorf("release cluster lock %s on the bastion: exit %d", l.path(), code)
	}
	return nil
}

// SetState records in the owner file of the lock run holds that the run was
// left detached on purpose (state LockStateDetached, note says what still
// runs where), or back to running (state ""). A lock held by another run is
// left alone and reported as *LockedError.
func (l ClusterLock) SetState(ctx context.Context, run, state, note string) error {
	ownerFile := shell.Quote(l.path() + "/owner")
	tmp := shell.Quote(l.path() + "/owner.tmp")
	var add string
	if state != "" {
		add = "; " + shell.Join("printf", `%s\n`, "state="+oneLineValue(state), "note="+oneLineValue(note)) + " >> " + tmp
	}
	script := "grep -qxF " + shell.Quote("run="+run) + " " + ownerFile + " 2>/dev/null || { cat " + ownerFile + " 2>/dev/null; exit 3; }\n" +
		"{ grep -v -e '^state=' -e '^note=' " + ownerFile + " > " + tmp + add + "; } && mv " + tmp + " " + ownerFile
	out, code, err := l.run(ctx, script)
	if err != nil {
		return fmt.Errorf("update cluster lock %s on the bastion: %w", l.path(), err)
	}
	switch code {
	case 0:
		return nil
	case 3:
		return &LockedError{Owner: parseOwner(out), Path: l.path()}
	}
	return fmt.Errorf("update cluster lock %s on the bastion: exit %d", l.path(), code)
}

func oneLineValue(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Owner returns the current holder, or nil when the cluster is not locked.
func (l ClusterLock) Owner(ctx context.Context) (*LockOwner, error) {
	script := "[ -d " + shell.Quote(l.path()) + " ] || exit 3\ncat " + shell.Quote(l.path()+"/owner") + " 2>/dev/null\nexit 0"
	out, code, err := l.run(ctx, script)
	if err != nil {
		return nil, fmt.Errorf("read cluster lock %s on the bastion: %w", l.path(), err)
	}
	if code == 3 {
		return nil, nil
	}
	if code != 0 {
		return nil, fmt.Errorf("read cluster lock %s on the bastion: exit %d", l.path(), code)
	}
	o := parseOwner(out)
	return &o, nil
}

// ForceUnlock breaks the lock whoever holds it and returns whose it was.
// It returns ErrNotLocked when there was no lock.
func (l ClusterLock) ForceUnlock(ctx context.Context) (LockOwner, error) {
	p := shell.Quote(l.path())
	script := "[ -d " + p + " ] || exit 3\ncat " + shell.Quote(l.path()+"/owner") + " 2>/dev/null\nrm -rf " + p
	out, code, err := l.run(ctx, script)
	if err != nil {
		return LockOwner{}, fmt.Errorf("break cluster lock %s on the bastion: %w", l.path(), err)
	}
	switch code {
	case 0:
		return parseOwner(out), nil
	case 3:
		return LockOwner{}, ErrNotLocked
	}
	return LockOwner{}, fmt.Errorf("break cluster lock %s on the bastion: exit %d", l.path(), code)
}

func (l ClusterLock) run(ctx context.Context, script string) (string, int, error) {
	if l.R == nil {
		return "", 0, errors.New("no bastion runner")
	}
	var mu sync.Mutex
	var b strings.Builder
	res, err := l.R.RunBastion(ctx, script, sshx.RunOptions{Stdout: func(s string) {
		mu.Lock()
		b.WriteString(s)
		b.WriteByte('\n')
		mu.Unlock()
	}})
	mu.Lock()
	defer mu.Unlock()
	return b.String(), res.ExitCode, err
}

func parseOwner(s string) LockOwner {
	var o LockOwner
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "operator":
			o.Operator = v
		case "run":
			o.Run = v
		case "since":
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				o.Since = t
			}
		case "host":
			o.Host = v
		case "pid":
			o.PID, _ = strconv.Atoi(v)
		case "state":
			o.State = v
		case "note":
			o.Note = v
		}
	}
	return o
}

// ForceUnlock breaks the cluster lock at the engine's lock path and returns
// whose it was (ErrNotLocked when free). The command is audited with an empty
// run ID.
func (e *Engine) ForceUnlock(ctx context.Context) (LockOwner, error) {
	l, err := e.outOfRunLock()
	if err != nil {
		return LockOwner{}, err
	}
	return l.ForceUnlock(ctx)
}

// LockOwner returns the holder of the cluster lock, or nil when it is free.
// It never takes the lock.
func (e *Engine) LockOwner(ctx context.Context) (*LockOwner, error) {
	l, err := e.outOfRunLock()
	if err != nil {
		return nil, err
	}
	return l.Owner(ctx)
}

// LockPath is the cluster lock directory this engine uses on the bastion.
func (e *Engine) LockPath() string {
	if e.lock == nil {
		return ""
	}
	return e.lock.path()
}

func (e *Engine) outOfRunLock() (ClusterLock, error) {
	if e.lock == nil {
		return ClusterLock{}, errors.New("the cluster lock is disabled for this engine")
	}
	if e.r == nil {
		return ClusterLock{}, errors.New("engine has no runner")
	}
	return ClusterLock{R: auditOnly{e: e}, Path: e.lock.Path}, nil
}

// auditOnly audits bastion commands that belong to no run.
type auditOnly struct{ e *Engine }

// RunBastion implements BastionRunner.
func (a auditOnly) RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error) {
	start := a.e.now()
	res, err := a.e.r.RunBastion(ctx, command, opts)
	ent := AuditEntry{Time: start.UTC(), Operator: a.e.operator, Host: "bastion", Command: command,
		ExitCode: res.ExitCode, DurationMS: a.e.now().Sub(start).Milliseconds()}
	if err != nil {
		ent.Error, ent.ExitCode = err.Error(), -1
	}
	if aerr := a.e.auditCommand(ent); aerr != nil && err == nil {
		return res, fmt.Errorf("audit: %w", aerr)
	}
	return res, err
}

// MirrorDir is the directory on the bastion, beside the lock directory,
// that holds a copy of each run's journal (<lock>.runs/<id>.json), written
// at every transition while the run holds the lock. A run then belongs to
// the deployment, not to one laptop: if the operator's machine dies while
// Scalar DL is paused, another operator sees the markers and can take the
// run over (see ClusterLock.ReadJournal and WithTakeover).
func MirrorDir(lockPath string) string {
	if lockPath == "" {
		lockPath = DefaultLockPath
	}
	return strings.TrimRight(lockPath, "/") + ".runs"
}

// WriteJournal stores st in the lock's MirrorDir on the bastion
// (atomically: temp file, then rename).
func (l ClusterLock) WriteJournal(ctx context.Context, st *RunState) error {
	if st.ID == "" || st.ID != safeName(st.ID) {
		return fmt.Errorf("mirror journal: bad run id %q", st.ID)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("mirror journal: %w", err)
	}
	dir := MirrorDir(l.path())
	file := dir + "/" + st.ID + ".json"
	tmp := file + ".tmp"
	script := "mkdir -p " + shell.Quote(dir) + " && chmod 700 " + shell.Quote(dir) + " && cat > " + shell.Quote(tmp) + " && mv " + shell.Quote(tmp) + " " + shell.Quote(file)
	if l.R == nil {
		return errors.New("no bastion runner")
	}
	res, err := l.R.RunBastion(ctx, script, sshx.RunOptions{Stdin: bytes.NewReader(b)})
	if err != nil {
		return fmt.Errorf("mirror journal of run %s to %s on the bastion: %w", st.ID, dir, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("mirror journal of run %s to %s on the bastion: exit %d", st.ID, dir, res.ExitCode)
	}
	return nil
}

// ReadJournal returns the journal of run id mirrored on the bastion, or nil
// when there is none.
func (l ClusterLock) ReadJournal(ctx context.Context, id string) (*RunState, error) {
	if id == "" || id != safeName(id) {
		return nil, fmt.Errorf("bad run id %q", id)
	}
	file := MirrorDir(l.path()) + "/" + id + ".json"
	out, code, err := l.run(ctx, "[ -f "+shell.Quote(file)+" ] || exit 3\ncat "+shell.Quote(file))
	if err != nil {
		return nil, fmt.Errorf("read the journal of run %s on the bastion: %w", id, err)
	}
	switch code {
	case 0:
	case 3:
		return nil, nil
	default:
		return nil, fmt.Errorf("read the journal of run %s on the bastion: exit %d", id, code)
	}
	var st RunState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("journal of run %s on the bastion is corrupt: %w", id, err)
	}
	return &st, nil
}

// MirroredRun returns the journal of run id as mirrored on the bastion
// beside this engine's lock, or nil when there is none. Audited.
func (e *Engine) MirroredRun(ctx context.Context, id string) (*RunState, error) {
	l, err := e.outOfRunLock()
	if err != nil {
		return nil, err
	}
	return l.ReadJournal(ctx, id)
}

// CompensatingMarkers lists the cluster-state markers st still holds that
// only its compensation undoes (Scalar DL paused), sorted.
func CompensatingMarkers(st *RunState) []string {
	if st == nil {
		return nil
	}
	var out []string
	if _, ok := st.Markers[MarkerScalarDLPaused]; ok {
		out = append(out, MarkerScalarDLPaused)
	}
	return out
}

// TakeOver copies run id's journal from the bastion into stateDir, so that
// Resume (with WithTakeover(id)) can continue another operator's dead run.
// It refuses when a journal of that run already exists locally.
func (e *Engine) TakeOver(ctx context.Context, id string) (*RunState, error) {
	if _, err := os.Stat(JournalPath(e.stateDir, id)); err == nil {
		return nil, fmt.Errorf("run %s is already in the local journal: resume it without --takeover", id)
	}
	st, err := e.MirroredRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("no journal of run %s on the bastion (%s)", id, MirrorDir(e.LockPath()))
	}
	if err := saveRun(e.stateDir, st); err != nil {
		return nil, err
	}
	return st, nil
}

// ListJournals returns every run journal mirrored on the bastion beside the
// lock (the runs of every operator of the deployment), newest first.
// Unreadable ones are skipped and reported in the error.
func (l ClusterLock) ListJournals(ctx context.Context) ([]RunState, error) {
	dir := MirrorDir(l.path())
	script := "for f in " + shell.Quote(dir) + "/*.json; do [ -f \"$f\" ] || continue; cat \"$f\"; echo; done"
	out, code, err := l.run(ctx, script)
	if err != nil {
		return nil, fmt.Errorf("list the journals on the bastion (%s): %w", dir, err)
	}
	if code != 0 {
		return nil, fmt.Errorf("list the journals on the bastion (%s): exit %d", dir, code)
	}
	var runs []RunState
	var errs []error
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var st RunState
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			errs = append(errs, fmt.Errorf("a journal on the bastion is corrupt: %w", err))
			continue
		}
		runs = append(runs, st)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Created.After(runs[j].Created) })
	return runs, errors.Join(errs...)
}

// MirroredRuns lists the deployment's runs journalled on the bastion by
// every operator (see MirrorDir). Audited.
func (e *Engine) MirroredRuns(ctx context.Context) ([]RunState, error) {
	l, err := e.outOfRunLock()
	if err != nil {
		return nil, err
	}
	return l.ListJournals(ctx)
}
