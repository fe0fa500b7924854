package inventory

import (
	"net"
	"sort"
	"strconv"
	"strings"
)

// build turns the roots read into an Inventory.
func build(roots []*rootData) (*Inventory, error) {
	byKind := map[string]*rootData{}
	for _, rd := range roots {
		if rd.state != nil {
			byKind[rd.kind] = rd
		}
	}
	nw := byKind[RootNetwork]
	inv := &Inventory{Hosts: []Host{}}
	st := nw.state

	var ok bool
	if inv.BastionIP, ok = st.outputString("bastion_ip"); !ok || strings.TrimSpace(inv.BastionIP) == "" {
		return nil, loadErr(nw.statePath, nil, "the network root has no bastion_ip output, and scalar-tui reaches every host through the bastion: run `terraform apply` in the network root (scalar-terraform-examples' output.tf exports bastion_ip) and retry")
	}
	inv.BastionIP = strings.TrimSpace(inv.BastionIP)
	if net.ParseIP(inv.BastionIP) == nil && strings.ContainsAny(inv.BastionIP, " /\t\n") {
		return nil, loadErr(nw.statePath, nil, "the network output bastion_ip is %q, which is no IP address or host name", inv.BastionIP)
	}
	inv.BastionPort = 22
	if p, present, err := st.outputInt("bastion_port"); err != nil {
		return nil, loadErr(nw.statePath, err, "bad bastion_port output")
	} else if present {
		if p < 1 || p > 65535 {
			return nil, loadErr(nw.statePath, nil, "the bastion_port output is %d, not a TCP port", p)
		}
		inv.BastionPort = p
	}
	inv.NetworkName, _ = st.outputString("network_name")
	inv.Region, _ = st.outputString("region")
	inv.PrivateKeyPath, _ = st.outputString("private_key_path")
	inv.NetworkCIDR, _ = st.outputString("network_cidr")
	if inv.UserName, ok = st.outputString("user_name"); !ok || inv.UserName == "" {
		inv.UserName = "centos"
		inv.Warnings = append(inv.Warnings, nw.statePath+": no user_name output; assuming scalar-terraform's default \"centos\"")
	}
	if inv.InternalDomain, ok = st.outputString("internal_domain"); !ok || inv.InternalDomain == "" {
		inv.InternalDomain = DefaultDomain
		inv.Warnings = append(inv.Warnings, nw.statePath+": no internal_domain output; assuming scalar-terraform's default "+DefaultDomain)
	}
	inv.InternalDomain = strings.TrimSuffix(inv.InternalDomain, ".")
	if inv.NetworkName == "" {
		inv.Warnings = append(inv.Warnings, nw.statePath+": no network_name output")
	}
	inv.Cloud = detectCloud(roots)
	for _, rd := range roots {
		inv.Warnings = append(inv.Warnings, rd.warnings...)
	}

	// Hosts from resources: join single-host DNS records to machines by private IP.
	var recs []dnsRecord
	var machines []*machine
	var iniRoots []*rootData
	imageTags := map[Role]string{}
	for _, kind := range RootKinds {
		rd := byKind[kind]
		if rd == nil {
			continue
		}
		if !rd.state.hasManaged() {
			iniRoots = append(iniRoots, rd)
			continue
		}
		r, m, tags, w := collect(rd, inv.InternalDomain)
		for k, v := range tags {
			imageTags[k] = v
		}
		recs = append(recs, r...)
		machines = append(machines, m...)
		inv.Warnings = append(inv.Warnings, w...)
	}
	byIP := map[string][]*machine{}
	for _, m := range machines {
		if m.privateIP != "" {
			byIP[m.privateIP] = append(byIP[m.privateIP], m)
		}
	}
	seen := map[string]Host{}
	seenPath := map[string]string{}
	addHost := func(h Host, path, addr string) error {
		key := strings.ToLower(h.Name)
		if prev, dup := seen[key]; dup {
			return loadErr(path, nil, "host %s (%s) is defined twice: also in the %s root (%s); each host must come from one root, so check that no root directory was copied over another", h.Name, addr, prev.Root, seenPath[key])
		}
		seen[key] = h
		seenPath[key] = path
		inv.Hosts = append(inv.Hosts, h)
		return nil
	}
	for _, rec := range recs {
		cands := byIP[rec.ip]
		var m *machine
		for _, c := range cands {
			if c.root == rec.root {
				m = c
				break
			}
		}
		if m == nil && len(cands) > 0 {
			m = cands[0]
		}
		if m == nil {
			return nil, loadErr(rec.root.statePath, nil, "DNS record %s (%s) points at %s, but no instance in the loaded roots has that private IP: the state is inconsistent (a half-applied change, or a hand-edited record); run `terraform apply` in the %s root, or check the record", rec.addr, rec.fqdn, rec.ip, rec.root.kind)
		}
		m.claimed = true
		h := Host{
			Name: rec.fqdn, Short: rec.short, Role: rec.role, Index: rec.index,
			PrivateIP: rec.ip, PublicIP: m.publicIP, Zone: m.zone, InstanceID: m.id,
			Root: rec.root.kind, Source: SourceResources,
		}
		if h.Role.IsScalarDL() {
			h.Image, h.ImageTag = m.tags["Image"], m.tags["Tag"]
			if h.ImageTag == "" {
				h.ImageTag = imageTags[h.Role]
			}
		}
		if h.Role == RoleBastion && h.Index == 1 && h.PublicIP == "" {
			h.PublicIP = inv.BastionIP
		}
		if err := addHost(h, rec.root.statePath, rec.addr); err != nil {
			return nil, err
		}
	}
	for _, m := range machines {
		if !m.claimed {
			inv.Warnings = append(inv.Warnings, m.root.statePath+": "+m.addr+" ("+m.privateIP+") has no DNS record naming it; left out of the inventory")
		}
	}
	// Roots without resources: fall back to their inventory_ini output.
	for _, rd := range iniRoots {
		ini, ok := rd.state.outputString("inventory_ini")
		if !ok {
			if rd.kind != RootNetwork {
				inv.Warnings = append(inv.Warnings, rd.statePath+": the "+rd.kind+" root has neither resources nor an inventory_ini output; no hosts from it")
			}
			continue
		}
		hosts, w := iniHosts(rd, ini, inv.InternalDomain)
		inv.Warnings = append(inv.Warnings, w...)
		for _, h := range hosts {
			if h.Role == RoleBastion && h.Index == 1 && h.PublicIP == "" {
				h.PublicIP = inv.BastionIP
			}
			if err := addHost(h, rd.statePath, "inventory_ini"); err != nil {
				return nil, err
			}
		}
	}
	sortHosts(inv.Hosts)
	inv.Endpoints = endpoints(inv)

	for _, rd := range roots {
		rs := RootStatus{Name: rd.kind, Dir: rd.dir, Loaded: rd.state != nil, Via: rd.via, Message: rd.missing}
		if rd.state != nil {
			rs.TerraformVersion = rd.state.TerraformVersion
			rs.Hosts = 0
			for _, h := range inv.Hosts {
				if h.Root == rd.kind {
					rs.Hosts++
				}
			}
			if _, old := rd.state.Outputs["cassandra_provision_ids"]; old {
				rs.Message = "old state (has cassandra_provision_ids, from before April 2021)"
			}
		} else {
			rs.Via = ""
		}
		inv.Roots = append(inv.Roots, rs)
	}
	sort.SliceStable(inv.Roots, func(i, j int) bool { return rootRank(inv.Roots[i].Name) < rootRank(inv.Roots[j].Name) })
	return inv, nil
}

