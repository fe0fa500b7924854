package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseState feeds arbitrary bytes to the state parser and, when they
// parse, through root identification and the whole inventory build, as the
// network root and as a second root. Nothing may panic; every failure must be a
// *LoadError.
//
//	go test -run '^$' -fuzz FuzzParseState -fuzztime 30s ./inventory
func FuzzParseState(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(fixtures, "*", "*", "terraform.tfstate"))
	bad, _ := filepath.Glob(filepath.Join(fixtures, "bad", "*", "terraform.tfstate"))
	for _, p := range append(seeds, bad...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"version":4,"outputs":{"bastion_ip":{"value":1},"bastion_port":{"value":"x"}},"resources":[{"mode":"managed","type":"aws_route53_record","instances":[{"attributes":{"name":"cassandra-1","records":["1.1.1.1"]}}]}]}`))
	f.Add([]byte(`{"version":4,"outputs":{"bastion_ip":{"value":"1.2.3.4"},"inventory_ini":{"value":"[bastion]\n1.2.3.4\n[cassandra]\ncassandra-1\n"}},"resources":[]}`))
	f.Add([]byte(`{"version":4,"resources":[{"type":"azurerm_virtual_machine","instances":[{"index_key":-1,"attributes":{"network_interface_ids":[1,null]}}]},{"type":"azurerm_network_interface","instances":[{"attributes":{"ip_configuration":[null,{"private_ip_address":7}]}}]}]}`))
	f.Add([]byte(`{"version":"4"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseState("fuzz.tfstate", data)
		if err != nil {
			if _, ok := err.(*LoadError); !ok {
				t.Fatalf("error %T: %v", err, err)
			}
			return
		}
		nw := &rootData{kind: RootNetwork, dir: "fuzz", statePath: "fuzz.tfstate", via: ViaFile, state: st}
		other := &rootData{dir: "fuzz2", statePath: "fuzz2.tfstate", via: ViaFile, state: st}
		for _, roots := range [][]*rootData{{nw}, {nw, other}} {
			if err := identifyRoots(Options{TFDirs: []string{"fuzz"}}, roots); err != nil {
				continue
			}
			if _, err := build(roots); err != nil {
				if _, ok := err.(*LoadError); !ok {
					t.Fatalf("build error %T: %v", err, err)
				}
			}
			other.kind = ""
		}
	})
}
