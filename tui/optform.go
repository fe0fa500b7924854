package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	opsworkflow "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/components/input"
)

// optionForm asks for options of a workflow kind before it is planned
// (the catalog's ConsoleAsk: the upgrade's target tag). It is built from
// the kinds' KindOptions alone: one field per option, labelled and noted as
// the option says, its value parsed and range-checked by the option
// (ParseValue, Check); an option that names a completion (Complete) offers
// its candidates before the free text (the upgrade tag's picker).
type optionForm struct {
	common common.Common
	kind   string
	title  string
	fields []*formField
	focus  int
	// seq ties the completions' async answers to this form.
	seq int
	// extra are options a completion chose beside its field's (the image
	// tarball picked with a tag).
	extra map[string]string
}

// formField is one option's field.
type formField struct {
	opt opsworkflow.KindOption
	// current is the option's value when the form opened ("" unknown).
	current  string
	input    input.Model
	complete completion
}

// completion offers the candidate values of a form field. While it is
// active it has the field's keys; the field's free-text input has them
// otherwise.
type completion interface {
	// Init starts listing the candidates; nil when there is nothing to
	// list (the field is then free text).
	Init() tea.Cmd
	// Active reports whether the candidates have the keys.
	Active() bool
	// Reopen gives the keys back to the candidates after free text was
	// chosen; false when there are none.
	Reopen() bool
	// Update handles a key, or the answer of Init's command. picked, when
	// not nil, is the operator's choice by option name (the field's, and
	// any option chosen beside it); leave is set when the operator left.
	Update(msg tea.Msg) (picked map[string]string, leave bool, cmd tea.Cmd)
	// View renders the candidates under the field's label.
	View(label string) string
	// Note says why no candidate is offered ("" when nothing to say).
	Note() string
	ShortHelp() []key.Binding
}

// completions are the field completions a KindOption.Complete names:
// each is made for option o, with the options known (values by name).
var completions = map[string]func(c common.Common, o opsworkflow.KindOption, values map[string]string) completion{
	"image-tag": newTagPicker,
	"disk-item": newDiskPicker,
}

// ownHeader is a completion that says itself what its field is about
// while it has the keys (a selection has no "current" value).
type ownHeader interface{ OwnHeader() bool }

// formMsg carries a completion's async answer to field of the form seq.
type formMsg struct {
	seq   int
	field int
	msg   tea.Msg
}

// formAction is what a message did to the form.
type formAction int

const (
	formStay formAction = iota
	// formLeave: the operator left without choosing.
	formLeave
	// formSubmit: every field has a valid value; see values.
	formSubmit
)

// newOptionForm builds the form of kind's options named by ask, each
// prefilled from values (the options known so far, by name).
func newOptionForm(c common.Common, kind *opsworkflow.Kind, ask []string, values map[string]string, seq int) *optionForm {
	f := &optionForm{common: c, kind: kind.Name, title: kind.ConsoleTitle, seq: seq, extra: map[string]string{}}
	if f.title == "" {
		f.title = kind.Name
	}
	for _, name := range ask {
		o, ok := kind.Option(name)
		if !ok {
			continue
		}
		fl := &formField{opt: o, current: values[name], input: input.New("")}
		fl.input.SetValue(values[name])
		if mk, ok := completions[o.Complete]; ok {
			fl.complete = mk(c, o, values)
		}
		f.fields = append(f.fields, fl)
	}
	return f
}

// Init starts every field's completion.
func (f *optionForm) Init() tea.Cmd {
	var cmds []tea.Cmd
	for i, fl := range f.fields {
		if fl.complete == nil {
			continue
		}
		if cmd := fl.complete.Init(); cmd != nil {
			seq, i := f.seq, i
			cmds = append(cmds, func() tea.Msg {
				return common.Envelope{To: common.WorkflowID, Msg: formMsg{seq: seq, field: i, msg: cmd()}}
			})
		}
	}
	return tea.Batch(cmds...)
}

// values are the fields' values and the options chosen beside them, by
// option name.
func (f *optionForm) values() map[string]string {
	out := map[string]string{}
	for n, v := range f.extra {
		out[n] = v
	}
	for _, fl := range f.fields {
		out[fl.opt.Name] = strings.TrimSpace(fl.input.Value())
	}
	return out
}

