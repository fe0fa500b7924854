package restore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
)

func init() {
	workflow.Register(&workflow.Kind{
		Name:      Workflow,
		Dangerous: true,
		// Resuming replaces data again: the name is typed again.
		ConfirmResume: true,
		// Cassandra starts one node at a time inside one run.
		HiddenCanary: true,
		Usage:        "restore --tag TAG [--keyspace KS]... [--via nodetool|cassy --backup ID] [--dry-run] [--yes --confirm-deployment NAME] [--json] | restore --undo RUN",
		Summary:      "Bring the Cassandra cluster back to a backup (dangerous: stops the deployment; keeps the current data aside)",
		Long: `Restore keyspaces (default scalar, coordinator) from snapshot TAG on every
Cassandra node (issue 17): preflight (the tag is complete on every node, every
host answers, each data volume has room, the deployment's name typed), silence
the alerts, stop Scalar DL on every node, nodetool drain and stop Cassandra,
move the current SSTables and the commit log into DATA_DIR/scalar-tui-restore/RUN
(kept: never deleted), hard-link the snapshot's files into place, start
Cassandra one node at a time (each gated on UN), start Scalar DL (gated on
SERVING and Envoy), expire the silence and verify every table file by file.
Every step resumes (` + "`scalar-tui resume RUN --confirm-deployment NAME`" + `: the name is
typed again); a failure reports the state of every node;
` + "`scalar-tui restore --undo RUN`" + ` puts the kept data back.

--via cassy --backup ID restores Cassy's backup ID instead (rpc.Cassy
RestoreBackup, restore_type CLUSTER, then ListRestoreStatuses until every node
is COMPLETED), inside the same stop and start steps: Cassy does not stop or
start anything itself.

Confirmation: at a terminal, type the deployment's name (network_name). Headless,
--yes is not enough: pass --confirm-deployment NAME too.

Exit status: 0 done, 1 failed or refused, 2 bad input, 130 canceled.`,
		Example: "  scalar-tui restore --tag before-upgrade --dry-run\n  scalar-tui restore --tag before-upgrade --yes --confirm-deployment example-aws-0j5y83k\n  scalar-tui restore --undo 20261204-1629-restore-3fa2b1 --yes --confirm-deployment example-aws-0j5y83k",
		Options: []workflow.KindOption{
			{Name: "tag", PerRun: true, Type: workflow.OptString, Default: "", Help: "the nodetool snapshot to restore (as `scalar-tui backups` lists it)"},
			{Name: "keyspace", Type: workflow.OptStringList, Help: "keyspace to restore (repeatable or comma-separated; default scalar,coordinator)"},
			{Name: "via", Type: workflow.OptString, Default: ViaNodetool, Help: "nodetool (the console's snapshots) or cassy (rpc.Cassy RestoreBackup)"},
			{Name: "backup", PerRun: true, Type: workflow.OptString, Default: "", Help: "with --via cassy: Cassy's snapshot_id to restore"},
			{Name: "cassy-cluster-id", Type: workflow.OptString, Default: "", Help: "with --via cassy: the Cassy cluster_id (default: the registered cluster covering the Cassandra nodes)"},
			{Name: "cassy-deadline", Type: workflow.OptDuration, Default: 2 * time.Hour, Help: "with --via cassy: how long to wait for every node's restore to be COMPLETED", Positive: true},
			{Name: "cassy-poll-interval", Type: workflow.OptDuration, Default: 10 * time.Second, Help: "with --via cassy: how often to poll rpc.Cassy/ListRestoreStatuses", Positive: true},
			{Name: "undo", PerRun: true, Type: workflow.OptString, Default: "", Help: "put back the data restore run RUN kept aside (its own plan)"},
			{Name: "confirm-deployment", PerRun: true, Type: workflow.OptString, Default: "", Help: "the deployment's name (network_name); required with --yes"},
			{Name: "data-dir", RemoteDir: true, Type: workflow.OptString, Default: "/data", Help: "Cassandra's data_file_directories on the nodes (~/PATH: in the SSH user's home)"},
			{Name: "commitlog-dir", RemoteDir: true, Type: workflow.OptString, Default: "/commitlog", Help: "Cassandra's commitlog_directory on the nodes"},
			{Name: "min-free-percent", Type: workflow.OptFloat, Default: float64(5), Help: "free space the data volume must keep after the commit log is moved onto it", Max: 100},
			{Name: "gate-deadline", Type: workflow.OptDuration, Default: 10 * time.Minute, Help: "how long each node may take to be UN (Cassandra) or SERVING (Scalar DL)", Positive: true},
			{Name: "gate-interval", Type: workflow.OptDuration, Default: 5 * time.Second, Help: "how often the start gates poll", Positive: true},
		},
		Validate: func(v workflow.Values) error {
			undo := v.String("undo")
			if undo != "" && (v.String("tag") != "" || v.String("backup") != "" || len(v.Strings("keyspace")) > 0) {
				return errors.New("--undo RUN takes everything else from that run's journal: drop --tag, --backup and --keyspace")
			}
			if undo == "" && v.String("tag") == "" && v.String("backup") == "" {
				return errors.New("say what to restore: --tag TAG (a snapshot `scalar-tui backups` lists), --via cassy --backup ID, or --undo RUN")
			}
			return nil
		},
		Plan: planKind,
		Resume: workflow.DecodeParams(Workflow, func(ctx context.Context, d workflow.Deps, o Options) (*workflow.Plan, error) {
			name, err := workflow.ResumeConfirmed(ctx, d.Inventory.NetworkName, Workflow)
			if err != nil {
				return nil, err
			}
			o.ConfirmDeployment = name
			o.Dial = dialer(d)
			// The silence, if any, is in the journal (its marker): keep wrapping.
			o.Silence, _ = Silence(d, false)
			return Plan(d.Inventory, o)
		}),
	})
	workflow.Register(&workflow.Kind{
		Name:      UndoWorkflow,
		Command:   "-", // restore --undo RUN
		Dangerous: true,
		// Resuming replaces data again: the name is typed again.
		ConfirmResume: true,
		Resume: workflow.DecodeParams("restore --undo", func(ctx context.Context, d workflow.Deps, o UndoOptions) (*workflow.Plan, error) {
			name, err := workflow.ResumeConfirmed(ctx, d.Inventory.NetworkName, UndoWorkflow)
			if err != nil {
				return nil, err
			}
			o.ConfirmDeployment = name
			o.Silence, _ = Silence(d, false)
			return UndoPlan(d.Inventory, o)
		}),
	})
}

