package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/freedisk"
)

func init() {
	register(newFreeDiskCmd)
	registerJSONResume(freedisk.Workflow, buildFreeDisk)
}

// freeDiskParams are what a run journals.
type freeDiskParams struct {
	freedisk.Options
	runbookParams
}

func newFreeDiskCmd(g *globalOptions) *cobra.Command {
	var o runbookFlags
	var host string
	var snapshots, backups []string
	var force bool
	cmd := &cobra.Command{
		Use:   "free-disk --host NODE [--snapshot TAG]... [--backups KEYSPACE]... [--force] [--dry-run] [--yes] [--json]",
		Short: "List and clear what fills a Cassandra node's /data (runbook of CassandraDriveSpaceLow)",
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rp, err := o.params()
			if err != nil {
				return badInput(err)
			}
			if host == "" {
				return badInput(fmt.Errorf("--host is required"))
			}
			if len(snapshots) == 0 && len(backups) == 0 {
				return listFreeDisk(cmd.Context(), g, host, o.wf.json, streamsOf(cmd))
			}
			p := freeDiskParams{Options: freedisk.Options{Host: host, Snapshots: snapshots, Backups: backups, Force: force,
				GateDeadline: o.gateDeadline, GateInterval: o.gateInterval}, runbookParams: rp}
			return runWorkflow(cmd.Context(), g, o.wf, streamsOf(cmd), func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				return buildFreeDisk(inv, cl, p)
			})
		},
	}
	f := cmd.Flags()
	o.add(f, false, true)
	f.StringVar(&host, "host", "", "the Cassandra node: name, short name or IP")
	f.StringArrayVar(&snapshots, "snapshot", nil, "clear this snapshot tag on the node (repeatable)")
	f.StringArrayVar(&backups, "backups", nil, "delete this keyspace's incremental backups on the node (repeatable)")
	f.BoolVar(&force, "force", false, "allow clearing the newest backup that is complete on every node")
	return cmd
}

// listFreeDisk prints what takes space on the node's /data.
func listFreeDisk(ctx context.Context, g *globalOptions, host string, asJSON bool, s cmdStreams) error {
	inv, cl, err := openDeployment(ctx, g)
	if err != nil {
		return err
	}
	defer cl.Close()
	lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	u, err := freedisk.List(lctx, freedisk.ExecOf(cl), inv, host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, ok := inv.Find(host); !ok || strings.Contains(err.Error(), "not a Cassandra node") {
			return badInput(err)
		}
		return failed(err)
	}
	if asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(u); err != nil {
			return failed(err)
		}
		return nil
	}
	return renderFreeDisk(s.out, u)
}

// renderFreeDisk writes the listing as text.
func renderFreeDisk(w io.Writer, u *freedisk.Usage) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s /data: %.1f%% free (%s available); %s fires below %.0f%%\n\n", u.Host.Short, u.FreePercent,
		nodetool.FormatSize(u.AvailBytes), freedisk.Alert, u.ThresholdPercent)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tSIZE\tTAKEN\tCOMPLETE ON\tKEYSPACES\t")
	if len(u.Snapshots) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\t\t")
	}
	for _, sn := range u.Snapshots {
		taken := "unknown"
		if !sn.Taken.IsZero() {
			taken = sn.Taken.UTC().Format("2006-01-02 15:04")
		}
		mark := ""
		if sn.Protected {
			mark = "  protected: newest complete backup (--force)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", sn.Tag, nodetool.FormatSize(sn.Bytes), taken, sn.Completeness, strings.Join(sn.Keyspaces, ","), mark)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t")
	fmt.Fprintln(tw, "INCREMENTAL BACKUPS\tSIZE\tTABLES\t\t\t")
	if len(u.Backups) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\t\t")
	}
	for _, bk := range u.Backups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t\t\t\n", bk.Keyspace, nodetool.FormatSize(bk.Bytes), bk.Tables)
	}
	if err := tw.Flush(); err != nil {
		return failed(err)
	}
	fmt.Fprintf(&b, "\nclear with: scalar-tui free-disk --host %s --snapshot TAG... | --backups KEYSPACE... (review with --dry-run)\n", u.Host.Short)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return failed(err)
	}
	return nil
}

func buildFreeDisk(inv *inventory.Inventory, cl *sshx.Client, params freeDiskParams) (*workflow.Plan, error) {
	src, check, err := runbookHealth(inv, cl, params.runbookParams)
	if err != nil {
		return nil, err
	}
	opts := params.Options
	opts.Health = src
	p, err := freedisk.Plan(inv, opts)
	if err != nil {
		return nil, err
	}
	params.Options = p.Params.(freedisk.Options)
	p.Params = params
	if src != nil {
		p.Preflight = append(p.Preflight, check)
	}
	if err := wrapRunbookSilence(inv, cl, p, params.runbookParams, params.Host); err != nil {
		return nil, err
	}
	return p, nil
}