func rootRank(k string) int {
	for i, r := range RootKinds {
		if r == k {
			return i
		}
	}
	return len(RootKinds)
}

// detectCloud says aws or azure from resource types, then from outputs and
// the inventory_ini's cloud_provider variable. It defaults to aws.
func detectCloud(roots []*rootData) string {
	for _, rd := range roots {
		if rd.state == nil {
			continue
		}
		for i := range rd.state.Resources {
			t := rd.state.Resources[i].Type
			switch {
			case strings.HasPrefix(t, "aws_"):
				return "aws"
			case strings.HasPrefix(t, "azurerm_"):
				return "azure"
			}
		}
	}
	for _, rd := range roots {
		if rd.state == nil {
			continue
		}
		if _, ok := rd.state.Outputs["dns_zone_id"]; ok {
			return "azure"
		}
		if _, ok := rd.state.Outputs["network_dns"]; ok {
			return "aws"
		}
		if ini, ok := rd.state.outputString("inventory_ini"); ok {
			_, vars := parseINI(ini)
			for _, vs := range vars {
				if c := vs["cloud_provider"]; c == "aws" || c == "azure" {
					return c
				}
			}
		}
	}
	return "aws"
}

// endpoints derives the service addresses from the hosts.
func endpoints(inv *Inventory) Endpoints {
	var ep Endpoints
	d := inv.InternalDomain
	if len(inv.ByRole(RoleMonitor)) > 0 {
		ep.Prometheus = "monitor." + d + ":9090"
	}
	for _, h := range inv.ByRole(RoleEnvoy) {
		ep.EnvoyAdmin = append(ep.EnvoyAdmin, net.JoinHostPort(h.Name, "9001"))
	}
	if hs := inv.ByRole(RoleCassy); len(hs) > 0 {
		ep.Cassy = net.JoinHostPort(hs[0].Name, "20051")
	}
	if hs := inv.ByRole(RoleReaper); len(hs) > 0 {
		ep.Reaper = net.JoinHostPort(hs[0].Name, "8080")
	}
	for _, r := range []Role{RoleScalarDLBlue, RoleScalarDLGreen} {
		for _, h := range inv.ByRole(r) {
			ep.ScalarDLAdmin = append(ep.ScalarDLAdmin, net.JoinHostPort(h.Name, strconv.Itoa(50053)))
		}
	}
	return ep
}
