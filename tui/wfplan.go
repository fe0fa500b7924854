package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	wf "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// planModel shows a plan before it runs: every line of it as --dry-run
// prints it, each preflight check marked with its result, scrolled by the
// operator, and why it cannot be confirmed when it cannot.
type planModel struct {
	common common.Common
	// kind is the workflow planned (named by a plan error).
	kind  vm.WorkflowKind
	shown vm.PlanView
	err   error
	// scroll is the first plan line shown.
	scroll int
	// Preflight of the plan shown: checking while it runs, then checks
	// (or checkErr when it could not run). Without a vm.Preflighter the
	// checks are only listed; the run checks them.
	checking bool
	checks   []vm.CheckView
	checkErr error
	// confirmAfterCheck is set by Enter while preflight runs: the confirm
	// dialog opens when every check passed (and never otherwise).
	confirmAfterCheck bool
	width             int
	height            int
}

func newPlanModel(c common.Common) *planModel { return &planModel{common: c} }

// reset forgets the plan shown, for kind about to be planned.
func (p *planModel) reset(kind vm.WorkflowKind) {
	p.kind, p.shown, p.err, p.scroll = kind, vm.PlanView{}, nil, 0
	p.unchecked()
}

// unchecked forgets the preflight results (a new plan is coming).
func (p *planModel) unchecked() {
	p.checking, p.checks, p.checkErr, p.confirmAfterCheck = false, nil, nil, false
}

// loaded shows a plan the backend made (or why it could not).
func (p *planModel) loaded(plan vm.PlanView, err error) {
	p.shown, p.err = plan, err
}

// preflight runs the plan's checks now, if the backend can, so the plan
// view shows each one's result before the operator confirms; seq ties the
// answer to this plan.
func (p *planModel) preflight(seq int) tea.Cmd {
	pf, ok := p.common.Backend.(vm.Preflighter)
	if !ok || p.err != nil || len(p.shown.Checks) == 0 {
		return nil
	}
	p.checking = true
	id, c := p.shown.ID, p.common
	return common.Wrap(common.WorkflowID, func() tea.Msg {
		checks, err := pf.Preflight(c.Ctx, id)
		return preflightDoneMsg{seq: seq, planID: id, checks: checks, err: err}
	})
}

// checked shows the preflight's results; it reports whether the operator
// asked to confirm while the checks ran.
func (p *planModel) checked(msg preflightDoneMsg) bool {
	p.checking, p.checks, p.checkErr = false, msg.checks, msg.err
	ask := p.confirmAfterCheck
	p.confirmAfterCheck = false
	return ask
}

// waitForChecks reports whether preflight still runs on a plan that may
// be confirmed; the confirmation is then asked for once it passes.
func (p *planModel) waitForChecks() bool {
	if p.checking && p.err == nil {
		p.confirmAfterCheck = true
		return true
	}
	return false
}

// refusal says why the plan shown cannot be confirmed, or "" when it can.
func (p *planModel) refusal() string {
	switch {
	case p.err != nil || len(p.shown.Steps) == 0:
		return "nothing to run"
	case p.checking:
		return "preflight is still running: wait for every check's ✓ or ✗"
	case p.checkErr != nil:
		return "preflight could not run (" + p.checkErr.Error() + "); the plan cannot be confirmed"
	}
	for _, c := range p.checks {
		if !c.OK {
			return "preflight " + c.Name + " failed: " + c.Reason + "; the plan cannot be confirmed"
		}
	}
	return ""
}

// confirmTitle is the confirm dialog's question about the plan shown, in
// environment env ("" when unknown).
func (p *planModel) confirmTitle(env string) string {
	if env == "" {
		env = "this environment"
	}
	return fmt.Sprintf("Run %s on %d hosts of %s? (%d steps)", p.shown.Title, len(p.shown.HostOrder()), env, len(p.shown.Steps))
}

// SetSize sets the plan view's area.
func (p *planModel) SetSize(w, h int) { p.width, p.height = w, h }

// page is how many plan lines the view shows.
func (p *planModel) page() int { return max(p.height-4, 1) }

// Update scrolls the plan.
func (p *planModel) Update(msg tea.Msg) (*planModel, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return p, nil
	}
	km := p.common.Keys
	switch {
	case km.Matches(k, keymap.Down):
		p.scroll++
	case km.Matches(k, keymap.Up):
		p.scroll = max(p.scroll-1, 0)
	case km.Matches(k, keymap.PageDown):
		p.scroll += p.page()
	case km.Matches(k, keymap.PageUp):
		p.scroll = max(p.scroll-p.page(), 0)
	}
	return p, nil
}

// canaryLine says whether the plan stops after its first host; "" when the
// workflow does not honour a canary stop.
func canaryLine(p vm.PlanView, km *keymap.KeyMap) string {
	if !p.CanaryOK {
		return ""
	}
	if p.Params.Canary {
		first := "the first host"
		if hs := p.HostOrder(); len(hs) > 0 {
			first = render.ShortHost(hs[0])
		}
		return "canary: ON — stops after " + first + " and waits for " + km.Key(keymap.Continue) + " (continue) before the rest"
	}
	return "canary: off — runs every host without stopping (" + km.Key(keymap.CanaryMode) + " here stops after the first host)"
}

