package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
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
		env.TFRoot = expandHome(env.TFRoot)
		for i := range env.TFDirs {
			env.TFDirs[i] = expandHome(env.TFDirs[i])
		}
		env.KnownHosts = expandHome(env.KnownHosts)
		env.Identity = expandHome(env.Identity)
	}
	return cfg, nil
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
