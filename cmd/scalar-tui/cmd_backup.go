package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
)

func init() {
	register(newBackupCmd)
	register(newBackupsCmd)
	registerResume(backup.Workflow, func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, raw json.RawMessage) (*workflow.Plan, error) {
		var o backup.Options
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, fmt.Errorf("journalled backup parameters: %w", err)
			}
		}
		return buildBackupPlan(inv, cl, o, nil)
	})
	resumeHints[backup.Workflow] = backup.ResumeHint
	registerResume(backup.ClearWorkflow, func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, raw json.RawMessage) (*workflow.Plan, error) {
		var o backup.ClearOptions
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("journalled backups clear parameters: %w", err)
		}
		return backup.ClearPlan(inv, o)
	})
}

// buildBackupPlan wires the bastion dialer and the pause-window report into
// the backup plan. report may be nil (resume): the window is journalled anyway.
func buildBackupPlan(inv *inventory.Inventory, cl *sshx.Client, o backup.Options, report io.Writer) (*workflow.Plan, error) {
	o.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return cl.DialContext(ctx, "tcp", addr) }
	o.OnPauseWindow = func(w backup.PauseWindow) {
		slog.Info("backup pause window", "run", w.Run, "tag", w.Tag, "duration", w.Duration, "paused_at", w.PausedAt, "unpaused_at", w.UnpausedAt)
		if report != nil {
			fmt.Fprintln(report, w.String())
		}
	}
	return backup.Plan(inv, o)
}

func newBackupCmd(g *globalOptions) *cobra.Command {
	var (
		wf        workflowFlags
		keyspaces []string
		tag, via  string
		snapTO    time.Duration
		minFree   float64
		cassyOpt  backup.CassyOptions
		mixed     bool
	)
	cmd := &cobra.Command{
		Use:   "backup [--keyspace KS]... [--tag NAME] [--via nodetool|cassy [--cassy-register]] [--dry-run] [--yes] [--json]",
		Short: "Take a cluster-consistent Cassandra snapshot (pause Scalar DL, nodetool snapshot everywhere, unpause)",
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
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ks []string
			for _, k := range keyspaces {
				if k = strings.TrimSpace(k); k != "" {
					ks = append(ks, k)
				}
			}
			o := backup.Options{Keyspaces: ks, Tag: tag, Via: via, SnapshotTimeout: snapTO, MinFreePercent: minFree, Cassy: cassyOpt, AllowMixedRoutes: mixed}
			s := streamsOf(cmd)
			return runWorkflow(cmd.Context(), g, wf, s, func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				return buildBackupPlan(inv, cl, o, s.err)
			})
		},
	}
	f := cmd.Flags()
	wf.addFlags(f, true)
	_ = f.MarkHidden("canary") // one cluster-wide pause: a canary stop means nothing
	f.StringSliceVar(&keyspaces, "keyspace", nil, "keyspace to snapshot (repeatable or comma-separated; default scalar,coordinator)")
	f.StringVar(&tag, "tag", "", "snapshot name (default scalar-tui-YYYYMMDD-HHMMSS; not with --via cassy: Cassy picks the id)")
	f.BoolVar(&mixed, "allow-mixed-routes", false, "run although the other backup route is used on this deployment (Cassy deletes the nodetool route's local snapshots)")
	f.StringVar(&via, "via", backup.ViaNodetool, "how to back up: nodetool (pause + nodetool snapshot) or cassy (rpc.Cassy TakeBackup)")
	f.BoolVar(&cassyOpt.Register, "cassy-register", false, "with --via cassy: register the cluster with Cassy (RegisterCluster) if none is registered")
	f.StringVar(&cassyOpt.ClusterID, "cassy-cluster-id", "", "with --via cassy: the Cassy cluster_id (default: the registered cluster covering the Cassandra nodes)")
	f.DurationVar(&cassyOpt.Deadline, "cassy-deadline", 2*time.Hour, "with --via cassy: how long to wait for every node's upload to be COMPLETED")
	f.DurationVar(&cassyOpt.PollInterval, "cassy-poll-interval", 10*time.Second, "with --via cassy: how often to poll rpc.Cassy/ListBackups")
	f.DurationVar(&snapTO, "snapshot-timeout", 5*time.Minute, "bound one node's snapshot (Scalar DL stays paused meanwhile)")
	f.Float64Var(&minFree, "min-free-percent", 10, "free space /data needs on every Cassandra node, at most 100 (negative: skip the check)")
	positive(f, "cassy-deadline", "cassy-poll-interval", "snapshot-timeout")
	atMost(f, "min-free-percent", 100)
	negativeOK(f, "min-free-percent")
	return cmd
}

func newBackupsCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "backups [--json]",
		Short: "List the snapshots on every Cassandra node and whether each is complete across the cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			inv, cl, err := openDeployment(ctx, g)
			if err != nil {
				return err
			}
			defer cl.Close()
			l, err := backup.List(ctx, cl, inv, 30*time.Second)
			if err != nil {
				return failed(err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(l)
			}
			renderBackups(out, l)
			if len(l.Errors) > 0 {
				return failed(fmt.Errorf("some nodes could not be listed"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the listing as JSON")
	cmd.AddCommand(newBackupsClearCmd(g))
	return cmd
}

// renderBackups writes the listing as a table.
func renderBackups(w io.Writer, l *backup.Listing) {
	tw := tabwriter.NewWriter(w, 2, 1, 2, ' ', 0)
	fmt.Fprintln(tw, "TAG\tKEYSPACES\tTABLES\tSIZE\tCOMPLETENESS")
	for _, b := range l.Backups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", b.Tag, strings.Join(b.Keyspaces, ","), b.Tables, nodetool.FormatSize(b.Bytes), b.Completeness())
	}
	_ = tw.Flush()
	if len(l.Backups) == 0 {
		fmt.Fprintln(w, "no snapshots")
	}
	for host, e := range l.Errors {
		fmt.Fprintf(w, "%s: not listed: %s\n", host, e)
	}
}

func newBackupsClearCmd(g *globalOptions) *cobra.Command {
	var wf workflowFlags
	cmd := &cobra.Command{
		Use:   "clear TAG [--dry-run] [--yes] [--json]",
		Short: "Delete snapshot TAG on every Cassandra node (dangerous: nodetool clearsnapshot -t TAG)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := backup.ClearOptions{Tag: args[0]}
			return runWorkflow(cmd.Context(), g, wf, streamsOf(cmd), func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				return backup.ClearPlan(inv, o)
			})
		},
	}
	wf.addFlags(cmd.Flags(), true)
	_ = cmd.Flags().MarkHidden("canary")
	return cmd
}
