package labprom

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
)

func TestRulesPassPromtool(t *testing.T) {
	promtool := needTool(t, "promtool")
	dir := t.TempDir()
	paths, err := WriteRules(filepath.Join(dir, "rules"), smallInventory(), Options{})
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
	cfg := Config(smallInventory(), Options{RuleDir: filepath.Join(dir, "rules")})
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(promtool, "check", "config", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, cfg)
	}
}

func TestConfig(t *testing.T) {
	cfg := Config(smallInventory(), Options{})
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

// TestDiskRulesMatchTheAlertRules keeps ops/health's DiskRules in line with the rule files
// (lab copies of scalar-terraform's): every drive-space alert's threshold and
// role is in the table, and the table names no other alert.
func TestDiskRulesMatchTheAlertRules(t *testing.T) {
	files, err := RuleFiles(smallInventory(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)- alert: (\w+DriveSpaceLow)\s+expr: ([^\n]+)`)
	found := map[string]bool{}
	for name, b := range files {
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			alert, expr := m[1], m[2]
			found[alert] = true
			th := regexp.MustCompile(`< (\d+(?:\.\d+)?)\s*$`).FindStringSubmatch(expr)
			if th == nil {
				t.Fatalf("%s %s: no threshold in %q", name, alert, expr)
			}
			want, _ := strconv.ParseFloat(th[1], 64)
			role := inventory.Role("")
			if r := regexp.MustCompile(`role="([^"]+)"`).FindStringSubmatch(expr); r != nil {
				role = inventory.Role(r[1])
			}
			n := 0
			for _, r := range health.DiskRules {
				if r.Alert == alert {
					n++
					if r.MinFreePercent != want || r.Role != role || !strings.Contains(expr, `"`+r.Mount) && !strings.Contains(expr, `|`+r.Mount) {
						t.Errorf("DiskRules %+v does not match %s: %s", r, alert, expr)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s (%s) is missing from DiskRules", alert, name)
			}
		}
	}
	for _, r := range health.DiskRules {
		if !found[r.Alert] {
			t.Errorf("DiskRules names %s, which no rule file defines", r.Alert)
		}
	}
	if r, ok := health.DiskRuleFor(inventory.RoleCassandra, "/data"); !ok || r.MinFreePercent != 25 {
		t.Errorf("cassandra /data rule = %+v", r)
	}
	if r, ok := health.DiskRuleFor(inventory.RoleEnvoy, "/data"); !ok || r.MinFreePercent != 10 {
		t.Errorf("envoy /data rule = %+v", r)
	}
}

// needTool returns the path of a binary, skipping the test when it is absent
// unless SCALAR_TUI_REQUIRE_TOOLS=1 (then the test fails).
func needTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			tb.Fatalf("%s not found and SCALAR_TUI_REQUIRE_TOOLS=1: %v", name, err)
		}
		tb.Skipf("%s not installed (apt-get install prometheus)", name)
	}
	return p
}

const domain = "internal.scalar-labs.com"

// smallInventory is ops/health's test deployment: 10 hosts, one of each role
// but 3 cassandra and 2 blue.
func smallInventory() *inventory.Inventory {
	host := func(short string, role inventory.Role, idx int, ip string) inventory.Host {
		return inventory.Host{Name: short + "." + domain, Short: short, Role: role, Index: idx, PrivateIP: ip}
	}
	return &inventory.Inventory{
		NetworkName:    "example-aws-test",
		InternalDomain: domain,
		Hosts: []inventory.Host{
			host("bastion-1", inventory.RoleBastion, 1, "10.42.0.10"),
			host("cassandra-1", inventory.RoleCassandra, 1, "10.42.2.10"),
			host("cassandra-2", inventory.RoleCassandra, 2, "10.42.2.11"),
			host("cassandra-3", inventory.RoleCassandra, 3, "10.42.2.12"),
			host("cassy-1", inventory.RoleCassy, 1, "10.42.2.20"),
			host("reaper-1", inventory.RoleReaper, 1, "10.42.2.21"),
			host("scalardl-blue-1", inventory.RoleScalarDLBlue, 1, "10.42.3.10"),
			host("scalardl-blue-2", inventory.RoleScalarDLBlue, 2, "10.42.3.11"),
			host("envoy-1", inventory.RoleEnvoy, 1, "10.42.1.10"),
			host("monitor-1", inventory.RoleMonitor, 1, "10.42.1.20"),
		},
		Endpoints: inventory.Endpoints{Prometheus: "monitor." + domain + ":9090"},
	}
}
