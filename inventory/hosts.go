package inventory

import (
	"bufio"
	"net"
	"sort"
	"strconv"
	"strings"
)

// dnsRecord is one A record that names a single host ("cassandra-1").
type dnsRecord struct {
	addr  string // resource instance address
	root  *rootData
	short string
	fqdn  string
	ip    string
	role  Role
	index int
}

// machine is one VM/instance, whatever the cloud.
type machine struct {
	addr      string
	root      *rootData
	privateIP string
	publicIP  string
	zone      string
	id        string
	tags      map[string]string
	name      string // Azure VM name ("cassandra-1"), AWS tag Name
	claimed   bool
}

// parseHostName splits "cassandra-1" (or "cassandra-1.internal.example") into
// its role and 1-based index. Multi-host names (cassandra-lb, scalardl, monitor,
// envoy-lb) and SRV names are not host names.
func parseHostName(name string) (short string, role Role, index int, ok bool) {
	short, _, _ = strings.Cut(strings.TrimSuffix(name, "."), ".")
	dash := strings.LastIndexByte(short, '-')
	if dash <= 0 || dash == len(short)-1 {
		return short, "", 0, false
	}
	n, err := strconv.Atoi(short[dash+1:])
	if err != nil || n < 1 || strings.HasPrefix(short[dash+1:], "+") {
		return short, "", 0, false
	}
	r := Role(short[:dash])
	for _, known := range Roles {
		if r == known {
			return short, r, n, true
		}
	}
	return short, "", 0, false
}

// roleRank orders roles as in Roles; unknown roles sort last.
func roleRank(r Role) int {
	for i, known := range Roles {
		if r == known {
			return i
		}
	}
	return len(Roles)
}

// HostLess is the one order of hosts everywhere (the inventory, the health
// table, the console's rows): by role in Roles order (unknown roles last, by
// name), then by index within the role, then by name.
func HostLess(a, b Host) bool {
	if ra, rb := roleRank(a.Role), roleRank(b.Role); ra != rb {
		return ra < rb
	}
	if a.Role != b.Role {
		return a.Role < b.Role
	}
	if a.Index != b.Index {
		return a.Index < b.Index
	}
	return a.Name < b.Name
}

func sortHosts(hosts []Host) {
	sort.SliceStable(hosts, func(i, j int) bool { return HostLess(hosts[i], hosts[j]) })
}

// hasManaged reports whether the state holds any managed resource instance.
func (st *tfState) hasManaged() bool {
	for i := range st.Resources {
		if st.Resources[i].Mode != "data" && len(st.Resources[i].Instances) > 0 {
			return true
		}
	}
	return false
}

