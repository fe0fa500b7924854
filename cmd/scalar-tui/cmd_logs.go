package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/ops/logs"
)

func init() { register(newLogsCmd) }

type logsOptions struct {
	since   time.Duration
	tail    int
	follow  bool
	grep    string
	service string
	journal string
}

func newLogsCmd(g *globalOptions) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs HOST",
		Short: "Print (and follow) a host's log through the bastion",
		Long: "Print the log of HOST (name, short name or private IP) through the bastion: Cassandra's\n" +
			logs.CassandraSystemLog + " on Cassandra nodes, `docker logs` of the role's container elsewhere\n" +
			"(provision_scalar_1, provision_envoy_1, provision_cassy_1, provision_reaper_1, provision_prometheus_1).\n" +
			"--follow keeps printing new lines and reconnects after an SSH drop (it says so on stderr).",
		Example: "  scalar-tui logs cassandra-2 --since 10m\n  scalar-tui logs scalardl-blue-1 --follow --grep 'ERROR|WARN'\n" +
			"  scalar-tui logs monitor-1 --service alertmanager\n  scalar-tui logs cassandra-1 --journal cassandra",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), g, o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.since, "since", 0, "only lines newer than this (e.g. 10m); default: the last --tail lines")
	f.IntVar(&o.tail, "tail", logs.DefaultTail, "how many of the last lines to start with (1..100000)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until interrupted")
	f.StringVar(&o.grep, "grep", "", "print only lines matching this regular expression (Go syntax)")
	f.StringVar(&o.service, "service", "", "another docker-compose service on the host (e.g. alertmanager on the monitor)")
	f.StringVar(&o.journal, "journal", "", "read `journalctl -u UNIT` instead (e.g. cassandra, sshd)")
	return cmd
}

func runLogs(ctx context.Context, g *globalOptions, o *logsOptions, host string, stdout, stderr io.Writer) error {
	if o.since < 0 {
		return badInput(fmt.Errorf("--since must not be negative, got %s", o.since))
	}
	if o.tail < 1 || o.tail > 100000 {
		return badInput(fmt.Errorf("--tail must be between 1 and 100000, got %d", o.tail))
	}
	if o.service != "" && o.journal != "" {
		return badInput(errors.New("--service and --journal name different logs: give one"))
	}
	var re *regexp.Regexp
	if o.grep != "" {
		var err error
		if re, err = regexp.Compile(o.grep); err != nil {
			return badInput(fmt.Errorf("--grep: %w", err))
		}
	}
	for _, v := range []struct{ flag, val string }{{"--service", o.service}, {"--journal", o.journal}} {
		if v.val != "" && !unitName.MatchString(v.val) {
			return badInput(fmt.Errorf("%s %q: want a name of letters, digits, '-', '_', '.' or '@'", v.flag, v.val))
		}
	}
	inv, err := g.loadSSHInventory(ctx)
	if err != nil {
		return err
	}
	h, err := resolveSSHHost(inv, host)
	if err != nil {
		return err
	}
	lo := logs.Options{Since: o.since, Tail: o.tail, Follow: o.follow, Service: o.service, Journal: o.journal}
	src, err := logs.For(h, lo)
	if err != nil {
		return badInput(err)
	}
	cl, err := g.sshClient(inv)
	if err != nil {
		return err
	}
	defer cl.Close()
	f := &logs.Follower{R: cl, Source: src, Opts: lo,
		OnLine: func(l logs.Line) {
			if re != nil && !re.MatchString(l.Text) {
				return
			}
			if l.Cut {
				fmt.Fprintf(stdout, "%s … [line cut at %d bytes]\n", l.Text, logs.MaxLineBytes)
				return
			}
			fmt.Fprintln(stdout, l.Text)
		},
		OnNotice: func(n logs.Notice) { fmt.Fprintf(stderr, "scalar-tui: %s: %s\n", h.Short, n) },
	}
	if err := f.Run(ctx); err != nil {
		return failed(err)
	}
	if ctx.Err() != nil && o.follow {
		return nil // Ctrl-C ends a follow: that is how it is meant to end
	}
	return nil
}

var unitName = regexp.MustCompile(`^[A-Za-z0-9_.@-]+$`)
