package inventory

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"scalar-tui/internal/tfgen"
)

// benchHosts is the size of the generated deployment the benchmarks load.
const benchHosts = 1000

// benchDeployment writes a 1,000-host AWS deployment (tfgen.Large) into a temp
// dir and checks that it loads completely.
func benchDeployment(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	if err := tfgen.Write(dir, tfgen.Large(benchHosts)); err != nil {
		b.Fatal(err)
	}
	inv, err := Load(context.Background(), Options{TFRoot: dir})
	if err != nil {
		b.Fatal(err)
	}
	if len(inv.Hosts) != benchHosts {
		b.Fatalf("%d hosts, want %d", len(inv.Hosts), benchHosts)
	}
	return dir
}

func stateBytes(b *testing.B, dir string) int64 {
	var n int64
	for _, r := range RootKinds {
		if fi, err := os.Stat(filepath.Join(dir, r, "terraform.tfstate")); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// BenchmarkLoad reads a generated 1,000-host deployment from its
// terraform.tfstate files.
func BenchmarkLoad(b *testing.B) {
	benchmarkDirect(b)
}

// BenchmarkLoadDirect and BenchmarkLoadTerraform load the same generated
// 1,000-host deployment, directly and through `terraform state pull`:
//
//	go test -run '^$' -bench 'Load(Direct|Terraform)' ./inventory
func BenchmarkLoadDirect(b *testing.B) {
	benchmarkDirect(b)
}

func benchmarkDirect(b *testing.B) {
	dir := benchDeployment(b)
	b.SetBytes(stateBytes(b, dir))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(context.Background(), Options{TFRoot: dir}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadTerraform is skipped without a terraform binary (see terraformBin).
func BenchmarkLoadTerraform(b *testing.B) {
	bin := terraformBin(b)
	dir := benchDeployment(b)
	b.SetBytes(stateBytes(b, dir))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(context.Background(), Options{TFRoot: dir, Terraform: bin}); err != nil {
			b.Fatal(err)
		}
	}
}
