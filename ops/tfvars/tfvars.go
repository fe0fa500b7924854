// Package tfvars edits the `scalardl = { ... }` entry of a scalar-terraform
// scalardl root's *.tfvars file, so that Terraform records the image a
// console upgrade left running (domain.md §4.1: otherwise a routine
// `terraform apply` re-runs the image chain with the old tag on every node
// of the colour at once).
//
// Edits go through HCL's own writer (hclwrite): comments, ordering and
// layout of everything else are kept. A commented-out default, as in
// scalar-terraform-examples' example.tfvars (`# blue_image_tag = "2.1.0"`),
// is uncommented in place; a missing entry is added to the map, and a
// missing map is added to the file. The package only computes and writes
// files; it never runs terraform. It must not import tui or cmd.
package tfvars

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/aymanbagabas/go-udiff"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Variable is the scalardl root's map(string) variable.
const Variable = "scalardl"

// How an entry was found.
const (
	// Set: the entry is present with a string value.
	Set = "set"
	// Commented: the entry is only a commented-out line (the module default applies).
	Commented = "commented"
	// Absent: neither (the module default applies).
	Absent = "absent"
)

// Entry is one key of the scalardl map as the file has it.
type Entry struct {
	Key   string
	Value string // the value when Set, or the commented-out value
	How   string // Set, Commented or Absent
}

// Change is the result of setting entries: the file before and after.
type Change struct {
	Path          string
	Before, After []byte
	// Lines says per key what changed, e.g. `blue_image_tag: "2.1.0" → "2.2.0" (uncommented)`.
	Lines []string
}

// Changed reports whether the file content changes.
func (c *Change) Changed() bool { return !bytes.Equal(c.Before, c.After) }

// Diff is a unified diff of the change ("" when nothing changes).
func (c *Change) Diff() string {
	if !c.Changed() {
		return ""
	}
	return udiff.Unified(c.Path, c.Path, string(c.Before), string(c.After))
}

// Write writes After to Path, keeping the file's mode (0644 for a new
// file), through a temporary file and a rename.
func (c *Change) Write() error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(c.Path); err == nil {
		mode = fi.Mode().Perm()
		cur, err := os.ReadFile(c.Path)
		if err != nil {
			return err
		}
		if !bytes.Equal(cur, c.Before) {
			return fmt.Errorf("%s changed since the diff was shown; nothing written, run again", c.Path)
		}
	} else if len(c.Before) > 0 {
		return fmt.Errorf("%s: %w", c.Path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.Path), ".scalar-tui-*.tfvars")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(c.After); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), c.Path)
}

var (
	keyRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	valueRE   = regexp.MustCompile(`^[A-Za-z0-9_./:@-]*$`)
	commentRE = regexp.MustCompile(`^(#|//)\s*("?)([A-Za-z_][A-Za-z0-9_-]*)("?)(\s*)=(\s*)"([^"\\]*)"\s*$`)
)

// parse parses src as a tfvars file.
func parse(path string, src []byte) (*hclwrite.File, error) {
	if _, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos); diags.HasErrors() {
		return nil, fmt.Errorf("parse %s: %s", path, diags.Error())
	}
	f, diags := hclwrite.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("parse %s: %s", path, diags.Error())
	}
	return f, nil
}

// Get returns how the file sets key inside the scalardl map.
func Get(path string, src []byte, key string) (Entry, error) {
	f, err := parse(path, src)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Key: key, How: Absent}
	attr := f.Body().GetAttribute(Variable)
	if attr == nil {
		return e, nil
	}
	toks := attr.Expr().BuildTokens(nil)
	if i, ok := findKey(toks, key); ok {
		v, err := stringValue(toks, i, key)
		if err != nil {
			return e, err
		}
		return Entry{Key: key, Value: v, How: Set}, nil
	}
	if i := findComment(toks, key); i >= 0 {
		m := commentRE.FindSubmatch(bytes.TrimSpace(toks[i].Bytes))
		return Entry{Key: key, Value: string(m[7]), How: Commented}, nil
	}
	return e, nil
}

