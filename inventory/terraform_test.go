package inventory

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// terraformBin finds the terraform the tests run: $TERRAFORM, else the repo's
// .tools/bin/terraform (CI installs 1.5.7 there). Without one the test is
// skipped, unless SCALAR_TUI_REQUIRE_TOOLS=1, when it fails.
//
// It also points terraform at a project-owned, empty CLI config and turns off
// checkpoint calls, so that runs are offline and quiet.
func terraformBin(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv("TERRAFORM")
	if bin == "" {
		if wd, err := os.Getwd(); err == nil {
			bin = filepath.Join(wd, "..", ".tools", "bin", "terraform")
		}
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			tb.Fatalf("terraform not found at %q (set TERRAFORM, or run `GOBIN=$PWD/.tools/bin go install github.com/hashicorp/terraform@v1.5.7`): %v", bin, err)
		}
		tb.Skipf("terraform not found at %q; set TERRAFORM or install it into .tools/bin", bin)
	}
	cfg := filepath.Join(tb.TempDir(), "terraformrc")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("TF_CLI_CONFIG_FILE", cfg)
	tb.Setenv("CHECKPOINT_DISABLE", "1")
	return bin
}

func runTF(t testing.TB, bin, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
}

// The exec root is applied for real, then read through `terraform state pull`.
func TestLoadTerraformApply(t *testing.T) {
	bin := terraformBin(t)
	dir := filepath.Join(t.TempDir(), "network")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(fixtures, "exec", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	runTF(t, bin, dir, "init", "-input=false", "-no-color")
	runTF(t, bin, dir, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "bastion_ip=127.0.0.1")

	viaTF, err := Load(context.Background(), Options{TFDirs: []string{dir}, Terraform: bin})
	if err != nil {
		t.Fatal(err)
	}
	if viaTF.Roots[0].Via != ViaTerraform || viaTF.Roots[0].Name != RootNetwork {
		t.Errorf("roots %+v", viaTF.Roots)
	}
	if viaTF.BastionAddr() != "127.0.0.1:2222" || viaTF.NetworkName != "example-exec-7q2m4kd" || viaTF.Cloud != "aws" {
		t.Errorf("inventory %+v", viaTF)
	}
	b, ok := viaTF.Find("bastion-1")
	if !ok || b.PublicIP != "127.0.0.1" || b.Source != SourceINI || b.Name != "bastion-1.internal.scalar-labs.com" {
		t.Errorf("bastion-1 %+v", b)
	}
	direct, err := Load(context.Background(), Options{TFDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	assertSameInventory(t, viaTF, direct)
}

// Through `terraform state pull` the AWS fixture gives the same inventory as
// read directly: both paths share one parser. The roots get a configuration
// (an empty terraform block) but no providers: state pull needs none.
func TestLoadTerraformMatchesDirect(t *testing.T) {
	bin := terraformBin(t)
	for _, name := range []string{"aws", "azure"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for _, r := range RootKinds {
				copyRoot(t, filepath.Join(fixtures, name, r), filepath.Join(dir, r))
				if err := os.WriteFile(filepath.Join(dir, r, "main.tf"), []byte("terraform {}\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			viaTF, err := Load(context.Background(), Options{TFRoot: dir, Terraform: bin})
			if err != nil {
				t.Fatal(err)
			}
			direct, err := Load(context.Background(), Options{TFRoot: dir})
			if err != nil {
				t.Fatal(err)
			}
			for _, rs := range viaTF.Roots {
				if rs.Via != ViaTerraform || !rs.Loaded {
					t.Errorf("root %+v", rs)
				}
			}
			assertSameInventory(t, viaTF, direct)
		})
	}
}

// A terraform that fails reports its stderr and the directory.
func TestLoadTerraformFailure(t *testing.T) {
	bin := terraformBin(t)
	dir := t.TempDir()
	copyRoot(t, filepath.Join(fixtures, "aws", "network"), dir)
	// A syntax error in the configuration makes every command fail.
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("terraform {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), Options{TFDirs: []string{dir}, Terraform: bin})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, dir) || !strings.Contains(msg, "terraform") || !strings.Contains(strings.ToLower(msg), "unclosed") {
		t.Errorf("error lacks the directory or terraform's stderr: %s", msg)
	}
}

// assertSameInventory compares two inventories, ignoring how each root was
// read (state pull rewrites terraform_version to its own).
func assertSameInventory(t *testing.T, a, b *Inventory) {
	t.Helper()
	norm := func(inv *Inventory) Inventory {
		c := *inv
		c.Roots = nil
		for _, rs := range inv.Roots {
			rs.Via, rs.TerraformVersion = "", ""
			c.Roots = append(c.Roots, rs)
		}
		return c
	}
	if x, y := norm(a), norm(b); !reflect.DeepEqual(x, y) {
		t.Errorf("inventories differ:\n%+v\n%+v", x, y)
	}
}