// Update handles keys and the completions' answers.
func (f *optionForm) Update(msg tea.Msg) (formAction, tea.Cmd) {
	switch msg := msg.(type) {
	case formMsg:
		if msg.seq != f.seq || msg.field < 0 || msg.field >= len(f.fields) || f.fields[msg.field].complete == nil {
			return formStay, nil
		}
		f.fields[msg.field].complete.Update(msg.msg)
		return formStay, nil
	case tea.KeyMsg:
		if len(f.fields) == 0 {
			return formSubmit, nil
		}
		return f.key(msg)
	}
	return formStay, nil
}

func (f *optionForm) key(k tea.KeyMsg) (formAction, tea.Cmd) {
	fl := f.fields[f.focus]
	if fl.complete != nil && fl.complete.Active() {
		picked, leave, cmd := fl.complete.Update(k)
		switch {
		case leave:
			return f.back(), cmd
		case picked != nil:
			for n, v := range picked {
				if n == fl.opt.Name {
					fl.input.SetValue(v)
				} else {
					f.extra[n] = v
				}
			}
			return f.next()
		}
		return formStay, cmd
	}
	switch k.Type {
	case tea.KeyEnter:
		return f.next()
	case tea.KeyEsc:
		if fl.complete != nil && fl.complete.Reopen() {
			return formStay, nil
		}
		return f.back(), nil
	}
	fl.input, _ = fl.input.Update(k)
	return formStay, nil
}

// next checks the focused field's value and moves on: to the next field,
// or submits after the last.
func (f *optionForm) next() (formAction, tea.Cmd) {
	fl := f.fields[f.focus]
	if err := f.check(fl); err != "" {
		return formStay, common.Status(err, true)
	}
	if f.focus < len(f.fields)-1 {
		f.focus++
		return formStay, nil
	}
	return formSubmit, nil
}

// back returns to the previous field, or leaves from the first.
func (f *optionForm) back() formAction {
	if f.focus > 0 {
		f.focus--
		return formStay
	}
	return formLeave
}

// check says what is wrong with fl's value ("" nothing): it is asked for,
// so it is needed, and it must parse and pass the option's range checks.
func (f *optionForm) check(fl *formField) string {
	v := strings.TrimSpace(fl.input.Value())
	if v == "" && len(f.extra) > 0 {
		return "" // the completion chose options beside it (the backups to clear, no snapshot)
	}
	if v == "" {
		return f.kind + ": type the " + fl.label() + " (--" + fl.opt.Name + ": " + fl.opt.Help + ")"
	}
	x, err := fl.opt.ParseValue(v)
	if err == nil {
		err = fl.opt.Check(x)
	}
	if err != nil {
		return f.kind + " --" + fl.opt.Name + ": " + err.Error()
	}
	return ""
}

func (fl *formField) label() string {
	if fl.opt.Label != "" {
		return fl.opt.Label
	}
	return fl.opt.Name
}

// View renders the title, then each field: the option's current value,
// its candidates or its free-text input, and its note.
func (f *optionForm) View() string {
	st := f.common.Styles
	var b strings.Builder
	b.WriteString(st.Title.Render(f.title) + "\n\n")
	for i, fl := range f.fields {
		if i > 0 {
			b.WriteString("\n\n")
		}
		label := fl.label()
		cur := fl.current
		if cur == "" {
			cur = "unknown"
		}
		if oh, ok := fl.complete.(ownHeader); ok && i == f.focus && oh.OwnHeader() {
			b.WriteString(fl.complete.View(label) + "\n")
			continue
		}
		head := "current " + label + ": "
		b.WriteString(head + st.Bold.Render(cur) + "\n")
		prompt := "new " + label + ":"
		prompt += strings.Repeat(" ", max(len([]rune(head))-len([]rune(prompt)), 1))
		switch {
		case i != f.focus:
			b.WriteString(prompt + fl.input.Value() + "\n\n")
		case fl.complete != nil && fl.complete.Active():
			b.WriteString("\n" + fl.complete.View(label) + "\n")
		default:
			b.WriteString(prompt + fl.input.View() + "\n\n")
			if fl.complete != nil && fl.complete.Note() != "" {
				b.WriteString(st.Muted.Render(fl.complete.Note()) + "\n")
			}
		}
		if fl.opt.Note != "" {
			b.WriteString(st.Muted.Render(fl.opt.Note))
		}
	}
	return b.String()
}

// ShortHelp returns the focused field's keys.
func (f *optionForm) ShortHelp() []key.Binding {
	if len(f.fields) == 0 {
		return nil
	}
	fl := f.fields[f.focus]
	if fl.complete != nil && fl.complete.Active() {
		return fl.complete.ShortHelp()
	}
	return fl.input.ShortHelp()
}
