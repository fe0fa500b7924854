package health

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestLabRulesPassPromtool(t *testing.T) {
	promtool := needTool(t, "promtool")
	dir := t.TempDir()
	paths, err := WriteLabRules(filepath.Join(dir, "rules"), smallInventory(), LabOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 5 {
		t.Fatalf("rule files = %v", paths)
	}
	out, err := exec.Command(promtool, append([]string{"check", "rules"}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	all := ""
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		all += string(b)
	}
	for _, want := range []string{
		"alert: InstanceDown", "alert: InstanceHighCPUUtilization", "alert: InstanceDriveSpaceLow", "alert: TdAgentDown",
		"alert: CassyContainerDown", "alert: ReaperContainerDown", "alert: PrometheusContainerDown",
		"alert: CassandraProcessStopped", "alert: CassandraClusterDown", "alert: CassandraDriveSpaceLow",
		"alert: ScalarDLContainerDown", "alert: ScalarDLClusterDown", "alert: EnvoyContainerDown", "alert: EnvoyClusterDown",
		"record: job:active_scalardl_blue_nodes:count", "record: job:active_scalardl_green_nodes:count", "record: job:active_envoy_nodes:count",
		// 3 cassandra nodes, RF 3: down when at most 3 - (3/2+1) = 1 is active.
		`state="active"} == 1) <= 1`,
		"for: 10s", "interval: 2s",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("rules lack %q", want)
		}
	}

	cfgPath := filepath.Join(dir, "prometheus.yml")
	cfg := LabPrometheusConfig(smallInventory(), LabOptions{RuleDir: filepath.Join(dir, "rules")})
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(promtool, "check", "config", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, cfg)
	}
}

func TestLabPrometheusConfig(t *testing.T) {
	cfg := LabPrometheusConfig(smallInventory(), LabOptions{})
	var c labConfig
	if err := yaml.Unmarshal(cfg, &c); err != nil {
		t.Fatalf("%v\n%s", err, cfg)
	}
	jobs := map[string]labJob{}
	for _, j := range c.ScrapeConfigs {
		jobs[j.JobName] = j
	}
	// 10 hosts; docker hosts: cassy, reaper, 2 blue, envoy, monitor; 3 cassandra; 1 envoy.
	for job, n := range map[string]int{"host": 10, "cadvisor": 6, "cassandra": 3, "envoy": 1} {
		if got := len(jobs[job].StaticConfigs); got != n {
			t.Errorf("job %s: %d targets, want %d", job, got, n)
		}
	}
	first := jobs["host"].StaticConfigs[1]
	if first.Targets[0] != "10.42.2.10:9100" || first.Labels["instance"] != "cassandra-1.internal.scalar-labs.com:9100" || first.Labels["role"] != "cassandra" {
		t.Errorf("host target = %+v", first)
	}
	if jobs["envoy"].MetricsPath != "/stats/prometheus" {
		t.Errorf("envoy metrics path %q", jobs["envoy"].MetricsPath)
	}
	if c.Global.ExternalLabels["environment"] != "example-aws-test" || c.Global.ScrapeInterval != "2s" {
		t.Errorf("global = %+v", c.Global)
	}
}
