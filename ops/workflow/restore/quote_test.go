package restore

import (
	"os/exec"
	"strings"
	"testing"

	"scalar-tui/ops/shell"
)

// FuzzVarsRoundTrip: any tag ValidTag accepts reaches the remote shell's
// variable unchanged through vars (real sh), and a ~/ path expands to the
// home with the rest literal.
func FuzzVarsRoundTrip(f *testing.F) {
	for _, s := range []string{"b1", `b1'; touch PWNED; $(touch X) "x` + "`y`", "a b\\c", "*", "$HOME", "-n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		if ValidTag(tag) != nil || strings.ContainsRune(tag, 0) {
			return
		}
		script := vars("T", shell.Quote(tag), "D", rpath("~/d $x")) + `; printf '%s\n%s' "$T" "$D"`
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = []string{"HOME=/h"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%q: %v", script, err)
		}
		got, d, _ := strings.Cut(string(out), "\n")
		if got != tag || d != "/h/d $x" {
			t.Fatalf("tag %q came out as %q, dir %q", tag, got, d)
		}
	})
}

func TestValidTagAndDir(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "a\nb", strings.Repeat("x", 201)} {
		if ValidTag(bad) == nil {
			t.Errorf("ValidTag(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"data", "/", "/data/", "/data/../etc", "~", "~user/x", "/da\tta"} {
		if validDir(bad) == nil {
			t.Errorf("validDir(%q) accepted", bad)
		}
	}
	for _, good := range []string{"/data", "~/data", "/var/lib/cassandra/data"} {
		if err := validDir(good); err != nil {
			t.Errorf("validDir(%q): %v", good, err)
		}
	}
}
