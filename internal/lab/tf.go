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
		s.Hosts = append(s.Hosts, tfgen.Host{Role: h.Role, Index: h.Index, IP: h.IP, ImageTag: l.st.ImageTags[h.Role]})
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

// SetImageTag makes the lab's Terraform state record tag as the Scalar DL
// image tag of role's hosts (scalardl-blue or scalardl-green: the instances'
// Tag tag and the colour's image trigger), as `terraform apply` in the
// scalardl root records it once its tfvars name the tag. Nothing runs on the
// hosts: what they run is the simulator's business.
func (l *Lab) SetImageTag(role, tag string) error {
	if role != "scalardl-blue" && role != "scalardl-green" {
		return fmt.Errorf("lab: SetImageTag: %q is not a Scalar DL role (scalardl-blue, scalardl-green)", role)
	}
	if tag == "" {
		return fmt.Errorf("lab: SetImageTag: empty tag")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.ImageTags == nil {
		l.st.ImageTags = map[string]string{}
	}
	l.st.ImageTags[role] = tag
	if err := l.writeTerraform(); err != nil {
		return err
	}
	return l.save()
}
