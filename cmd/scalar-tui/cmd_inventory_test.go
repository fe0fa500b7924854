package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
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

// TestInventoryRunningTags: after an in-place change of the image one Scalar
// DL node runs (as a rolling upgrade leaves it), `inventory --running` shows
// the running tag beside the one Terraform state records, in the table and in
// --json (running_image_tag, image_drift), read through the demo's bastion.
func TestInventoryRunningTags(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{Cassandra: 1, Blue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = sim.Update(d.SimState, func(st *sim.State) error {
		h := st.Host("scalardl-blue-2")
		h.ScalarContainer().Image = "ghcr.io/scalar-labs/scalar-ledger:2.2.0"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--tf-root", d.TFRoot, "--known-hosts", d.KnownHosts, "--identity", d.Identity, "inventory", "--running"}
	out, errOut, err := runCLI(ctx, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !regexp.MustCompile(`scalardl-blue-2\.\S+ .* 2\.2\.0 ≠ state 2\.1\.0\n`).MatchString(out) ||
		!regexp.MustCompile(`scalardl-blue-1\.\S+ .* 2\.1\.0\n`).MatchString(out) {
		t.Errorf("table:\n%s", out)
	}
	out, errOut, err = runCLI(ctx, append(args, "--json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var inv inventory.Inventory
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatal(err)
	}
	for _, h := range inv.Hosts {
		switch h.Short {
		case "scalardl-blue-1":
			if h.RunningImageTag != "2.1.0" || h.ImageDrift {
				t.Errorf("%s: %+v", h.Short, h)
			}
		case "scalardl-blue-2":
			if h.RunningImageTag != "2.2.0" || !h.ImageDrift || h.ImageTag != "2.1.0" {
				t.Errorf("%s: %+v", h.Short, h)
			}
		}
	}
	// Without --running nothing is asked and nothing is claimed.
	out, _, err = runCLI(ctx, append(args[:len(args)-1], "--json")...)
	if err != nil || strings.Contains(out, "running_image_tag") {
		t.Errorf("without --running: %v\n%s", err, out)
	}
}
