// Package gates holds the cluster checks several workflows share as
// preflight checks and gates (the ring is UN, ...). It runs commands only
// through workflow.Env, so every command is audited like any other.
//
// It must not import tui or cmd.
package gates

import (
	"context"
	"fmt"
	"strings"

	"scalar-tui/inventory"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
)

// RingUN runs `nodetool status` on `on` and reports whether every node of
// ring is listed and UN, and that no node outside the inventory is down.
// Anything unexpected counts as not UN (fail closed): a repair, a restart or
// a snapshot needs every replica up.
func RingUN(ctx context.Context, env *workflow.Env, ring []inventory.Host, on inventory.Host) (bool, string, error) {
	r, err := env.Exec(ctx, on.Name, "nodetool status")
	if err != nil {
		return false, "", fmt.Errorf("nodetool status on %s: %w", on.Short, err)
	}
	if r.ExitCode != 0 {
		return false, fmt.Sprintf("nodetool status on %s exited %d: %s", on.Short, r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout)), nil
	}
	nodes, err := nodetool.ParseStatus(r.Stdout)
	if err != nil {
		return false, "", fmt.Errorf("nodetool status on %s: %w", on.Short, err)
	}
	byIP := map[string]nodetool.Node{}
	for _, n := range nodes {
		byIP[n.Address] = n
	}
	var bad []string
	for _, h := range ring {
		n, ok := byIP[h.PrivateIP]
		switch {
		case h.PrivateIP == "":
			bad = append(bad, h.Short+" has no private IP in the inventory")
		case !ok:
			bad = append(bad, fmt.Sprintf("%s (%s) is not in the ring", h.Short, h.PrivateIP))
		case !n.UN():
			bad = append(bad, fmt.Sprintf("%s (%s) is %s%s", h.Short, h.PrivateIP, n.Status, n.State))
		}
	}
	for _, n := range nodes {
		if !n.UN() && !inRing(ring, n.Address) {
			bad = append(bad, fmt.Sprintf("%s (not in the inventory) is %s%s", n.Address, n.Status, n.State))
		}
	}
	if len(bad) > 0 {
		return false, strings.Join(bad, "; "), nil
	}
	return true, "", nil
}

func inRing(ring []inventory.Host, ip string) bool {
	for _, h := range ring {
		if h.PrivateIP == ip {
			return true
		}
	}
	return false
}

// RingUNCheck is the preflight check "every node of ring is UN", run with
// `nodetool status` on ring[0]. why ends the refusal, e.g. "repair needs
// every replica up". ring must not be empty.
func RingUNCheck(ring []inventory.Host, why string) workflow.Check {
	return workflow.Check{
		Name:        "ring-UN",
		Description: fmt.Sprintf("`nodetool status` on %s shows all %d Cassandra nodes UN", ring[0].Short, len(ring)),
		Run: func(ctx context.Context, env *workflow.Env) error {
			ok, reason, err := RingUN(ctx, env, ring, ring[0])
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%s; %s", reason, why)
			}
			return nil
		},
	}
}

// CassandraTargets returns the ring (every Cassandra node) and the nodes a
// workflow works on: hosts (name, short name or IP, in the order given,
// without repeats) or, when hosts is empty, the whole ring. Errors name the
// workflow.
func CassandraTargets(inv *inventory.Inventory, hosts []string, workflow string) (ring, targets []inventory.Host, err error) {
	ring = inv.ByRole(inventory.RoleCassandra)
	if len(ring) == 0 {
		return nil, nil, fmt.Errorf("%s: the inventory has no Cassandra nodes (is the cassandra root loaded?)", workflow)
	}
	if len(hosts) == 0 {
		return ring, ring, nil
	}
	seen := map[string]bool{}
	for _, name := range hosts {
		h, ok := inv.Find(name)
		if !ok {
			return nil, nil, fmt.Errorf("%s: unknown host %q", workflow, name)
		}
		if h.Role != inventory.RoleCassandra {
			return nil, nil, fmt.Errorf("%s: %s is a %s host, not a Cassandra node", workflow, h.Name, h.Role)
		}
		if !seen[h.Name] {
			seen[h.Name] = true
			targets = append(targets, h)
		}
	}
	return ring, targets, nil
}
