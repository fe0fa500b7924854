package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

const (
	module   = "scalar-tui"
	internal = module + "/internal"
	// operator is the operator's binary; demo the one internal package it may import.
	operator = module + "/cmd/scalar-tui"
	demo     = internal + "/demo"
)

// labOnly are internal packages that must not be linked into the operator's
// binary at all, not even through internal/demo.
var labOnly = []string{internal + "/lab", internal + "/labnodes"}

// pkg is one package of the module as `go list` reports it (tests excluded).
type pkg struct {
	path    string
	imports []string // direct imports
	deps    []string // every transitive dependency
}

func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// violations returns the breaches of the import rules in pkgs, one line each.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		switch {
		case p.path == operator:
			for _, imp := range p.imports {
				if under(imp, internal) && imp != demo {
					out = append(out, fmt.Sprintf("%s imports %s (only %s is allowed)", p.path, imp, demo))
				}
			}
			for _, dep := range p.deps {
				for _, l := range labOnly {
					if under(dep, l) {
						out = append(out, fmt.Sprintf("%s links %s (lab code belongs to cmd/scalar-sim)", p.path, dep))
					}
				}
			}
		case under(p.path, internal), under(p.path, module+"/cmd"):
			// The simulator, the demo, the lab and other binaries may use internal/.
		default:
			for _, imp := range p.imports {
				if under(imp, internal) {
					out = append(out, fmt.Sprintf("%s imports %s (production packages never import internal/)", p.path, imp))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// listModule runs `go list -deps` over the whole module from its root.
func listModule(t *testing.T) []pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the module root")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	// One line per package: path, then its direct imports, then its deps,
	// separated by '|'. Test files are not listed: tests may use the lab.
	cmd := exec.Command(goBin, "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 3 {
			t.Fatalf("go list: unexpected line %q", sc.Text())
		}
		pkgs = append(pkgs, pkg{path: f[0], imports: strings.Fields(f[1]), deps: strings.Fields(f[2])})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// TestImportRules checks the module's real import graph.
func TestImportRules(t *testing.T) {
	pkgs := listModule(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.path] = true
	}
	// A listing that lost the packages the rules are about would pass vacuously.
	for _, want := range []string{operator, demo, module + "/ops/health", module + "/cmd/scalar-sim"} {
		if !seen[want] {
			t.Fatalf("go list did not report %s (%d packages)", want, len(pkgs))
		}
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestViolations pins what the rules catch on small made-up graphs.
func TestViolations(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkgs []pkg
		want []string
	}{
		{"clean", []pkg{
			{path: operator, imports: []string{demo, module + "/tui"}, deps: []string{demo, internal + "/sim", module + "/tui"}},
			{path: module + "/cmd/scalar-sim", imports: []string{internal + "/lab", internal + "/sim"}},
			{path: demo, imports: []string{internal + "/sim", module + "/ops/health"}},
			{path: module + "/ops/health", imports: []string{module + "/inventory"}},
		}, nil},
		{"production imports internal", []pkg{
			{path: module + "/ops/health", imports: []string{module + "/inventory", internal + "/sim"}},
		}, []string{"scalar-tui/ops/health imports scalar-tui/internal/sim (production packages never import internal/)"}},
		{"operator imports lab", []pkg{
			{path: operator, imports: []string{demo, internal + "/lab"}, deps: []string{demo, internal + "/lab"}},
		}, []string{
			"scalar-tui/cmd/scalar-tui imports scalar-tui/internal/lab (only scalar-tui/internal/demo is allowed)",
			"scalar-tui/cmd/scalar-tui links scalar-tui/internal/lab (lab code belongs to cmd/scalar-sim)",
		}},
		{"operator links labnodes through demo", []pkg{
			{path: operator, imports: []string{demo}, deps: []string{demo, internal + "/labnodes"}},
		}, []string{"scalar-tui/cmd/scalar-tui links scalar-tui/internal/labnodes (lab code belongs to cmd/scalar-sim)"}},
		{"internal name prefix is not internal", []pkg{
			{path: module + "/ops/x", imports: []string{module + "/internalish"}},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := violations(tc.pkgs)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
