package lab

import (
	"fmt"
	"path/filepath"

	"scalar-tui/internal/tfgen"
)

// tfSpec describes the lab as a scalar-terraform AWS deployment.
func (l *Lab) tfSpec() tfgen.Spec {
	s := tfgen.Spec{
		Cloud: "aws", NetworkName: l.st.NetworkName, Domain: l.Domain, BastionIP: l.Bastion.IP,
		User: User, KeyPath: l.KeyPath, NetworkCIDR: l.Network,
	}
	// bastion_port is left out, as in a real deployment: the bastion listens on 22.
	s.Hosts = append(s.Hosts, tfgen.Host{Role: tfgen.RoleBastion, Index: 1, IP: l.Bastion.IP, PublicIP: l.Bastion.IP})
	for _, h := range l.Hosts {
		s.Hosts = append(s.Hosts, tfgen.Host{Role: h.Role, Index: h.Index, IP: h.IP})
	}
	return s
}

// writeTerraform writes DIR/tf/{network,cassandra,scalardl,monitor}/terraform.tfstate.
func (l *Lab) writeTerraform() error {
	dir := filepath.Join(l.Dir, "tf")
	if err := tfgen.Write(dir, l.tfSpec()); err != nil {
		return fmt.Errorf("lab: write Terraform state: %w", err)
	}
	l.TFRoot = dir
	l.st.TFRoot = dir
	return nil
}
