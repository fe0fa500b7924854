package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"scalar-tui/internal/tfgen"
)

const fixtures = "../testdata/tf"

// hostRow is what the table tests assert for every host.
type hostRow struct {
	role             Role
	name, ip, public string
	zone             string
	tag              string
}

func row(h Host) hostRow {
	return hostRow{h.Role, h.Name, h.PrivateIP, h.PublicIP, h.Zone, h.ImageTag}
}

const dom = ".internal.scalar-labs.com"

func awsHosts(green bool) []hostRow {
	rows := []hostRow{
		{RoleBastion, "bastion-1" + dom, "10.42.0.10", "13.231.179.116", "ap-northeast-1a", ""},
		{RoleBastion, "bastion-2" + dom, "10.42.0.11", "13.231.179.117", "ap-northeast-1c", ""},
		{RoleCassandra, "cassandra-1" + dom, "10.42.2.10", "", "ap-northeast-1a", ""},
		{RoleCassandra, "cassandra-2" + dom, "10.42.2.11", "", "ap-northeast-1c", ""},
		{RoleCassandra, "cassandra-3" + dom, "10.42.2.12", "", "ap-northeast-1d", ""},
		{RoleCassy, "cassy-1" + dom, "10.42.2.20", "", "ap-northeast-1a", ""},
		{RoleReaper, "reaper-1" + dom, "10.42.2.21", "", "ap-northeast-1a", ""},
		{RoleScalarDLBlue, "scalardl-blue-1" + dom, "10.42.3.10", "", "ap-northeast-1a", "2.1.0"},
		{RoleScalarDLBlue, "scalardl-blue-2" + dom, "10.42.3.11", "", "ap-northeast-1c", "2.1.0"},
		{RoleScalarDLBlue, "scalardl-blue-3" + dom, "10.42.3.12", "", "ap-northeast-1d", "2.1.0"},
	}
	if green {
		rows = append(rows,
			hostRow{RoleScalarDLGreen, "scalardl-green-1" + dom, "10.42.4.10", "", "ap-northeast-1a", "2.2.0"},
			hostRow{RoleScalarDLGreen, "scalardl-green-2" + dom, "10.42.4.11", "", "ap-northeast-1c", "2.2.0"},
			hostRow{RoleScalarDLGreen, "scalardl-green-3" + dom, "10.42.4.12", "", "ap-northeast-1d", "2.2.0"})
	}
	return append(rows,
		hostRow{RoleEnvoy, "envoy-1" + dom, "10.42.1.10", "", "ap-northeast-1a", ""},
		hostRow{RoleEnvoy, "envoy-2" + dom, "10.42.1.11", "", "ap-northeast-1c", ""},
		hostRow{RoleEnvoy, "envoy-3" + dom, "10.42.1.12", "", "ap-northeast-1d", ""},
		hostRow{RoleMonitor, "monitor-1" + dom, "10.42.1.20", "", "ap-northeast-1a", ""})
}

func azureHosts() []hostRow {
	return []hostRow{
		{RoleBastion, "bastion-1" + dom, "10.42.0.4", "13.231.179.116", "japaneast-1", ""},
		{RoleCassandra, "cassandra-1" + dom, "10.42.2.4", "", "japaneast-1", ""},
		{RoleCassandra, "cassandra-2" + dom, "10.42.2.5", "", "japaneast-2", ""},
		{RoleCassandra, "cassandra-3" + dom, "10.42.2.6", "", "japaneast-3", ""},
		{RoleCassy, "cassy-1" + dom, "10.42.2.14", "", "japaneast-1", ""},
		{RoleReaper, "reaper-1" + dom, "10.42.2.15", "", "japaneast-1", ""},
		{RoleScalarDLBlue, "scalardl-blue-1" + dom, "10.42.3.4", "", "japaneast-1", "2.1.0"},
		{RoleScalarDLBlue, "scalardl-blue-2" + dom, "10.42.3.5", "", "japaneast-2", "2.1.0"},
		{RoleScalarDLBlue, "scalardl-blue-3" + dom, "10.42.3.6", "", "japaneast-3", "2.1.0"},
		{RoleEnvoy, "envoy-1" + dom, "10.42.1.4", "", "japaneast-1", ""},
		{RoleEnvoy, "envoy-2" + dom, "10.42.1.5", "", "japaneast-2", ""},
		{RoleEnvoy, "envoy-3" + dom, "10.42.1.6", "", "japaneast-3", ""},
		{RoleMonitor, "monitor-1" + dom, "10.42.1.14", "", "japaneast-1", ""},
	}
}

