// Package restartcassandra is the runbook of the CassandraProcessStopped alert
// (scalar-terraform docs/CassandraProcessStopped.md): start cassandra.service
// on one node with `sudo systemctl start cassandra`, then wait until the rest
// of the ring sees the node UN in `nodetool status` and, with a health
// source, until the alert no longer fires for it.
//
// It refuses to start when another Cassandra node is already down unless
// forced: with RF 3, starting a node into a ring that is missing another one
// is the operator's call, not the console's.
//
// It builds a workflow.Plan and knows nothing of the UI. It must not import
// tui or cmd.
package restartcassandra

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/gates"
)

// Workflow is the workflow's name in plans, journals and run IDs.
const Workflow = "restart-cassandra"

// Alert is the alert this runbook clears.
const Alert = "CassandraProcessStopped"

// StartCommand is the documented fix (Cassandra is installed stopped by
// scalar-terraform, and a crashed one stays stopped).
const StartCommand = "sudo systemctl start cassandra"

// Options selects the node. Host is required.
type Options struct {
	// Host is the Cassandra node: name, short name or private IP.
	Host string `json:"host"`
	// Force starts the node even when another Cassandra node is down.
	Force bool `json:"force,omitempty"`
	// GateDeadline bounds each wait (node UN, alert clear); default 10
	// minutes. GateInterval is the poll interval; default 5 s.
	GateDeadline time.Duration `json:"gate_deadline,omitempty"`
	GateInterval time.Duration `json:"gate_interval,omitempty"`
	// Health, when set, adds the last gate: the alert no longer fires for the
	// node and monitoring sees cassandra.service active. Not journalled: the
	// caller passes it again on Resume.
	Health health.Source `json:"-"`
}

// Plan builds the plan for inv.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock (for the run ID and tests).
func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("restart-cassandra: no inventory")
	}
	if opts.Host == "" {
		return nil, errors.New("restart-cassandra: --host is required (the Cassandra node to start)")
	}
	target, ok := inv.Find(opts.Host)
	if !ok {
		return nil, fmt.Errorf("restart-cassandra: unknown host %q", opts.Host)
	}
	if target.Role != inventory.RoleCassandra {
		return nil, fmt.Errorf("restart-cassandra: %s is a %s host, not a Cassandra node", target.Name, target.Role)
	}
	ring := inv.ByRole(inventory.RoleCassandra)
	deadline, interval := opts.GateDeadline, opts.GateInterval
	if deadline <= 0 {
		deadline = 10 * time.Minute
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	opts.Host = target.Name

	p := workflow.NewPlan(Workflow, inv, now)
	p.Params = opts
	if opts.Force {
		p.Notes = append(p.Notes, "--force: the node is started even if another Cassandra node is down.")
	} else {
		p.Preflight = append(p.Preflight, OthersUNCheck(ring, target))
	}
	p.Steps = []workflow.Step{{
		ID:         target.Short + "/start-cassandra",
		Title:      "start cassandra.service",
		Host:       target.Name,
		Commands:   []string{StartCommand},
		Timeout:    2 * time.Minute,
		Idempotent: true, // starting a started unit does nothing
		Gate: &workflow.Gate{
			Name:        "node-UN",
			Description: fmt.Sprintf("%s is UN in `nodetool status` seen from another node", target.Short),
			Deadline:    deadline,
			Interval:    interval,
			Check: func(ctx context.Context, env *workflow.Env) (bool, string, error) {
				return gates.NodeUN(ctx, env, ring, target)
			},
		},
	}}
	if src := opts.Health; src != nil {
		p.Steps = append(p.Steps, AlertClearStep(target, src, deadline, interval))
	}
	return p, nil
}

// AlertClearStep waits until src shows CassandraProcessStopped no longer
// firing for target and cassandra.service active on it.
func AlertClearStep(target inventory.Host, src health.Source, deadline, interval time.Duration) workflow.Step {
	return workflow.Step{
		ID:         target.Short + "/alert-clear",
		Title:      "wait for " + Alert + " to clear",
		Host:       target.Name,
		Idempotent: true,
		Run:        func(context.Context, *workflow.Env) error { return nil },
		Gate: &workflow.Gate{
			Name:        "alert-clear",
			Description: fmt.Sprintf("monitoring shows %s not firing for %s and cassandra.service active", Alert, target.Short),
			Deadline:    deadline,
			Interval:    interval,
			Check: func(ctx context.Context, _ *workflow.Env) (bool, string, error) {
				return gates.AlertClear(ctx, src, target, []string{Alert}, func(h health.HostHealth) (bool, string) {
					if h.CassandraActive == nil || !*h.CassandraActive {
						return false, "monitoring does not see cassandra.service active on " + target.Short
					}
					return true, ""
				})
			},
		},
	}
}

// OthersUNCheck refuses the run when a Cassandra node other than target is
// not UN, as seen by the first other node whose nodetool answers.
func OthersUNCheck(ring []inventory.Host, target inventory.Host) workflow.Check {
	return workflow.Check{
		Name:        "others-UN",
		Description: fmt.Sprintf("every other Cassandra node is UN (--force to start %s anyway)", target.Short),
		Run: func(ctx context.Context, env *workflow.Env) error {
			if len(ring) == 1 {
				return nil
			}
			var tried []string
			for _, on := range ring {
				if on.Name == target.Name {
					continue
				}
				r, err := env.Exec(ctx, on.Name, "nodetool status")
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					tried = append(tried, fmt.Sprintf("%s: %v", on.Short, err))
					continue
				}
				if r.ExitCode != 0 {
					tried = append(tried, fmt.Sprintf("%s: exit %d: %s", on.Short, r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout)))
					continue
				}
				nodes, err := nodetool.ParseStatus(r.Stdout)
				if err != nil {
					return fmt.Errorf("nodetool status on %s: %w", on.Short, err)
				}
				if bad := othersDown(nodes, ring, target); len(bad) > 0 {
					return fmt.Errorf("another Cassandra node is down as %s sees it: %s; start %s with --force if that is intended", on.Short, strings.Join(bad, "; "), target.Short)
				}
				if len(tried) > 0 {
					// A peer that could not answer is down too.
					return fmt.Errorf("another Cassandra node does not answer nodetool: %s; start %s with --force if that is intended", strings.Join(tried, "; "), target.Short)
				}
				return nil
			}
			return fmt.Errorf("no other Cassandra node answers `nodetool status` (%s): the cluster looks down (CassandraClusterDown); start %s with --force if that is intended", strings.Join(tried, "; "), target.Short)
		},
	}
}

// othersDown lists the nodes of the ring (and unknown ones) other than target
// that are not UN.
func othersDown(nodes []nodetool.Node, ring []inventory.Host, target inventory.Host) []string {
	byIP := map[string]nodetool.Node{}
	for _, n := range nodes {
		byIP[n.Address] = n
	}
	known := map[string]bool{}
	var bad []string
	for _, h := range ring {
		known[h.PrivateIP] = true
		if h.Name == target.Name {
			continue
		}
		n, ok := byIP[h.PrivateIP]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s (%s) is not in the ring", h.Short, h.PrivateIP))
		case !n.UN():
			bad = append(bad, fmt.Sprintf("%s (%s) is %s%s", h.Short, h.PrivateIP, n.Status, n.State))
		}
	}
	for _, n := range nodes {
		if !known[n.Address] && !n.UN() {
			bad = append(bad, fmt.Sprintf("%s (not in the inventory) is %s%s", n.Address, n.Status, n.State))
		}
	}
	return bad
}
