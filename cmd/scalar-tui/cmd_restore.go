package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restore"
	"scalar-tui/ops/workflow/silence"
	"scalar-tui/tui/vm"
)

func init() {
	register(newRestoreCmd)
	registerResume(restore.Workflow, func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, raw json.RawMessage) (*workflow.Plan, error) {
		var o restore.Options
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("journalled restore parameters: %w", err)
		}
		name, err := resumeConfirmed(ctx, inv, restore.Workflow)
		if err != nil {
			return nil, err
		}
		o.ConfirmDeployment = name
		o.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return cl.DialContext(ctx, "tcp", addr) }
		// The silence, if any, is in the journal (its marker): keep wrapping.
		o.Silence, _ = restoreSilence(inv, cl, false)
		return restore.Plan(inv, o)
	})
	registerResume(restore.UndoWorkflow, func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, raw json.RawMessage) (*workflow.Plan, error) {
		var o restore.UndoOptions
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("journalled restore --undo parameters: %w", err)
		}
		name, err := resumeConfirmed(ctx, inv, restore.UndoWorkflow)
		if err != nil {
			return nil, err
		}
		o.ConfirmDeployment = name
		o.Silence, _ = restoreSilence(inv, cl, false)
		return restore.UndoPlan(inv, o)
	})
}

// resumeConfirmed returns the deployment name typed for resuming a restore
// (or its undo) run: `resume --confirm-deployment NAME`, or the console's
// resume dialog (vm.WithConfirmDeployment). The name journalled when the run
// started is never reused: resuming replaces data again, so the operator
// types it again, and it must be this deployment's.
func resumeConfirmed(ctx context.Context, inv *inventory.Inventory, wf string) (string, error) {
	name := vm.ConfirmDeployment(ctx)
	switch {
	case name == "":
		return "", badInput(fmt.Errorf("resuming a %s run replaces the data of every node again: type the deployment's name again with --confirm-deployment %s (the console's resume dialog asks for it)", wf, inv.NetworkName))
	case name != inv.NetworkName:
		return "", badInput(fmt.Errorf("--confirm-deployment %q is not this deployment (%q): nothing was resumed", name, inv.NetworkName))
	}
	return name, nil
}

// restoreSilence returns the silence of the deployment's alerts for a
// restore (none with --no-silence).
func restoreSilence(inv *inventory.Inventory, cl *sshx.Client, off bool) (silence.Options, error) {
	if off {
		return silence.Options{}, nil
	}
	u, err := silence.URL(inv.Endpoints.Prometheus)
	if err != nil {
		return silence.Options{}, fmt.Errorf("%w; pass --no-silence to restore without silencing alerts", err)
	}
	am, err := alertmanager.New(u, alertmanager.Options{Dial: cl.DialContext, Timeout: 10 * time.Second})
	if err != nil {
		return silence.Options{}, err
	}
	var hosts []string
	for _, r := range []inventory.Role{inventory.RoleCassandra, inventory.RoleScalarDLBlue, inventory.RoleScalarDLGreen, inventory.RoleEnvoy} {
		for _, h := range inv.ByRole(r) {
			hosts = append(hosts, h.Name)
		}
	}
	return silence.Options{Client: am, Hosts: hosts, Window: 4 * time.Hour}, nil
}

