// Package repair is the one-key Cassandra repair workflow: after checking
// that every node is UN and its service active, it runs
// `nodetool repair -full -pr <keyspace>` on one node at a time, detached so an
// SSH drop does not kill it, and waits for the whole ring to be UN again
// before moving to the next node (the manual route of domain.md §4.3).
// With Via ViaReaper it drives Cassandra Reaper's REST API instead (the
// documented route): one cluster-wide Reaper run per keyspace.
//
// It builds a workflow.Plan and knows nothing of the UI. It must not import
// tui or cmd.
package repair

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/gates"
)

// Workflow is the workflow's name in plans, journals and run IDs.
const Workflow = "repair"

// Via values.
const (
	// ViaNodetool runs nodetool on each node over SSH (implemented).
	ViaNodetool = "nodetool"
	// ViaReaper drives Cassandra Reaper's REST API through the bastion: one
	// Reaper repair run per keyspace, cluster-wide.
	ViaReaper = "reaper"
)

// DefaultKeyspaces are Scalar DL's keyspaces.
var DefaultKeyspaces = []string{"scalar", "coordinator"}

// Options selects what to repair. The zero value repairs keyspaces scalar and
// coordinator on every Cassandra node with nodetool.
type Options struct {
	// Keyspaces to repair, in order (default DefaultKeyspaces).
	Keyspaces []string `json:"keyspaces,omitempty"`
	// Hosts to repair, by name, short name or private IP, in the order given
	// (default every Cassandra node in index order). Preflight and gates
	// still cover the whole ring.
	Hosts []string `json:"hosts,omitempty"`
	// Via is ViaNodetool (default) or ViaReaper.
	Via string `json:"via,omitempty"`
	// Reaper configures ViaReaper. With ViaNodetool, a Reaper.Dial (or URL)
	// makes the no-repair-running preflight also ask Reaper (default URL
	// and login) for its RUNNING runs.
	Reaper ReaperOptions `json:"reaper,omitempty"`
	// GateDeadline bounds the wait for the ring to be UN after each node
	// (default 15 minutes); GateInterval is the poll interval (default 10 s).
	GateDeadline time.Duration `json:"gate_deadline,omitempty"`
	GateInterval time.Duration `json:"gate_interval,omitempty"`
	// Timeout bounds one keyspace's repair on one node (default none).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Health, when set, is a second opinion the ring gate also requires, e.g.
	// an ops/health snapshot's AllCassandraActive. Errors count as not
	// healthy (fail closed). It is not journalled: pass it again on Resume.
	Health func(ctx context.Context) (ok bool, reason string, err error) `json:"-"`
}

var keyspaceRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,48}$`)

// Plan builds the repair plan for inv. It fails for unknown hosts, hosts that
// are not Cassandra nodes, bad keyspace names, or --via reaper.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock (for the run ID and tests).
func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("repair: no inventory")
	}
	switch opts.Via {
	case "", ViaNodetool:
		opts.Via = ViaNodetool
	case ViaReaper:
		if len(opts.Hosts) > 0 {
			return nil, errors.New("repair: --host applies to --via nodetool only; Reaper repairs the whole ring")
		}
		r, err := opts.Reaper.withDefaults(inv)
		if err != nil {
			return nil, err
		}
		opts.Reaper = r
	default:
		return nil, fmt.Errorf("repair: unknown --via %q (want nodetool or reaper)", opts.Via)
	}
	if len(opts.Keyspaces) == 0 {
		opts.Keyspaces = append([]string(nil), DefaultKeyspaces...)
	}
	for _, ks := range opts.Keyspaces {
		if !keyspaceRE.MatchString(ks) {
			return nil, fmt.Errorf("repair: bad keyspace name %q", ks)
		}
	}
	ring, targets, err := gates.CassandraTargets(inv, opts.Hosts, "repair")
	if err != nil {
		return nil, err
	}
	deadline, interval := opts.GateDeadline, opts.GateInterval
	if deadline <= 0 {
		deadline = 15 * time.Minute
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}

	p := workflow.NewPlan(Workflow, inv, now)
	p.Params = opts
	p.Preflight = []workflow.Check{
		gates.RingUNCheck(ring, "repair needs every replica up"),
		{
			Name:        "cassandra-active",
			Description: "`systemctl is-active cassandra` is active on every Cassandra node",
			Run: func(ctx context.Context, env *workflow.Env) error {
				for _, h := range ring {
					r, err := env.Exec(ctx, h.Name, "systemctl is-active cassandra")
					if err != nil {
						return fmt.Errorf("%s: %w", h.Short, err)
					}
					if state := strings.TrimSpace(r.Stdout); r.ExitCode != 0 || state != "active" {
						return fmt.Errorf("cassandra on %s is %q, not active (see docs/CassandraProcessStopped.md: `sudo systemctl start cassandra`)", h.Short, state)
					}
				}
				return nil
			},
		},
	}
	var probeReaper *ReaperOptions
	switch {
	case opts.Via == ViaReaper:
		probeReaper = &opts.Reaper
	case opts.Reaper.Dial != nil || opts.Reaper.URL != "":
		if r, err := opts.Reaper.withDefaults(inv); err == nil {
			probeReaper = &r
		}
	}
	gate := func(host inventory.Host) *workflow.Gate {
		return &workflow.Gate{
			Name:        "ring-UN",
			Description: fmt.Sprintf("all %d Cassandra nodes UN, no other repair in progress", len(ring)),
			Deadline:    deadline,
			Interval:    interval,
			Check: func(ctx context.Context, env *workflow.Env) (bool, string, error) {
				ok, reason, err := gates.RingUN(ctx, env, ring, host)
				if err != nil || !ok {
					return ok, reason, err
				}
				// Before the next node: a repair someone started meanwhile
				// (a scheduled Reaper run, another console) is waited for.
				acts, err := InProgress(ctx, env, nil, ProbeOptions{Hosts: ring, Reaper: probeReaper})
				if err != nil {
					return false, "", fmt.Errorf("cannot tell whether another repair is in progress: %w", err)
				}
				if acts = Foreign(acts, env.RunID()); len(acts) > 0 {
					var what []string
					for _, a := range acts {
						what = append(what, a.String())
					}
					return false, "another repair is in progress: " + strings.Join(what, "; "), nil
				}
				if opts.Health == nil {
					return true, "", nil
				}
				ok, reason, err = opts.Health(ctx)
				if err != nil {
					return false, "", fmt.Errorf("health: %w", err)
				}
				if !ok {
					return false, "health: " + reason, nil
				}
				return true, "", nil
			},
		}
	}
	if opts.Via == ViaReaper {
		p.Preflight = append(p.Preflight, reaperPreflight(opts.Reaper), idleCheck(ring, probeReaper))
		for _, ks := range opts.Keyspaces {
			s := reaperStep(opts.Reaper, ring[0].Name, ks)
			s.Timeout = opts.Timeout
			s.Gate = gate(ring[0])
			p.Steps = append(p.Steps, s)
		}
		return p, nil
	}
	p.Preflight = append(p.Preflight, idleCheck(ring, probeReaper))
	for _, h := range targets {
		for i, ks := range opts.Keyspaces {
			s := workflow.Step{
				ID:         h.Short + "/repair-" + ks,
				Title:      "full primary-range repair of keyspace " + ks,
				Host:       h.Name,
				Commands:   []string{shell.Join("nodetool", "repair", "-full", "-pr", ks)},
				Timeout:    opts.Timeout,
				Detached:   true,
				Idempotent: true, // repairing a range again is safe, only slower
				Progress:   Progress,
			}
			if i == len(opts.Keyspaces)-1 {
				s.Gate = gate(h)
			}
			p.Steps = append(p.Steps, s)
		}
	}
	return p, nil
}

// Progress extracts the percentage of a `nodetool repair` output line. It is
// the seam to ops/nodetool's parser.
func Progress(line string) (float64, bool) {
	ev, ok := nodetool.ParseRepairLine(line)
	if !ok {
		return 0, false
	}
	switch {
	case ev.Percent >= 0:
		return ev.Percent, true
	case ev.Kind == nodetool.RepairCompleted:
		return 100, true
	}
	return 0, false
}
