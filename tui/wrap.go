package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// wrapText wraps plain text at spaces to lines of at most width cells,
// breaking only words longer than a line (IDs and host names stay whole
// whenever they fit). Newlines in s are kept.
func wrapText(s string, width int) []string {
	width = max(width, 1)
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line, lw := "", 0
		for _, word := range strings.Fields(para) {
			ww := ansi.StringWidth(word)
			switch {
			case lw == 0 && ww <= width:
				line, lw = word, ww
			case lw > 0 && lw+1+ww <= width:
				line, lw = line+" "+word, lw+1+ww
			default:
				if lw > 0 {
					out = append(out, line)
				}
				parts := strings.Split(ansi.Hardwrap(word, width, true), "\n")
				out = append(out, parts[:len(parts)-1]...)
				line, lw = parts[len(parts)-1], ansi.StringWidth(parts[len(parts)-1])
			}
		}
		out = append(out, line)
	}
	return out
}
