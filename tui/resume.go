package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// Root messages about unfinished runs.
type (
	// unfinishedRunsMsg carries the journal's runs read at start (or after
	// an environment switch), for the resume offer.
	unfinishedRunsMsg struct {
		runs []vm.RunView
		err  error
	}
	// resumeLookupMsg carries the run `:resume ID` names.
	resumeLookupMsg struct {
		id  string
		run vm.RunView
		ok  bool
		err error
	}
)

// offerRunsLimit is how many recent runs the start-up check reads.
const offerRunsLimit = 50

// loadUnfinished reads the journal's recent runs for the resume offer.
func loadUnfinished(c common.Common) tea.Cmd {
	return func() tea.Msg {
		runs, err := c.Backend.Runs(c.Ctx, offerRunsLimit)
		return unfinishedRunsMsg{runs: runs, err: err}
	}
}

// lookupRun finds run id in the journal for `:resume ID`.
func lookupRun(c common.Common, id string) tea.Cmd {
	return func() tea.Msg {
		runs, err := c.Backend.Runs(c.Ctx, 0)
		for _, r := range runs {
			if r.ID == id {
				return resumeLookupMsg{id: id, run: r, ok: true}
			}
		}
		return resumeLookupMsg{id: id, err: err}
	}
}

// unfinished keeps the runs that stopped before their end. A run whose
// process died while it had the cluster in a dangerous state (crashed, with
// a warning such as "Scalar DL was paused") comes first: it is the one to
// fix now.
func unfinished(runs []vm.RunView) []vm.RunView {
	var out, rest []vm.RunView
	for _, r := range runs {
		switch {
		case !r.Unfinished():
		case urgent(r):
			out = append(out, r)
		default:
			rest = append(rest, r)
		}
	}
	return append(out, rest...)
}

// urgent reports a crashed run that left the cluster in a state to undo.
func urgent(r vm.RunView) bool { return r.State == runStateCrashed && r.Warning != "" }

// runStateCrashed is the journal's display status of a run whose process is
// gone (ops/workflow.StatusCrashed).
const runStateCrashed = "crashed"

// resumeOffer is the modal shown at start when the journal holds unfinished
// runs: it lists them, r asks to resume the selected one (the root's confirm
// dialog), esc dismisses it. It never resumes anything itself.
type resumeOffer struct {
	common common.Common
	runs   []vm.RunView
	cursor int
	width  int
	height int
}

func newResumeOffer(c common.Common, runs []vm.RunView) *resumeOffer {
	return &resumeOffer{common: c, runs: runs, width: c.Width, height: c.Height}
}

// Init does nothing.
func (o *resumeOffer) Init() tea.Cmd { return nil }

// SetSize sets the area the offer is centred in.
func (o *resumeOffer) SetSize(w, h int) { o.width, o.height = w, h }

// Selected returns the run under the cursor.
func (o *resumeOffer) Selected() (vm.RunView, bool) {
	if o.cursor < 0 || o.cursor >= len(o.runs) {
		return vm.RunView{}, false
	}
	return o.runs[o.cursor], true
}

// Update moves the cursor and turns r into a ResumeMsg; the root handles
// esc (dismiss) and the global keys.
func (o *resumeOffer) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return o, nil
	}
	km := o.common.Keys
	switch {
	case km.Matches(k, keymap.Up):
		o.cursor = max(o.cursor-1, 0)
	case km.Matches(k, keymap.Down):
		o.cursor = min(o.cursor+1, max(len(o.runs)-1, 0))
	case km.Matches(k, keymap.Resume):
		if r, ok := o.Selected(); ok {
			return o, func() tea.Msg { return common.ResumeMsg{Run: r} }
		}
	}
	return o, nil
}

