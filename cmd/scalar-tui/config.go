package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"scalar-tui/ops/workflow"
)

// config is $XDG_CONFIG_HOME/scalar-tui/config.yaml. Example:
//
//	current: staging
//	environments:
//	  prod:
//	    tf_root: /srv/scalar-terraform-examples/aws
//	    color: "#ff0000"
//	    kind: production
//	  staging:
//	    tf_dirs: [/srv/stg/network, /srv/stg/cassandra]
//	    terraform: /usr/local/bin/terraform
//	    known_hosts: ~/.ssh/known_hosts_stg
//	    options:
//	      restore: {data-dir: /var/lib/cassandra/data}
//	keys:
//	  repair: R
type config struct {
	path         string
	Current      string                  `yaml:"current"`
	Environments map[string]*environment `yaml:"environments"`
	Keys         map[string]string       `yaml:"keys"`
}

// environment is one named deployment, like a k9s context.
type environment struct {
	TFRoot     string   `yaml:"tf_root"`
	TFDirs     []string `yaml:"tf_dirs"`
	Terraform  string   `yaml:"terraform"`
	KnownHosts string   `yaml:"known_hosts"`
	Identity   string   `yaml:"identity"`
	Prometheus string   `yaml:"prometheus"`
	Color      string   `yaml:"color"`
	// Kind is production, staging or lab (drills refuse production
	// without --allow-production; unset counts as production).
	Kind string `yaml:"kind"`
	// Options are this deployment's defaults of workflow options, by
	// workflow and flag name, for the CLI and the console alike: e.g.
	// restore: {data-dir: /var/lib/cassandra/data}. A flag given on the
	// command line wins; options said for each run (a tag, a host,
	// --confirm-deployment, --force) cannot be set here.
	Options map[string]map[string]string `yaml:"options"`
}

func defaultConfigPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "scalar-tui", "config.yaml")
}

// loadConfig reads the config file. A missing default file is an empty config;
// a missing file named with --config is an error.
func loadConfig(path string) (*config, error) {
	explicit := path != ""
	if !explicit {
		path = defaultConfigPath()
	}
	cfg := &config{path: path}
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return cfg, nil
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := yaml.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("config %s: not valid YAML: %w", path, err)
	}
	for name, env := range cfg.Environments {
		if env == nil {
			return nil, fmt.Errorf("config %s: environment %q is empty", path, name)
		}
		switch env.Kind {
		case "", "production", "staging", "lab":
		default:
			return nil, fmt.Errorf("config %s: environment %q: kind %q is not production, staging or lab", path, name, env.Kind)
		}
		if err := checkOptionDefaults(env.Options); err != nil {
			return nil, fmt.Errorf("config %s: environment %q: options: %w", path, name, err)
		}
		env.TFRoot = expandHome(env.TFRoot)
		for i := range env.TFDirs {
			env.TFDirs[i] = expandHome(env.TFDirs[i])
		}
		env.KnownHosts = expandHome(env.KnownHosts)
		env.Identity = expandHome(env.Identity)
	}
	return cfg, nil
}

// checkOptionDefaults checks a deployment's option defaults against the
// catalog: known workflows with a command, known options, values their
// flags accept, nothing said for each run.
func checkOptionDefaults(opts map[string]map[string]string) error {
	for _, n := range slices.Sorted(maps.Keys(opts)) {
		k, ok := workflow.Lookup(n)
		if !ok || k.Plan == nil {
			return fmt.Errorf("no workflow %q", n)
		}
		if err := k.CheckDefaults(opts[n]); err != nil {
			return err
		}
	}
	return nil
}

// optionDefaults returns workflow kind's option defaults for the deployment
// in use, as flag text by option name: the demo's, then those of the
// config's environment when the deployment comes from it (no --tf-root or
// --tf-dir), as the inventory does.
func (g *globalOptions) optionDefaults(kind string) (map[string]string, error) {
	out := map[string]string{}
	for n, x := range g.kindDefaults[kind] {
		out[n] = x
	}
	if g.tfRoot != "" || len(g.tfDirs) > 0 {
		return out, nil
	}
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return nil, badInput(err)
	}
	env, err := cfg.environment(g.envName)
	if err != nil {
		return nil, badInput(err)
	}
	if env != nil {
		for n, x := range env.Options[kind] {
			out[n] = x
		}
	}
	return out, nil
}

// environment returns the named environment, the `current` one when name is
// empty, or nil when the config names none.
func (c *config) environment(name string) (*environment, error) {
	if name == "" {
		name = c.Current
	}
	if name == "" {
		return nil, nil
	}
	env, ok := c.Environments[name]
	if !ok {
		names := make([]string, 0, len(c.Environments))
		for n := range c.Environments {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("config %s: no environment %q (have: %s)", c.path, name, strings.Join(names, ", "))
	}
	return env, nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}
