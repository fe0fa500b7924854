package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// tfState is the part of a Terraform state (format version 4, Terraform 0.12 and
// later) that the inventory needs. It is what `terraform.tfstate` holds and what
// `terraform state pull` prints.
type tfState struct {
	Version          json.RawMessage          `json:"version"`
	TerraformVersion string                   `json:"terraform_version"`
	Serial           json.Number              `json:"serial"`
	Lineage          string                   `json:"lineage"`
	Outputs          map[string]tfStateOutput `json:"outputs"`
	Resources        []tfStateResource        `json:"resources"`
}

// tfStateOutput is a root output. Only value is used; type is not trusted,
// because numbers may have been written as strings (map(string) tfvars).
type tfStateOutput struct {
	Value     json.RawMessage `json:"value"`
	Sensitive bool            `json:"sensitive"`
}

type tfStateResource struct {
	Module    string            `json:"module"`
	Mode      string            `json:"mode"`
	Type      string            `json:"type"`
	Name      string            `json:"name"`
	Instances []tfStateInstance `json:"instances"`
}

type tfStateInstance struct {
	IndexKey any `json:"index_key"`
	// Status is "tainted" for an instance the next apply replaces.
	Status string `json:"status"`
	// Deposed is set on an old object kept while its replacement is created
	// (create_before_destroy); it is not part of the deployment.
	Deposed string `json:"deposed"`
	// Attributes stay raw until a resource type the inventory uses asks for
	// them: most of a state (security groups, provisioners, data sources) is
	// never looked at, and decoding it into maps dominated Load's time.
	Attributes json.RawMessage `json:"attributes"`
}

// usedAttrs are the only attributes the inventory reads, whatever the type.
// Decoding into this struct skips the rest (root_block_device, os_profile ...)
// without building maps for them; `any` fields accept every JSON type, so an
// odd value never fails the decode, it just reads as missing.
type usedAttrs struct {
	ID                  any `json:"id"`
	Name                any `json:"name"`
	Type                any `json:"type"`
	FQDN                any `json:"fqdn"`
	Records             any `json:"records"`
	ZoneName            any `json:"zone_name"`
	PrivateIP           any `json:"private_ip"`
	PublicIP            any `json:"public_ip"`
	AvailabilityZone    any `json:"availability_zone"`
	Tags                any `json:"tags"`
	Location            any `json:"location"`
	Zones               any `json:"zones"`
	NetworkInterfaceIDs any `json:"network_interface_ids"`
	PrivateIPAddress    any `json:"private_ip_address"`
	PublicIPAddress     any `json:"public_ip_address"`
	IPConfiguration     any `json:"ip_configuration"`
	IPAddress           any `json:"ip_address"`
	Triggers            any `json:"triggers"`
}

// attrs decodes the instance's attributes that the inventory uses; nil when
// they are not a JSON object.
func (in *tfStateInstance) attrs() map[string]any {
	var u usedAttrs
	if len(in.Attributes) == 0 || in.Attributes[0] != '{' || json.Unmarshal(in.Attributes, &u) != nil {
		return nil
	}
	m := make(map[string]any, 8)
	for k, v := range map[string]any{
		"id": u.ID, "name": u.Name, "type": u.Type, "fqdn": u.FQDN, "records": u.Records, "zone_name": u.ZoneName,
		"private_ip": u.PrivateIP, "public_ip": u.PublicIP, "availability_zone": u.AvailabilityZone, "tags": u.Tags,
		"location": u.Location, "zones": u.Zones, "network_interface_ids": u.NetworkInterfaceIDs,
		"private_ip_address": u.PrivateIPAddress, "public_ip_address": u.PublicIPAddress,
		"ip_configuration": u.IPConfiguration, "ip_address": u.IPAddress, "triggers": u.Triggers,
	} {
		if v != nil {
			m[k] = v
		}
	}
	return m
}

