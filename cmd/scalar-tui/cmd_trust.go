package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"scalar-tui/ops/sshx"
)

func init() { register(newTrustCmd) }

// keySource fetches the host key to trust; *sshx.Client implements it.
type keySource interface {
	HostKey(ctx context.Context, host string) (ssh.PublicKey, error)
	BastionHostKey(ctx context.Context) (ssh.PublicKey, error)
	BastionAddr() string
}

type trustOptions struct {
	yes     bool
	bastion bool
	// replace swaps a changed key after showing the old and the new
	// fingerprint side by side (a rebuilt node); without it a changed key is
	// always refused.
	replace bool
	// terminal is true when stdin is a terminal: without --yes, a person
	// must read each fingerprint and type the answer.
	terminal bool
}

// errTrustNeedsTerminal refuses answers piped into trust.
var errTrustNeedsTerminal = errors.New("trust asks you to compare each fingerprint and type yes, so it needs a terminal on stdin; pass --yes only when the fingerprints were checked another way")

func newTrustCmd(g *globalOptions) *cobra.Command {
	var o trustOptions
	cmd := &cobra.Command{
		Use:   "trust [--bastion] [--replace] [HOST...]",
		Short: "Show hosts' SSH key fingerprints and add them to known_hosts",
		Long: "Fetch the host key each HOST (or, with --bastion, the bastion) presents, show its SHA256\n" +
			"fingerprint and append it to known_hosts after you type yes. Compare the fingerprint with\n" +
			"one obtained out of band (e.g. the instance's console output) before accepting.\n" +
			"Hosts are reached through the bastion, so trust the bastion first.\n\n" +
			"A host whose key changed is always refused. After a node was rebuilt on purpose (the\n" +
			"documented node replacement), --replace shows the old and the new fingerprint side by\n" +
			"side and replaces the known_hosts entry (same names, new key) only when you type yes.\n\n" +
			"Exit status: 0 every key trusted, 1 a key not trusted, 2 bad input (e.g. no terminal\n" +
			"without --yes).",
		Example: "  scalar-tui trust cassandra-1\n  scalar-tui trust --replace cassandra-1   # after the node was replaced",
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.bastion && len(args) == 0 {
				return badInput(errors.New("name at least one HOST, or pass --bastion"))
			}
			o.terminal = stdinIsTerminal(cmd.InOrStdin())
			if !o.yes && !o.terminal {
				return badInput(errTrustNeedsTerminal)
			}
			inv, err := g.loadSSHInventory(cmd.Context())
			if err != nil {
				return err
			}
			var hosts []string
			for _, a := range args {
				h, err := resolveSSHHost(inv, a)
				if err != nil {
					return err
				}
				hosts = append(hosts, h.Name)
			}
			cl, err := g.sshClient(inv)
			if err != nil {
				return err
			}
			defer cl.Close()
			return runTrust(cmd.Context(), cl, g.knownHostsFile(), o, hosts, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.yes, "yes", false, "trust without asking (only when the fingerprints were checked another way)")
	cmd.Flags().BoolVar(&o.bastion, "bastion", false, "trust the bastion's key")
	cmd.Flags().BoolVar(&o.replace, "replace", false, "replace a changed key (a rebuilt host) after showing the old and the new fingerprint")
	return cmd
}

// runTrust asks about each target in turn; the bastion comes first.
func runTrust(ctx context.Context, src keySource, file string, o trustOptions, hosts []string, in io.Reader, out io.Writer) error {
	if !o.yes && !o.terminal {
		return badInput(errTrustNeedsTerminal)
	}
	answers := bufio.NewReader(in)
	type target struct {
		name, addr string
		bastion    bool
	}
	var targets []target
	if o.bastion {
		targets = append(targets, target{"bastion " + src.BastionAddr(), src.BastionAddr(), true})
	}
	for _, h := range hosts {
		targets = append(targets, target{h, h, false})
	}
	var failures []string
	var bastionErr *sshx.BastionError
	for _, t := range targets {
		var key ssh.PublicKey
		var err error
		switch {
		case bastionErr != nil:
			// Every host is reached through the bastion: do not wait for it again.
			err = fmt.Errorf("not tried, the bastion failed: %w", bastionErr)
		case t.bastion:
			key, err = src.BastionHostKey(ctx)
		default:
			key, err = src.HostKey(ctx, t.addr)
		}
		if err != nil {
			fmt.Fprintf(out, "%s: %v\n", t.name, err)
			failures = append(failures, t.name)
			if bastionErr == nil {
				errors.As(err, &bastionErr)
			}
			continue
		}
		fp := ssh.FingerprintSHA256(key)
		var changed *sshx.ChangedHostKeyError
		check := sshx.CheckKnownHost
		if t.bastion {
			check = sshx.CheckKnownBastion
		}
		switch err := check(file, t.addr, key); {
		case err == nil:
			fmt.Fprintf(out, "%s: %s key %s is already trusted\n", t.name, key.Type(), fp)
			continue
		case errors.As(err, &changed) && o.replace:
			if !replaceKey(file, t.name, changed, o, answers, out) {
				failures = append(failures, t.name)
			}
			continue
		case errors.As(err, &changed):
			fmt.Fprintf(out, "%s:\n%v\n", t.name, err)
			failures = append(failures, t.name)
			continue
		case o.replace:
			// Nothing to replace: adding an unknown key is plain trust's job,
			// with its own question.
			cmd := "scalar-tui trust " + t.addr
			if t.bastion {
				cmd = "scalar-tui trust --bastion"
			}
			fmt.Fprintf(out, "%s presents %s key %s, which %s does not hold: nothing to replace; run `%s` to add it\n",
				t.name, key.Type(), fp, file, cmd)
			failures = append(failures, t.name)
			continue
		}
		fmt.Fprintf(out, "%s presents %s key %s\n", t.name, key.Type(), fp)
		if !o.yes {
			fmt.Fprintf(out, "Trust it and add it to %s? Type yes to accept: ", file)
			line, _ := answers.ReadString('\n')
			if strings.TrimSpace(line) != "yes" {
				fmt.Fprintf(out, "%s: not trusted\n", t.name)
				failures = append(failures, t.name)
				continue
			}
		}
		if err := sshx.AppendKnownHost(file, t.addr, key); err != nil {
			return failed(err)
		}
		fmt.Fprintf(out, "%s: added to %s\n", t.name, file)
	}
	if len(failures) > 0 {
		return failed(fmt.Errorf("not trusted: %s", strings.Join(failures, ", ")))
	}
	return nil
}

// replaceKey shows a changed key's old and new fingerprints side by side and
// replaces the known_hosts entry when the operator confirms (or with --yes).
// It reports whether the key was replaced.
func replaceKey(file, name string, changed *sshx.ChangedHostKeyError, o trustOptions, answers *bufio.Reader, out io.Writer) bool {
	fmt.Fprintf(out, "%s: the host key has CHANGED\n", name)
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "\tOLD (known_hosts)\tNEW (presented now)")
	for i, w := range changed.Want {
		newCol := changed.Key.Type() + " " + changed.Fingerprint
		if i > 0 {
			newCol = "(removed)"
		}
		fmt.Fprintf(tw, "  key\t%s %s\t%s\n", w.Key.Type(), ssh.FingerprintSHA256(w.Key), newCol)
		fmt.Fprintf(tw, "  entry\t%s:%d\t\n", w.Filename, w.Line)
	}
	tw.Flush()
	fmt.Fprintf(out, "Replace it only if %s was rebuilt on purpose (e.g. a node replacement) and the NEW\n"+
		"fingerprint matches one obtained another way (the instance's console output); otherwise\n"+
		"someone may be intercepting the connection.\n", name)
	if !o.yes {
		fmt.Fprintf(out, "Replace the entry in %s? Type yes to accept: ", file)
		line, _ := answers.ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintf(out, "%s: not replaced\n", name)
			return false
		}
	}
	if err := sshx.ReplaceKnownHost(file, changed.Want, changed.Key); err != nil {
		fmt.Fprintf(out, "%s: not replaced: %v\n", name, err)
		return false
	}
	fmt.Fprintf(out, "%s: replaced in %s (old %s, new %s)\n", name, file, ssh.FingerprintSHA256(changed.Want[0].Key), changed.Fingerprint)
	return true
}