// runLines describes one run in a few lines: what, when, how far, and any
// warning about the state it left the cluster in.
func runLines(r vm.RunView, age string) []string {
	title := r.Title
	if title == "" {
		title = string(r.Kind)
	}
	out := []string{fmt.Sprintf("%s  %s  %s · started %s (%s ago) · %d hosts", r.ID, r.Kind, r.State, r.Started.UTC().Format("2006-01-02 15:04"), age, r.Hosts)}
	d := title
	if r.Detail != "" {
		d += " — " + r.Detail
	}
	out = append(out, "  "+d)
	return out
}

// View renders the offer box (not centred; see Overlay).
func (o *resumeOffer) View() string {
	st := o.common.Styles
	w := min(max(o.width-6, 20), 110)
	inner := w - 4
	var b strings.Builder
	b.WriteString(st.DialogHead.Render(render.Fit(fmt.Sprintf("Unfinished workflow runs (%d) — left by an earlier session", len(o.runs)), inner)))
	b.WriteString("\n\n")
	// Each run takes 2 or 3 lines; show a window of them around the cursor.
	avail := max(o.height-9, 3)
	var lines []string
	cursorLine := 0
	for i, r := range o.runs {
		if i == o.cursor {
			cursorLine = len(lines)
		}
		rl := runLines(r, render.Age(o.common.Now().Sub(r.Started)))
		for j, l := range rl {
			mark := "  "
			if j == 0 && i == o.cursor {
				mark = "> "
			}
			l = render.Fit(mark+l, inner)
			if i == o.cursor && j == 0 {
				l = st.Selected.Render(l)
			} else if j > 0 {
				l = st.Muted.Render(l)
			}
			lines = append(lines, l)
		}
		if r.Warning != "" {
			ws := st.Warning
			if urgent(r) {
				ws = st.Error
			}
			lines = append(lines, ws.Render(render.Fit("    ! "+r.Warning, inner)))
		}
	}
	off := 0
	if cursorLine >= avail {
		off = cursorLine - avail + 3
	}
	off = min(off, max(len(lines)-avail, 0))
	end := min(off+avail, len(lines))
	b.WriteString(strings.Join(lines[off:end], "\n"))
	if end < len(lines) {
		b.WriteString("\n" + st.Muted.Render(render.Fit("  … more below (↓)", inner)))
	}
	b.WriteString("\n\n")
	km := o.common.Keys
	back := km.Binding(keymap.Back).Help().Key
	b.WriteString(st.Bold.Render(render.Fit(km.Binding(keymap.Resume).Help().Key+" resume (asks to confirm) · ↑/↓ select · "+back+" dismiss (:runs lists them later)", inner)))
	return st.Dialog.Width(w).Render(b.String())
}

// Overlay centres the offer over a background of the given size.
func (o *resumeOffer) Overlay(width, height int) string {
	return lipgloss.Place(width, height, lipgloss.Center, lipgloss.Center, o.View())
}

// ShortHelp returns the offer's keys.
func (o *resumeOffer) ShortHelp() []key.Binding {
	km := o.common.Keys
	dismiss := km.Binding(keymap.Back)
	dismiss.SetHelp(dismiss.Help().Key, "dismiss")
	return []key.Binding{km.Binding(keymap.Resume), km.Binding(keymap.Up), km.Binding(keymap.Down), dismiss, km.Binding(keymap.Quit)}
}

// FullHelp returns the offer's keys in one column.
func (o *resumeOffer) FullHelp() [][]key.Binding { return [][]key.Binding{o.ShortHelp()} }

// resumeLines describe run in the confirm dialog.
func resumeLines(r vm.RunView, age string) []string {
	out := runLines(r, age)
	if r.Warning != "" {
		out = append(out, "", "! "+r.Warning)
	}
	if r.ConfirmName != "" {
		out = append(out, "", "! Resuming a "+string(r.Kind)+" replaces the data of every node again:",
			"  type the deployment's name, as when it started.")
	}
	return append(out, "",
		"The run continues at its first unfinished step; steps already done are not",
		"run again. The console follows it like a fresh run (p pause, ctrl+c cancel).")
}
