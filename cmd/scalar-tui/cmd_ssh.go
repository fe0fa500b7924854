package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"scalar-tui/inventory"
)

func init() { register(newSSHCmd) }

func newSSHCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "ssh HOST",
		Short: "Open an interactive shell on a host through the bastion",
		Long: "Open an interactive login shell on HOST (name, short name or private IP) through the bastion,\n" +
			"with host keys checked against known_hosts. The exit code is the remote shell's.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := g.loadSSHInventory(cmd.Context())
			if err != nil {
				return err
			}
			h, err := resolveSSHHost(inv, args[0])
			if err != nil {
				return err
			}
			cl, err := g.sshClient(inv)
			if err != nil {
				return err
			}
			defer cl.Close()
			if h.Role == inventory.RoleBastion {
				return badInput(fmt.Errorf("%s is the bastion: use `ssh %s@%s` directly", h.Short, inv.UserName, inv.BastionIP))
			}
			err = cl.Shell(cmd.Context(), h.Name, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			var ee *ssh.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.ExitStatus(), err: err}
			}
			if err != nil {
				return failed(err)
			}
			return nil
		},
	}
}
