package restartcassandra

import (
	"errors"

	"scalar-tui/inventory"

	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/runbookkind"
)

func init() {
	runbookkind.Register(runbookkind.Spec[Options]{
		Kind: workflow.Kind{
			Name:    Workflow,
			Usage:   "restart-cassandra --host NODE [--force] [--dry-run] [--yes] [--json] [--no-silence]",
			Summary: "Start Cassandra on a node (runbook of CassandraProcessStopped)",
			Long: `Runbook of the CassandraProcessStopped alert (scalar-terraform
docs/CassandraProcessStopped.md). Takes the cluster lock, silences the node's
alerts in Alertmanager (unless --no-silence), refuses when another Cassandra
node is down (unless --force), runs ` + "`sudo systemctl start cassandra`" + ` on the
node, waits until another node's ` + "`nodetool status`" + ` shows it UN, then (with
--health-gate prometheus, the default) until the alert no longer fires.

Exit status: 0 done, 1 failed or refused, 2 bad flags or deployment,
130 canceled.`,
			Example: "  scalar-tui restart-cassandra --host cassandra-2 --dry-run\n  scalar-tui restart-cassandra --host cassandra-2 --yes --json",
			Options: []workflow.KindOption{
				{Name: "host", PerRun: true, Type: workflow.OptString, Default: "", Help: "the Cassandra node to start: name, short name or IP"},
				{Name: "force", PerRun: true, Type: workflow.OptBool, Default: false, Help: "start the node even when another Cassandra node is down"},
			},
		},
		Silence:     true,
		HealthCheck: true,
		Validate: func(v workflow.Values) error {
			if v.String("host") == "" {
				return errors.New("--host is required (the Cassandra node to start)")
			}
			return nil
		},
		Options: func(v workflow.Values) Options {
			return Options{Host: v.String("host"), Force: v.Bool("force"),
				GateDeadline: v.Duration("gate-deadline"), GateInterval: v.Duration("gate-interval")}
		},
		Plan: func(d workflow.Deps, o Options, src health.Source) (*workflow.Plan, error) {
			o.Health = src
			return Plan(d.Inventory, o)
		},
		SilenceHosts: func(_ *inventory.Inventory, o Options) []string { return []string{o.Host} },
	})
}
