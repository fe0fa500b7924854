package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
)

func init() {
	register(newBackupsCmd)
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
	if k, ok := workflow.Lookup(backup.ClearWorkflow); ok {
		cmd.AddCommand(newKindCmd(g, k))
	}
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