// collect gathers DNS records and machines from a root's resources. domain is
// the internal domain, used when a record carries no fqdn. Records whose name is
// not a single host, or that hold several IPs, are skipped.
//
// imageTags maps scalardl-blue/green to the tag in the colour's
// null_resource.scalardl_image triggers (scalar_tag): the only record of the
// image tag on Azure, whose VMs carry no Image/Tag tags.
func collect(rd *rootData, domain string) (recs []dnsRecord, machines []*machine, imageTags map[Role]string, warnings []string) {
	st := rd.state
	imageTags = map[Role]string{}
	type nicInfo struct {
		privateIP string
		publicID  string
	}
	nicsByID := map[string]nicInfo{}
	nicsByModIdx := map[string]nicInfo{}
	publicIPs := map[string]string{}
	type azVM struct {
		m      *machine
		module string
		index  int
		nics   []string
	}
	var vms []azVM

	for ri := range st.Resources {
		r := &st.Resources[ri]
		if r.Mode == "data" {
			continue
		}
		switch r.Type {
		case "azurerm_network_interface":
			for ii := range r.Instances {
				a := r.Instances[ii].attrs()
				n := nicInfo{privateIP: attrString(a, "private_ip_address")}
				if cfgs, ok := a["ip_configuration"].([]any); ok {
					for _, c := range cfgs {
						cm, _ := c.(map[string]any)
						if n.privateIP == "" {
							n.privateIP = attrString(cm, "private_ip_address")
						}
						if n.publicID == "" {
							n.publicID = attrString(cm, "public_ip_address_id")
						}
					}
				}
				if id := attrString(a, "id"); id != "" {
					nicsByID[strings.ToLower(id)] = n
				}
				nicsByModIdx[r.Module+"#"+strconv.Itoa(r.Instances[ii].index(ii))] = n
			}
		case "null_resource":
			if r.Name != "scalardl_image" || len(r.Instances) == 0 {
				continue
			}
			trig, _ := r.Instances[0].attrs()["triggers"].(map[string]any)
			tag := attrString(trig, "scalar_tag")
			switch {
			case tag == "":
			case strings.Contains(r.Module, "module.scalardl_blue"):
				imageTags[RoleScalarDLBlue] = tag
			case strings.Contains(r.Module, "module.scalardl_green"):
				imageTags[RoleScalarDLGreen] = tag
			}
		case "azurerm_public_ip":
			for ii := range r.Instances {
				a := r.Instances[ii].attrs()
				if id := attrString(a, "id"); id != "" {
					publicIPs[strings.ToLower(id)] = attrString(a, "ip_address")
				}
			}
		}
	}

	for ri := range st.Resources {
		r := &st.Resources[ri]
		if r.Mode == "data" {
			continue
		}
		switch r.Type {
		case "aws_route53_record", "azurerm_private_dns_a_record", "aws_instance", "azurerm_virtual_machine", "azurerm_linux_virtual_machine":
		default:
			continue
		}
		for ii := range r.Instances {
			if r.Instances[ii].Deposed != "" {
				continue
			}
			a := r.Instances[ii].attrs()
			if a == nil {
				continue
			}
			if r.Instances[ii].Status == "tainted" && (r.Type == "aws_instance" || strings.HasSuffix(r.Type, "virtual_machine")) {
				warnings = append(warnings, rd.statePath+": "+r.address(ii)+" is tainted: the next `terraform apply` in the "+rd.kind+" root replaces it")
			}
			switch r.Type {
			case "aws_route53_record", "azurerm_private_dns_a_record":
				if r.Type == "aws_route53_record" {
					if t := attrString(a, "type"); t != "" && t != "A" {
						continue
					}
				}
				name := attrString(a, "name")
				short, role, index, ok := parseHostName(name)
				if !ok {
					continue // cassandra-lb, scalardl, monitor, envoy-lb, SRV records
				}
				ips := attrStrings(a, "records")
				if len(ips) != 1 {
					warnings = append(warnings, rd.statePath+": "+r.address(ii)+" ("+short+") has "+strconv.Itoa(len(ips))+" addresses, expected 1; skipped")
					continue
				}
				fqdn := strings.TrimSuffix(attrString(a, "fqdn"), ".")
				if fqdn == "" {
					zone := strings.TrimSuffix(attrString(a, "zone_name"), ".")
					if zone == "" {
						zone = domain
					}
					fqdn = short
					if zone != "" {
						fqdn = short + "." + zone
					}
				}
				recs = append(recs, dnsRecord{addr: r.address(ii), root: rd, short: short, fqdn: fqdn, ip: ips[0], role: role, index: index})
			case "aws_instance":
				machines = append(machines, &machine{
					addr: r.address(ii), root: rd,
					privateIP: attrString(a, "private_ip"),
					publicIP:  attrString(a, "public_ip"),
					zone:      attrString(a, "availability_zone"),
					id:        attrString(a, "id"),
					tags:      attrMap(a, "tags"),
				})
				machines[len(machines)-1].name = machines[len(machines)-1].tags["Name"]
			case "azurerm_virtual_machine", "azurerm_linux_virtual_machine":
				m := &machine{addr: r.address(ii), root: rd, id: attrString(a, "id"), tags: attrMap(a, "tags"), name: attrString(a, "name")}
				loc := attrString(a, "location")
				zones := attrStrings(a, "zones")
				switch {
				case len(zones) > 0 && loc != "":
					m.zone = loc + "-" + zones[0]
				case len(zones) > 0:
					m.zone = zones[0]
				default:
					m.zone = loc
				}
				if ip := attrString(a, "private_ip_address"); ip != "" { // azurerm_linux_virtual_machine
					m.privateIP = ip
					m.publicIP = attrString(a, "public_ip_address")
				}
				vms = append(vms, azVM{m: m, module: r.Module, index: r.Instances[ii].index(ii), nics: attrStrings(a, "network_interface_ids")})
			}
		}
	}

	for _, vm := range vms {
		if vm.m.privateIP == "" {
			var nic nicInfo
			found := false
			for _, id := range vm.nics {
				if n, ok := nicsByID[strings.ToLower(id)]; ok {
					nic, found = n, true
					break
				}
			}
			if !found {
				nic, found = nicsByModIdx[vm.module+"#"+strconv.Itoa(vm.index)]
			}
			if found {
				vm.m.privateIP = nic.privateIP
				if nic.publicID != "" {
					vm.m.publicIP = publicIPs[strings.ToLower(nic.publicID)]
				}
			}
		}
		if vm.m.privateIP == "" {
			warnings = append(warnings, rd.statePath+": "+vm.m.addr+" has no network interface with a private IP; skipped")
			continue
		}
		machines = append(machines, vm.m)
	}
	return recs, machines, imageTags, warnings
}

