package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// defaultSSHUser is scalar-terraform's user_name default.
const defaultSSHUser = "centos"

// loadSSHInventory loads the deployment the SSH subcommands work on.
func (g *globalOptions) loadSSHInventory(ctx context.Context) (*inventory.Inventory, error) {
	opts, err := g.inventoryOptions()
	if err != nil {
		return nil, err
	}
	inv, err := inventory.Load(ctx, opts)
	if err != nil {
		return nil, badInput(fmt.Errorf("load inventory: %w", err))
	}
	if inv.BastionIP == "" {
		return nil, badInput(fmt.Errorf("the inventory has no bastion address: is the network root's state loaded?"))
	}
	return inv, nil
}

// knownHostsFile is --known-hosts, or ~/.ssh/known_hosts.
func (g *globalOptions) knownHostsFile() string {
	if g.knownHosts != "" {
		return expandHome(g.knownHosts)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".ssh", "known_hosts")
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

// sshConfig builds the transport's config from the flags and the inventory:
// ssh-agent first, then --identity, else private_key_path from the state.
func (g *globalOptions) sshConfig(inv *inventory.Inventory) sshx.Config {
	user := inv.UserName
	if user == "" {
		user = defaultSSHUser
	}
	identity := expandHome(g.identity)
	if identity == "" {
		identity = inv.PrivateKeyPath
	}
	return sshx.Config{
		BastionAddr:    inv.BastionAddr(),
		User:           user,
		IdentityFile:   identity,
		KnownHostsFile: g.knownHostsFile(),
		DialTimeout:    g.connectTimeout,
		KeepAlive:      15 * time.Second,
	}
}

// sshClient returns an SSH transport for inv. Credential problems are input
// errors (exit code 2). Every command, shell and transfer it runs, for exec,
// ssh, the console and the workflows, is one entry of the audit log.
func (g *globalOptions) sshClient(inv *inventory.Inventory) (*sshx.Client, error) {
	cl, err := sshx.New(g.sshConfig(inv), sshx.WithLogger(slog.Default()), sshx.WithAuditor(g.sshAuditLog(inv)))
	if err != nil {
		return nil, badInput(err)
	}
	return cl, nil
}

// resolveSSHHost maps a name, short name or private IP to the inventory's host.
func resolveSSHHost(inv *inventory.Inventory, s string) (inventory.Host, error) {
	if h, ok := inv.Find(s); ok {
		return h, nil
	}
	names := make([]string, 0, len(inv.Hosts))
	for _, h := range inv.Hosts {
		names = append(names, h.Short)
	}
	return inventory.Host{}, badInput(fmt.Errorf("no host %q in the inventory (hosts: %s)", s, strings.Join(names, ", ")))
}

// sshAuditLog is where sshClient records every remote session: the
// deployment's own audit.jsonl, the one its workflow engine reads.
func (g *globalOptions) sshAuditLog(inv *inventory.Inventory) *workflow.AuditLog {
	dep := g.deploymentOf(inv, "")
	return workflow.NewAuditLog(workflow.AuditPath(dep.dir), workflow.Operator(), dep.name, nil)
}
