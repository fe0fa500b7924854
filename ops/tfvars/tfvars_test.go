package tfvars

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files")

func TestSetStrings(t *testing.T) {
	cases := []struct {
		file   string
		values map[string]string
		how    string // how blue_image_tag (or the first key) was found before
		lines  []string
		err    string
	}{
		{file: "example", values: map[string]string{"blue_image_tag": "2.2.0"}, how: Commented,
			lines: []string{`blue_image_tag: (commented-out default "2.1.0") → "2.2.0" (uncommented)`}},
		{file: "set", values: map[string]string{"blue_image_tag": "2.2.0"}, how: Set,
			lines: []string{`blue_image_tag: "2.1.0" → "2.2.0"`}},
		{file: "set", values: map[string]string{"green_image_tag": "3.0.0", "green_image_name": "example.com/ledger"}, how: Absent,
			lines: []string{`green_image_name: (module default) → "example.com/ledger" (added)`, `green_image_tag: "2.1.0" → "3.0.0"`}},
		{file: "absent", values: map[string]string{"blue_image_tag": "2.2.0"}, how: Absent,
			lines: []string{`blue_image_tag: (module default) → "2.2.0" (added)`}},
		{file: "nomap", values: map[string]string{"blue_image_tag": "2.2.0"}, how: Absent,
			lines: []string{`blue_image_tag: (module default) → "2.2.0" (added with a new scalardl map)`}},
		{file: "empty", values: map[string]string{"blue_image_tag": "2.2.0"}, how: Absent,
			lines: []string{`blue_image_tag: (module default) → "2.2.0" (added)`}},
		{file: "quoted", values: map[string]string{"blue_image_tag": "2.2.0"}, how: Set,
			lines: []string{`blue_image_tag: "2.1.0" → "2.2.0"`}},
		{file: "expr", values: map[string]string{"blue_image_tag": "2.2.0"}, err: "not a plain quoted string"},
		{file: "broken", values: map[string]string{"blue_image_tag": "2.2.0"}, err: "parse"},
		{file: "set", values: map[string]string{"blue_image_tag": `2.2.0"; x`}, err: "characters"},
	}
	for _, tc := range cases {
		// The keys in order: a map's own order would name another golden
		// file on every other run.
		keys := make([]string, 0, len(tc.values))
		for k := range tc.values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		name := tc.file + "/" + strings.Join(keys, "/")
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file+".tfvars")
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := SetStrings(path, src, tc.values)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var first string
			for _, l := range tc.lines {
				first, _, _ = strings.Cut(l, ":")
				break
			}
			if e, err := Get(path, src, first); err != nil || e.How != tc.how {
				t.Errorf("before: %s is %+v %v, want %s", first, e, err, tc.how)
			}
			if strings.Join(c.Lines, "\n") != strings.Join(tc.lines, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(c.Lines, "\n"), strings.Join(tc.lines, "\n"))
			}
			golden := filepath.Join("testdata", strings.ReplaceAll(name, "/", "_")+".golden")
			if *update {
				if err := os.WriteFile(golden, c.After, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(c.After) != string(want) {
				t.Errorf("after:\n%s\nwant:\n%s\ndiff:\n%s", c.After, want, c.Diff())
			}
			// Setting the same values again changes nothing.
			again, err := SetStrings(path, c.After, tc.values)
			if err != nil || again.Changed() || len(again.Lines) != 0 {
				t.Errorf("second edit: %v changed=%v %v", err, again != nil && again.Changed(), again)
			}
		})
	}
}

// TestOnlyTheEntryChanges: the diff of the example file touches exactly
// one line, and every other line (comments, alignment) is kept.
func TestOnlyTheEntryChanges(t *testing.T) {
	path := filepath.Join("testdata", "example.tfvars")
	src, _ := os.ReadFile(path)
	c, err := SetStrings(path, src, map[string]string{"blue_image_tag": "2.2.0"})
	if err != nil {
		t.Fatal(err)
	}
	var minus, plus []string
	for _, l := range strings.Split(c.Diff(), "\n") {
		switch {
		case strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"):
		case strings.HasPrefix(l, "-"):
			minus = append(minus, l)
		case strings.HasPrefix(l, "+"):
			plus = append(plus, l)
		}
	}
	if strings.Join(minus, "|") != `-  # blue_image_tag               = "2.1.0"` || strings.Join(plus, "|") != `+  blue_image_tag               = "2.2.0"` {
		t.Errorf("diff:\n%s", c.Diff())
	}
}

func TestWriteAndFind(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile(filepath.Join("testdata", "example.tfvars"))
	path := filepath.Join(dir, "example.tfvars")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.tfvars"), []byte("region = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Find(dir)
	if err != nil || got != path {
		t.Fatalf("Find: %q %v", got, err)
	}
	c, err := SetStrings(path, src, map[string]string{"blue_image_tag": "2.2.0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(); err != nil {
		t.Fatal(err)
	}
	if e, err := Get(path, mustRead(t, path), "blue_image_tag"); err != nil || e.How != Set || e.Value != "2.2.0" {
		t.Errorf("after write: %+v %v", e, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", fi.Mode())
	}
	// A file changed since the diff was computed is not overwritten.
	if err := c.Write(); err == nil || !strings.Contains(err.Error(), "changed since") {
		t.Errorf("stale write: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "second.tfvars"), []byte("scalardl = {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir); err == nil || !strings.Contains(err.Error(), "--tfvars") {
		t.Errorf("two candidates: %v", err)
	}
	if _, err := Find(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--tfvars") {
		t.Errorf("none: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzSetStrings(f *testing.F) {
	for _, n := range []string{"example", "set", "absent", "nomap", "empty", "quoted"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n+".tfvars"))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := SetStrings("x.tfvars", src, map[string]string{"blue_image_tag": "2.2.0"})
		if err == nil && c == nil {
			t.Fatal("nil change without error")
		}
	})
}
