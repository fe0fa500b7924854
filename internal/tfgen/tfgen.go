// Package tfgen writes Terraform state files (format version 4, as Terraform
// 0.14.7 writes them) that look like the four roots of a scalar-terraform
// deployment: network, cassandra, scalardl and monitor, with the module
// addresses, resource types and attributes scalar-terraform produces
// (aws_instance.this under module.<root>.module.<role>_cluster,
// aws_route53_record.<role>_dns, null_resource provisioning markers ...; or the
// Azure equivalents).
//
// It exists so that tests, the lab, the demo and the benchmarks can describe a
// deployment by its hosts and get states that inventory.Load reads exactly as it
// reads a real deployment's:
//
//	spec := tfgen.Default("aws")          // the scalar-terraform defaults
//	spec.BastionIP, spec.BastionPort = "127.0.0.1", 2222
//	err := tfgen.Write(dir, spec)         // dir/{network,cassandra,scalardl,monitor}/terraform.tfstate
//	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: dir})
//
// Output is deterministic: the same Spec gives the same bytes (ids, lineages
// and serials are derived from the spec, not random), so generated fixtures can
// be committed and diffed.
//
// It is support for tests, the lab, the demo and benchmarks; package inventory
// must not import it (its tests may). It imports nothing of scalar-tui, so any
// package can use it without an import cycle.
//
// Names that domain.md does not pin down are plausible inventions and are not
// read by inventory.Load: the SRV record resource names
// (<role>_node_exporter_dns_srv), most null_resource names, local_file, and the
// Azure NIC / public IP resource names.
package tfgen

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Roles a Host may have: the DNS name prefixes of scalar-terraform.
const (
	RoleBastion       = "bastion"
	RoleCassandra     = "cassandra"
	RoleCassy         = "cassy"
	RoleReaper        = "reaper"
	RoleScalarDLBlue  = "scalardl-blue"
	RoleScalarDLGreen = "scalardl-green"
	RoleEnvoy         = "envoy"
	RoleMonitor       = "monitor"
)

// Host is one machine to put in the state.
type Host struct {
	// Role is one of the Role* constants; it decides the root and module.
	Role string
	// Index is N in "<role>-N", 1-based.
	Index int
	// IP is the private IP (the DNS record's only address).
	IP string
	// PublicIP is set for bastions (AWS public_ip, Azure azurerm_public_ip).
	PublicIP string
	// Zone is the availability zone: "ap-northeast-1a" on AWS, "1" on Azure.
	// Empty: derived from Index.
	Zone string
	// Image and ImageTag are for Scalar DL hosts (the instance tags Image and
	// Tag on AWS; the colour's null_resource.scalardl_image trigger on Azure).
	// Empty: ghcr.io/scalar-labs/scalar-ledger and 2.1.0.
	Image    string
	ImageTag string
}

// Spec describes a deployment. Zero fields take scalar-terraform's defaults.
type Spec struct {
	// Cloud is "aws" (default) or "azure".
	Cloud string
	// NetworkName is the environment's name (network_name output), e.g.
	// "example-aws-0j5y83k".
	NetworkName string
	// Domain is the internal_domain output (default internal.scalar-labs.com).
	Domain string
	// BastionIP is the bastion_ip output. Empty: the first bastion host's
	// PublicIP. Set Omit["bastion_ip"] to leave the output out.
	BastionIP string
	// BastionPort, when not 0, adds the bastion_port output (a scalar-tui
	// extension used by the lab and the demo; scalar-terraform never writes it).
	BastionPort int
	// User is the user_name output (default "centos").
	User string
	// KeyPath is the private_key_path output (an absolute path in real states).
	KeyPath string
	// Region is the region output (default ap-northeast-1 / japaneast).
	Region string
	// NetworkCIDR is the network_cidr output (default 10.42.0.0/16).
	NetworkCIDR string
	// TerraformVersion is written as terraform_version (default 0.14.7).
	TerraformVersion string
	// Hosts are the machines. Their roles decide which roots get resources.
	Hosts []Host
	// INIOnly writes no resources, only outputs (inventory_ini included), as
	// when state was trimmed or resources live elsewhere.
	INIOnly bool
	// Old adds the cassandra_provision_ids and cassandra_start_on_initial_boot
	// outputs that states from before April 2021 carry.
	Old bool
	// Omit leaves out the named outputs (for broken fixtures), e.g. "bastion_ip".
	Omit map[string]bool
}

// Default returns the default scalar-terraform deployment on cloud ("aws" or
// "azure"): 2 bastions on AWS (1 on Azure), 3 cassandra, 1 cassy, 1 reaper,
// 3 scalardl-blue, no green, 3 envoy and 1 monitor, with IPs in the subnets
// scalar-terraform carves out of 10.42.0.0/16.
func Default(cloud string) Spec {
	s := Spec{Cloud: cloud, NetworkName: "example-aws-0j5y83k", KeyPath: "/home/scalar/scalar-terraform-examples/aws/network/example_key"}
	bastions := 2
	first := 10 // AWS hands out addresses from .4; these look like real ones
	if cloud == "azure" {
		s.NetworkName = "example-azure-k3t9xq2"
		s.KeyPath = "/home/scalar/scalar-terraform-examples/azure/network/example_key"
		bastions = 1
		first = 4 // Azure's first usable address in a subnet
	}
	add := func(role string, n int, subnet string, publicBase string) {
		for i := 1; i <= n; i++ {
			h := Host{Role: role, Index: i, IP: fmt.Sprintf("%s.%d", subnet, first+i-1)}
			if publicBase != "" {
				h.PublicIP = fmt.Sprintf("%s.%d", publicBase, 115+i)
			}
			s.Hosts = append(s.Hosts, h)
		}
	}
	add(RoleBastion, bastions, "10.42.0", "13.231.179")
	add(RoleCassandra, 3, "10.42.2", "")
	s.Hosts = append(s.Hosts,
		Host{Role: RoleCassy, Index: 1, IP: fmt.Sprintf("10.42.2.%d", first+10)},
		Host{Role: RoleReaper, Index: 1, IP: fmt.Sprintf("10.42.2.%d", first+11)})
	add(RoleScalarDLBlue, 3, "10.42.3", "")
	add(RoleEnvoy, 3, "10.42.1", "")
	s.Hosts = append(s.Hosts, Host{Role: RoleMonitor, Index: 1, IP: fmt.Sprintf("10.42.1.%d", first+10)})
	return s
}

