package rollingrestart

import (
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/runbookkind"
)

func init() {
	runbookkind.Register(runbookkind.Spec[Options]{
		Kind: workflow.Kind{
			Name:    Workflow,
			Canary:  true,
			Usage:   "rolling-restart [--host NODE]... [--dry-run] [--yes] [--json] [--canary] [--no-silence]",
			Summary: "Restart Cassandra one node at a time (drain, stop, start, ring UN)",
			Long: `Rolling restart of Cassandra. Takes the cluster lock, silences the Cassandra
nodes' alerts (unless --no-silence), refuses unless every node is UN and
cassandra.service active, then on one node at a time runs ` + "`nodetool drain`" + `,
` + "`sudo systemctl stop cassandra`" + ` and ` + "`sudo systemctl start cassandra`" + `, and waits
until the whole ring is UN seen from another node (and monitoring agrees,
with --health-gate) before the next node. A node the run left drained or
stopped is restarted whichever way the run ends, and first on resume.
--canary stops after the first node; ` + "`scalar-tui resume ID`" + ` continues.

Exit status: 0 done (or canary-wait), 1 failed or refused, 2 bad flags or
deployment, 130 canceled.`,
			Example: "  scalar-tui rolling-restart --dry-run\n  scalar-tui rolling-restart --yes --json --canary",
			Options: []workflow.KindOption{
				{Name: "host", PerRun: true, Type: workflow.OptStringArray, Help: "restart only this Cassandra node (repeatable, in order); preflight and gates still cover the whole ring"},
			},
		},
		Silence:     true,
		HealthCheck: true,
		Options: func(v workflow.Values) Options {
			return Options{Hosts: v.Strings("host"), GateDeadline: v.Duration("gate-deadline"), GateInterval: v.Duration("gate-interval")}
		},
		Plan: func(d workflow.Deps, o Options, src health.Source) (*workflow.Plan, error) {
			o.Health = src
			return Plan(d.Inventory, o)
		},
		SilenceHosts: func(inv *inventory.Inventory, _ Options) []string {
			var hosts []string
			for _, h := range inv.ByRole(inventory.RoleCassandra) {
				hosts = append(hosts, h.Name)
			}
			return hosts
		},
	})
}