func newRestoreCmd(g *globalOptions) *cobra.Command {
	var (
		wf        workflowFlags
		o         restore.Options
		keyspaces []string
		undo      string
		confirm   string
	)
	cmd := &cobra.Command{
		Use:   "restore --tag TAG [--keyspace KS]... [--via nodetool|cassy --backup ID] [--dry-run] [--yes --confirm-deployment NAME] [--json] | restore --undo RUN",
		Short: "Bring the Cassandra cluster back to a backup (dangerous: stops the deployment; keeps the current data aside)",
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
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s := streamsOf(cmd)
			ctx := cmd.Context()
			if undo != "" && (o.Tag != "" || o.BackupID != "" || len(keyspaces) > 0) {
				return badInput(errors.New("--undo RUN takes everything else from that run's journal: drop --tag, --backup and --keyspace"))
			}
			if undo == "" && o.Tag == "" && o.BackupID == "" {
				return badInput(errors.New("say what to restore: --tag TAG (a snapshot `scalar-tui backups` lists), --via cassy --backup ID, or --undo RUN"))
			}
			if wf.yes && !wf.dryRun && confirm == "" {
				return badInput(errors.New("--yes alone is not enough for a restore: also pass --confirm-deployment NAME (the deployment's network_name)"))
			}
			for _, k := range keyspaces {
				if k = strings.TrimSpace(k); k != "" {
					o.Keyspaces = append(o.Keyspaces, k)
				}
			}
			// The console plans a restore through this command
			// (planViaCommand): its deployment and SSH client, the plan
			// built with the name the operator typed there, never run here.
			capture, capturing := ctx.Value(planCaptureKey{}).(*planCapture)
			var inv *inventory.Inventory
			var cl *sshx.Client
			var err error
			if capturing {
				inv, cl = capture.inv, capture.cl
			} else {
				if inv, cl, err = openDeployment(ctx, g); err != nil {
					return err
				}
				defer cl.Close()
			}
			// The deployment's own journal and lock, as runWorkflow uses.
			wf.dep = g.deploymentOf(inv, wf.lockPath)
			var orig restore.Options
			if undo != "" {
				if orig, err = restore.LoadOriginal(wf.dep.dir, undo); err != nil {
					return badInput(err)
				}
			}
			sil, err := restoreSilence(inv, cl, wf.noSilence)
			if err != nil {
				return badInput(err)
			}
			build := func(name string) (*workflow.Plan, error) {
				if undo != "" {
					return restore.UndoPlan(inv, restore.UndoOptions{Run: undo, Original: orig, ConfirmDeployment: name,
						GateDeadline: o.GateDeadline, GateInterval: o.GateInterval, Silence: sil})
				}
				ro := o
				ro.ConfirmDeployment = name
				ro.Silence = sil
				ro.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return cl.DialContext(ctx, "tcp", addr) }
				return restore.Plan(inv, ro)
			}
			p, err := build(confirm)
			if capturing {
				capture.plan, capture.err = p, err
				return nil
			}
			if err != nil {
				return badInput(err)
			}
			id := workflow.UniqueRunID(p.ID)
			p.ID = id
			if wf.dryRun {
				if err := p.Render(s.out); err != nil {
					return failed(err)
				}
				fmt.Fprintln(s.out, "\ndry run: nothing was changed and no lock was taken")
				return nil
			}
			name := confirm
			if wf.yes {
				if confirm != inv.NetworkName {
					return badInput(fmt.Errorf("--confirm-deployment %q is not this deployment (%q): nothing was done", confirm, inv.NetworkName))
				}
				if !wf.json {
					if err := p.Render(s.out); err != nil {
						return failed(err)
					}
					fmt.Fprintln(s.out)
				}
			} else {
				if !stdinIsTerminal(s.in) {
					return badInput(errors.New("restore: stdin is not a terminal; review the plan with --dry-run, then pass --yes --confirm-deployment NAME"))
				}
				w := s.out
				if wf.json {
					w = s.err
				}
				if err := p.Render(w); err != nil {
					return failed(err)
				}
				fmt.Fprintf(w, "\nThis replaces the data of every Cassandra node. Type the deployment's name (%s) to run %s: ", inv.NetworkName, id)
				line, rerr := bufio.NewReader(s.in).ReadString('\n')
				name = strings.TrimSpace(line)
				if name != inv.NetworkName {
					if rerr != nil && name == "" {
						return failed(fmt.Errorf("not confirmed (%v); nothing was done", rerr))
					}
					return failed(fmt.Errorf("not confirmed (typed %q, the deployment is %q); nothing was done", name, inv.NetworkName))
				}
			}
			if p, err = build(name); err != nil {
				return badInput(err)
			}
			p.ID = id
			return execWorkflow(ctx, wf, s, cl, nil, p.ID, func(e *workflow.Engine) (workflow.Status, error) {
				return e.Run(ctx, p)
			})
		},
	}
	f := cmd.Flags()
	wf.addFlags(f, true)
	_ = f.MarkHidden("canary") // Cassandra starts one node at a time inside one run
	f.StringVar(&o.Tag, "tag", "", "the nodetool snapshot to restore (as `scalar-tui backups` lists it)")
	f.StringSliceVar(&keyspaces, "keyspace", nil, "keyspace to restore (repeatable or comma-separated; default scalar,coordinator)")
	f.StringVar(&o.Via, "via", restore.ViaNodetool, "nodetool (the console's snapshots) or cassy (rpc.Cassy RestoreBackup)")
	f.StringVar(&o.BackupID, "backup", "", "with --via cassy: Cassy's snapshot_id to restore")
	f.StringVar(&o.Cassy.ClusterID, "cassy-cluster-id", "", "with --via cassy: the Cassy cluster_id (default: the registered cluster covering the Cassandra nodes)")
	f.DurationVar(&o.Cassy.Deadline, "cassy-deadline", 2*time.Hour, "with --via cassy: how long to wait for every node's restore to be COMPLETED")
	f.DurationVar(&o.Cassy.PollInterval, "cassy-poll-interval", 10*time.Second, "with --via cassy: how often to poll rpc.Cassy/ListRestoreStatuses")
	f.StringVar(&undo, "undo", "", "put back the data restore run RUN kept aside (its own plan)")
	f.StringVar(&confirm, "confirm-deployment", "", "the deployment's name (network_name); required with --yes")
	f.StringVar(&o.DataDir, "data-dir", "/data", "Cassandra's data_file_directories on the nodes (~/PATH: in the SSH user's home)")
	f.StringVar(&o.CommitlogDir, "commitlog-dir", "/commitlog", "Cassandra's commitlog_directory on the nodes")
	f.Float64Var(&o.MinFreePercent, "min-free-percent", 5, "free space the data volume must keep after the commit log is moved onto it")
	f.DurationVar(&o.GateDeadline, "gate-deadline", 10*time.Minute, "how long each node may take to be UN (Cassandra) or SERVING (Scalar DL)")
	f.DurationVar(&o.GateInterval, "gate-interval", 5*time.Second, "how often the start gates poll")
	positive(f, "gate-deadline", "gate-interval", "cassy-deadline", "cassy-poll-interval")
	atMost(f, "min-free-percent", 100)
	return cmd
}
