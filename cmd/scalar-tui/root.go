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
			return setupLogging(g.logFile)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "config file (default $XDG_CONFIG_HOME/scalar-tui/config.yaml)")
	pf.StringVar(&g.envName, "env", "", "named environment from the config file")
	pf.StringVar(&g.tfRoot, "tf-root", "", "folder holding the roots network/, cassandra/, scalardl/, monitor/")
	pf.StringArrayVar(&g.tfDirs, "tf-dir", nil, "a Terraform root directory (repeatable)")
	pf.StringVar(&g.terraform, "terraform", "", "terraform (or tofu) binary: read state with \"terraform state pull\" (any backend) instead of the local file")
	pf.StringVar(&g.logFile, "log-file", "", "log file (default $XDG_STATE_HOME/scalar-tui/scalar-tui.log)")
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