// lines is the plan shown in full, as workflow.Plan.Lines rendered it
// (the text --dry-run prints) without its title, which the screen's head
// shows: each preflight check marked with its result so far, each step, its
// host, its exact commands and its gate.
func (p *planModel) lines() []string {
	results := map[int]vm.CheckView{}
	for i, c := range p.checks {
		results[i] = c
	}
	var out []string
	for _, l := range p.shown.Lines {
		switch {
		case l.Kind == wf.PlanTitle:
		case l.Kind == wf.PlanHeading && l.Body == wf.HeadingPreflight:
			switch {
			case p.checking:
				out = append(out, "Preflight (checking now…):")
			case p.checks != nil || p.checkErr != nil:
				out = append(out, "Preflight (checked now, and again when the run starts):")
			default:
				out = append(out, "Preflight (checked when the run starts; any failure refuses it):")
			}
		case l.Kind == wf.PlanCheck:
			r, ok := results[l.Index]
			mark := "-"
			switch {
			case p.checking:
				mark = "…"
			case ok && r.OK:
				mark = "✓"
			case ok:
				mark = "✗"
			}
			for j, w := range wrapText(l.Body, max(p.width-4, 10)) {
				if j == 0 {
					out = append(out, "  "+mark+" "+w)
				} else {
					out = append(out, "    "+w)
				}
			}
			if ok && !r.OK {
				for _, w := range wrapText(r.Reason, max(p.width-6, 10)) {
					out = append(out, "      "+w)
				}
			}
			if l.Index == len(p.shown.Checks)-1 && p.checkErr != nil {
				out = append(out, "  ✗ preflight could not run: "+p.checkErr.Error())
			}
		default:
			out = append(out, l.Text)
		}
	}
	return out
}

// View renders the plan's head, its state line and a page of its lines.
func (p *planModel) View() string {
	st := p.common.Styles
	if p.err != nil {
		var b strings.Builder
		for _, l := range wrapText("plan "+string(p.kind)+": "+p.err.Error(), max(p.width, 10)) {
			b.WriteString(st.Error.Render(l) + "\n")
		}
		return b.String()
	}
	kind := string(p.shown.Kind) + " · "
	if string(p.shown.Kind) == p.shown.Title {
		kind = "" // the title is the kind's name: say it once
	}
	head := st.Title.Render("Plan: "+p.shown.Title) + st.Muted.Render(fmt.Sprintf("  %s%d steps on %d hosts · id %s", kind, len(p.shown.Steps), len(p.shown.HostOrder()), p.shown.ID))
	lines := p.lines()
	h := p.page()
	scroll := min(p.scroll, max(len(lines)-h, 0))
	end := min(scroll+h, len(lines))
	var b strings.Builder
	b.WriteString(render.Fit(head, p.width))
	b.WriteByte('\n')
	cl := canaryLine(p.shown, p.common.Keys)
	switch {
	case p.refusal() != "" && !p.checking:
		b.WriteString(st.Error.Render(render.Fit("cannot run: preflight failed (details below)", p.width)))
	case p.checking:
		b.WriteString(st.Muted.Render(render.Fit("running the preflight checks…", p.width)))
	case !p.common.Keys.Allowed(keymap.Run):
		b.WriteString(st.Warning.Render(render.Fit("read-only session: this plan is shown, never run", p.width)))
	case cl != "" && p.shown.Params.Canary:
		b.WriteString(st.Warning.Render(render.Fit(cl, p.width)))
	case cl != "":
		b.WriteString(st.Muted.Render(render.Fit(cl, p.width)))
	case len(p.checks) > 0:
		b.WriteString(st.Healthy.Render(render.Fit("preflight passed", p.width)))
	}
	b.WriteByte('\n')
	for _, l := range lines[scroll:end] {
		b.WriteByte('\n')
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "$ "):
			b.WriteString(st.Code.Render(render.Fit(l, p.width)))
		case strings.HasPrefix(t, "✗ "):
			b.WriteString(st.Down.Render(render.Fit(l, p.width)))
		case strings.HasPrefix(t, "✓ "):
			b.WriteString(st.Healthy.Render(render.Fit(l, p.width)))
		default:
			b.WriteString(render.Fit(l, p.width))
		}
	}
	for i := end - scroll; i < h; i++ {
		b.WriteByte('\n')
	}
	more := fmt.Sprintf("lines %d-%d of %d", scroll+1, end, len(lines))
	if below := len(lines) - end; below > 0 {
		more += fmt.Sprintf(" · ↓ %d more lines below", below)
	}
	b.WriteString("\n" + st.Muted.Render(render.Fit(more, p.width)))
	return b.String()
}

// ShortHelp returns the plan's keys that apply now.
func (p *planModel) ShortHelp() []key.Binding {
	km := p.common.Keys
	b := km.Binding
	var out []key.Binding
	if p.refusal() == "" && km.Allowed(keymap.Run) {
		out = append(out, b(keymap.Run))
	}
	if p.shown.CanaryOK && p.err == nil {
		out = append(out, b(keymap.CanaryMode))
	}
	if len(p.lines()) > p.page() {
		out = append(out, b(keymap.Down))
	}
	return append(out, b(keymap.Back))
}
