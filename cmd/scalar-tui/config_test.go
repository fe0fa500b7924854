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
		"options of no workflow": {"environments:\n  prod:\n    tf_root: /x\n    options:\n      restor: {data-dir: /d}\n",
			`environment "prod": options: no workflow "restor"`},
		"no such option": {"environments:\n  prod:\n    tf_root: /x\n    options:\n      restore: {datadir: /d}\n",
			`restore has no option "datadir"`},
		"typed name as a default": {"environments:\n  prod:\n    tf_root: /x\n    options:\n      restore: {confirm-deployment: prod}\n",
			"restore --confirm-deployment is said for each run"},
		"force as a default": {"environments:\n  prod:\n    tf_root: /x\n    options:\n      free-disk: {force: \"true\"}\n",
			"free-disk --force is said for each run"},
		"bad duration": {"environments:\n  prod:\n    tf_root: /x\n    options:\n      restore: {gate-deadline: soon}\n",
			`restore --gate-deadline "soon"`},
		"negative duration": {"environments:\n  prod:\n    tf_root: /x\n    options:\n      restore: {gate-deadline: -1m}\n",
			`restore --gate-deadline "-1m"`},
		"relative data dir": {"environments:\n  prod:\n    tf_root: /x\n    options:\n      free-disk: {data-dir: data}\n",
			`free-disk --data-dir "data": bad directory`},
		"NaN": {"environments:\n  prod:\n    tf_root: /x\n    options:\n      restore: {min-free-percent: NaN}\n",
			"want a finite number"},
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

// An environment's option defaults reach the workflow of the deployment it
// names, under the demo's (the demo's deployment is never the config's) and
// only when the deployment comes from the config.
func TestOptionDefaults(t *testing.T) {
	p := writeConfig(t, `current: stg
environments:
  stg:
    tf_root: /srv/stg
    options:
      restore: {data-dir: /var/lib/cassandra/data, gate-interval: 2s}
  prod:
    tf_root: /srv/prod
`)
	g := &globalOptions{configPath: p}
	got, err := g.optionDefaults("restore")
	if err != nil || got["data-dir"] != "/var/lib/cassandra/data" || got["gate-interval"] != "2s" || len(got) != 2 {
		t.Fatalf("stg restore defaults: %v, %v", got, err)
	}
	if got, _ := g.optionDefaults("repair"); len(got) != 0 {
		t.Errorf("repair has no defaults, got %v", got)
	}
	g.envName = "prod"
	if got, _ := g.optionDefaults("restore"); len(got) != 0 {
		t.Errorf("prod has no defaults, got %v", got)
	}
	g = &globalOptions{configPath: p, tfRoot: "/elsewhere"}
	if got, _ := g.optionDefaults("restore"); len(got) != 0 {
		t.Errorf("--tf-root names another deployment: the config's defaults do not apply, got %v", got)
	}
	g.kindDefaults = map[string]map[string]string{"restore": {"data-dir": "~/data"}}
	if got, _ := g.optionDefaults("restore"); got["data-dir"] != "~/data" {
		t.Errorf("demo defaults: %v", got)
	}
	g = &globalOptions{configPath: p, envName: "nope"}
	if _, err := g.optionDefaults("restore"); exitCodeOf(err) != exitBadInput {
		t.Errorf("unknown --env: %v", err)
	}
}
