package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var updateFlags = flag.Bool("update-flags", false, "rewrite testdata/workflow-flags.golden")

// workflowCommands are the workflow subcommands whose interface (usage, help
// and every flag with its default, help text and checks) the catalog's
// command generator must keep exactly.
var workflowCommands = []string{
	"repair", "upgrade", "backup", "backups clear", "restore",
	"restart-cassandra", "rolling-restart", "restart-container", "free-disk", "reachability",
	"drill", "resume",
}

// dumpCommand writes a command's help texts and every flag (hidden ones
// too) with its type, default, usage, visibility and numeric checks.
func dumpCommand(b *strings.Builder, c *cobra.Command) {
	fmt.Fprintf(b, "== %s\nUse: %s\nShort: %s\nArgs: %v\nLong:\n%s\nExample:\n%s\nFlags:\n", c.CommandPath(), c.Use, c.Short, c.Args != nil, c.Long, c.Example)
	c.Flags().VisitAll(func(f *pflag.Flag) {
		fmt.Fprintf(b, "  --%s", f.Name)
		if f.Shorthand != "" {
			fmt.Fprintf(b, " -%s", f.Shorthand)
		}
		fmt.Fprintf(b, " (%s) default=%q hidden=%v\n    %s\n", f.Value.Type(), f.DefValue, f.Hidden, f.Usage)
		var keys []string
		for k := range f.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "    @%s=%v\n", k, f.Annotations[k])
		}
	})
	b.WriteString("\n")
}

// Every workflow subcommand keeps its flags (name, type, default, help,
// hidden, checks) and its help texts: the golden was written from the
// hand-written commands before they were generated from the catalog.
func TestWorkflowCommandFlagsGolden(t *testing.T) {
	root := newRootCmd()
	var b strings.Builder
	for _, path := range workflowCommands {
		c, rest, err := root.Find(strings.Fields(path))
		if err != nil || len(rest) > 0 || c.CommandPath() != "scalar-tui "+path {
			t.Fatalf("no command %q: %v (found %q, rest %v)", path, err, c.CommandPath(), rest)
		}
		dumpCommand(&b, c)
	}
	golden := filepath.Join("testdata", "workflow-flags.golden")
	if *updateFlags {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("workflow commands changed; diff against %s:\n%s", golden, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only one side has, in order.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	i, j := 0, 0
	for i < len(wl) || j < len(gl) {
		switch {
		case i < len(wl) && j < len(gl) && wl[i] == gl[j]:
			i++
			j++
		case j < len(gl) && (i >= len(wl) || !contains(wl[i:], gl[j])):
			out = append(out, fmt.Sprintf("+%d: %s", j+1, gl[j]))
			j++
		default:
			out = append(out, fmt.Sprintf("-%d: %s", i+1, wl[i]))
			i++
		}
		if len(out) > 40 {
			out = append(out, "...")
			break
		}
	}
	return strings.Join(out, "\n")
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}