// iniRows: inventory_ini gives names only (and the bastions' public IPs).
func iniRows() []hostRow {
	var out []hostRow
	for _, r := range awsHosts(false) {
		r.ip, r.zone, r.tag = "", "", ""
		out = append(out, r)
	}
	return out
}

func TestLoadFixtures(t *testing.T) {
	tests := []struct {
		dir      string
		cloud    string
		network  string
		hosts    []hostRow
		source   string
		wantNote string // a RootStatus message expected on some root
	}{
		{"aws", "aws", "example-aws-0j5y83k", awsHosts(false), SourceResources, ""},
		{"aws-green", "aws", "example-aws-0j5y83k", awsHosts(true), SourceResources, ""},
		{"aws-old", "aws", "example-aws-0j5y83k", awsHosts(false), SourceResources, "cassandra_provision_ids"},
		{"aws-ini-only", "aws", "example-aws-0j5y83k", iniRows(), SourceINI, ""},
		{"azure", "azure", "example-azure-k3t9xq2", azureHosts(), SourceResources, ""},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			inv, err := Load(context.Background(), Options{TFRoot: filepath.Join(fixtures, tt.dir)})
			if err != nil {
				t.Fatal(err)
			}
			var got []hostRow
			for _, h := range inv.Hosts {
				got = append(got, row(h))
				if h.Source != tt.source {
					t.Errorf("%s: source %q, want %q", h.Name, h.Source, tt.source)
				}
			}
			if !reflect.DeepEqual(got, tt.hosts) {
				t.Errorf("hosts:\n got %v\nwant %v", got, tt.hosts)
			}
			if inv.Cloud != tt.cloud || inv.NetworkName != tt.network {
				t.Errorf("cloud %q network %q", inv.Cloud, inv.NetworkName)
			}
			if inv.BastionIP != "13.231.179.116" || inv.BastionPort != 22 || inv.BastionAddr() != "13.231.179.116:22" {
				t.Errorf("bastion %q %d", inv.BastionIP, inv.BastionPort)
			}
			if inv.UserName != "centos" || inv.InternalDomain != "internal.scalar-labs.com" || inv.NetworkCIDR != "10.42.0.0/16" {
				t.Errorf("user %q domain %q cidr %q", inv.UserName, inv.InternalDomain, inv.NetworkCIDR)
			}
			if !strings.HasPrefix(inv.PrivateKeyPath, "/") {
				t.Errorf("private key path %q", inv.PrivateKeyPath)
			}
			if len(inv.Roots) != 4 {
				t.Fatalf("roots %+v", inv.Roots)
			}
			note := ""
			for i, rs := range inv.Roots {
				if rs.Name != RootKinds[i] || !rs.Loaded || rs.Via != ViaFile {
					t.Errorf("root %d: %+v", i, rs)
				}
				note += rs.Message
			}
			if !strings.Contains(note, tt.wantNote) {
				t.Errorf("root messages %q lack %q", note, tt.wantNote)
			}
			if len(inv.Warnings) != 0 {
				t.Errorf("warnings: %q", inv.Warnings)
			}
			if inv.Endpoints.Prometheus != "monitor.internal.scalar-labs.com:9090" ||
				inv.Endpoints.Cassy != "cassy-1.internal.scalar-labs.com:20051" ||
				inv.Endpoints.Reaper != "reaper-1.internal.scalar-labs.com:8080" ||
				len(inv.Endpoints.EnvoyAdmin) != 3 || inv.Endpoints.EnvoyAdmin[0] != "envoy-1.internal.scalar-labs.com:9001" {
				t.Errorf("endpoints %+v", inv.Endpoints)
			}
			wantAdmin := len(inv.ByRole(RoleScalarDLBlue)) + len(inv.ByRole(RoleScalarDLGreen))
			if len(inv.Endpoints.ScalarDLAdmin) != wantAdmin || inv.Endpoints.ScalarDLAdmin[0] != "scalardl-blue-1.internal.scalar-labs.com:50053" {
				t.Errorf("admin endpoints %v", inv.Endpoints.ScalarDLAdmin)
			}
		})
	}
}

