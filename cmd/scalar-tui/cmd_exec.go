package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/fanout"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
)

func init() { register(newExecCmd) }

// remoteRunner runs commands on hosts; *sshx.Client implements it.
type remoteRunner interface {
	Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error)
	RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error)
}

type execOptions struct {
	roles    []string
	hosts    []string
	parallel int
}

// execTarget is one host exec runs on.
type execTarget struct {
	label   string // short name, printed before each line
	name    string // what is dialled
	bastion bool   // run on the bastion itself
}

func newExecCmd(g *globalOptions) *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "exec [--role ROLE]... [--host HOST]... [--parallel N] -- COMMAND [ARG...]",
		Short: "Run a command on hosts through the bastion",
		Long: "Run a command on every selected host, at most --parallel at a time, printing each output line\n" +
			"prefixed with the host's short name, then a summary. Exit code 0 only if every host succeeded.\n\n" +
			"The words after -- are the command. Several words are quoted one by one, so\n" +
			"  scalar-tui exec --role cassandra -- nodetool -h localhost status\n" +
			"runs exactly that argv. A single word is sent as is, so pipes and variables work:\n" +
			"  scalar-tui exec --role cassandra -- 'nodetool status | grep UN'",
		Example: "  scalar-tui exec --role cassandra -- nodetool status\n  scalar-tui exec --host scalardl-blue-1 --host scalardl-blue-2 -- 'docker ps'",
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash != 0 || len(args) == 0 {
				return badInput(errors.New("give the command after --, e.g. `scalar-tui exec --role cassandra -- nodetool status`"))
			}
			if o.parallel < 1 {
				return badInput(fmt.Errorf("--parallel must be at least 1, got %d", o.parallel))
			}
			inv, err := g.loadSSHInventory(cmd.Context())
			if err != nil {
				return err
			}
			targets, err := selectExecTargets(inv, o.roles, o.hosts)
			if err != nil {
				return err
			}
			cl, err := g.sshClient(inv)
			if err != nil {
				return err
			}
			defer cl.Close()
			return runExec(cmd.Context(), cl, targets, remoteCommand(args), o.parallel, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.roles, "role", nil, "run on every host of this role (repeatable): "+roleNames())
	f.StringArrayVar(&o.hosts, "host", nil, "run on this host: name, short name or private IP (repeatable)")
	f.IntVar(&o.parallel, "parallel", 10, "hosts to run on at the same time")
	positive(f, "parallel")
	return cmd
}

func roleNames() string {
	s := make([]string, len(inventory.Roles))
	for i, r := range inventory.Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// remoteCommand turns the words after -- into a command line: one word is
// taken as a shell command line already; several are quoted word by word so
// the remote shell sees exactly that argv.
func remoteCommand(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return shell.Join(args...)
}

// selectExecTargets returns the hosts of the given roles and names, in
// inventory order, each once.
func selectExecTargets(inv *inventory.Inventory, roles, hosts []string) ([]execTarget, error) {
	if len(roles) == 0 && len(hosts) == 0 {
		return nil, badInput(errors.New("choose hosts with --role ROLE or --host HOST"))
	}
	want := map[string]bool{}
	for _, r := range roles {
		if !validRole(r) {
			return nil, badInput(fmt.Errorf("unknown role %q (roles: %s)", r, roleNames()))
		}
		n := 0
		for _, h := range inv.ByRole(inventory.Role(r)) {
			want[h.Name] = true
			n++
		}
		if n == 0 {
			return nil, badInput(fmt.Errorf("the inventory has no %s hosts", r))
		}
	}
	for _, s := range hosts {
		h, err := resolveSSHHost(inv, s)
		if err != nil {
			return nil, err
		}
		want[h.Name] = true
	}
	var out []execTarget
	for _, h := range inv.Hosts {
		if want[h.Name] {
			label := h.Short
			if label == "" {
				label = h.Name
			}
			// Only the bastion we log in to runs commands locally; a second
			// bastion (AWS has two) is reached through it like any host.
			isEntry := h.Role == inventory.RoleBastion && inv.BastionIP != "" && (h.PublicIP == inv.BastionIP || h.PrivateIP == inv.BastionIP)
			out = append(out, execTarget{label: label, name: h.Name, bastion: isEntry})
			delete(want, h.Name)
		}
	}
	return out, nil
}

func validRole(r string) bool {
	for _, x := range inventory.Roles {
		if string(x) == r {
			return true
		}
	}
	return false
}

// linePrinter writes whole prefixed lines under one lock, so lines of
// different hosts never mix mid-line.
type linePrinter struct {
	mu    sync.Mutex
	width int
}

func (p *linePrinter) print(w io.Writer, label, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(w, "%-*s | %s\n", p.width, label, line)
}

// runExec runs command on targets, parallel at a time, and prints a summary.
// It fails (exit code 1) unless every host exited 0.
func runExec(ctx context.Context, r remoteRunner, targets []execTarget, command string, parallel int, stdout, stderr io.Writer) error {
	p := &linePrinter{}
	for _, t := range targets {
		p.width = max(p.width, len(t.label))
	}
	type outcome struct {
		res sshx.Result
		err error
	}
	results := make([]outcome, len(targets))
	// The first bastion failure fails the hosts not yet started: every one
	// of them would wait for the same bastion in turn.
	var bastionMu sync.Mutex
	var bastionErr error
	fanout.Each(ctx, len(targets), parallel, func(i int) {
		t := targets[i]
		bastionMu.Lock()
		berr := bastionErr
		bastionMu.Unlock()
		if berr != nil {
			err := fmt.Errorf("not tried, the bastion failed: %w", berr)
			p.print(stderr, t.label, shell.FirstLine(err.Error()))
			results[i] = outcome{sshx.Result{Host: t.name, ExitCode: -1}, err}
			return
		}
		opts := sshx.RunOptions{
			Stdout: func(l string) { p.print(stdout, t.label, l) },
			Stderr: func(l string) { p.print(stderr, t.label, l) },
		}
		var res sshx.Result
		var err error
		if t.bastion {
			res, err = r.RunBastion(ctx, command, opts)
		} else {
			res, err = r.Run(ctx, t.name, command, opts)
		}
		if err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				p.print(stderr, t.label, l)
			}
			if be := (*sshx.BastionError)(nil); errors.As(err, &be) {
				bastionMu.Lock()
				if bastionErr == nil {
					bastionErr = be
				}
				bastionMu.Unlock()
			}
		}
		results[i] = outcome{res, err}
	}, func(i int, err error) { results[i] = outcome{sshx.Result{Host: targets[i].name, ExitCode: -1}, err} })

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nHOST\tEXIT\tDURATION\tERROR")
	bad := 0
	for i, t := range targets {
		o := results[i]
		code := fmt.Sprint(o.res.ExitCode)
		if o.err != nil {
			code = "-"
		}
		if o.err != nil || o.res.ExitCode != 0 {
			bad++
		}
		msg := ""
		if o.err != nil {
			msg = shell.FirstLine(o.err.Error())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.label, code, o.res.Duration.Round(time.Millisecond), msg)
	}
	tw.Flush()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if bad > 0 {
		return failed(fmt.Errorf("%d of %d hosts failed", bad, len(targets)))
	}
	return nil
}