// WithGreen adds n scalardl-green hosts (10.42.4.x) running tag, as in the
// middle of a blue/green deployment.
func (s Spec) WithGreen(n int, tag string) Spec {
	s.Hosts = append([]Host(nil), s.Hosts...)
	for i := 1; i <= n; i++ {
		s.Hosts = append(s.Hosts, Host{Role: RoleScalarDLGreen, Index: i, IP: fmt.Sprintf("10.42.4.%d", 9+i), ImageTag: tag})
	}
	return s
}

// Large returns an AWS deployment of n hosts (n >= 10) for benchmarks:
// 2 bastions, 1 cassy, 1 reaper, 3 envoy, 1 monitor, and the rest split
// between cassandra and scalardl-blue. Addresses run through 10.42.16.0/20 and
// up, one /24 per 250 hosts, so any n up to ~60,000 gets unique IPs.
func Large(n int) Spec {
	s := Default("aws")
	s.NetworkName = "bench-aws-" + strconv.Itoa(n)
	s.Hosts = nil
	ip := 0
	next := func() string {
		v := fmt.Sprintf("10.42.%d.%d", 16+ip/250, 4+ip%250)
		ip++
		return v
	}
	fixed := []struct {
		role string
		n    int
	}{{RoleBastion, 2}, {RoleCassy, 1}, {RoleReaper, 1}, {RoleEnvoy, 3}, {RoleMonitor, 1}}
	rest := n
	for _, f := range fixed {
		rest -= f.n
		for i := 1; i <= f.n; i++ {
			h := Host{Role: f.role, Index: i, IP: next()}
			if f.role == RoleBastion {
				h.PublicIP = fmt.Sprintf("13.231.179.%d", 115+i)
			}
			s.Hosts = append(s.Hosts, h)
		}
	}
	for i := 1; i <= rest/2; i++ {
		s.Hosts = append(s.Hosts, Host{Role: RoleCassandra, Index: i, IP: next()})
	}
	for i := 1; i <= rest-rest/2; i++ {
		s.Hosts = append(s.Hosts, Host{Role: RoleScalarDLBlue, Index: i, IP: next()})
	}
	return s
}

// RootNames are the roots Write produces, in apply order.
var RootNames = []string{"network", "cassandra", "scalardl", "monitor"}

// Write writes dir/{network,cassandra,scalardl,monitor}/terraform.tfstate for s,
// creating the directories (0755) and the files (0644).
func Write(dir string, s Spec) error {
	states, err := States(s)
	if err != nil {
		return err
	}
	for _, root := range RootNames {
		d := filepath.Join(dir, root)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("tfgen: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, "terraform.tfstate"), states[root], 0o644); err != nil {
			return fmt.Errorf("tfgen: %w", err)
		}
	}
	return nil
}

// States returns the four roots' terraform.tfstate contents, keyed by root name.
func States(s Spec) (map[string][]byte, error) {
	g, err := newGen(s)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, root := range RootNames {
		b, err := g.state(root)
		if err != nil {
			return nil, err
		}
		out[root] = b
	}
	return out, nil
}

// ---- generation ----

type gen struct {
	s     Spec
	azure bool
	seed  []byte
}

func newGen(s Spec) (*gen, error) {
	if s.Cloud == "" {
		s.Cloud = "aws"
	}
	if s.Cloud != "aws" && s.Cloud != "azure" {
		return nil, fmt.Errorf("tfgen: cloud %q: want aws or azure", s.Cloud)
	}
	az := s.Cloud == "azure"
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&s.NetworkName, "example-"+s.Cloud+"-0j5y83k")
	def(&s.Domain, "internal.scalar-labs.com")
	def(&s.User, "centos")
	def(&s.KeyPath, "/home/scalar/example_key")
	def(&s.NetworkCIDR, "10.42.0.0/16")
	def(&s.TerraformVersion, "0.14.7")
	if az {
		def(&s.Region, "japaneast")
	} else {
		def(&s.Region, "ap-northeast-1")
	}
	seen := map[string]bool{}
	for i := range s.Hosts {
		h := &s.Hosts[i]
		if rootOf(h.Role) == "" {
			return nil, fmt.Errorf("tfgen: host %d: unknown role %q", i, h.Role)
		}
		if h.Index < 1 {
			return nil, fmt.Errorf("tfgen: host %s-%d: index must be >= 1", h.Role, h.Index)
		}
		if h.IP == "" {
			return nil, fmt.Errorf("tfgen: host %s-%d: no IP", h.Role, h.Index)
		}
		name := h.Role + "-" + strconv.Itoa(h.Index)
		if seen[name] {
			return nil, fmt.Errorf("tfgen: host %s given twice", name)
		}
		seen[name] = true
		if h.Zone == "" {
			h.Zone = zoneFor(s.Cloud, s.Region, h.Index)
		}
		if h.Role == RoleScalarDLBlue || h.Role == RoleScalarDLGreen {
			def(&h.Image, "ghcr.io/scalar-labs/scalar-ledger")
			def(&h.ImageTag, "2.1.0")
		}
	}
	// Resources are written per role in index order, as count instances are.
	s.Hosts = append([]Host(nil), s.Hosts...)
	sort.SliceStable(s.Hosts, func(i, j int) bool {
		if s.Hosts[i].Role != s.Hosts[j].Role {
			return s.Hosts[i].Role < s.Hosts[j].Role
		}
		return s.Hosts[i].Index < s.Hosts[j].Index
	})
	if s.BastionIP == "" {
		for _, h := range s.Hosts {
			if h.Role == RoleBastion && h.Index == 1 {
				s.BastionIP = h.PublicIP
			}
		}
	}
	if s.BastionIP == "" && !s.Omit["bastion_ip"] {
		return nil, errors.New("tfgen: no BastionIP and no bastion-1 host with a PublicIP")
	}
	sum := sha256.Sum256([]byte(s.Cloud + "/" + s.NetworkName))
	return &gen{s: s, azure: az, seed: sum[:]}, nil
}