// address is the resource instance address, e.g.
// module.cassandra.aws_route53_record.cassandra_dns[0].
func (r *tfStateResource) address(i int) string {
	var b strings.Builder
	if r.Module != "" {
		b.WriteString(r.Module)
		b.WriteByte('.')
	}
	if r.Mode == "data" {
		b.WriteString("data.")
	}
	b.WriteString(r.Type)
	b.WriteByte('.')
	b.WriteString(r.Name)
	if i >= 0 && i < len(r.Instances) {
		switch k := r.Instances[i].IndexKey.(type) {
		case float64:
			b.WriteString("[" + strconv.FormatFloat(k, 'f', -1, 64) + "]")
		case string:
			b.WriteString("[" + strconv.Quote(k) + "]")
		}
	}
	return b.String()
}

// indexKey returns the instance's numeric index_key, or i when it has none.
func (in *tfStateInstance) index(i int) int {
	if f, ok := in.IndexKey.(float64); ok && f >= 0 && f < 1<<31 {
		return int(f)
	}
	return i
}

// parseState decodes a Terraform state. path is only used in errors. Only
// format version 4 is accepted. It never panics, whatever data holds.
func parseState(path string, data []byte) (*tfState, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, loadErr(path, nil, "the state file is empty (a failed `terraform apply` or an interrupted copy?); restore it from terraform.tfstate.backup or run `terraform state pull > terraform.tfstate`")
	}
	if trimmed[0] != '{' {
		return nil, loadErr(path, nil, "not a Terraform state: expected a JSON object, found %q", preview(trimmed))
	}
	var st tfState
	if err := json.Unmarshal(trimmed, &st); err != nil {
		// Say what the version is when it can be read: a state of another
		// format gets a message about its version, not about a field that moved.
		var head struct {
			Version json.RawMessage `json:"version"`
		}
		if json.Unmarshal(trimmed, &head) != nil {
			return nil, loadErr(path, err, "not a Terraform state: invalid JSON")
		}
		if verr := checkVersion(path, head.Version); verr != nil {
			return nil, verr
		}
		return nil, loadErr(path, err, "not a Terraform state in format version 4")
	}
	if err := checkVersion(path, st.Version); err != nil {
		return nil, err
	}
	return &st, nil
}

func checkVersion(path string, raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return loadErr(path, nil, "not a Terraform state: no \"version\" field (is this a terraform.tfstate file?)")
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return loadErr(path, nil, "not a Terraform state: \"version\" is %s, not a number", preview(raw))
	}
	switch {
	case v == 4:
		return nil
	case v < 4:
		return loadErr(path, nil, "Terraform state format version %d is not supported (only version 4, written by Terraform 0.12 and later; scalar-terraform needs 0.14): upgrade the root with Terraform 0.14 (`terraform init && terraform apply`) and retry", v)
	default:
		return loadErr(path, nil, "Terraform state format version %d is newer than this scalar-tui understands (only version 4): use a Terraform that writes version 4, or upgrade scalar-tui", v)
	}
}

func preview(b []byte) string {
	const n = 40
	s := string(b)
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// outputString returns the output as a string: JSON strings as they are,
// numbers and booleans in their JSON spelling. ok is false when the output is
// missing, null or not a scalar.
func (st *tfState) outputString(name string) (string, bool) {
	o, ok := st.Outputs[name]
	if !ok {
		return "", false
	}
	return scalarString(o.Value)
}

func scalarString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case '{', '[':
		return "", false
	default:
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String(), true
		}
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return strconv.FormatBool(b), true
		}
		return "", false
	}
}

// outputInt returns a number output that may have been written as a string.
func (st *tfState) outputInt(name string) (int, bool, error) {
	s, ok := st.outputString(name)
	if !ok {
		if _, present := st.Outputs[name]; present {
			return 0, true, fmt.Errorf("output %q is not a number", name)
		}
		return 0, false, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, true, fmt.Errorf("output %q is %q, not a whole number", name, s)
	}
	return n, true, nil
}

// attrString returns a string attribute; numbers are formatted.
func attrString(attrs map[string]any, key string) string {
	switch v := attrs[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// attrStrings returns a list (or set) of strings attribute.
func attrStrings(attrs map[string]any, key string) []string {
	l, _ := attrs[key].([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// attrMap returns a map(string) attribute such as tags.
func attrMap(attrs map[string]any, key string) map[string]string {
	m, _ := attrs[key].(map[string]any)
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
