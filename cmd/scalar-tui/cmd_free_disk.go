package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/freedisk"
)

func init() {
	// Without a selection free-disk lists, read-only, what it could clear.
	kindCLIs[freedisk.Workflow] = kindCLI{before: func(ctx context.Context, g *globalOptions, v workflow.Values, wf workflowFlags, s cmdStreams) (bool, error) {
		if len(v.Strings("snapshot")) > 0 || len(v.Strings("backups")) > 0 {
			return false, nil
		}
		return true, listFreeDisk(ctx, g, v.String("host"), v.String("data-dir"), wf.json, s)
	}}
}

// listFreeDisk prints what takes space on the node's data directory.
func listFreeDisk(ctx context.Context, g *globalOptions, host, dataDir string, asJSON bool, s cmdStreams) error {
	inv, cl, err := openDeployment(ctx, g)
	if err != nil {
		return err
	}
	defer cl.Close()
	lctx, cancel := context.WithTimeout(ctx, freedisk.ListTimeout)
	defer cancel()
	u, err := freedisk.List(lctx, freedisk.ExecOf(cl), inv, host, dataDir)
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
	fmt.Fprintf(&b, "%s %s: %.1f%% free (%s available); %s fires below %.0f%%\n\n", u.Host.Short, u.DataDir, u.FreePercent,
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
		if why := sn.ProtectedAs(); why != "" {
			mark = "  protected: " + why + " (--force)"
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
	if len(u.Unanswered) > 0 {
		fmt.Fprintf(&b, "\n%s did not say which snapshots they have: a backup on every other node may be complete, and is protected as one\n", strings.Join(u.Unanswered, ", "))
	}
	fmt.Fprintf(&b, "\nclear with: scalar-tui free-disk --host %s --snapshot TAG... | --backups KEYSPACE... (review with --dry-run)\n", u.Host.Short)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return failed(err)
	}
	return nil
}