// planKind plans a restore, or with --undo RUN the undo of run RUN, for the
// deployment named by --confirm-deployment.
func planKind(_ context.Context, d workflow.Deps, v workflow.Values) (*workflow.Plan, error) {
	var orig Options
	undo := v.String("undo")
	if undo != "" {
		var err error
		if orig, err = LoadOriginal(d.StateDir, undo); err != nil {
			return nil, err
		}
	}
	sil, err := Silence(d, v.Bool("no-silence"))
	if err != nil {
		return nil, err
	}
	name := v.String("confirm-deployment")
	if undo != "" {
		return UndoPlan(d.Inventory, UndoOptions{Run: undo, Original: orig, ConfirmDeployment: name,
			GateDeadline: v.Duration("gate-deadline"), GateInterval: v.Duration("gate-interval"), Silence: sil})
	}
	o := Options{Tag: v.String("tag"), Via: v.String("via"), BackupID: v.String("backup"),
		Cassy:             CassyOptions{ClusterID: v.String("cassy-cluster-id"), Deadline: v.Duration("cassy-deadline"), PollInterval: v.Duration("cassy-poll-interval")},
		ConfirmDeployment: name, DataDir: v.String("data-dir"), CommitlogDir: v.String("commitlog-dir"),
		MinFreePercent: v.Float("min-free-percent"), GateDeadline: v.Duration("gate-deadline"), GateInterval: v.Duration("gate-interval"),
		Silence: sil, Dial: dialer(d)}
	for _, k := range v.Strings("keyspace") {
		if k = strings.TrimSpace(k); k != "" {
			o.Keyspaces = append(o.Keyspaces, k)
		}
	}
	return Plan(d.Inventory, o)
}

func dialer(d workflow.Deps) Dialer {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return d.Client.DialContext(ctx, "tcp", addr)
	}
}

// Silence returns the silence of the deployment's alerts for a restore
// (none when off: --no-silence).
func Silence(d workflow.Deps, off bool) (silence.Options, error) {
	if off {
		return silence.Options{}, nil
	}
	am, err := silence.Client(d.Inventory, d.Client.DialContext)
	if err != nil {
		return silence.Options{}, fmt.Errorf("%w; pass --no-silence to restore without silencing alerts", err)
	}
	var hosts []string
	for _, r := range []inventory.Role{inventory.RoleCassandra, inventory.RoleScalarDLBlue, inventory.RoleScalarDLGreen, inventory.RoleEnvoy} {
		for _, h := range d.Inventory.ByRole(r) {
			hosts = append(hosts, h.Name)
		}
	}
	return silence.Options{Client: am, Hosts: hosts, Window: 4 * time.Hour}, nil
}
