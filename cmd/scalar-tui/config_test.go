package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigEnvironments(t *testing.T) {
	home, _ := os.UserHomeDir()
	p := writeConfig(t, `
current: staging
environments:
  prod:
    tf_root: /srv/prod
  staging:
    tf_dirs: [~/stg/network, /srv/stg/cassandra]
    known_hosts: ~/.ssh/kh
keys:
  repair: ctrl+r
`)
	cfg, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	env, err := cfg.environment("")
	if err != nil {
		t.Fatal(err)
	}
	if env.TFDirs[0] != filepath.Join(home, "stg/network") || env.KnownHosts != filepath.Join(home, ".ssh/kh") {
		t.Errorf("staging = %+v (~ not expanded?)", env)
	}
	if env, _ := cfg.environment("prod"); env == nil || env.TFRoot != "/srv/prod" {
		t.Errorf("prod = %+v", env)
	}
	if cfg.Keys["repair"] != "ctrl+r" {
		t.Errorf("keys = %v", cfg.Keys)
	}
	_, err = cfg.environment("nope")
	if err == nil || !strings.Contains(err.Error(), `no environment "nope" (have: prod, staging)`) {
		t.Errorf("unknown env error = %v", err)
	}

	// Flags: --env selects; --tf-root overrides the config entirely.
	g := &globalOptions{configPath: p, envName: "prod"}
	opts, err := g.inventoryOptions()
	if err != nil || opts.TFRoot != "/srv/prod" {
		t.Errorf("--env prod: %+v, %v", opts, err)
	}
	g = &globalOptions{configPath: p, tfRoot: "/elsewhere"}
	if opts, _ := g.inventoryOptions(); opts.TFRoot != "/elsewhere" || len(opts.TFDirs) != 0 {
		t.Errorf("--tf-root: %+v", opts)
	}
}

func TestConfigBadInput(t *testing.T) {
	cases := map[string]struct {
		body string
		want string
	}{
		"not yaml":  {"environments: [unclosed", "not valid YAML"},
		"empty env": {"environments:\n  prod:\n", `environment "prod" is empty`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	if _, err := loadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing --config file must be an error")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if cfg, err := loadConfig(""); err != nil || cfg == nil {
		t.Errorf("a missing default config is empty, got %v, %v", cfg, err)
	}
	// No deployment at all: exit code 2 with the way out.
	code := run(t.Context(), []string{"inventory"})
	if code != exitBadInput {
		t.Errorf("inventory with no deployment exit = %d, want 2", code)
	}
}
