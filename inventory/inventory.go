// Package inventory turns the Terraform state of a scalar-terraform deployment
// (the network, cassandra, scalardl and monitor roots) into an Inventory: hosts,
// roles, the bastion and the service endpoints the console needs.
//
// It knows nothing of SSH, Prometheus or the UI, and must not import ops, tui or cmd.
package inventory

import (
	"net"
	"sort"
	"strconv"
)

// Role is the role of a host, equal to the middle DNS label scalar-terraform gives it
// (and to the `role` label Prometheus attaches to its series).
type Role string

// The roles of a scalar-terraform deployment.
const (
	RoleBastion       Role = "bastion"
	RoleCassandra     Role = "cassandra"
	RoleCassy         Role = "cassy"
	RoleReaper        Role = "reaper"
	RoleScalarDLBlue  Role = "scalardl-blue"
	RoleScalarDLGreen Role = "scalardl-green"
	RoleEnvoy         Role = "envoy"
	RoleMonitor       Role = "monitor"
)

// Roles lists every role in display order.
var Roles = []Role{RoleBastion, RoleCassandra, RoleCassy, RoleReaper, RoleScalarDLBlue, RoleScalarDLGreen, RoleEnvoy, RoleMonitor}

// IsScalarDL reports whether r is a Scalar DL ledger role (blue or green).
func (r Role) IsScalarDL() bool { return r == RoleScalarDLBlue || r == RoleScalarDLGreen }

// Host is one machine of the deployment.
type Host struct {
	// Name is the private DNS FQDN, e.g. "cassandra-1.internal.scalar-labs.com".
	// It is the key used everywhere: SSH dials it through the bastion, and
	// Prometheus' instance label carries it.
	Name string `json:"name"`
	// Short is the record name, e.g. "cassandra-1".
	Short string `json:"short"`
	Role  Role   `json:"role"`
	// Index is N in "<role>-N" (1-based).
	Index      int    `json:"index"`
	PrivateIP  string `json:"private_ip"`
	PublicIP   string `json:"public_ip,omitempty"`
	Zone       string `json:"zone,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
	// Image and ImageTag are set for Scalar DL hosts: from the instance's
	// Image/Tag tags on AWS; on Azure ImageTag is the colour's
	// null_resource.scalardl_image scalar_tag trigger and Image is empty.
	Image    string `json:"image,omitempty"`
	ImageTag string `json:"image_tag,omitempty"`
	// RunningImageTag and ImageDrift are never read from state: `inventory
	// --running` fills them from what the host runs (cadvisor), and
	// ImageDrift is true when that differs from ImageTag.
	RunningImageTag string `json:"running_image_tag,omitempty"`
	ImageDrift      bool   `json:"image_drift,omitempty"`
	// Root is the Terraform root the host came from (network, cassandra, scalardl, monitor).
	Root string `json:"root"`
	// Source says how the host was found: "resources" or "inventory_ini".
	Source string `json:"source"`
}

// Endpoints are the service addresses derived from the inventory, as host:port.
type Endpoints struct {
	Prometheus    string   `json:"prometheus"`               // monitor.<domain>:9090
	EnvoyAdmin    []string `json:"envoy_admin,omitempty"`    // envoy-N.<domain>:9001
	Cassy         string   `json:"cassy,omitempty"`          // cassy-1.<domain>:20051
	Reaper        string   `json:"reaper,omitempty"`         // reaper-1.<domain>:8080
	ScalarDLAdmin []string `json:"scalardl_admin,omitempty"` // scalardl-*-N.<domain>:50053
}

// RootStatus says what happened to one Terraform root while loading.
type RootStatus struct {
	Name    string `json:"name"`              // network, cassandra, scalardl, monitor
	Dir     string `json:"dir"`               // directory of the root
	Loaded  bool   `json:"loaded"`            // false when the root is missing
	Via     string `json:"via,omitempty"`     // "file" or "terraform"
	Message string `json:"message,omitempty"` // why it is missing, or other notes
	// TerraformVersion is the state's terraform_version (e.g. "0.14.7").
	TerraformVersion string `json:"terraform_version,omitempty"`
	// Hosts is how many hosts came from this root.
	Hosts int `json:"hosts"`
}

// Inventory is a whole deployment.
type Inventory struct {
	// NetworkName is the environment's name, e.g. "example-aws-0j5y83k".
	NetworkName string `json:"network_name"`
	Cloud       string `json:"cloud"` // "aws" or "azure"
	Region      string `json:"region,omitempty"`
	BastionIP   string `json:"bastion_ip"`
	// BastionPort is 22 on real deployments. The lab and the demo set it from the
	// optional `bastion_port` output (a scalar-tui extension, never in scalar-terraform).
	BastionPort    int    `json:"bastion_port"`
	UserName       string `json:"user_name"`
	PrivateKeyPath string `json:"private_key_path"`
	InternalDomain string `json:"internal_domain"`
	NetworkCIDR    string `json:"network_cidr,omitempty"`

	Hosts     []Host       `json:"hosts"`
	Endpoints Endpoints    `json:"endpoints"`
	Roots     []RootStatus `json:"roots"`
	Warnings  []string     `json:"warnings,omitempty"`
}

// BastionAddr is the bastion's host:port for SSH.
func (inv *Inventory) BastionAddr() string {
	port := inv.BastionPort
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(inv.BastionIP, strconv.Itoa(port))
}

// ByRole returns the hosts with role r, in index order.
func (inv *Inventory) ByRole(r Role) []Host {
	var out []Host
	for _, h := range inv.Hosts {
		if h.Role == r {
			out = append(out, h)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// Find returns the host whose Name, Short or PrivateIP equals s.
func (inv *Inventory) Find(s string) (Host, bool) {
	for _, h := range inv.Hosts {
		if h.Name == s || h.Short == s || h.PrivateIP == s {
			return h, true
		}
	}
	return Host{}, false
}