// SetStrings returns the change that makes the scalardl map of the file at
// path (content src; empty for a new file) set each key to its value.
func SetStrings(path string, src []byte, values map[string]string) (*Change, error) {
	f, err := parse(path, src)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(values))
	for k, v := range values {
		if !keyRE.MatchString(k) {
			return nil, fmt.Errorf("tfvars: bad key %q", k)
		}
		if !valueRE.MatchString(v) {
			return nil, fmt.Errorf("tfvars: value %q for %s has characters this editor does not write", v, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := &Change{Path: path, Before: src}
	body := f.Body()
	attr := body.GetAttribute(Variable)
	if attr == nil {
		// Appended as text: the rest of the file stays byte for byte.
		var b bytes.Buffer
		b.Write(src)
		switch {
		case len(src) == 0:
		case !bytes.HasSuffix(src, []byte("\n")):
			b.WriteString("\n\n")
		case !bytes.HasSuffix(src, []byte("\n\n")):
			b.WriteString("\n")
		}
		b.WriteString(Variable + " = {\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s = %q\n", k, values[k])
			c.Lines = append(c.Lines, fmt.Sprintf("%s: (module default) → %q (added with a new %s map)", k, values[k], Variable))
		}
		b.WriteString("}\n")
		c.After = b.Bytes()
		return c, c.verify(values)
	}
	toks := attr.Expr().BuildTokens(nil)
	if len(toks) < 2 || toks[0].Type != hclsyntax.TokenOBrace || toks[len(toks)-1].Type != hclsyntax.TokenCBrace {
		return nil, fmt.Errorf("%s: %s is not a { ... } map literal; edit it by hand", path, Variable)
	}
	for _, k := range keys {
		v := values[k]
		if i, ok := findKey(toks, k); ok {
			old, err := stringValue(toks, i, k)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if old != v {
				toks[quotedLit(toks, i)].Bytes = []byte(v)
				c.Lines = append(c.Lines, fmt.Sprintf("%s: %q → %q", k, old, v))
			}
			continue
		}
		if i := findComment(toks, k); i >= 0 {
			m := commentRE.FindSubmatch(bytes.TrimSpace(toks[i].Bytes))
			line := string(m[2]) + k + string(m[4]) + string(m[5]) + "=" + string(m[6]) + fmt.Sprintf("%q", v) + "\n"
			toks = replace(toks, i, rawTokens(line), toks[i].SpacesBefore)
			c.Lines = append(c.Lines, fmt.Sprintf("%s: (commented-out default %q) → %q (uncommented)", k, string(m[7]), v))
			continue
		}
		toks = insertBeforeClose(toks, k, v)
		c.Lines = append(c.Lines, fmt.Sprintf("%s: (module default) → %q (added)", k, v))
	}
	body.SetAttributeRaw(Variable, toks)
	c.After = f.BuildTokens(nil).Bytes() // not f.Bytes(): that formats the whole file
	return c, c.verify(values)
}

// verify re-reads After and checks every value, so that a bad edit is never
// shown or written.
func (c *Change) verify(values map[string]string) error {
	for k, v := range values {
		e, err := Get(c.Path, c.After, k)
		if err != nil {
			return fmt.Errorf("tfvars: the edited file does not parse (a bug; nothing written): %w", err)
		}
		if e.How != Set || e.Value != v {
			return fmt.Errorf("tfvars: the edited file does not set %s = %q (a bug; nothing written)", k, v)
		}
	}
	return nil
}

// rawTokens lexes s into hclwrite tokens.
func rawTokens(s string) hclwrite.Tokens {
	lexed, _ := hclsyntax.LexConfig([]byte(s), "", hcl.InitialPos)
	var out hclwrite.Tokens
	for _, t := range lexed {
		if t.Type == hclsyntax.TokenEOF {
			break
		}
		out = append(out, &hclwrite.Token{Type: t.Type, Bytes: t.Bytes})
	}
	// hclwrite stores the spaces between tokens separately.
	pos := 0
	for i, t := range out {
		j := strings.Index(s[pos:], string(t.Bytes))
		if j > 0 && i > 0 {
			t.SpacesBefore = len(strings.TrimLeft(s[pos:pos+j], "\n"))
		}
		pos += j + len(t.Bytes)
	}
	return out
}

// replace puts repl in place of toks[i]; the first new token takes spaces.
func replace(toks hclwrite.Tokens, i int, repl hclwrite.Tokens, spaces int) hclwrite.Tokens {
	if len(repl) > 0 {
		repl[0].SpacesBefore = spaces
	}
	out := append(hclwrite.Tokens{}, toks[:i]...)
	out = append(out, repl...)
	return append(out, toks[i+1:]...)
}

// depths returns each token's bracket depth inside the map literal (1 for
// the map's own items).
func depths(toks hclwrite.Tokens) []int {
	d := make([]int, len(toks))
	depth := 0
	for i, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenTemplateInterp:
			d[i] = depth
			depth++
			continue
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenTemplateSeqEnd:
			depth--
		}
		d[i] = depth
	}
	return d
}