// parseINI reads the Ansible INI held in a root's inventory_ini output.
// It returns the host entries per group (first field of each line) and the
// variables of [group:vars] sections.
func parseINI(s string) (groups map[string][]string, vars map[string]map[string]string) {
	groups = map[string][]string{}
	vars = map[string]map[string]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.TrimSpace(strings.Trim(line, "[]"))
			continue
		}
		if g, ok := strings.CutSuffix(section, ":vars"); ok {
			k, v, _ := strings.Cut(line, "=")
			if vars[g] == nil {
				vars[g] = map[string]string{}
			}
			vars[g][strings.TrimSpace(k)] = strings.TrimSpace(v)
			continue
		}
		if strings.HasSuffix(section, ":children") || section == "" {
			continue
		}
		f := strings.Fields(line)[0]
		if strings.Contains(f, "=") {
			continue
		}
		groups[section] = append(groups[section], f)
	}
	return groups, vars
}

// iniHosts turns a root's inventory_ini output into hosts. It gives names only
// (and the bastions' public IPs): the private IPs stay empty.
func iniHosts(rd *rootData, ini, domain string) (hosts []Host, warnings []string) {
	groups, _ := parseINI(ini)
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		for i, entry := range groups[g] {
			if ip := net.ParseIP(entry); ip != nil {
				if g != string(RoleBastion) {
					warnings = append(warnings, rd.statePath+": inventory_ini group ["+g+"] lists the bare IP "+entry+"; skipped")
					continue
				}
				h := Host{Short: "bastion-" + strconv.Itoa(i+1), Role: RoleBastion, Index: i + 1, PublicIP: entry, Root: rd.kind, Source: SourceINI}
				h.Name = h.Short
				if domain != "" {
					h.Name += "." + domain
				}
				hosts = append(hosts, h)
				continue
			}
			short, role, index, ok := parseHostName(entry)
			if !ok {
				warnings = append(warnings, rd.statePath+": inventory_ini group ["+g+"] entry "+strconv.Quote(entry)+" is not a <role>-<n> host name; skipped")
				continue
			}
			name := strings.TrimSuffix(entry, ".")
			if !strings.Contains(name, ".") && domain != "" {
				name += "." + domain
			}
			hosts = append(hosts, Host{Name: name, Short: short, Role: role, Index: index, Root: rd.kind, Source: SourceINI})
		}
	}
	return hosts, warnings
}
