package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// version is set by the Makefile with -ldflags.
var version = "dev"

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	configPath string
	envName    string
	tfRoot     string
	tfDirs     []string
	terraform  string
	logFile    string
	// SSH
	knownHosts     string
	identity       string
	connectTimeout time.Duration
	// stateRoot is --state-dir: the local state (journals, audit logs, log
	// file) of every deployment; empty means $XDG_STATE_HOME/scalar-tui.
	stateRoot string
	// lockDir, set by the demo, holds the cluster locks instead of the
	// bastion's /tmp (the demo's bastion is this machine). Not a flag.
	lockDir string
	// simState, set by the demo, is its simulator state directory: the
	// console's drills pass it as --sim-state (the deployment is a lab).
	simState string
	// kindDefaults, set by the demo, are its workflow option defaults
	// (its layout: demo.OptionDefaults), under the config's.
	kindDefaults map[string]map[string]string

	console *consoleOptions
}

var subcommands []func(*globalOptions) *cobra.Command

// register adds a subcommand constructor; each subcommand file calls it from init.
func register(f func(*globalOptions) *cobra.Command) { subcommands = append(subcommands, f) }

func newRootCmd() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "scalar-tui",
		Short:         "Operations console for Scalar DL on Cassandra deployed with scalar-terraform",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := checkNumericFlags(cmd); err != nil {
				return badInput(err)
			}
			if ownsState(cmd) {
				return nil
			}
			return setupLogging(g.logPath())
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "config file (default $XDG_CONFIG_HOME/scalar-tui/config.yaml)")
	pf.StringVar(&g.envName, "env", "", "named environment from the config file")
	pf.StringVar(&g.tfRoot, "tf-root", "", "folder holding the roots network/, cassandra/, scalardl/, monitor/")
	pf.StringArrayVar(&g.tfDirs, "tf-dir", nil, "a Terraform root directory (repeatable)")
	pf.StringVar(&g.terraform, "terraform", "", "terraform (or tofu) binary: read state with \"terraform state pull\" (any backend) instead of the local file")
	pf.StringVar(&g.logFile, "log-file", "", "log file (default $XDG_STATE_HOME/scalar-tui/scalar-tui.log)")
	pf.StringVar(&g.stateRoot, "state-dir", "", "local state: journals, audit logs and the log file of every deployment (default $XDG_STATE_HOME/scalar-tui)")
	pf.StringVar(&g.knownHosts, "known-hosts", "", "known_hosts file (default ~/.ssh/known_hosts)")
	pf.StringVar(&g.identity, "identity", "", "private key file (default: ssh-agent, then private_key_path from the state)")
	pf.DurationVar(&g.connectTimeout, "connect-timeout", sshx.DefaultDialTimeout, "bound on each SSH connect and each SSH handshake (bastion and hosts)")
	positive(pf, "connect-timeout")
	for _, f := range subcommands {
		root.AddCommand(f(g))
	}
	addConsoleFlags(root, g)
	return root
}

// stateDir is $XDG_STATE_HOME/scalar-tui (default ~/.local/state/scalar-tui).
func stateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "scalar-tui")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "scalar-tui")
	}
	return filepath.Join(home, ".local", "state", "scalar-tui")
}

// ownsState reports whether cmd keeps its state (and log) elsewhere than the
// operator's $XDG_STATE_HOME: the demo (in its own directory).
func ownsState(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Parent() != nil && c.Parent().Parent() == nil && c.Name() == "demo" {
			return true
		}
	}
	return false
}

// stateRootDir is --state-dir, or stateDir().
func (g *globalOptions) stateRootDir() string {
	if g.stateRoot != "" {
		return g.stateRoot
	}
	return stateDir()
}

// logPath is --log-file, or scalar-tui.log in the state root.
func (g *globalOptions) logPath() string {
	if g.logFile != "" {
		return g.logFile
	}
	return filepath.Join(g.stateRootDir(), "scalar-tui.log")
}

// deployment is where one deployment's local state lives and which lock on
// its bastion its workflows take.
type deployment struct {
	// name is "<network> via <bastion>", journalled with every run.
	name string
	// dir holds its journals (runs/), host logs and audit log.
	dir string
	// lock is the cluster lock directory on the bastion.
	lock string
}

// deploymentOf resolves inv's state directory under the state root and its
// lock path: lockFlag (--lock-path) when given, else one per network name
// (/tmp/scalar-tui-<network>.lock, or under the demo's own directory).
func (g *globalOptions) deploymentOf(inv *inventory.Inventory, lockFlag string) deployment {
	bastion := inv.BastionAddr()
	d := deployment{
		name: inv.NetworkName + " via " + bastion,
		dir:  workflow.DeploymentDir(g.stateRootDir(), inv.NetworkName, bastion),
		lock: lockFlag,
	}
	if d.lock == "" {
		d.lock = workflow.DeploymentLockPath(inv.NetworkName)
		if g.lockDir != "" {
			d.lock = filepath.Join(g.lockDir, filepath.Base(d.lock))
		}
	}
	return d
}

func setupLogging(path string) error {
	if path == "" {
		path = filepath.Join(stateDir(), "scalar-tui.log")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return badInput(fmt.Errorf("log directory: %w", err))
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return badInput(fmt.Errorf("open log file: %w", err))
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return nil
}

// inventoryOptions resolves flags and the config file into inventory.Options.
func (g *globalOptions) inventoryOptions() (inventory.Options, error) {
	opts := inventory.Options{TFRoot: g.tfRoot, TFDirs: g.tfDirs, Terraform: g.terraform}
	if g.tfRoot == "" && len(g.tfDirs) == 0 {
		cfg, err := loadConfig(g.configPath)
		if err != nil {
			return opts, badInput(err)
		}
		env, err := cfg.environment(g.envName)
		if err != nil {
			return opts, badInput(err)
		}
		if env != nil {
			opts.TFRoot, opts.TFDirs = env.TFRoot, env.TFDirs
			if opts.Terraform == "" {
				opts.Terraform = env.Terraform
			}
			if g.knownHosts == "" {
				g.knownHosts = env.KnownHosts
			}
			if g.identity == "" {
				g.identity = env.Identity
			}
		}
	}
	if opts.TFRoot == "" && len(opts.TFDirs) == 0 {
		return opts, badInput(fmt.Errorf("no deployment given: pass --tf-root DIR or --tf-dir DIR, or name an environment with --env (try `scalar-tui demo` for a simulated one)"))
	}
	return opts, nil
}
