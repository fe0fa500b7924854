package freedisk

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
			Usage:   "free-disk --host NODE [--snapshot TAG]... [--backups KEYSPACE]... [--force] [--dry-run] [--yes] [--json]",
			Summary: "List and clear what fills a Cassandra node's /data (runbook of CassandraDriveSpaceLow)",
			Long: `Runbook of the CassandraDriveSpaceLow alert (scalar-terraform
docs/CassandraDriveSpaceLow.md).

Without --snapshot or --backups it lists, read-only, what takes space on the
node's /data that may be deleted: snapshots by tag (size on the node, when
taken, on how many nodes the tag is complete; the newest complete backup is
marked protected) and the incremental backups under
/data/<keyspace>/<table>/backups per keyspace.

With a selection it takes the cluster lock, silences the node's alerts
(unless --no-silence), refuses if a selected snapshot is the newest backup
complete on every node (unless --force), runs ` + "`nodetool clearsnapshot -t TAG`" + `
and deletes the selected keyspaces' incremental backup files on the node,
then measures /data: the run fails if it is still below the alert's
threshold, else waits (with --health-gate prometheus) for the alert to clear.

Exit status: 0 done (or listed), 1 failed or refused, 2 bad flags or
deployment, 130 canceled.`,
			Example: "  scalar-tui free-disk --host cassandra-2\n  scalar-tui free-disk --host cassandra-2 --snapshot before-migration --dry-run\n" +
				"  scalar-tui free-disk --host cassandra-2 --backups scalar --yes --json",
			Options: []workflow.KindOption{
				{Name: "host", PerRun: true, Type: workflow.OptString, Default: "", Help: "the Cassandra node: name, short name or IP"},
				{Name: "snapshot", PerRun: true, Type: workflow.OptStringList, Help: "clear this snapshot tag on the node (repeatable or comma-separated)",
					Label: "what to clear", Complete: "disk-item"},
				{Name: "backups", PerRun: true, Type: workflow.OptStringList, Help: "delete this keyspace's incremental backups on the node (repeatable or comma-separated)"},
				{Name: "data-dir", RemoteDir: true, Type: workflow.OptString, Default: DefaultDataDir, Help: "Cassandra's data_file_directories on the node (~/PATH: in the SSH user's home)"},
				{Name: "force", PerRun: true, Type: workflow.OptBool, Default: false, Help: "allow clearing the newest backup that is complete on every node"},
			},
			// The console lists what fills the node's data volume and asks
			// what to clear before it plans (from the alert's runbook action).
			ConsoleAsk: "snapshot", ConsoleTitle: "Free disk: choose what to clear",
		},
		Silence:     true,
		HealthCheck: true,
		Validate:    runbookkind.HostRequired,
		Options: func(v workflow.Values) Options {
			return Options{Host: v.String("host"), Snapshots: v.Strings("snapshot"), Backups: v.Strings("backups"), Force: v.Bool("force"), DataDir: v.String("data-dir"),
				GateDeadline: v.Duration("gate-deadline"), GateInterval: v.Duration("gate-interval")}
		},
		Plan: func(d workflow.Deps, o Options, src health.Source) (*workflow.Plan, error) {
			o.Health = src
			return Plan(d.Inventory, o)
		},
		SilenceHosts: func(_ *inventory.Inventory, o Options) []string { return []string{o.Host} },
	})
}
