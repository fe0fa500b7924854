package styles

import (
	"regexp"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func TestNoColor(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	t.Setenv("NO_COLOR", "1")
	ColorProfileFromEnv()
	if p := lipgloss.ColorProfile(); p != termenv.Ascii {
		t.Fatalf("profile %v under NO_COLOR, want Ascii", p)
	}
	s := DefaultStyles()
	if got := s.Down.Render("down"); got != "down" {
		t.Errorf("NO_COLOR still styles: %q", got)
	}
}

func TestEnvStyle(t *testing.T) {
	s := DefaultStyles()
	if got := s.EnvStyle("scalar-prod-tokyo", "", nil).GetBackground(); got != s.EnvProd.GetBackground() {
		t.Errorf("prod name: background %v, want the production red", got)
	}
	if got := s.EnvStyle("staging-1", "", nil).GetBackground(); got != s.Env.GetBackground() {
		t.Errorf("staging: background %v", got)
	}
	if got := s.EnvStyle("live-eu", "", regexp.MustCompile(`^live-`)).GetBackground(); got != s.EnvProd.GetBackground() {
		t.Errorf("custom pattern: background %v", got)
	}
	if got := s.EnvStyle("scalar-prod-tokyo", "#00AF00", nil).GetBackground(); got != lipgloss.Color("#00AF00") {
		t.Errorf("explicit colour: background %v", got)
	}
}