func zoneFor(cloud, region string, index int) string {
	if cloud == "azure" {
		return strconv.Itoa((index-1)%3 + 1)
	}
	return region + string("acd"[(index-1)%3])
}

func rootOf(role string) string {
	switch role {
	case RoleBastion:
		return "network"
	case RoleCassandra, RoleCassy, RoleReaper:
		return "cassandra"
	case RoleScalarDLBlue, RoleScalarDLGreen, RoleEnvoy:
		return "scalardl"
	case RoleMonitor:
		return "monitor"
	}
	return ""
}

// num returns a deterministic pseudo-random number for key.
func (g *gen) num(key string) uint64 {
	h := sha256.Sum256(append(append([]byte{}, g.seed...), key...))
	return binary.BigEndian.Uint64(h[:8])
}

func (g *gen) hex(key string, n int) string {
	s := ""
	for i := 0; len(s) < n; i++ {
		s += fmt.Sprintf("%016x", g.num(key+"#"+strconv.Itoa(i)))
	}
	return s[:n]
}

// nullID is a null_resource id: a decimal number as a string.
func (g *gen) nullID(key string) string {
	return strconv.FormatUint(g.num(key)>>1, 10)
}

func (g *gen) uuid(key string) string {
	h := g.hex(key, 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (g *gen) hosts(role string) []Host {
	var out []Host
	for _, h := range g.s.Hosts {
		if h.Role == role {
			out = append(out, h)
		}
	}
	return out
}

func (g *gen) fqdn(h Host) string {
	return h.Role + "-" + strconv.Itoa(h.Index) + "." + g.s.Domain
}

// ---- state JSON shape ----

type stateFile struct {
	Version          int               `json:"version"`
	TerraformVersion string            `json:"terraform_version"`
	Serial           int               `json:"serial"`
	Lineage          string            `json:"lineage"`
	Outputs          map[string]output `json:"outputs"`
	Resources        []*resource       `json:"resources"`
}

type output struct {
	Value     any  `json:"value"`
	Type      any  `json:"type"`
	Sensitive bool `json:"sensitive,omitempty"`
}

type resource struct {
	Module    string      `json:"module,omitempty"`
	Mode      string      `json:"mode"`
	Type      string      `json:"type"`
	Name      string      `json:"name"`
	Provider  string      `json:"provider"`
	Instances []*instance `json:"instances"`
}

type instance struct {
	IndexKey            any      `json:"index_key,omitempty"`
	SchemaVersion       int      `json:"schema_version"`
	Attributes          any      `json:"attributes"`
	SensitiveAttributes []any    `json:"sensitive_attributes"`
	Private             string   `json:"private,omitempty"`
	Dependencies        []string `json:"dependencies,omitempty"`
}

type builder struct {
	res   map[string]*resource
	order []string
}

func (b *builder) add(module, mode, typ, name, provider string, idx any, schema int, attrs map[string]any, deps ...string) {
	key := module + "|" + mode + "|" + typ + "|" + name
	r, ok := b.res[key]
	if !ok {
		r = &resource{Module: module, Mode: mode, Type: typ, Name: name, Provider: provider}
		if b.res == nil {
			b.res = map[string]*resource{}
		}
		b.res[key] = r
		b.order = append(b.order, key)
	}
	in := &instance{IndexKey: idx, SchemaVersion: schema, Attributes: attrs, SensitiveAttributes: []any{}, Dependencies: deps}
	if typ == "aws_instance" {
		in.Private = "eyJlMmJmYjczMC1lY2FhLTExZTYtOGY4OC0zNDM2M2JjN2M0YzAiOnsiY3JlYXRlIjo2MDAwMDAwMDAwMDAsImRlbGV0ZSI6MTIwMDAwMDAwMDAwMCwidXBkYXRlIjo2MDAwMDAwMDAwMDB9LCJzY2hlbWFfdmVyc2lvbiI6IjEifQ=="
	}
	r.Instances = append(r.Instances, in)
}

func (b *builder) list() []*resource {
	out := make([]*resource, 0, len(b.order))
	for _, k := range b.order {
		out = append(out, b.res[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, c := out[i], out[j]
		if a.Module != c.Module {
			return a.Module < c.Module
		}
		if a.Mode != c.Mode {
			return a.Mode > c.Mode // managed before data, as Terraform writes them
		}
		if a.Type != c.Type {
			return a.Type < c.Type
		}
		return a.Name < c.Name
	})
	return out
}

const (
	provAWS     = `provider["registry.terraform.io/hashicorp/aws"]`
	provAzure   = `provider["registry.terraform.io/hashicorp/azurerm"]`
	provNull    = `provider["registry.terraform.io/hashicorp/null"]`
	provRandom  = `provider["registry.terraform.io/hashicorp/random"]`
	provLocal   = `provider["registry.terraform.io/hashicorp/local"]`
	provBuiltin = `provider["terraform.io/builtin/terraform"]`
)

func str(v string) output               { return output{Value: v, Type: "string"} }
func number(v int) output               { return output{Value: v, Type: "number"} }
func strList(v []string) output         { return output{Value: v, Type: []any{"list", "string"}} }
func strMap(v map[string]string) output { return output{Value: v, Type: []any{"map", "string"}} }

func (g *gen) state(root string) ([]byte, error) {
	outputs := map[string]output{}
	var b builder
	switch root {
	case "network":
		g.network(outputs, &b)
	case "cassandra":
		g.cassandra(outputs, &b)
	case "scalardl":
		g.scalardl(outputs, &b)
	case "monitor":
		g.monitor(outputs, &b)
	}
	for k := range g.s.Omit {
		delete(outputs, k)
	}
	st := stateFile{
		Version: 4, TerraformVersion: g.s.TerraformVersion,
		Serial:  int(g.num("serial/"+root)%90) + 8,
		Lineage: g.uuid("lineage/" + root),
		Outputs: outputs, Resources: []*resource{},
	}
	if !g.s.INIOnly {
		st.Resources = b.list()
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("tfgen: %s: %w", root, err)
	}
	return append(data, '\n'), nil
}

// ---- per-role resources ----

type roleShape struct {
	instModule string // module path of aws_instance.this / azurerm_virtual_machine.vm-linux
	dnsModule  string
	dnsName    string // aws_route53_record.<dnsName> / azurerm_private_dns_a_record.<dnsName>
	awsType    string
	azureSize  string
	roleTag    string
	nameTag    string // fmt with network name, host index
}

func (g *gen) shape(role string) roleShape {
	switch role {
	case RoleBastion:
		return roleShape{"module.network.module.bastion.module.bastion_cluster", "module.network.module.bastion", "bastion_dns", "t3.micro", "Standard_B2s", "bastion", "%s Bastion-%d"}
	case RoleCassandra:
		return roleShape{"module.cassandra.module.cassandra_cluster", "module.cassandra", "cassandra_dns", "t3.large", "Standard_E2s_v3", "cassandra", "%s Cassandra Cluster-%d"}
	case RoleCassy:
		return roleShape{"module.cassandra.module.cassy_cluster", "module.cassandra", "cassy_dns", "t3.medium", "Standard_B2s", "cassy", "%s Cassy-%d"}
	case RoleReaper:
		return roleShape{"module.cassandra.module.reaper_cluster", "module.cassandra", "reaper_dns", "t3.medium", "Standard_B2s", "reaper", "%s Reaper-%d"}
	case RoleScalarDLBlue, RoleScalarDLGreen:
		colour := strings.TrimPrefix(role, "scalardl-")
		sub := "scalardl_cluster"
		if g.azure {
			sub = "cluster"
		}
		return roleShape{"module.scalardl.module.scalardl_" + colour + ".module." + sub, "module.scalardl", "scalardl_" + colour + "_dns", "t3.medium", "Standard_B2s", "scalardl", "%s ScalarDL %s " + colour + "-%d"}
	case RoleEnvoy:
		return roleShape{"module.scalardl.module.envoy_cluster", "module.scalardl", "envoy_dns", "t3.medium", "Standard_B2s", "envoy", "%s Envoy-%d"}
	default:
		return roleShape{"module.monitor.module.monitor_cluster", "module.monitor", "monitor_host_dns", "t3.small", "Standard_B2s", "monitor", "%s Monitor-%d"}
	}
}

func (g *gen) zoneID() string { return "Z0" + strings.ToUpper(g.hex("zone", 19)) }

func (g *gen) subnetID(role string, idx int) string {
	if g.azure {
		return "/subscriptions/" + g.uuid("sub") + "/resourceGroups/" + g.s.NetworkName + "/providers/Microsoft.Network/virtualNetworks/" + g.s.NetworkName + "/subnets/" + role
	}
	return "subnet-" + g.hex("subnet/"+role+strconv.Itoa((idx-1)%3), 17)
}

// machines adds the instances and A records of role.
func (g *gen) machines(role string, b *builder) {
	hosts := g.hosts(role)
	sh := g.shape(role)
	for i, h := range hosts {
		name := h.Role + "-" + strconv.Itoa(h.Index)
		var nameTag string
		if h.Role == RoleScalarDLBlue || h.Role == RoleScalarDLGreen {
			nameTag = fmt.Sprintf(sh.nameTag, g.s.NetworkName, h.ImageTag, h.Index)
		} else {
			nameTag = fmt.Sprintf(sh.nameTag, g.s.NetworkName, h.Index)
		}
		tags := map[string]any{"Name": nameTag, "Role": sh.roleTag, "Network": g.s.NetworkName, "Terraform": "true"}
		if g.azure {
			g.azureVM(sh, h, i, name, b)
		} else {
			if h.Image != "" {
				tags["Image"] = h.Image
				tags["Tag"] = h.ImageTag
			}
			g.awsInstance(sh, h, i, tags, b)
		}
		g.aRecord(sh.dnsModule, sh.dnsName, i, name, []string{h.IP}, b)
		// SRV for node exporter: present so readers learn to skip it.
		if i == 0 {
			var targets []string
			for _, o := range hosts {
				targets = append(targets, "0 0 9100 "+g.fqdn(o)+".")
			}
			g.srvRecord(sh.dnsModule, strings.ReplaceAll(sh.dnsName, "_dns", "_node_exporter_dns_srv"), "_node-exporter._tcp."+h.Role, targets, b)
		}
	}
}

func (g *gen) awsInstance(sh roleShape, h Host, i int, tags map[string]any, b *builder) {
	id := "i-0" + g.hex("instance/"+h.Role+strconv.Itoa(h.Index), 16)
	public := any(nil)
	publicDNS := ""
	if h.PublicIP != "" {
		public = h.PublicIP
		publicDNS = "ec2-" + strings.ReplaceAll(h.PublicIP, ".", "-") + "." + g.s.Region + ".compute.amazonaws.com"
	}
	attrs := map[string]any{
		"ami":                                  "ami-0d9d854feeddeef21",
		"arn":                                  "arn:aws:ec2:" + g.s.Region + ":123456789012:instance/" + id,
		"associate_public_ip_address":          h.PublicIP != "",
		"availability_zone":                    h.Zone,
		"cpu_core_count":                       1,
		"cpu_threads_per_core":                 2,
		"disable_api_termination":              false,
		"ebs_block_device":                     []any{},
		"ebs_optimized":                        false,
		"ephemeral_block_device":               []any{},
		"get_password_data":                    false,
		"hibernation":                          false,
		"host_id":                              nil,
		"iam_instance_profile":                 "",
		"id":                                   id,
		"instance_initiated_shutdown_behavior": nil,
		"instance_state":                       "running",
		"instance_type":                        sh.awsType,
		"ipv6_address_count":                   0,
		"ipv6_addresses":                       []any{},
		"key_name":                             g.s.NetworkName + "-key",
		"metadata_options":                     []any{map[string]any{"http_endpoint": "enabled", "http_put_response_hop_limit": 1, "http_tokens": "optional"}},
		"monitoring":                           false,
		"network_interface":                    []any{},
		"outpost_arn":                          "",
		"password_data":                        "",
		"placement_group":                      "",
		"primary_network_interface_id":         "eni-0" + g.hex("eni/"+h.Role+strconv.Itoa(h.Index), 16),
		"private_dns":                          "ip-" + strings.ReplaceAll(h.IP, ".", "-") + "." + g.s.Region + ".compute.internal",
		"private_ip":                           h.IP,
		"public_dns":                           publicDNS,
		"public_ip":                            public,
		"root_block_device": []any{map[string]any{
			"delete_on_termination": true, "device_name": "/dev/sda1", "encrypted": false, "iops": 100,
			"kms_key_id": "", "volume_id": "vol-0" + g.hex("vol/"+h.Role+strconv.Itoa(h.Index), 16), "volume_size": 64, "volume_type": "gp2",
		}},
		"secondary_private_ips":  []any{},
		"security_groups":        []any{},
		"source_dest_check":      true,
		"subnet_id":              g.subnetID(h.Role, h.Index),
		"tags":                   tags,
		"tenancy":                "default",
		"timeouts":               nil,
		"user_data":              g.hex("userdata/"+h.Role, 40),
		"user_data_base64":       nil,
		"volume_tags":            map[string]any{"Name": tags["Name"]},
		"vpc_security_group_ids": []any{"sg-0" + g.hex("sg/"+h.Role, 16)},
	}
	if h.Role == RoleBastion {
		attrs["source_dest_check"] = true
	}
	if public == nil {
		attrs["public_ip"] = ""
	}
	b.add(sh.instModule, "managed", "aws_instance", "this", provAWS, i, 1, attrs)
}

func (g *gen) azureVM(sh roleShape, h Host, i int, name string, b *builder) {
	sub := g.uuid("sub")
	rg := "/subscriptions/" + sub + "/resourceGroups/" + g.s.NetworkName
	nicID := rg + "/providers/Microsoft.Network/networkInterfaces/nic-" + name + "-0"
	ipcfg := map[string]any{
		"name": "ipconfig" + strconv.Itoa(i), "primary": true, "private_ip_address": h.IP,
		"private_ip_address_allocation": "Dynamic", "private_ip_address_version": "IPv4",
		"public_ip_address_id": "", "subnet_id": g.subnetID(strings.Split(h.Role, "-")[0], h.Index),
	}
	if h.PublicIP != "" {
		pipID := rg + "/providers/Microsoft.Network/publicIPAddresses/" + strings.Split(name, "-")[0] + "-" + strconv.Itoa(i) + "-publicIP"
		ipcfg["public_ip_address_id"] = pipID
		b.add(sh.instModule, "managed", "azurerm_public_ip", "vm", provAzure, i, 0, map[string]any{
			"allocation_method": "Static", "domain_name_label": nil, "fqdn": "", "id": pipID,
			"idle_timeout_in_minutes": 4, "ip_address": h.PublicIP, "ip_version": "IPv4",
			"location": g.s.Region, "name": strings.Split(name, "-")[0] + "-" + strconv.Itoa(i) + "-publicIP",
			"resource_group_name": g.s.NetworkName, "sku": "Basic", "tags": map[string]any{"source": "terraform"}, "zones": []any{},
		})
	}
	b.add(sh.instModule, "managed", "azurerm_network_interface", "vm", provAzure, i, 0, map[string]any{
		"applied_dns_servers": []any{}, "dns_servers": []any{}, "enable_accelerated_networking": false,
		"enable_ip_forwarding": false, "id": nicID, "internal_dns_name_label": "", "internal_domain_name_suffix": g.hex("dns", 26) + ".lx.internal.cloudapp.net",
		"ip_configuration": []any{ipcfg}, "location": g.s.Region, "mac_address": "00-0D-3A-" + strings.ToUpper(g.hex("mac/"+name, 2)) + "-" + strings.ToUpper(g.hex("mac2/"+name, 2)) + "-" + strings.ToUpper(g.hex("mac3/"+name, 2)),
		"name": "nic-" + name + "-0", "private_ip_address": h.IP, "private_ip_addresses": []any{h.IP},
		"resource_group_name": g.s.NetworkName, "tags": map[string]any{"source": "terraform"}, "virtual_machine_id": rg + "/providers/Microsoft.Compute/virtualMachines/" + name,
	})
	b.add(sh.instModule, "managed", "azurerm_virtual_machine", "vm-linux", provAzure, i, 0, map[string]any{
		"additional_capabilities": []any{}, "availability_set_id": "", "boot_diagnostics": []any{},
		"delete_data_disks_on_termination": false, "delete_os_disk_on_termination": true,
		"id": rg + "/providers/Microsoft.Compute/virtualMachines/" + name, "identity": []any{},
		"license_type": "", "location": g.s.Region, "name": name,
		"network_interface_ids":   []any{nicID},
		"os_profile":              []any{map[string]any{"admin_password": "", "admin_username": g.s.User, "computer_name": name, "custom_data": ""}},
		"os_profile_linux_config": []any{map[string]any{"disable_password_authentication": true, "ssh_keys": []any{map[string]any{"key_data": "ssh-rsa AAAA...", "path": "/home/" + g.s.User + "/.ssh/authorized_keys"}}}},
		"plan":                    []any{}, "primary_network_interface_id": "", "proximity_placement_group_id": "",
		"resource_group_name":     g.s.NetworkName,
		"storage_image_reference": []any{map[string]any{"id": "", "offer": "CentOS", "publisher": "OpenLogic", "sku": "8_2", "version": "latest"}},
		"storage_os_disk":         []any{map[string]any{"caching": "ReadWrite", "create_option": "FromImage", "disk_size_gb": 64, "managed_disk_id": rg + "/providers/Microsoft.Compute/disks/osdisk-" + name + "-0", "managed_disk_type": "StandardSSD_LRS", "name": "osdisk-" + name + "-0", "os_type": "Linux"}},
		"tags":                    map[string]any{"source": "terraform"},
		"vm_size":                 sh.azureSize,
		"zones":                   []any{h.Zone},
	})
}

func (g *gen) aRecord(module, resName string, idx any, name string, ips []string, b *builder) {
	if g.azure {
		b.add(module, "managed", "azurerm_private_dns_a_record", resName, provAzure, idx, 0, map[string]any{
			"fqdn": name + "." + g.s.Domain + ".", "id": "/subscriptions/" + g.uuid("sub") + "/resourceGroups/" + g.s.NetworkName + "/providers/Microsoft.Network/privateDnsZones/" + g.s.Domain + "/A/" + name,
			"name": name, "records": ips, "resource_group_name": g.s.NetworkName, "tags": map[string]any{}, "ttl": 300, "zone_name": g.s.Domain,
		})
		return
	}
	b.add(module, "managed", "aws_route53_record", resName, provAWS, idx, 2, map[string]any{
		"alias": []any{}, "allow_overwrite": nil, "failover_routing_policy": []any{}, "fqdn": name + "." + g.s.Domain,
		"geolocation_routing_policy": []any{}, "health_check_id": "", "id": g.zoneID() + "_" + name + "_A",
		"latency_routing_policy": []any{}, "multivalue_answer_routing_policy": nil, "name": name, "records": ips,
		"set_identifier": "", "ttl": 300, "type": "A", "weighted_routing_policy": []any{}, "zone_id": g.zoneID(),
	})
}

func (g *gen) srvRecord(module, resName, name string, targets []string, b *builder) {
	if g.azure {
		var recs []any
		for _, t := range targets {
			f := strings.Fields(t)
			recs = append(recs, map[string]any{"port": f[2], "priority": 0, "target": f[3], "weight": 0})
		}
		b.add(module, "managed", "azurerm_private_dns_srv_record", resName, provAzure, nil, 0, map[string]any{
			"fqdn": name + "." + g.s.Domain + ".", "name": name, "record": recs, "resource_group_name": g.s.NetworkName, "ttl": 300, "zone_name": g.s.Domain,
		})
		return
	}
	b.add(module, "managed", "aws_route53_record", resName, provAWS, nil, 2, map[string]any{
		"alias": []any{}, "allow_overwrite": nil, "failover_routing_policy": []any{}, "fqdn": name + "." + g.s.Domain,
		"geolocation_routing_policy": []any{}, "health_check_id": "", "id": g.zoneID() + "_" + name + "_SRV",
		"latency_routing_policy": []any{}, "multivalue_answer_routing_policy": nil, "name": name, "records": targets,
		"set_identifier": "", "ttl": 300, "type": "SRV", "weighted_routing_policy": []any{}, "zone_id": g.zoneID(),
	})
}

func (g *gen) nullResource(module, name string, idx any, triggers map[string]any, b *builder) {
	b.add(module, "managed", "null_resource", name, provNull, idx, 0, map[string]any{
		"id": g.nullID(module + "/" + name + fmt.Sprint(idx)), "triggers": triggers,
	})
}

func (g *gen) ips(role string) []string {
	var out []string
	for _, h := range g.hosts(role) {
		out = append(out, h.IP)
	}
	return out
}

func (g *gen) names(role string) []string {
	var out []string
	for _, h := range g.hosts(role) {
		out = append(out, g.fqdn(h))
	}
	return out
}

func (g *gen) ini(groups []string, vars map[string]string) string {
	var b strings.Builder
	for _, grp := range groups {
		b.WriteString("[" + grp + "]\n")
		if grp == RoleBastion {
			for _, h := range g.hosts(RoleBastion) {
				if h.PublicIP != "" {
					b.WriteString(h.PublicIP + "\n")
				}
			}
		} else {
			roles := []string{grp}
			if grp == "scalardl" {
				roles = []string{RoleScalarDLBlue, RoleScalarDLGreen}
			}
			for _, r := range roles {
				for _, n := range g.names(r) {
					b.WriteString(n + "\n")
				}
			}
		}
		b.WriteString("\n[" + grp + ":vars]\nhost=" + grp + "\n")
		for _, k := range []string{"base", "cloud_provider"} {
			b.WriteString(k + "=" + vars[k] + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("[all:vars]\n")
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + "=" + vars[k] + "\n")
	}
	return b.String()
}

func (g *gen) iniVars() map[string]string {
	return map[string]string{"internal_domain": g.s.Domain, "base": "default", "cloud_provider": g.s.Cloud, "ansible_user": g.s.User}
}

func (g *gen) remoteState(name string, idx any, b *builder) {
	b.add("", "data", "terraform_remote_state", name, provBuiltin, idx, 0, map[string]any{
		"backend":   "local",
		"config":    map[string]any{"value": map[string]any{"path": "../" + name + "/terraform.tfstate"}, "type": []any{"object", map[string]any{"path": "string"}}},
		"defaults":  nil,
		"outputs":   map[string]any{"value": map[string]any{}, "type": []any{"object", map[string]any{}}},
		"workspace": nil,
	})
}

func (g *gen) network(out map[string]output, b *builder) {
	s := g.s
	locs := []string{zoneFor(s.Cloud, s.Region, 1), zoneFor(s.Cloud, s.Region, 2), zoneFor(s.Cloud, s.Region, 3)}
	if g.azure {
		locs = []string{"1", "2", "3"}
	}
	subnets := map[string]any{}
	for _, k := range []string{"public", "private", "cassandra", "scalardl_blue", "scalardl_green", "pulsar", "kubernetes"} {
		subnets[k] = []string{g.subnetID(k, 1), g.subnetID(k, 2), g.subnetID(k, 3)}
	}
	provID := g.nullID("bastion_provision")
	out["bastion_ip"] = str(s.BastionIP)
	out["network_cidr"] = str(s.NetworkCIDR)
	out["network_name"] = str(s.NetworkName)
	out["network_id"] = str("vpc-0" + g.hex("vpc", 16))
	out["subnet_map"] = output{Value: subnets, Type: []any{"object", map[string]any{"cassandra": []any{"list", "string"}, "kubernetes": []any{"list", "string"}, "private": []any{"list", "string"}, "public": []any{"list", "string"}, "pulsar": []any{"list", "string"}, "scalardl_blue": []any{"list", "string"}, "scalardl_green": []any{"list", "string"}}}}
	out["image_id"] = str("ami-0d9d854feeddeef21")
	out["bastion_provision_id"] = str(provID)
	out["region"] = str(s.Region)
	out["locations"] = strList(locs)
	out["user_name"] = str(s.User)
	out["private_key_path"] = str(s.KeyPath)
	out["ssh_config"] = str("Host *\nUser " + s.User + "\nUserKnownHostsFile /dev/null\nStrictHostKeyChecking no\n\nHost bastion\nHostName " + s.BastionIP + "\nLocalForward 8000 monitor." + s.Domain + ":80\n\nHost *." + s.Domain + "\nProxyCommand ssh -F ssh.cfg bastion -W %h:%p\n")
	out["internal_domain"] = str(s.Domain)
	out["custom_tags"] = strMap(map[string]string{})
	out["inventory_ini"] = str(g.ini([]string{RoleBastion}, g.iniVars()))
	if g.azure {
		out["dns_zone_id"] = str("/subscriptions/" + g.uuid("sub") + "/resourceGroups/" + s.NetworkName + "/providers/Microsoft.Network/privateDnsZones/" + s.Domain)
		out["image_id"] = str("CentOS")
		out["vm_os_publisher"] = str("OpenLogic")
		out["vm_os_offer"] = str("CentOS")
		out["vm_os_sku"] = str("8_2")
		out["public_key_path"] = str(s.KeyPath + ".pub")
	} else {
		out["bastion_security_group_id"] = str("sg-0" + g.hex("sg/bastion-access", 16))
		out["network_dns"] = str(g.zoneID())
		out["key_name"] = str(s.NetworkName + "-key")
	}
	if s.BastionPort != 0 {
		out["bastion_port"] = number(s.BastionPort)
	}

	b.add("module.network.module.name_generator", "managed", "random_string", "name", provRandom, nil, 1, map[string]any{
		"id": s.NetworkName[strings.LastIndex(s.NetworkName, "-")+1:], "keepers": nil, "length": 7, "lower": true,
		"min_lower": 0, "min_numeric": 0, "min_special": 0, "min_upper": 0, "number": true, "override_special": "-_",
		"result": s.NetworkName[strings.LastIndex(s.NetworkName, "-")+1:], "special": true, "upper": false,
	})
	if g.azure {
		b.add("module.network", "managed", "azurerm_private_dns_zone", "dns", provAzure, nil, 0, map[string]any{
			"id":   "/subscriptions/" + g.uuid("sub") + "/resourceGroups/" + s.NetworkName + "/providers/Microsoft.Network/privateDnsZones/" + s.Domain,
			"name": s.Domain, "resource_group_name": s.NetworkName, "number_of_record_sets": len(s.Hosts) + 1, "tags": map[string]any{},
		})
	} else {
		b.add("module.network", "managed", "aws_route53_zone", "private", provAWS, nil, 0, map[string]any{
			"comment": "Managed by Terraform", "delegation_set_id": "", "force_destroy": false, "id": g.zoneID(), "name": s.Domain,
			"name_servers": []any{"ns-0.awsdns-00.com.", "ns-1024.awsdns-00.org.", "ns-1536.awsdns-00.co.uk.", "ns-512.awsdns-00.net."},
			"tags":         map[string]any{"Network": s.NetworkName, "Terraform": "true"}, "vpc": []any{map[string]any{"vpc_id": "vpc-0" + g.hex("vpc", 16), "vpc_region": s.Region}}, "zone_id": g.zoneID(),
		})
		b.add("module.network", "managed", "aws_key_pair", "deploy_key", provAWS, nil, 1, map[string]any{
			"arn": "arn:aws:ec2:" + s.Region + ":123456789012:key-pair/" + s.NetworkName + "-key", "fingerprint": "d7:ff:a6:63:18:64:9c:57:a1:ee:ca:a4:ad:c2:81:62",
			"id": s.NetworkName + "-key", "key_name": s.NetworkName + "-key", "key_name_prefix": nil, "key_pair_id": "key-0" + g.hex("kp", 16),
			"public_key": "ssh-rsa AAAAB3NzaC1yc2E...", "tags": map[string]any{},
		})
	}
	g.machines(RoleBastion, b)
	b.add("module.network.module.bastion.module.bastion_provision", "managed", "null_resource", "ansible", provNull, 0, 0, map[string]any{
		"id": provID, "triggers": map[string]any{"triggers": g.nullID("bastion_waitfor")},
	})
	g.nullResource("module.network.module.bastion.module.bastion_provision", "ansible_playbooks_copy", 0, map[string]any{"triggers": provID}, b)
	b.add("", "managed", "local_file", "ssh_config", provLocal, nil, 0, map[string]any{
		"content": out["ssh_config"].Value, "content_base64": nil, "directory_permission": "0777", "file_permission": "0644",
		"filename": "./ssh.cfg", "id": g.hex("sshcfg", 40), "sensitive_content": nil, "source": nil,
	})
}

func (g *gen) cassandra(out map[string]output, b *builder) {
	out["cassandra_resource_count"] = number(len(g.hosts(RoleCassandra)))
	out["inventory_ini"] = str(g.ini([]string{RoleCassandra, RoleCassy, RoleReaper}, g.iniVars()))
	var provIDs []string
	for i := range g.hosts(RoleCassandra) {
		id := g.nullID("module.cassandra.module.cassandra_provision/cassandra" + strconv.Itoa(i))
		provIDs = append(provIDs, id)
		b.add("module.cassandra.module.cassandra_provision", "managed", "null_resource", "cassandra", provNull, i, 0, map[string]any{
			"id": id, "triggers": map[string]any{"triggers": g.nullID("bastion_provision")},
		})
	}
	if g.s.Old {
		out["cassandra_provision_ids"] = strList(provIDs)
		out["cassandra_start_on_initial_boot"] = output{Value: false, Type: "bool"}
	}
	g.remoteState("network", nil, b)
	for _, r := range []string{RoleCassandra, RoleCassy, RoleReaper} {
		g.machines(r, b)
	}
	if ips := g.ips(RoleCassandra); len(ips) > 0 {
		g.aRecord("module.cassandra", "cassandra_dns_lb", nil, "cassandra-lb", ips, b)
	}
	for i := range g.hosts(RoleCassy) {
		g.nullResource("module.cassandra.module.cassy_provision", "cassy_container", i, map[string]any{"triggers": provIDs}, b)
	}
	for i := range g.hosts(RoleReaper) {
		g.nullResource("module.cassandra.module.reaper_provision", "reaper_container", i, map[string]any{"triggers": g.nullID("reaper")}, b)
	}
}

func (g *gen) scalardl(out map[string]output, b *builder) {
	blue, green := g.hosts(RoleScalarDLBlue), g.hosts(RoleScalarDLGreen)
	out["scalardl_blue_resource_count"] = number(len(blue))
	out["scalardl_green_resource_count"] = number(len(green))
	out["scalardl_replication_factor"] = number(3)
	envoyDNS := ""
	if len(g.hosts(RoleEnvoy)) > 0 {
		envoyDNS = "envoy-lb." + g.s.Domain
	}
	out["envoy_dns"] = str(envoyDNS)
	out["envoy_listen_port"] = number(50051)
	out["inventory_ini"] = str(g.ini([]string{"scalardl", RoleEnvoy}, g.iniVars()))
	g.remoteState("network", nil, b)
	for _, r := range []string{RoleScalarDLBlue, RoleScalarDLGreen, RoleEnvoy} {
		g.machines(r, b)
	}
	// scalardl: Envoy's upstream, every discoverable node (blue, and green when present).
	up := append(g.ips(RoleScalarDLBlue), g.ips(RoleScalarDLGreen)...)
	if len(up) > 0 {
		g.aRecord("module.scalardl", "scalardl_dns", nil, "scalardl", up, b)
	}
	if len(g.hosts(RoleEnvoy)) > 0 && !g.azure {
		b.add("module.scalardl", "managed", "aws_route53_record", "envoy_dns_lb", provAWS, 0, 2, map[string]any{
			"alias":           []any{map[string]any{"evaluate_target_health": true, "name": g.s.NetworkName + "-envoy-lb-" + g.hex("nlb", 16) + ".elb." + g.s.Region + ".amazonaws.com", "zone_id": "Z31USIVHYNEOWT"}},
			"allow_overwrite": nil, "failover_routing_policy": []any{}, "fqdn": "envoy-lb." + g.s.Domain, "geolocation_routing_policy": []any{},
			"health_check_id": "", "id": g.zoneID() + "_envoy-lb_A", "latency_routing_policy": []any{}, "multivalue_answer_routing_policy": nil,
			"name": "envoy-lb", "records": nil, "set_identifier": "", "ttl": 0, "type": "A", "weighted_routing_policy": []any{}, "zone_id": g.zoneID(),
		})
	}
	for _, colour := range []string{"blue", "green"} {
		hs := g.hosts("scalardl-" + colour)
		if len(hs) == 0 {
			continue
		}
		mod := "module.scalardl.module.scalardl_" + colour + ".module.scalardl_provision"
		g.nullResource(mod, "scalardl_image", 0, map[string]any{"scalar_tag": hs[0].ImageTag, "triggers": g.nullID("bastion_provision")}, b)
		for i := range hs {
			g.nullResource(mod, "scalardl_container", i, map[string]any{"triggers": g.nullID(mod + strconv.Itoa(i))}, b)
		}
	}
	for i := range g.hosts(RoleEnvoy) {
		g.nullResource("module.scalardl.module.envoy_provision", "envoy_container", i, map[string]any{"envoy_tag": "v1.14.1", "triggers": g.nullID("envoy" + strconv.Itoa(i))}, b)
	}
}

func (g *gen) monitor(out map[string]output, b *builder) {
	out["inventory_ini"] = str(g.ini([]string{RoleMonitor}, g.iniVars()))
	g.remoteState("network", nil, b)
	g.remoteState("cassandra", 0, b)
	g.remoteState("scalardl", 0, b)
	g.machines(RoleMonitor, b)
	if ips := g.ips(RoleMonitor); len(ips) > 0 {
		g.aRecord("module.monitor", "monitor_cluster_dns", nil, "monitor", ips[:1], b)
	}
	for i := range g.hosts(RoleMonitor) {
		g.nullResource("module.monitor.module.monitor_provision", "monitor_container", i, map[string]any{"triggers": g.nullID("bastion_provision")}, b)
	}
}
