package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestWrapText(t *testing.T) {
	for _, c := range []struct {
		in    string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"pausing failed on scalardl-blue-2.internal", 20, []string{"pausing failed on", "scalardl-blue-2.inte", "rnal"}},
		{"dial scalardl-blue-2 refused", 16, []string{"dial", "scalardl-blue-2", "refused"}},
		{"a\nb c", 10, []string{"a", "b c"}},
	} {
		got := wrapText(c.in, c.width)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("wrapText(%q, %d) = %q, want %q", c.in, c.width, got, c.want)
		}
		for _, l := range got {
			if ansi.StringWidth(l) > c.width {
				t.Errorf("line %q wider than %d", l, c.width)
			}
		}
	}
}

func FuzzWrapText(f *testing.F) {
	f.Add("step x: host-1: exited 2", 7)
	f.Fuzz(func(t *testing.T, s string, w int) {
		w = w%200 + 1
		if w < 1 {
			w = 1
		}
		for _, l := range wrapText(s, w) {
			if ansi.StringWidth(l) > w && len([]rune(l)) > 1 {
				t.Fatalf("line %q wider than %d", l, w)
			}
		}
	})
}
