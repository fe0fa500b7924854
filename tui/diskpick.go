package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	opsworkflow "scalar-tui/ops/workflow"
	"scalar-tui/tui/common"
	"scalar-tui/tui/keymap"
	"scalar-tui/tui/render"
	"scalar-tui/tui/vm"
)

// diskPicker is the completion of the free-disk runbook's selection
// (KindOption.Complete "disk-item"): what a vm.DiskLister finds on the
// node's data volume, snapshots and incremental backups, each with its size
// and what to weigh, chosen with space. The pick fills the field's option
// (the snapshot tags) and the backups option beside it. The newest complete
// backup cannot be chosen here (only the CLI's --force clears it). Without
// a DiskLister, or when the listing fails, the field is free text.
type diskPicker struct {
	common common.Common
	// option is the field's option (the snapshot tags); host the node.
	option, host string
	loading      bool
	usage        vm.DiskUsage
	err          error
	sel          int
	chosen       map[int]bool
	// free is set while the free-text input has the keys.
	free bool
}

// diskLoadedMsg is a vm.DiskLister's answer.
type diskLoadedMsg struct {
	usage vm.DiskUsage
	err   error
}

// toggleKey chooses or drops the item under the cursor.
var toggleKey = key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "choose/drop"))

func newDiskPicker(c common.Common, o opsworkflow.KindOption, values map[string]string) completion {
	return &diskPicker{common: c, option: o.Name, host: values["host"], free: true, chosen: map[int]bool{}}
}

// OwnHeader: the picker says what it lists; the form's "current/new"
// lines mean nothing for a selection.
func (p *diskPicker) OwnHeader() bool { return !p.free }

// Init lists the node's data volume, or leaves the free-text input to the
// field when the backend cannot.
func (p *diskPicker) Init() tea.Cmd {
	lister, ok := p.common.Backend.(vm.DiskLister)
	if !ok || p.host == "" {
		return nil
	}
	p.loading, p.free = true, false
	c, host := p.common, p.host
	return func() tea.Msg {
		u, err := lister.DiskUsage(c.Ctx, host)
		return diskLoadedMsg{usage: u, err: err}
	}
}

// Active reports whether the list (not the free text) has the keys.
func (p *diskPicker) Active() bool { return !p.free }

// Reopen returns from the free text to the list, if one was read.
func (p *diskPicker) Reopen() bool {
	if p.err != nil || p.loading || p.usage.Host == "" {
		return false
	}
	p.free = false
	return true
}

// Note says why nothing is listed, when the listing failed.
func (p *diskPicker) Note() string {
	if p.err == nil {
		return ""
	}
	return "could not list the data volume of " + p.host + ": " + p.err.Error() + " (type snapshot tags, comma-separated)"
}

// Update handles the listing's answer and the picker's keys.
func (p *diskPicker) Update(msg tea.Msg) (map[string]string, bool, tea.Cmd) {
	switch msg := msg.(type) {
	case diskLoadedMsg:
		if !p.loading {
			return nil, false, nil
		}
		p.loading, p.usage, p.err = false, msg.usage, msg.err
		p.free = msg.err != nil
		if msg.err != nil {
			p.usage = vm.DiskUsage{}
		}
	case tea.KeyMsg:
		return p.key(msg)
	}
	return nil, false, nil
}

func (p *diskPicker) key(k tea.KeyMsg) (map[string]string, bool, tea.Cmd) {
	km := p.common.Keys
	items := p.usage.Items
	switch {
	case k.Type == tea.KeyEsc:
		return nil, true, nil
	case p.loading:
		return nil, false, nil
	case len(items) == 0:
		if k.Type == tea.KeyEnter {
			return nil, true, nil
		}
	case km.Matches(k, keymap.Up):
		if p.sel > 0 {
			p.sel--
		}
	case km.Matches(k, keymap.Down):
		if p.sel < len(items)-1 {
			p.sel++
		}
	case key.Matches(k, toggleKey):
		it := items[p.sel]
		if it.Protected {
			return nil, false, common.Status(fmt.Sprintf("%s is the newest backup complete on every node: only `scalar-tui free-disk --host %s --snapshot %s --force` clears it", it.Value, p.host, it.Value), true)
		}
		p.chosen[p.sel] = !p.chosen[p.sel]
	case k.Type == tea.KeyEnter:
		picked := map[string][]string{}
		for i, it := range items {
			if p.chosen[i] {
				picked[it.Option] = append(picked[it.Option], it.Value)
			}
		}
		if len(picked) == 0 {
			return nil, false, common.Status("free-disk: choose what to clear with space, then enter", true)
		}
		return map[string]string{p.option: strings.Join(picked["snapshot"], ","), "backups": strings.Join(picked["backups"], ",")}, false, nil
	}
	return nil, false, nil
}

// View lists what fills the volume, with the cursor and the choices.
func (p *diskPicker) View(string) string {
	st := p.common.Styles
	if p.loading {
		return st.Muted.Render("listing what fills the data volume of " + p.host + "…")
	}
	u := p.usage
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %.1f%% free on the data volume (CassandraDriveSpaceLow fires below %.0f%%)\n\n", u.Host, u.FreePercent, u.ThresholdPercent)
	if len(u.Items) == 0 {
		b.WriteString("nothing there that free-disk can clear: no snapshot, no incremental backup.\n")
		b.WriteString(st.Muted.Render("Expand the volume (docs/HowToExpandEBS.md, docs/HowToExpandAzureManagedDisk.md) or add a Cassandra node.") + "\n")
		return b.String()
	}
	b.WriteString("choose what to clear:\n")
	width := 0
	for _, it := range u.Items {
		width = max(width, utf8.RuneCountInString(it.Value))
	}
	var total float64
	for i, it := range u.Items {
		cursor := "  "
		if i == p.sel {
			cursor = "> "
		}
		box := "[ ]"
		switch {
		case it.Protected:
			box = "[-]"
		case p.chosen[i]:
			box = "[x]"
			total += it.Bytes
		}
		line := fmt.Sprintf("%s%s %-*s  %9s  %s", cursor, box, width, it.Value, render.Bytes(it.Bytes), it.Detail)
		if i == p.sel {
			line = st.Bold.Render(line)
		}
		b.WriteString(line + "\n")
	}
	if total > 0 {
		b.WriteString("\nchosen: " + render.Bytes(total) + " (the plan shows the commands; nothing is cleared before you confirm it)\n")
	}
	return b.String()
}

// ShortHelp is the picker's key help.
func (p *diskPicker) ShortHelp() []key.Binding {
	km := p.common.Keys
	if len(p.usage.Items) == 0 {
		return []key.Binding{key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))}
	}
	return []key.Binding{km.Binding(keymap.Up), km.Binding(keymap.Down), toggleKey,
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "plan")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))}
}
