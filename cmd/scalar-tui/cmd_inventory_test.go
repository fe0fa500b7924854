package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"scalar-tui/inventory"
)

// runInventory runs the command tree with args and returns stdout, stderr and
// the exit code run() would give.
func runInventory(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--log-file", filepath.Join(t.TempDir(), "log")}, args...))
	err := root.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		errOut.WriteString(err.Error())
		code = exitBadInput
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), errOut.String(), code
}

const inventoryAWSFixture = "../../testdata/tf/aws"

func TestInventoryTable(t *testing.T) {
	out, errOut, code := runInventory(t, "inventory", "--tf-root", inventoryAWSFixture)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Environment:  example-aws-0j5y83k", "Cloud:        aws (ap-northeast-1)", "Bastion:      13.231.179.116:22",
		"User:         centos", "Domain:       internal.scalar-labs.com",
		"ROLE", "NAME", "PRIVATE-IP", "PUBLIC-IP", "ZONE", "INSTANCE", "IMAGE-TAG", "14 hosts",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	// Rows are grouped in role order.
	var roles []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 7 && strings.HasSuffix(f[1], ".internal.scalar-labs.com") {
			roles = append(roles, f[0])
			if f[0] == "scalardl-blue" && f[6] != "2.1.0" {
				t.Errorf("image tag: %q", line)
			}
			if f[0] == "cassandra" && (!strings.HasPrefix(f[2], "10.42.2.") || f[3] != "-") {
				t.Errorf("cassandra row: %q", line)
			}
		}
	}
	want := "bastion bastion cassandra cassandra cassandra cassy reaper scalardl-blue scalardl-blue scalardl-blue envoy envoy envoy monitor"
	if got := strings.Join(roles, " "); got != want {
		t.Errorf("rows:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(errOut, "root network   loaded") || !strings.Contains(errOut, "root monitor   loaded") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestInventoryJSON(t *testing.T) {
	out, errOut, code := runInventory(t, "inventory", "--json", "--tf-root", inventoryAWSFixture)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var inv inventory.Inventory
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatalf("stdout is no JSON inventory: %v\n%s", err, out)
	}
	if len(inv.Hosts) != 14 || inv.BastionIP != "13.231.179.116" || inv.Endpoints.Prometheus != "monitor.internal.scalar-labs.com:9090" {
		t.Errorf("%+v", inv)
	}
	// The documented top-level keys are all there.
	var raw map[string]json.RawMessage
	_ = json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"network_name", "cloud", "bastion_ip", "bastion_port", "user_name", "private_key_path", "internal_domain", "hosts", "endpoints", "roots"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in JSON", k)
		}
	}
}

func TestInventoryBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"inventory", "--tf-dir", "../../testdata/tf/bad/version3"},
		{"inventory", "--tf-root", "../../testdata/tf/bad/dns-mismatch"},
		{"inventory", "--tf-root", "../../testdata/tf/bad/no-such-dir"},
		{"inventory"}, // no deployment given
	} {
		out, errOut, code := runInventory(t, args...)
		if code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitBadInput, errOut)
		}
		if out != "" {
			t.Errorf("%v: stdout %q", args, out)
		}
	}
	_, errOut, _ := runInventory(t, "inventory", "--tf-dir", "../../testdata/tf/bad/version3")
	if !strings.Contains(errOut, filepath.FromSlash("bad/version3/terraform.tfstate")) || !strings.Contains(errOut, "version 3") {
		t.Errorf("error: %s", errOut)
	}
}