func TestLoadAWSDetails(t *testing.T) {
	inv, err := Load(context.Background(), Options{TFRoot: filepath.Join(fixtures, "aws")})
	if err != nil {
		t.Fatal(err)
	}
	h, ok := inv.Find("scalardl-blue-2")
	if !ok {
		t.Fatal("scalardl-blue-2 not found")
	}
	if h.Image != "ghcr.io/scalar-labs/scalar-ledger" || h.ImageTag != "2.1.0" || h.Index != 2 || h.Root != RootScalarDL ||
		!strings.HasPrefix(h.InstanceID, "i-0") || h.Short != "scalardl-blue-2" {
		t.Errorf("%+v", h)
	}
	if c, _ := inv.Find("10.42.2.11"); c.Short != "cassandra-2" || c.Image != "" {
		t.Errorf("find by IP: %+v", c)
	}
	if inv.Region != "ap-northeast-1" {
		t.Errorf("region %q", inv.Region)
	}
	for _, rs := range inv.Roots {
		if rs.TerraformVersion != "0.14.7" {
			t.Errorf("%+v", rs)
		}
	}
	if n := inv.Roots[1].Hosts; n != 5 {
		t.Errorf("cassandra root hosts = %d", n)
	}
}

// TFDirs in any order identify each root from its content.
func TestLoadTFDirsMatchesTFRoot(t *testing.T) {
	for _, name := range []string{"aws", "azure", "aws-ini-only", "aws-old"} {
		root := filepath.Join(fixtures, name)
		want, err := Load(context.Background(), Options{TFRoot: root})
		if err != nil {
			t.Fatal(err)
		}
		dirs := []string{"monitor", "scalardl", "network", "cassandra"}
		for i := range dirs {
			dirs[i] = filepath.Join(root, dirs[i])
		}
		got, err := Load(context.Background(), Options{TFDirs: dirs})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: TFDirs inventory differs:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

func TestLoadMissingRoots(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []string{"network", "cassandra"} {
		copyRoot(t, filepath.Join(fixtures, "aws", r), filepath.Join(dir, r))
	}
	if err := os.Mkdir(filepath.Join(dir, "scalardl"), 0o755); err != nil {
		t.Fatal(err)
	}
	inv, err := Load(context.Background(), Options{TFRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Hosts) != 7 {
		t.Errorf("%d hosts", len(inv.Hosts))
	}
	want := []struct {
		loaded bool
		msg    string
	}{{true, ""}, {true, ""}, {false, "no terraform.tfstate"}, {false, "no monitor/ directory"}}
	for i, rs := range inv.Roots {
		if rs.Loaded != want[i].loaded || !strings.Contains(rs.Message, want[i].msg) {
			t.Errorf("root %s: %+v", rs.Name, rs)
		}
	}
	if inv.Endpoints.Prometheus != "" || len(inv.Endpoints.EnvoyAdmin) != 0 {
		t.Errorf("endpoints %+v", inv.Endpoints)
	}
}

// Outputs may carry numbers as strings (map(string) tfvars); bastion_port too.
func TestLoadOutputShapes(t *testing.T) {
	dir := t.TempDir()
	copyRoot(t, filepath.Join(fixtures, "aws", "network"), filepath.Join(dir, "network"))
	path := filepath.Join(dir, "network", "terraform.tfstate")
	editOutputs(t, path, map[string]any{
		"bastion_port": map[string]any{"value": "2222", "type": "string"},
		"bastion_ip":   map[string]any{"value": "127.0.0.1", "type": "string"},
	})
	inv, err := Load(context.Background(), Options{TFDirs: []string{filepath.Join(dir, "network")}})
	if err != nil {
		t.Fatal(err)
	}
	if inv.BastionAddr() != "127.0.0.1:2222" {
		t.Errorf("bastion %s", inv.BastionAddr())
	}
	if b, _ := inv.Find("bastion-1"); b.PublicIP != "13.231.179.116" {
		t.Errorf("bastion-1 %+v", b)
	}
	for _, bad := range []any{"22x", 70000, []any{1}} {
		editOutputs(t, path, map[string]any{"bastion_port": map[string]any{"value": bad}})
		_, err := Load(context.Background(), Options{TFDirs: []string{filepath.Join(dir, "network")}})
		if err == nil || !strings.Contains(err.Error(), "bastion_port") || !strings.Contains(err.Error(), path) {
			t.Errorf("bastion_port %v: %v", bad, err)
		}
	}
}

func TestLoadBadInputs(t *testing.T) {
	bad := filepath.Join(fixtures, "bad")
	tests := []struct {
		name string
		opts Options
		path string   // the error must name it
		want []string // and say these
	}{
		{"missing dir", Options{TFRoot: filepath.Join(bad, "missing-dir")}, "missing-dir", []string{"cannot be read", "no such file"}},
		{"missing tf-dir", Options{TFDirs: []string{filepath.Join(bad, "missing-dir")}}, "missing-dir", []string{"cannot be read"}},
		{"no options", Options{}, "", []string{"no Terraform roots given"}},
		{"empty file", Options{TFDirs: []string{filepath.Join(bad, "empty-file")}}, "empty-file/terraform.tfstate", []string{"empty"}},
		{"not json", Options{TFDirs: []string{filepath.Join(bad, "not-json")}}, "not-json/terraform.tfstate", []string{"not a Terraform state", "<?xml"}},
		{"version 3", Options{TFDirs: []string{filepath.Join(bad, "version3")}}, "version3/terraform.tfstate", []string{"version 3", "only version 4"}},
		{"version 5", Options{TFDirs: []string{filepath.Join(bad, "version5")}}, "version5/terraform.tfstate", []string{"version 5", "only version 4"}},
		{"no content", Options{TFDirs: []string{filepath.Join(bad, "no-content")}}, "no-content/terraform.tfstate", []string{"no outputs and no resources"}},
		{"no network root", Options{TFRoot: filepath.Join(bad, "no-network")}, "no-network/network", []string{"network root is missing", "bastion"}},
		{"tf-dirs without network", Options{TFDirs: []string{filepath.Join(bad, "no-network", "cassandra")}}, "no-network/cassandra", []string{"none of the roots given is the network root"}},
		{"no bastion_ip", Options{TFRoot: filepath.Join(bad, "no-bastion-ip")}, "no-bastion-ip/network/terraform.tfstate", []string{"no bastion_ip output"}},
		{"dns mismatch", Options{TFRoot: filepath.Join(bad, "dns-mismatch")}, "dns-mismatch/cassandra/terraform.tfstate", []string{"module.cassandra.aws_route53_record.cassandra_dns[1]", "cassandra-2.internal.scalar-labs.com", "10.42.2.99", "no instance"}},
		{"duplicate hosts", Options{TFRoot: filepath.Join(bad, "duplicate-hosts")}, "duplicate-hosts/monitor/terraform.tfstate", []string{"defined twice", "cassandra-1.internal.scalar-labs.com", "duplicate-hosts/cassandra/terraform.tfstate"}},
		{"same root twice", Options{TFDirs: []string{filepath.Join(fixtures, "aws", "network"), filepath.Join(fixtures, "aws-old", "network")}}, "aws-old/network/terraform.tfstate", []string{"second network root"}},
		{"dir without state", Options{TFDirs: []string{filepath.Join(fixtures, "aws", "network"), filepath.Join(bad, "no-network")}}, "bad/no-network", []string{"no Terraform state here"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Load(context.Background(), tt.opts)
			if err == nil {
				t.Fatalf("no error; inventory %+v", inv)
			}
			var le *LoadError
			if !errors.As(err, &le) || !errors.Is(err, ErrBadState) {
				t.Errorf("error %T is no *LoadError / ErrBadState: %v", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, filepath.FromSlash(tt.path)) {
				t.Errorf("error does not name %s: %s", tt.path, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q: %s", w, msg)
				}
			}
		})
	}
}

func TestLoadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, Options{TFRoot: filepath.Join(fixtures, "aws")})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrBadState) {
		t.Errorf("err = %v", err)
	}
}

// A non-local backend in *.tf without a terraform binary is a clear error.
func TestLoadRemoteBackendNeedsTerraform(t *testing.T) {
	dir := t.TempDir()
	copyRoot(t, filepath.Join(fixtures, "aws", "network"), filepath.Join(dir, "network"))
	tf := "terraform {\n  backend \"s3\" {\n    bucket = \"example-scalar-tfstate\"\n    key    = \"network/terraform.tfstate\"\n    region = \"ap-northeast-1\"\n  }\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "network", "backend.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err := Load(context.Background(), Options{TFRoot: dir})
	if err == nil || !strings.Contains(err.Error(), `"s3" backend`) || !strings.Contains(err.Error(), "--terraform") {
		t.Errorf("err = %v", err)
	}
}

func TestParseINI(t *testing.T) {
	groups, vars := parseINI("# c\n[cassandra]\ncassandra-1.d ansible_host=1.2.3.4\n  cassandra-2.d\n[cassandra:vars]\nhost=cassandra\n[all:children]\ncassandra\n[x]\nk=v\n")
	if !reflect.DeepEqual(groups, map[string][]string{"cassandra": {"cassandra-1.d", "cassandra-2.d"}}) {
		t.Errorf("groups %v", groups)
	}
	if vars["cassandra"]["host"] != "cassandra" {
		t.Errorf("vars %v", vars)
	}
}

func TestParseHostName(t *testing.T) {
	for in, want := range map[string]string{
		"cassandra-1": "cassandra/1", "scalardl-green-12.internal.x.": "scalardl-green/12", "cassandra-lb": "",
		"scalardl": "", "monitor": "", "envoy-lb": "", "_node-exporter._tcp.cassandra": "", "db-1": "", "cassandra-0": "",
		"cassandra-+1": "", "-1": "", "cassandra-": "",
	} {
		_, role, idx, ok := parseHostName(in)
		got := ""
		if ok {
			got = fmt.Sprintf("%s/%d", role, idx)
		}
		if got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func copyRoot(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(from, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, "terraform.tfstate"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editOutputs(t *testing.T, path string, set map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	outs := st["outputs"].(map[string]any)
	for k, v := range set {
		outs[k] = v
	}
	b, _ = json.Marshal(st)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The Azure bastion's public IP comes from its azurerm_public_ip, joined
// through the NIC, not from the bastion_ip output.
func TestLoadAzurePublicIP(t *testing.T) {
	dir := t.TempDir()
	for _, r := range RootKinds {
		copyRoot(t, filepath.Join(fixtures, "azure", r), filepath.Join(dir, r))
	}
	editOutputs(t, filepath.Join(dir, "network", "terraform.tfstate"), map[string]any{"bastion_ip": map[string]any{"value": "127.0.0.1"}})
	inv, err := Load(context.Background(), Options{TFRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := inv.Find("bastion-1"); b.PublicIP != "13.231.179.116" || b.PrivateIP != "10.42.0.4" {
		t.Errorf("bastion-1 %+v", b)
	}
	if inv.BastionIP != "127.0.0.1" {
		t.Errorf("bastion ip %q", inv.BastionIP)
	}
}

// What the lab and the demo do: describe their own hosts with tfgen and load them.
func TestLoadGeneratedLabSpec(t *testing.T) {
	for _, cloud := range []string{"aws", "azure"} {
		dir := t.TempDir()
		spec := tfgen.Spec{
			Cloud: cloud, NetworkName: "lab-x1", Domain: "lab.internal", BastionIP: "127.0.0.1", BastionPort: 2222,
			User: "scalar", KeyPath: "/tmp/lab/id_ed25519",
			Hosts: []tfgen.Host{
				{Role: tfgen.RoleCassandra, Index: 1, IP: "10.231.2.2"},
				{Role: tfgen.RoleCassandra, Index: 2, IP: "10.231.2.3"},
				{Role: tfgen.RoleScalarDLBlue, Index: 1, IP: "10.231.3.2", ImageTag: "3.9.0"},
				{Role: tfgen.RoleScalarDLGreen, Index: 1, IP: "10.231.4.2", ImageTag: "3.10.0"},
				{Role: tfgen.RoleMonitor, Index: 1, IP: "10.231.1.5"},
			},
		}
		if err := tfgen.Write(dir, spec); err != nil {
			t.Fatal(err)
		}
		inv, err := Load(context.Background(), Options{TFRoot: dir})
		if err != nil {
			t.Fatalf("%s: %v", cloud, err)
		}
		var got []string
		for _, h := range inv.Hosts {
			got = append(got, h.Name+"="+h.PrivateIP+"/"+h.ImageTag)
		}
		want := "cassandra-1.lab.internal=10.231.2.2/ cassandra-2.lab.internal=10.231.2.3/ scalardl-blue-1.lab.internal=10.231.3.2/3.9.0 scalardl-green-1.lab.internal=10.231.4.2/3.10.0 monitor-1.lab.internal=10.231.1.5/"
		if strings.Join(got, " ") != want {
			t.Errorf("%s hosts:\n got %s\nwant %s", cloud, strings.Join(got, " "), want)
		}
		if inv.BastionAddr() != "127.0.0.1:2222" || inv.UserName != "scalar" || inv.PrivateKeyPath != "/tmp/lab/id_ed25519" ||
			inv.InternalDomain != "lab.internal" || inv.NetworkName != "lab-x1" || inv.Cloud != cloud {
			t.Errorf("%s: %+v", cloud, inv)
		}
		if inv.Endpoints.Prometheus != "monitor.lab.internal:9090" || len(inv.Endpoints.ScalarDLAdmin) != 2 || len(inv.Warnings) != 0 {
			t.Errorf("%s: endpoints %+v warnings %q", cloud, inv.Endpoints, inv.Warnings)
		}
	}
}

// A root folder holding another root's state is loaded but warned about.
func TestLoadMisplacedRootWarns(t *testing.T) {
	dir := t.TempDir()
	copyRoot(t, filepath.Join(fixtures, "aws", "network"), filepath.Join(dir, "network"))
	copyRoot(t, filepath.Join(fixtures, "aws", "monitor"), filepath.Join(dir, "scalardl"))
	inv, err := Load(context.Background(), Options{TFRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], "looks like the monitor root") {
		t.Errorf("warnings %q", inv.Warnings)
	}
}

func TestLoadBadTerraformBinary(t *testing.T) {
	for _, bin := range []string{"no-such-terraform-binary", "./no/such/terraform", fixtures} {
		_, err := Load(context.Background(), Options{TFRoot: filepath.Join(fixtures, "aws"), Terraform: bin})
		if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), bin) || !strings.Contains(err.Error(), "terraform binary") {
			t.Errorf("%s: %v", bin, err)
		}
	}
}

// Deposed objects are not hosts; tainted instances are, with a warning.
func TestLoadTaintedAndDeposed(t *testing.T) {
	dir := t.TempDir()
	for _, r := range RootKinds {
		copyRoot(t, filepath.Join(fixtures, "aws", r), filepath.Join(dir, r))
	}
	path := filepath.Join(dir, "cassandra", "terraform.tfstate")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st["resources"].([]any) {
		rm := r.(map[string]any)
		if rm["type"] == "aws_instance" && rm["module"] == "module.cassandra.module.cassandra_cluster" {
			insts := rm["instances"].([]any)
			insts[1].(map[string]any)["status"] = "tainted"
			old := map[string]any{"index_key": 0, "deposed": "a1b2c3d4", "schema_version": 1,
				"attributes": map[string]any{"id": "i-0old", "private_ip": "10.42.2.99", "availability_zone": "ap-northeast-1a"}}
			rm["instances"] = append(insts, old)
		}
	}
	b, _ = json.Marshal(st)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := Load(context.Background(), Options{TFRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Hosts) != 14 {
		t.Errorf("%d hosts", len(inv.Hosts))
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], "cassandra_cluster.aws_instance.this[1] is tainted") {
		t.Errorf("warnings %q", inv.Warnings)
	}
}
