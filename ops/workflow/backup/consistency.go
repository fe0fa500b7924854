package backup

// Whether a backup is consistent, and whether a failed one can be resumed.
//
// A pause lives in the ledger process. scalar-terraform runs the ledger with
// `restart: always`, so a container that exits while paused is started again
// by Docker, unpaused, and writes while the other nodes are held: the
// snapshot is silently inconsistent. Both routes therefore record each Scalar
// DL container's id, start time and restart count (docker inspect) before
// anything is paused and compare them once the snapshots are taken.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
)

// ContainerName is the Scalar DL container on every Scalar DL host
// (docker-compose v1 project "provision", service "scalar").
const ContainerName = "provision_scalar_1"

// MarkerContainers is journalled before the first pause: its value (JSON)
// maps each Scalar DL host to its container's id, StartedAt and
// RestartCount. It records a fact and has no compensation.
const MarkerContainers = "backup-scalardl-containers"

// MarkerInconsistent is journalled when a backup is known to be
// inconsistent (a Scalar DL container restarted during the pause): its value
// says which backup and why. It records a fact and has no compensation.
const MarkerInconsistent = "backup-inconsistent"

// ErrNotResumable is wrapped by the failures after which `scalar-tui resume`
// cannot produce the backup any more (it pauses only once, or the backup is
// known to be FAILED or inconsistent): take a new backup instead. Resume
// still runs the compensations (it unpauses Scalar DL if the run left it
// paused).
var ErrNotResumable = errors.New("this backup cannot be resumed; take a new one")

// notResumable wraps err with ErrNotResumable without changing its text.
type notResumable struct{ err error }

func (e notResumable) Error() string   { return e.err.Error() }
func (e notResumable) Unwrap() []error { return []error{e.err, ErrNotResumable} }

func finalErr(err error) error {
	if err == nil || errors.Is(err, ErrNotResumable) {
		return err
	}
	return notResumable{err}
}

// ResumeAdvice tells from a backup run's journal markers (key → value)
// whether `scalar-tui resume` can still complete the backup, and what to
// tell the operator otherwise.
func ResumeAdvice(markers map[string]string) (resumable bool, advice string) {
	if v, ok := markers[MarkerInconsistent]; ok {
		return false, "the backup is inconsistent (" + v + "); take a new backup"
	}
	if v, ok := markers[MarkerCassySnapshot]; ok {
		var m cassyMarker
		if json.Unmarshal([]byte(v), &m) == nil && m.Failed != "" {
			return false, "Cassy backup " + m.SnapshotID + " FAILED; take a new backup"
		}
		return true, "`scalar-tui resume` finds Cassy's backup and polls it again (it never sends a second TakeBackup)"
	}
	if _, ok := markers[MarkerPauseAttempted]; ok {
		if _, paused := markers[workflow.MarkerScalarDLPaused]; paused {
			return false, "Scalar DL may still be paused: `scalar-tui resume` unpauses it, but a backup pauses only once, so take a new backup afterwards"
		}
		return false, "a backup pauses only once; take a new backup (and clear the partial snapshot with `scalar-tui backups clear TAG`)"
	}
	return true, "nothing was paused yet: fix the cause and resume"
}

// containerState is one Scalar DL container as docker inspect shows it.
type containerState struct {
	ID        string `json:"id"`
	StartedAt string `json:"started_at"`
	Restarts  int    `json:"restarts"`
}

func (c containerState) String() string {
	id := c.ID
	if len(id) > 12 {
		id = id[:12]
	}
	return fmt.Sprintf("container %s started %s, %d restart(s)", id, c.StartedAt, c.Restarts)
}

// InspectCommand prints the container's id, start time and restart count.
var InspectCommand = shell.Join("docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}} {{.RestartCount}}", ContainerName)

// parseInspect parses one line of InspectCommand's output.
func parseInspect(out string) (containerState, error) {
	f := strings.Fields(strings.TrimSpace(out))
	if len(f) != 3 {
		return containerState{}, fmt.Errorf("unexpected docker inspect output %q", shell.FirstLine(out))
	}
	if _, err := time.Parse(time.RFC3339Nano, f[1]); err != nil {
		return containerState{}, fmt.Errorf("unexpected StartedAt %q in docker inspect output", f[1])
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n < 0 {
		return containerState{}, fmt.Errorf("unexpected RestartCount %q in docker inspect output", f[2])
	}
	return containerState{ID: f[0], StartedAt: f[1], Restarts: n}, nil
}

// scalarHosts returns the hosts of the admin targets, sorted and unique.
func scalarHosts(targets []string) []string {
	seen := map[string]bool{}
	for _, t := range targets {
		seen[hostOf(t)] = true
	}
	return sortedKeys(seen)
}

// inspectContainers runs InspectCommand on every host in parallel.
func inspectContainers(ctx context.Context, env *workflow.Env, hosts []string) (map[string]containerState, error) {
	out := map[string]containerState{}
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			r, err := env.Exec(cctx, h, InspectCommand)
			var c containerState
			switch {
			case err != nil:
			case r.ExitCode != 0:
				err = fmt.Errorf("exited %d: %s", r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout))
			default:
				c, err = parseInspect(r.Stdout)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", h, err))
				return
			}
			out[h] = c
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("docker inspect %s: %s", ContainerName, strings.Join(errs, "; "))
	}
	return out, nil
}

// recordContainers inspects every host and journals MarkerContainers.
func recordContainers(ctx context.Context, env *workflow.Env, hosts []string) error {
	if len(hosts) == 0 {
		return nil
	}
	cs, err := inspectContainers(ctx, env, hosts)
	if err != nil {
		return fmt.Errorf("cannot record the Scalar DL containers' start times, so a restart during the pause could not be detected: %w", err)
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return err
	}
	return env.SetMarker(MarkerContainers, string(b))
}

// restartedContainers inspects the hosts recorded in MarkerContainers again
// and describes every container that was restarted or replaced since.
func restartedContainers(ctx context.Context, env *workflow.Env) ([]string, error) {
	v, ok := env.Markers()[MarkerContainers]
	if !ok {
		return nil, fmt.Errorf("journal marker %s is missing: the containers' start times before the pause are unknown", MarkerContainers)
	}
	var before map[string]containerState
	if err := json.Unmarshal([]byte(v), &before); err != nil {
		return nil, fmt.Errorf("journal marker %s is unreadable: %w", MarkerContainers, err)
	}
	hosts := make([]string, 0, len(before))
	for h := range before {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	after, err := inspectContainers(ctx, env, hosts)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, h := range hosts {
		if b, a := before[h], after[h]; b != a {
			changed = append(changed, fmt.Sprintf("%s (%s before the pause; %s now)", shortHost(h), b, a))
		}
	}
	return changed, nil
}

// shortHost is the first label of a host name.
func shortHost(h string) string {
	if i := strings.IndexByte(h, '.'); i > 0 && !isIP(h) {
		return h[:i]
	}
	return h
}

func isIP(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' && r != ':' {
			return false
		}
	}
	return true
}
