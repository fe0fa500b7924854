// Package rollingrestart is the routine rolling restart of Cassandra, one
// node at a time (spotify/cstar's model): refuse unless every node is UN and
// its service active; on each node `nodetool drain` (flush memtables, stop
// accepting writes), `sudo systemctl stop cassandra`, `sudo systemctl start
// cassandra`; then wait until the whole ring is UN seen from another node
// (and, with a health source, until monitoring sees every service active and
// CassandraProcessStopped not firing for the node) before the next node.
//
// While a node is drained or stopped the journal holds MarkerStopped: a last
// cleanup step starts it again whichever way the run ends, and Resume starts
// it first, so that a canceled or crashed run never leaves a node down.
//
// It builds a workflow.Plan and knows nothing of the UI. It must not import
// tui or cmd.
package rollingrestart

import (
	"context"
	"errors"
	"fmt"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/gates"
)

// Workflow is the workflow's name in plans, journals and run IDs.
const Workflow = "rolling-restart"

// MarkerStopped names the node (FQDN) that is drained or stopped.
const MarkerStopped = "cassandra-stopped-by-run"

// Remote commands, exactly as run.
const (
	DrainCommand = "nodetool drain"
	StopCommand  = "sudo systemctl stop cassandra"
	StartCommand = "sudo systemctl start cassandra"
	// RestartCommand brings back a node the run left drained (a drained
	// Cassandra is still active for systemd, so start would do nothing) or
	// stopped.
	RestartCommand = "sudo systemctl restart cassandra"
)

// Options selects the nodes. The zero value restarts every Cassandra node.
type Options struct {
	// Hosts to restart, by name, short name or IP, in the order given
	// (default every Cassandra node in index order).
	Hosts []string `json:"hosts,omitempty"`
	// GateDeadline bounds the wait for the ring after each node (default 15
	// minutes); GateInterval is the poll interval (default 10 s).
	GateDeadline time.Duration `json:"gate_deadline,omitempty"`
	GateInterval time.Duration `json:"gate_interval,omitempty"`
	// Health, when set, is a second opinion the gate after each node also
	// requires. Not journalled.
	Health health.Source `json:"-"`
}

// Plan builds the plan for inv.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock.
func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("rolling-restart: no inventory")
	}
	ring, targets, err := gates.CassandraTargets(inv, opts.Hosts, "rolling-restart")
	if err != nil {
		return nil, err
	}
	if len(opts.Hosts) > 0 {
		opts.Hosts = nil
		for _, h := range targets {
			opts.Hosts = append(opts.Hosts, h.Name)
		}
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
		gates.RingUNCheck(ring, "a rolling restart takes one node down at a time and needs every other replica up"),
		{
			Name:        "cassandra-active",
			Description: "`systemctl is-active cassandra` is active on every Cassandra node",
			Run: func(ctx context.Context, env *workflow.Env) error {
				for _, h := range ring {
					ok, why, err := gates.CassandraActive(ctx, env, h)
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("%s; start it first (restart-cassandra --host %s)", why, h.Short)
					}
				}
				return nil
			},
		},
	}
	for _, h := range targets {
		p.Steps = append(p.Steps,
			workflow.Step{
				ID:         h.Short + "/drain",
				Title:      "drain (flush memtables, stop accepting writes)",
				Host:       h.Name,
				Commands:   []string{DrainCommand},
				Timeout:    15 * time.Minute,
				Idempotent: true,
				Run: func(ctx context.Context, env *workflow.Env) error {
					if err := env.SetMarker(MarkerStopped, h.Name); err != nil {
						return err
					}
					return env.Run(ctx, h.Name, DrainCommand)
				},
			},
			workflow.Step{
				ID:         h.Short + "/stop",
				Title:      "stop cassandra.service",
				Host:       h.Name,
				Commands:   []string{StopCommand},
				Timeout:    5 * time.Minute,
				Idempotent: true,
			},
			workflow.Step{
				ID:         h.Short + "/start",
				Title:      "start cassandra.service",
				Host:       h.Name,
				Commands:   []string{StartCommand},
				Timeout:    5 * time.Minute,
				Idempotent: true,
				Run: func(ctx context.Context, env *workflow.Env) error {
					if err := env.Run(ctx, h.Name, StartCommand); err != nil {
						return err
					}
					return env.ClearMarker(MarkerStopped)
				},
				Gate: ringGate(ring, h, opts.Health, deadline, interval),
			})
	}
	ensure := ensureStarted()
	p.Steps = append(p.Steps, ensure)
	p.Compensations = map[string]workflow.Step{MarkerStopped: ensure}
	return p, nil
}

// ringGate is the gate after a node: the ring is UN seen from another node,
// and the health source (if any) sees every service active and the node's
// CassandraProcessStopped not firing.
func ringGate(ring []inventory.Host, h inventory.Host, src health.Source, deadline, interval time.Duration) *workflow.Gate {
	desc := fmt.Sprintf("all %d Cassandra nodes UN seen from a node other than %s", len(ring), h.Short)
	if src != nil {
		desc += "; monitoring sees cassandra.service active everywhere and CassandraProcessStopped not firing"
	}
	return &workflow.Gate{
		Name:        "ring-UN",
		Description: desc,
		Deadline:    deadline,
		Interval:    interval,
		Check: func(ctx context.Context, env *workflow.Env) (bool, string, error) {
			ok, why, err := gates.RingUNFromPeer(ctx, env, ring, h)
			if err != nil || !ok || src == nil {
				return ok, why, err
			}
			ok, why, err = gates.AlertClear(ctx, src, h, []string{"CassandraProcessStopped"}, nil)
			if err != nil || !ok {
				return false, "health: " + why, err
			}
			snap, err := src.Snapshot(ctx)
			if err != nil {
				return false, "", fmt.Errorf("health: %w", err)
			}
			if ok, why := snap.AllCassandraActive(); !ok {
				return false, "health: " + why, nil
			}
			return true, "", nil
		},
	}
}

// ensureStarted starts the node the marker names, if any: the cleanup of a
// run that ended between drain and start, and the compensation Resume runs.
func ensureStarted() workflow.Step {
	return workflow.Step{
		ID:       "ensure-started",
		Title:    "restart Cassandra on a node the run left drained or stopped, if any (the journal names it)",
		Commands: []string{RestartCommand},
		Cleanup:  true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			host := env.Markers()[MarkerStopped]
			if host == "" {
				return nil
			}
			// A canceled run still starts the node.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
			env.Notice("restarting Cassandra on " + host + ", which the run had drained or stopped")
			if err := env.Run(sctx, host, RestartCommand); err != nil {
				return fmt.Errorf("restart cassandra on %s: %w (do it by hand: `%s`)", host, err, RestartCommand)
			}
			return env.ClearMarker(MarkerStopped)
		},
	}
}