// findKey returns the index of the first token of key's item (its name)
// and whether it was found.
func findKey(toks hclwrite.Tokens, key string) (int, bool) {
	d := depths(toks)
	for i := 0; i < len(toks); i++ {
		if d[i] != 1 {
			continue
		}
		name, next := "", i+1
		switch {
		case toks[i].Type == hclsyntax.TokenIdent:
			name = string(toks[i].Bytes)
		case toks[i].Type == hclsyntax.TokenOQuote && i+2 < len(toks) && toks[i+1].Type == hclsyntax.TokenQuotedLit && toks[i+2].Type == hclsyntax.TokenCQuote:
			name, next = string(toks[i+1].Bytes), i+3
		default:
			continue
		}
		if name == key && next < len(toks) && (toks[next].Type == hclsyntax.TokenEqual || toks[next].Type == hclsyntax.TokenColon) {
			// An item starts a line (or follows the brace or a comma).
			if p := i - 1; p < 0 || toks[p].Type == hclsyntax.TokenNewline || toks[p].Type == hclsyntax.TokenOBrace || toks[p].Type == hclsyntax.TokenComma || toks[p].Type == hclsyntax.TokenComment {
				return i, true
			}
		}
	}
	return -1, false
}

// valueStart returns the index of the first token of the value of the item
// starting at i.
func valueStart(toks hclwrite.Tokens, i int) int {
	for j := i; j < len(toks); j++ {
		if toks[j].Type == hclsyntax.TokenEqual || toks[j].Type == hclsyntax.TokenColon {
			return j + 1
		}
	}
	return len(toks)
}

// quotedLit returns the index of the literal of the item at i (see stringValue).
func quotedLit(toks hclwrite.Tokens, i int) int { return valueStart(toks, i) + 1 }

// stringValue returns the item's value when it is a plain "string".
func stringValue(toks hclwrite.Tokens, i int, key string) (string, error) {
	j := valueStart(toks, i)
	if j+2 < len(toks) && toks[j].Type == hclsyntax.TokenOQuote && toks[j+1].Type == hclsyntax.TokenQuotedLit && toks[j+2].Type == hclsyntax.TokenCQuote {
		return string(toks[j+1].Bytes), nil
	}
	return "", fmt.Errorf("%s in %s is not a plain quoted string; edit it by hand", key, Variable)
}

// findComment returns the index of a depth-1 comment `# key = "value"`, or -1.
func findComment(toks hclwrite.Tokens, key string) int {
	d := depths(toks)
	for i, t := range toks {
		if d[i] != 1 || t.Type != hclsyntax.TokenComment {
			continue
		}
		if m := commentRE.FindSubmatch(bytes.TrimSpace(t.Bytes)); m != nil && string(m[3]) == key {
			return i
		}
	}
	return -1
}

// insertBeforeClose adds `key = "value"` as the map's last item, indented
// like its other lines.
func insertBeforeClose(toks hclwrite.Tokens, key, value string) hclwrite.Tokens {
	indent := 2
	d := depths(toks)
	for i, t := range toks {
		if d[i] == 1 && i > 0 && toks[i-1].Type == hclsyntax.TokenNewline && (t.Type == hclsyntax.TokenIdent || t.Type == hclsyntax.TokenComment || t.Type == hclsyntax.TokenOQuote) {
			indent = t.SpacesBefore
			break
		}
	}
	last := len(toks) - 1 // the closing brace
	var add hclwrite.Tokens
	prev := toks[last-1]
	if prev.Type != hclsyntax.TokenNewline && prev.Type != hclsyntax.TokenComment {
		add = append(add, &hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
	}
	item := rawTokens(fmt.Sprintf("%s = %q\n", key, value))
	item[0].SpacesBefore = indent
	add = append(add, item...)
	toks[last].SpacesBefore = 0
	out := append(hclwrite.Tokens{}, toks[:last]...)
	out = append(out, add...)
	return append(out, toks[last])
}

// Find returns the *.tfvars file in dir that sets the scalardl map. With
// none or several it fails and says to name one with --tfvars.
func Find(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("the scalardl root's directory is not known; name its tfvars file with --tfvars FILE")
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.tfvars"))
	if err != nil {
		return "", err
	}
	var hits []string
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		f, err := parse(n, src)
		if err != nil {
			continue
		}
		if f.Body().GetAttribute(Variable) != nil {
			hits = append(hits, n)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return "", fmt.Errorf("no *.tfvars in %s sets `%s = { ... }`; name the file you pass to terraform with --tfvars FILE", dir, Variable)
	}
	return "", fmt.Errorf("several *.tfvars in %s set `%s = { ... }` (%s); name the one you pass to terraform with --tfvars FILE", dir, Variable, strings.Join(hits, ", "))
}
