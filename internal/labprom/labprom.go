// Package labprom writes the Prometheus of the lab (internal/labnodes) and
// of the demo (internal/demo): a prometheus.yml that reproduces the real
// scalar-terraform monitor's jobs and labels with static targets, and the lab
// copies of the monitor's alert and recording rules (rules/, templates with
// shorter intervals). The console itself (ops/health) only reads a
// Prometheus; it never writes one, so this is test and demo tooling.
//
// Production packages never import it.
package labprom

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
)

//go:embed rules/*.rules.yml
var ruleFS embed.FS

// Options configures Config and RuleFiles.
type Options struct {
	// ScrapeInterval and EvaluationInterval default to 2s (the real ones are
	// 15s, and 5s for cadvisor); the lab wants alerts within seconds.
	ScrapeInterval time.Duration
	// EvaluationInterval is the rule evaluation interval (see ScrapeInterval).
	EvaluationInterval time.Duration
	// For replaces the real rules' `for: 5m`/`for: 1m`; default 10s.
	For time.Duration
	// RuleDir is where the rule files are (to be) written; the config's
	// rule_files points at RuleDir/*.rules.yml. Empty means no rule_files.
	RuleDir string
	// Ports are the exporter ports to scrape; zero fields default to health.DefaultPorts.
	Ports health.Ports
	// Address returns the address Prometheus scrapes for a host and port. The
	// default is the host's PrivateIP (the lab has no DNS), else its Name.
	// Whatever the address, the instance label is "<Name>:<port>" as on the real
	// monitor, so the console's join works unchanged.
	Address func(h inventory.Host, port int) string
	// ReplicationFactor is Scalar DL's Cassandra RF (default 3), used in the
	// CassandraClusterDown threshold.
	ReplicationFactor int
	// ExternalEnvironment is the environment external label (default: the inventory's NetworkName).
	ExternalEnvironment string
	// Alertmanagers are host:port addresses Prometheus sends its alerts to
	// (the monitor's own Alertmanager on :9093); none leaves alerting out.
	Alertmanagers []string
}

func (o Options) withDefaults(inv *inventory.Inventory) Options {
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = 2 * time.Second
	}
	if o.EvaluationInterval <= 0 {
		o.EvaluationInterval = 2 * time.Second
	}
	if o.For <= 0 {
		o.For = 10 * time.Second
	}
	if o.ReplicationFactor <= 0 {
		o.ReplicationFactor = 3
	}
	o.Ports = o.Ports.WithDefaults()
	if o.Address == nil {
		o.Address = func(h inventory.Host, port int) string {
			host := h.PrivateIP
			if host == "" {
				host = h.Name
			}
			return net.JoinHostPort(host, strconv.Itoa(port))
		}
	}
	if o.ExternalEnvironment == "" && inv != nil {
		o.ExternalEnvironment = inv.NetworkName
	}
	return o
}

