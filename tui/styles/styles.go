// Package styles holds every Lip Gloss style of the console, built once by
// DefaultStyles and shared through common.Common.
//
// Colour comes only from here, and every coloured thing also carries a glyph
// or a word so the console reads the same under NO_COLOR (lipgloss' default
// renderer already drops colour when NO_COLOR is set; see ColorProfileFromEnv).
// styles must not import any other tui package, ops/* or inventory.
package styles

import (
	"os"
	"regexp"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Styles is the console's style sheet.
type Styles struct {
	App        lipgloss.Style
	Header     lipgloss.Style
	Env        lipgloss.Style // the environment name outside production
	EnvProd    lipgloss.Style // the environment name in production
	Title      lipgloss.Style
	Muted      lipgloss.Style
	Bold       lipgloss.Style
	Error      lipgloss.Style
	Warning    lipgloss.Style
	Selected   lipgloss.Style
	Group      lipgloss.Style
	TableHead  lipgloss.Style
	Rule       lipgloss.Style
	Footer     lipgloss.Style
	Status     lipgloss.Style
	Command    lipgloss.Style
	Healthy    lipgloss.Style
	Degraded   lipgloss.Style
	Down       lipgloss.Style
	Unknown    lipgloss.Style
	Dialog     lipgloss.Style
	DialogHead lipgloss.Style
	Button     lipgloss.Style
	ButtonOn   lipgloss.Style
	Danger     lipgloss.Style
	Code       lipgloss.Style
	BarFull    lipgloss.Style
	BarEmpty   lipgloss.Style
}

// DefaultStyles returns the default style sheet.
func DefaultStyles() *Styles {
	red := lipgloss.AdaptiveColor{Light: "#C00000", Dark: "#FF5F5F"}
	green := lipgloss.AdaptiveColor{Light: "#007A00", Dark: "#5FD75F"}
	yellow := lipgloss.AdaptiveColor{Light: "#8A6D00", Dark: "#FFD75F"}
	grey := lipgloss.AdaptiveColor{Light: "#6C6C6C", Dark: "#8A8A8A"}
	accent := lipgloss.AdaptiveColor{Light: "#005FAF", Dark: "#5FAFFF"}
	s := &Styles{}
	s.App = lipgloss.NewStyle()
	s.Header = lipgloss.NewStyle()
	s.Env = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#005F87")).Padding(0, 1)
	s.EnvProd = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#AF0000")).Padding(0, 1)
	s.Title = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Muted = lipgloss.NewStyle().Foreground(grey)
	s.Bold = lipgloss.NewStyle().Bold(true)
	s.Error = lipgloss.NewStyle().Foreground(red).Bold(true)
	s.Warning = lipgloss.NewStyle().Foreground(yellow)
	s.Selected = lipgloss.NewStyle().Reverse(true)
	s.Group = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.TableHead = lipgloss.NewStyle().Bold(true).Underline(true)
	s.Rule = lipgloss.NewStyle().Foreground(grey)
	s.Footer = lipgloss.NewStyle().Foreground(grey)
	s.Status = lipgloss.NewStyle().Foreground(accent)
	s.Command = lipgloss.NewStyle().Bold(true)
	s.Healthy = lipgloss.NewStyle().Foreground(green)
	s.Degraded = lipgloss.NewStyle().Foreground(yellow)
	s.Down = lipgloss.NewStyle().Foreground(red).Bold(true)
	s.Unknown = lipgloss.NewStyle().Foreground(grey)
	s.Dialog = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(red).Padding(0, 1)
	s.DialogHead = lipgloss.NewStyle().Bold(true).Foreground(red)
	s.Button = lipgloss.NewStyle().Padding(0, 1).Border(lipgloss.NormalBorder(), false, false, false, false)
	s.ButtonOn = lipgloss.NewStyle().Padding(0, 1).Reverse(true).Bold(true)
	s.Danger = lipgloss.NewStyle().Foreground(red).Bold(true)
	s.Code = lipgloss.NewStyle().Foreground(accent)
	s.BarFull = lipgloss.NewStyle().Foreground(green)
	s.BarEmpty = lipgloss.NewStyle().Foreground(grey)
	return s
}

// State returns the style for a health state word (healthy, degraded, down, unknown).
func (s *Styles) State(state string) lipgloss.Style {
	switch state {
	case "healthy":
		return s.Healthy
	case "degraded":
		return s.Degraded
	case "down":
		return s.Down
	default:
		return s.Unknown
	}
}

// DefaultProdPattern matches environment names treated as production.
var DefaultProdPattern = regexp.MustCompile(`(?i)prod`)

// EnvStyle returns the style of the environment badge. color, when set,
// wins (a lipgloss colour such as "#AF0000" or "196"); otherwise names
// matching prod (DefaultProdPattern when nil) are red.
func (s *Styles) EnvStyle(name, color string, prod *regexp.Regexp) lipgloss.Style {
	if color != "" {
		return s.Env.Background(lipgloss.Color(color))
	}
	if prod == nil {
		prod = DefaultProdPattern
	}
	if prod.MatchString(name) {
		return s.EnvProd
	}
	return s.Env
}

// ColorProfileFromEnv forces the ASCII profile when NO_COLOR is set. Lip
// Gloss' default renderer already honours NO_COLOR through termenv; this
// makes it explicit and also covers renderers created before the variable
// was read.
func ColorProfileFromEnv() {
	if os.Getenv("NO_COLOR") != "" {
		lipgloss.SetColorProfile(termenv.Ascii)
	}
}
