package backup

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"scalar-tui/ops/workflow"
)

func init() {
	workflow.Register(&workflow.Kind{
		Name:      Workflow,
		Dangerous: true,
		// One cluster-wide pause: a canary stop means nothing.
		HiddenCanary: true,
		Usage:        "backup [--keyspace KS]... [--tag NAME] [--via nodetool|cassy [--cassy-register]] [--dry-run] [--yes] [--json]",
		Summary:      "Take a cluster-consistent Cassandra snapshot (pause Scalar DL, nodetool snapshot everywhere, unpause)",
		Long: `Take a cluster-consistent backup (domain.md §4.2, without Cassy): refuse unless
every Cassandra node is UN with enough free space on /data and every Scalar DL
admin port answers; then pause Scalar DL on every node (rpc.Admin Pause with
wait_outstanding, through the bastion), run ` + "`nodetool snapshot -t TAG KS...`" + ` on
every Cassandra node in parallel, and unpause. The pause window is measured and
reported.

Unpausing always happens: after any failure, timeout or Ctrl-C the unpause
step runs with a fresh deadline and retries; if this console dies while
Scalar DL is paused, ` + "`scalar-tui resume ID`" + ` unpauses before anything else.
A resumed backup never pauses again: take a new one.

The snapshot is kept only as hard links under /data on each Cassandra node:
this route gives no off-host copy. Each Scalar DL container's start time is
recorded before the pause and checked after the snapshots: a container that
restarted (restart: always brings it back unpaused) makes the snapshot
inconsistent, so it is cleared and the run fails.

--via cassy asks Cassy (rpc.Cassy on cassy-1:20051, through the bastion)
instead: Cassy pauses and unpauses Scalar DL itself. Preflight: every
Cassandra node UN, Cassy answers, and a Cassy cluster covering the Cassandra
nodes is registered (else the run is refused with the grpcurl command to
register it; --cassy-register registers it as a plan step). Then TakeBackup
(CLUSTER_SNAPSHOT) without a snapshot_id (Cassy v1.0.0-v1.2.0 refuse one and
pick it themselves; --tag does not apply), and ListBackups is polled until
every node is COMPLETED. Cassy's pause has no finally and answers STARTED even
when it failed: after any Cassy error or FAILED node the console unpauses every
Scalar DL admin target itself and verifies it. A resumed run never sends
TakeBackup twice: it finds the backup Cassy created and continues polling.

Cassy first clears every snapshot of its keyspaces on every node, so it
deletes the snapshots of --via nodetool. Each route is therefore refused where
the other is in use (local snapshots Cassy did not take, or Cassy backups of
this cluster) unless --allow-mixed-routes.

Exit status: 0 done, 1 failed or refused, 2 bad flags, 130 canceled.`,
		Example: "  scalar-tui backup --dry-run\n  scalar-tui backup --tag before-upgrade --yes",
		Options: []workflow.KindOption{
			{Name: "keyspace", Type: workflow.OptStringList, Help: "keyspace to snapshot (repeatable or comma-separated; default scalar,coordinator)"},
			{Name: "tag", PerRun: true, Type: workflow.OptString, Default: "", Help: "snapshot name (default scalar-tui-YYYYMMDD-HHMMSS; not with --via cassy: Cassy picks the id)"},
			{Name: "allow-mixed-routes", PerRun: true, Type: workflow.OptBool, Default: false, Help: "run although the other backup route is used on this deployment (Cassy deletes the nodetool route's local snapshots)"},
			{Name: "via", Type: workflow.OptString, Default: ViaNodetool, Help: "how to back up: nodetool (pause + nodetool snapshot) or cassy (rpc.Cassy TakeBackup)"},
			{Name: "cassy-register", Type: workflow.OptBool, Default: false, Help: "with --via cassy: register the cluster with Cassy (RegisterCluster) if none is registered"},
			{Name: "cassy-cluster-id", Type: workflow.OptString, Default: "", Help: "with --via cassy: the Cassy cluster_id (default: the registered cluster covering the Cassandra nodes)"},
			{Name: "cassy-deadline", Type: workflow.OptDuration, Default: 2 * time.Hour, Help: "with --via cassy: how long to wait for every node's upload to be COMPLETED", Positive: true},
			{Name: "cassy-poll-interval", Type: workflow.OptDuration, Default: 10 * time.Second, Help: "with --via cassy: how often to poll rpc.Cassy/ListBackups", Positive: true},
			{Name: "snapshot-timeout", Type: workflow.OptDuration, Default: 5 * time.Minute, Help: "bound one node's snapshot (Scalar DL stays paused meanwhile)", Positive: true},
			{Name: "min-free-percent", Type: workflow.OptFloat, Default: DefaultMinFreePercent, Help: "free space /data needs on every Cassandra node, at most 100 (negative: skip the check); the default is the CassandraDriveSpaceLow rule's", NegativeOK: true, Max: 100},
		},
		ConsoleCommand: "backup",
		ConsoleKey:     "backup",
		Plan: func(_ context.Context, d workflow.Deps, v workflow.Values) (*workflow.Plan, error) {
			var ks []string
			for _, k := range v.Strings("keyspace") {
				if k = strings.TrimSpace(k); k != "" {
					ks = append(ks, k)
				}
			}
			return BuildPlan(d, Options{Keyspaces: ks, Tag: v.String("tag"), Via: v.String("via"),
				SnapshotTimeout: v.Duration("snapshot-timeout"), MinFreePercent: v.Float("min-free-percent"),
				AllowMixedRoutes: v.Bool("allow-mixed-routes"),
				Cassy: CassyOptions{Register: v.Bool("cassy-register"), ClusterID: v.String("cassy-cluster-id"),
					Deadline: v.Duration("cassy-deadline"), PollInterval: v.Duration("cassy-poll-interval")}})
		},
		Resume: workflow.DecodeParams(Workflow, func(_ context.Context, d workflow.Deps, o Options) (*workflow.Plan, error) {
			d.Report = nil // the window is journalled anyway
			return BuildPlan(d, o)
		}),
		ResumeHint: ResumeHint,
	})
	workflow.Register(&workflow.Kind{
		Name:         ClearWorkflow,
		Command:      "backups clear",
		Arg:          "tag",
		Dangerous:    true,
		HiddenCanary: true,
		Usage:        "clear TAG [--dry-run] [--yes] [--json]",
		Summary:      "Delete snapshot TAG on every Cassandra node (dangerous: nodetool clearsnapshot -t TAG)",
		Options:      []workflow.KindOption{{Name: "tag", PerRun: true, Type: workflow.OptString, Help: "the snapshot to delete"}},
		Plan: func(_ context.Context, d workflow.Deps, v workflow.Values) (*workflow.Plan, error) {
			return ClearPlan(d.Inventory, ClearOptions{Tag: v.String("tag")})
		},
		Resume: workflow.DecodeParams(ClearWorkflow, func(_ context.Context, d workflow.Deps, o ClearOptions) (*workflow.Plan, error) {
			return ClearPlan(d.Inventory, o)
		}),
	})
}

// BuildPlan wires the bastion dialer and the pause-window report (to
// d.Report, when set) into the backup plan.
func BuildPlan(d workflow.Deps, o Options) (*workflow.Plan, error) {
	o.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
		return d.Client.DialContext(ctx, "tcp", addr)
	}
	report := d.Report
	o.OnPauseWindow = func(w PauseWindow) {
		slog.Info("backup pause window", "run", w.Run, "tag", w.Tag, "duration", w.Duration, "paused_at", w.PausedAt, "unpaused_at", w.UnpausedAt)
		if report != nil {
			fmt.Fprintln(report, w.String())
		}
	}
	return Plan(d.Inventory, o)
}