// promDuration writes d the way Prometheus' config parser reads it ("2s", "1m30s" is not accepted).
func promDuration(d time.Duration) string {
	if d%time.Second != 0 || d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

type labTarget struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

type labJob struct {
	JobName        string      `yaml:"job_name"`
	ScrapeInterval string      `yaml:"scrape_interval,omitempty"`
	MetricsPath    string      `yaml:"metrics_path,omitempty"`
	StaticConfigs  []labTarget `yaml:"static_configs"`
}

type labConfig struct {
	Global struct {
		ScrapeInterval     string            `yaml:"scrape_interval"`
		EvaluationInterval string            `yaml:"evaluation_interval"`
		ExternalLabels     map[string]string `yaml:"external_labels,omitempty"`
	} `yaml:"global"`
	Alerting      *labAlerting `yaml:"alerting,omitempty"`
	RuleFiles     []string     `yaml:"rule_files,omitempty"`
	ScrapeConfigs []labJob     `yaml:"scrape_configs"`
}

type labAlerting struct {
	Alertmanagers []struct {
		StaticConfigs []labTarget `yaml:"static_configs"`
	} `yaml:"alertmanagers"`
}

// Config writes a prometheus.yml for the lab that reproduces the
// real monitor's jobs (host, cadvisor, cassandra, envoy, prometheus) with the
// real labels: instance="<fqdn>:<port>" and role="<role>". The real monitor
// discovers targets with DNS SRV records; the lab has no DNS, so each target is
// a static_config whose address comes from opts.Address and whose instance label
// is set explicitly.
func Config(inv *inventory.Inventory, opts Options) []byte {
	o := opts.withDefaults(inv)
	var c labConfig
	c.Global.ScrapeInterval = promDuration(o.ScrapeInterval)
	c.Global.EvaluationInterval = promDuration(o.EvaluationInterval)
	if o.ExternalEnvironment != "" {
		c.Global.ExternalLabels = map[string]string{"environment": o.ExternalEnvironment}
	}
	if o.RuleDir != "" {
		c.RuleFiles = []string{filepath.Join(o.RuleDir, "*.rules.yml")}
	}
	if len(o.Alertmanagers) > 0 {
		c.Alerting = &labAlerting{}
		c.Alerting.Alertmanagers = append(c.Alerting.Alertmanagers, struct {
			StaticConfigs []labTarget `yaml:"static_configs"`
		}{StaticConfigs: []labTarget{{Targets: o.Alertmanagers}}})
	}
	jobs := map[string]*labJob{}
	order := []string{"host", "cadvisor", "cassandra", "envoy"}
	for _, name := range order {
		jobs[name] = &labJob{JobName: name}
	}
	jobs["envoy"].MetricsPath = "/stats/prometheus"
	add := func(job string, h inventory.Host, port int) {
		jobs[job].StaticConfigs = append(jobs[job].StaticConfigs, labTarget{
			Targets: []string{o.Address(h, port)},
			Labels: map[string]string{
				"instance": net.JoinHostPort(h.Name, strconv.Itoa(port)),
				"role":     string(h.Role),
			},
		})
	}
	if inv != nil {
		for _, h := range inv.Hosts {
			add("host", h, o.Ports.NodeExporter)
			if health.RunsCAdvisor(h.Role) {
				add("cadvisor", h, o.Ports.CAdvisor)
			}
			if h.Role == inventory.RoleCassandra {
				add("cassandra", h, o.Ports.CassandraExporter)
			}
			if h.Role == inventory.RoleEnvoy {
				add("envoy", h, o.Ports.EnvoyAdmin)
			}
		}
	}
	for _, name := range order {
		if len(jobs[name].StaticConfigs) > 0 {
			c.ScrapeConfigs = append(c.ScrapeConfigs, *jobs[name])
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# Generated by scalar-tui (internal/labprom) for the lab; mirrors\n# scalar-terraform's monitor prometheus.yml.j2 with static targets instead of DNS SRV.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	// Encoding plain structs and maps of strings cannot fail.
	_ = enc.Encode(c)
	_ = enc.Close()
	return buf.Bytes()
}

type ruleContainer struct{ Alert, Service string }

// RuleFiles renders the lab's copies of the real alert and recording rules
// (general, cassandra, scalardl, envoy, recording), keyed by file name.
func RuleFiles(inv *inventory.Inventory, opts Options) (map[string][]byte, error) {
	o := opts.withDefaults(inv)
	cassandraCount := 0
	if inv != nil {
		cassandraCount = len(inv.ByRole(inventory.RoleCassandra))
	}
	data := map[string]any{
		"EvaluationInterval":     promDuration(o.EvaluationInterval),
		"For":                    promDuration(o.For),
		"ReplicationFactor":      o.ReplicationFactor,
		"CassandraDownThreshold": cassandraCount - (o.ReplicationFactor/2 + 1),
		// As in general_alert.rules.yml.j2: the monitor's own containers, plus cassy and reaper.
		"GeneralContainers": []ruleContainer{
			{"Grafana", "grafana"}, {"Alertmanager", "alertmanager"}, {"Prometheus", "prometheus"},
			{"Nginx", "nginx"}, {"Cassy", "cassy"}, {"Reaper", "reaper"},
		},
	}
	names, err := fs.Glob(ruleFS, "rules/*.rules.yml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := map[string][]byte{}
	for _, n := range names {
		src, err := ruleFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		t, err := template.New(n).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("rule template %s: %w", n, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("rule template %s: %w", n, err)
		}
		out[strings.TrimPrefix(n, "rules/")] = b.Bytes()
	}
	return out, nil
}

// WriteRules renders RuleFiles into dir and returns the paths written.
func WriteRules(dir string, inv *inventory.Inventory, opts Options) ([]string, error) {
	files, err := RuleFiles(inv, opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rule dir: %w", err)
	}
	var paths []string
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("write rule file: %w", err)
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}
