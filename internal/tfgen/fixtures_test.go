package tfgen

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated fixtures under testdata/tf")

const fixtureDir = "../../testdata/tf"

// fixtures are the generated deployments committed under testdata/tf.
// `go test ./internal/tfgen -run TestFixtures -update` rewrites them; without
// -update the test fails when a committed file differs from what the generator
// writes, so fixtures and generator cannot drift apart.
func fixtures(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	out := map[string]map[string][]byte{}
	gen := func(name string, s Spec) map[string][]byte {
		st, err := States(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = st
		return st
	}
	gen("aws", Default("aws"))
	gen("azure", Default("azure"))
	gen("aws-green", Default("aws").WithGreen(3, "2.2.0"))
	old := Default("aws")
	old.Old = true
	old.TerraformVersion = "0.13.5"
	gen("aws-old", old)
	ini := Default("aws")
	ini.INIOnly = true
	gen("aws-ini-only", ini)

	noBastion := Default("aws")
	noBastion.Omit = map[string]bool{"bastion_ip": true}
	gen("bad/no-bastion-ip", noBastion)

	// A DNS record whose IP is no instance's: cassandra-2 points at 10.42.2.99.
	mismatch := gen("bad/dns-mismatch", Default("aws"))
	mismatch["cassandra"] = editRecord(t, mismatch["cassandra"], "cassandra_dns", 1, "10.42.2.99")

	// The cassandra root copied over the monitor root: cassandra-1 ... twice.
	dup := gen("bad/duplicate-hosts", Default("aws"))
	dup["monitor"] = dup["cassandra"]
	return out
}

// editRecord sets the records of <name>[idx] in a state.
func editRecord(t *testing.T, state []byte, name string, idx int, ip string) []byte {
	t.Helper()
	var st stateFile
	if err := json.Unmarshal(state, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Name == name {
			r.Instances[idx].Attributes.(map[string]any)["records"] = []any{ip}
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestFixtures(t *testing.T) {
	for name, roots := range fixtures(t) {
		for root, data := range roots {
			path := filepath.Join(fixtureDir, filepath.FromSlash(name), root, "terraform.tfstate")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (run `go test ./internal/tfgen -run TestFixtures -update`)", err)
				continue
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%s differs from the generator's output (run `go test ./internal/tfgen -run TestFixtures -update`)", path)
			}
		}
	}
}

func TestWriteDefault(t *testing.T) {
	dir := t.TempDir()
	s := Default("aws")
	s.BastionIP, s.BastionPort = "127.0.0.1", 2222
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "network", "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Version          int                        `json:"version"`
		TerraformVersion string                     `json:"terraform_version"`
		Outputs          map[string]json.RawMessage `json:"outputs"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Version != 4 || st.TerraformVersion != "0.14.7" {
		t.Errorf("version %d %q", st.Version, st.TerraformVersion)
	}
	for _, k := range []string{"bastion_ip", "bastion_port", "user_name", "private_key_path", "internal_domain", "network_name", "inventory_ini"} {
		if _, ok := st.Outputs[k]; !ok {
			t.Errorf("no output %s", k)
		}
	}
	if !strings.Contains(string(st.Outputs["bastion_ip"]), "127.0.0.1") {
		t.Errorf("bastion_ip = %s", st.Outputs["bastion_ip"])
	}
}

func TestDeterministic(t *testing.T) {
	a, err := States(Large(200))
	if err != nil {
		t.Fatal(err)
	}
	b, err := States(Large(200))
	if err != nil {
		t.Fatal(err)
	}
	for k := range a {
		if !bytes.Equal(a[k], b[k]) {
			t.Errorf("%s differs between two runs", k)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	for name, s := range map[string]Spec{
		"cloud":     {Cloud: "gcp"},
		"role":      {BastionIP: "1.2.3.4", Hosts: []Host{{Role: "db", Index: 1, IP: "10.0.0.1"}}},
		"index":     {BastionIP: "1.2.3.4", Hosts: []Host{{Role: RoleCassandra, IP: "10.0.0.1"}}},
		"ip":        {BastionIP: "1.2.3.4", Hosts: []Host{{Role: RoleCassandra, Index: 1}}},
		"duplicate": {BastionIP: "1.2.3.4", Hosts: []Host{{Role: RoleCassandra, Index: 1, IP: "10.0.0.1"}, {Role: RoleCassandra, Index: 1, IP: "10.0.0.2"}}},
		"bastion":   {},
	} {
		if _, err := States(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
