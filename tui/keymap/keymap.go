// Package keymap is the single table of the console's actions: their keys,
// help text, the screen they belong to and whether they are Dangerous.
//
// The Dangerous flag is the one place that drives three things: dangerous
// actions ask for confirmation, disappear (keys and help alike) in read-only
// mode, and are marked in the help view. keymap must not import any other tui
// package, ops/* or inventory.
package keymap

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// ID names an action; it is also the key of KeyOverrides.
type ID string

// Scope is the screen where an action applies.
type Scope int

// The scopes, in the order the help view lists them.
const (
	ScopeGlobal Scope = iota
	ScopeOverview
	ScopeHost
	ScopeWorkflow
	ScopeLists
	ScopeDialog
	// ScopeAlerts is the :alerts list; the host keys apply to the
	// selected alert's host there too.
	ScopeAlerts
	// ScopeLogs is a host's log view.
	ScopeLogs
)

// String names the scope for help headings.
func (s Scope) String() string {
	switch s {
	case ScopeGlobal:
		return "global"
	case ScopeOverview:
		return "overview"
	case ScopeHost:
		return "host"
	case ScopeWorkflow:
		return "workflow"
	case ScopeLists:
		return "runs & audit"
	case ScopeDialog:
		return "dialog"
	case ScopeAlerts:
		return "alerts"
	case ScopeLogs:
		return "logs"
	}
	return fmt.Sprintf("scope(%d)", int(s))
}

// Action is one entry of the action table.
type Action struct {
	ID    ID
	Keys  []string
	Label string // key label in help, e.g. "↑/k"
	Desc  string
	Scope Scope
	// Dangerous actions change the cluster (or open a door to it): they ask
	// for confirmation and are removed in read-only mode.
	Dangerous bool
	// Command is the `:` command that triggers the action, if any.
	Command string
	// Short puts the action in the footer's short help.
	Short bool
}

// The actions.
const (
	Up          ID = "up"
	Down        ID = "down"
	PageUp      ID = "page-up"
	PageDown    ID = "page-down"
	Top         ID = "top"
	Bottom      ID = "bottom"
	Open        ID = "open"
	Back        ID = "back"
	Filter      ID = "filter"
	CommandMode ID = "command"
	Help        ID = "help"
	Refresh     ID = "refresh"
	Quit        ID = "quit"
	ForceQuit   ID = "force-quit"
	Runs        ID = "runs"
	Watch       ID = "workflow"
	Audit       ID = "audit"
	Shell       ID = "shell"
	Repair      ID = "repair"
	Upgrade     ID = "upgrade"
	Backup      ID = "backup"
	Run         ID = "run"
	Pause       ID = "pause"
	Continue    ID = "continue"
	CancelRun   ID = "cancel-run"
	Resume      ID = "resume"
	// Restore opens the restore plan of the backup under the cursor (:backups);
	// only running it is dangerous.
	Restore    ID = "restore"
	Unlock     ID = "unlock"
	Discard    ID = "discard"
	CanaryMode ID = "canary"
	NextHost   ID = "next-host"
	PrevHost   ID = "prev-host"
	NextButton ID = "next-button"
	PrevButton ID = "prev-button"
	Yes        ID = "yes"
	No         ID = "no"
	Select     ID = "select"
	Details    ID = "details"
	Reload     ID = "reload"
	Alerts     ID = "alerts"
	Runbook    ID = "runbook"
	Logs       ID = "logs"
	AlertHost  ID = "alert-host"
	LogFollow  ID = "log-follow"
	LogFilter  ID = "log-filter"
	LogSince   ID = "log-since"
)

// Actions is the action table, in help order.
var Actions = []Action{
	{ID: Up, Keys: []string{"up", "k"}, Label: "↑/k", Desc: "up", Scope: ScopeGlobal},
	{ID: Down, Keys: []string{"down", "j"}, Label: "↓/j", Desc: "down", Scope: ScopeGlobal},
	{ID: PageUp, Keys: []string{"pgup", "ctrl+u"}, Label: "pgup", Desc: "page up", Scope: ScopeGlobal},
	{ID: PageDown, Keys: []string{"pgdown", "ctrl+d"}, Label: "pgdn", Desc: "page down", Scope: ScopeGlobal},
	{ID: Top, Keys: []string{"home", "g"}, Label: "g", Desc: "top", Scope: ScopeGlobal},
	{ID: Bottom, Keys: []string{"end", "G"}, Label: "G", Desc: "bottom", Scope: ScopeGlobal},
	{ID: Back, Keys: []string{"esc"}, Label: "esc", Desc: "back", Scope: ScopeGlobal, Short: true},
	{ID: CommandMode, Keys: []string{":"}, Label: ":", Desc: "command", Scope: ScopeGlobal, Short: true},
	{ID: Help, Keys: []string{"?"}, Label: "?", Desc: "help", Scope: ScopeGlobal, Short: true},
	{ID: Quit, Keys: []string{"q"}, Label: "q", Desc: "quit", Scope: ScopeGlobal, Command: "quit", Short: true},
	{ID: ForceQuit, Keys: []string{"ctrl+c"}, Label: "ctrl+c", Desc: "quit / cancel run", Scope: ScopeGlobal},
	{ID: Watch, Keys: []string{"w"}, Label: "w", Desc: "workflow screen", Scope: ScopeGlobal, Command: "workflow"},
	{ID: Runs, Keys: []string{}, Label: ":runs", Desc: "workflow runs", Scope: ScopeGlobal, Command: "runs"},
	{ID: Audit, Keys: []string{}, Label: ":audit", Desc: "audit log", Scope: ScopeGlobal, Command: "audit"},
	{ID: Alerts, Keys: []string{"A"}, Label: "A", Desc: "firing alerts", Scope: ScopeGlobal, Command: "alerts"},

	{ID: Open, Keys: []string{"enter"}, Label: "enter", Desc: "host detail", Scope: ScopeOverview, Short: true},
	{ID: Filter, Keys: []string{"/"}, Label: "/", Desc: "filter", Scope: ScopeOverview, Short: true},
	{ID: Refresh, Keys: []string{"r", "ctrl+r"}, Label: "r", Desc: "refresh", Scope: ScopeOverview},
	{ID: Repair, Keys: []string{"R"}, Label: "R", Desc: "repair", Scope: ScopeOverview, Dangerous: true, Command: "repair", Short: true},
	{ID: Upgrade, Keys: []string{"U"}, Label: "U", Desc: "upgrade Scalar DL", Scope: ScopeOverview, Dangerous: true, Command: "upgrade", Short: true},
	{ID: Backup, Keys: []string{"B"}, Label: "B", Desc: "backup", Scope: ScopeOverview, Dangerous: true, Command: "backup", Short: true},

	{ID: Shell, Keys: []string{"s"}, Label: "s", Desc: "shell on host", Scope: ScopeHost, Dangerous: true, Short: true},
	{ID: Logs, Keys: []string{"l"}, Label: "l", Desc: "host logs", Scope: ScopeHost, Short: true},
	// Opening a runbook's plan is not dangerous: running it is (Run, with
	// its confirm), so read-only sessions still see the plan.
	{ID: Runbook, Keys: []string{"a"}, Label: "a", Desc: "runbook plan", Scope: ScopeHost},

	{ID: AlertHost, Keys: []string{"enter"}, Label: "enter", Desc: "alert's host", Scope: ScopeAlerts, Short: true},

	{ID: LogFollow, Keys: []string{"f"}, Label: "f", Desc: "follow on/off", Scope: ScopeLogs, Short: true},
	{ID: LogFilter, Keys: []string{"/"}, Label: "/", Desc: "filter, following", Scope: ScopeLogs, Short: true},
	{ID: LogSince, Keys: []string{"t"}, Label: "t", Desc: "start: tail/10m/1h/24h", Scope: ScopeLogs, Short: true},

	{ID: Run, Keys: []string{"enter"}, Label: "enter", Desc: "run plan", Scope: ScopeWorkflow, Dangerous: true, Short: true},
	{ID: Pause, Keys: []string{"p"}, Label: "p", Desc: "pause after step", Scope: ScopeWorkflow, Short: true},
	{ID: Continue, Keys: []string{"c"}, Label: "c", Desc: "continue canary", Scope: ScopeWorkflow, Dangerous: true, Short: true},
	{ID: CancelRun, Keys: []string{"ctrl+c"}, Label: "ctrl+c", Desc: "cancel run (asks)", Scope: ScopeWorkflow, Short: true},
	{ID: CanaryMode, Keys: []string{"C"}, Label: "C", Desc: "canary on/off", Scope: ScopeWorkflow},
	{ID: NextHost, Keys: []string{"tab", "right", "l"}, Label: "tab/→", Desc: "next host log", Scope: ScopeWorkflow},
	{ID: PrevHost, Keys: []string{"shift+tab", "left", "h"}, Label: "⇧tab/←", Desc: "previous host log", Scope: ScopeWorkflow},

	{ID: Details, Keys: []string{"enter"}, Label: "enter", Desc: "whole run", Scope: ScopeLists, Short: true},
	{ID: Resume, Keys: []string{"r"}, Label: "r", Desc: "resume run", Scope: ScopeLists, Dangerous: true, Command: "resume", Short: true},
	{ID: Restore, Keys: []string{"R"}, Label: "R", Desc: "restore plan", Scope: ScopeLists, Short: true},
	{ID: Discard, Keys: []string{"d"}, Label: "d", Desc: "discard run", Scope: ScopeLists, Dangerous: true, Short: true},
	{ID: Unlock, Keys: []string{"u"}, Label: "u", Desc: "break cluster lock", Scope: ScopeLists, Dangerous: true, Command: "unlock"},
	{ID: Reload, Keys: []string{"ctrl+r"}, Label: "ctrl+r", Desc: "reload", Scope: ScopeLists, Short: true},

	{ID: NextButton, Keys: []string{"tab", "right", "l"}, Label: "tab/→", Desc: "next button", Scope: ScopeDialog},
	{ID: PrevButton, Keys: []string{"shift+tab", "left", "h"}, Label: "⇧tab/←", Desc: "previous button", Scope: ScopeDialog},
	{ID: Yes, Keys: []string{"y"}, Label: "y", Desc: "confirm", Scope: ScopeDialog},
	{ID: No, Keys: []string{"n", "esc"}, Label: "n/esc", Desc: "cancel", Scope: ScopeDialog},
	{ID: Select, Keys: []string{"enter"}, Label: "enter", Desc: "press button", Scope: ScopeDialog},
}

// Lookup returns the action with id.
func Lookup(id ID) (Action, bool) {
	for _, a := range Actions {
		if a.ID == id {
			return a, true
		}
	}
	return Action{}, false
}

// ByCommand returns the action a `:` command name triggers.
func ByCommand(name string) (Action, bool) {
	for _, a := range Actions {
		if a.Command != "" && a.Command == name {
			return a, true
		}
	}
	return Action{}, false
}

// KeyMap is the action table bound to keys for one session: overrides
// applied and, in read-only mode, dangerous actions disabled. A disabled
// binding neither matches (key.Matches) nor shows in help.
type KeyMap struct {
	readonly bool
	bindings map[ID]key.Binding
}

// New builds the key map. overrides maps an action ID to a comma-separated
// key list, e.g. {"repair": "ctrl+r"}; unknown IDs are an error.
func New(readonly bool, overrides map[string]string) (*KeyMap, error) {
	km := &KeyMap{readonly: readonly, bindings: make(map[ID]key.Binding, len(Actions))}
	ids := make([]string, 0, len(overrides))
	for id := range overrides {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, ok := Lookup(ID(id)); !ok {
			return nil, fmt.Errorf("key override %q: no such action (see the help view for names)", id)
		}
	}
	for _, a := range Actions {
		keys, label := a.Keys, a.Label
		if o, ok := overrides[string(a.ID)]; ok {
			keys = nil
			for _, k := range strings.Split(o, ",") {
				if k = strings.TrimSpace(k); k != "" {
					keys = append(keys, k)
				}
			}
			label = strings.Join(keys, "/")
		}
		desc := a.Desc
		if a.Dangerous {
			desc += " !"
		}
		b := key.NewBinding(key.WithKeys(keys...), key.WithHelp(label, desc))
		if len(keys) == 0 && a.Command != "" {
			b = key.NewBinding(key.WithHelp(label, desc))
		}
		if readonly && a.Dangerous {
			b.SetEnabled(false)
		}
		km.bindings[a.ID] = b
	}
	if err := km.checkCollisions(); err != nil {
		return nil, err
	}
	return km, nil
}

// contexts are the sets of scopes whose keys are live at the same time: a
// key bound twice within one of them would make one action unreachable.
var contexts = []struct {
	name   string
	scopes []Scope
}{
	{"overview and host", []Scope{ScopeGlobal, ScopeOverview, ScopeHost}},
	{"workflow", []Scope{ScopeGlobal, ScopeWorkflow}},
	{"runs & audit", []Scope{ScopeGlobal, ScopeLists}},
	{"alerts", []Scope{ScopeGlobal, ScopeHost, ScopeAlerts}},
	{"logs", []Scope{ScopeGlobal, ScopeLogs}},
	{"dialog", []Scope{ScopeDialog}},
}

// sharedOnPurpose are pairs of actions that share a key by design: on the
// workflow screen ctrl+c cancels the run (asking) instead of quitting.
var sharedOnPurpose = map[[2]ID]bool{{ForceQuit, CancelRun}: true}

// checkCollisions refuses a key map where one key triggers two actions in
// the same context, whether the defaults or an override made it so.
func (k *KeyMap) checkCollisions() error {
	for _, c := range contexts {
		owner := map[string]ID{}
		for _, a := range Actions {
			in := false
			for _, s := range c.scopes {
				in = in || a.Scope == s
			}
			if !in {
				continue
			}
			for _, key := range k.bindings[a.ID].Keys() {
				prev, taken := owner[key]
				switch {
				case !taken || prev == a.ID:
					owner[key] = a.ID
				case sharedOnPurpose[[2]ID{prev, a.ID}] || sharedOnPurpose[[2]ID{a.ID, prev}]:
				default:
					return fmt.Errorf("keys: %q is bound to both %s and %s on the %s screens, so one of them could never be used; "+
						"bind one of them to another key under `keys:` in config.yaml (action ids are listed in the help view)", key, prev, a.ID, c.name)
				}
			}
		}
	}
	return nil
}

// Key returns the key label of id as the help shows it (e.g. "R"), for
// hints written into views, so they follow the operator's bindings.
func (k *KeyMap) Key(id ID) string { return k.bindings[id].Help().Key }

// Readonly reports whether dangerous actions are disabled.
func (k *KeyMap) Readonly() bool { return k.readonly }

// Binding returns the binding of id.
func (k *KeyMap) Binding(id ID) key.Binding { return k.bindings[id] }

// Matches reports whether msg triggers action id (never for a disabled action).
func (k *KeyMap) Matches(msg tea.KeyMsg, id ID) bool {
	b, ok := k.bindings[id]
	return ok && b.Enabled() && key.Matches(msg, b)
}

// Allowed reports whether id may run in this session (false for dangerous
// actions in read-only mode).
func (k *KeyMap) Allowed(id ID) bool {
	a, ok := Lookup(id)
	if !ok {
		return false
	}
	return !(k.readonly && a.Dangerous)
}

// Dangerous reports whether id is dangerous.
func Dangerous(id ID) bool {
	a, ok := Lookup(id)
	return ok && a.Dangerous
}

// Short returns the enabled short-help bindings of the given scopes, in
// the order of the scopes given (the screen's own keys first).
func (k *KeyMap) Short(scopes ...Scope) []key.Binding {
	var out []key.Binding
	for _, s := range scopes {
		for _, a := range Actions {
			if a.Short && a.Scope == s {
				if b := k.bindings[a.ID]; b.Enabled() {
					out = append(out, b)
				}
			}
		}
	}
	return out
}

// Full returns one column of enabled bindings per scope, for the full help.
func (k *KeyMap) Full(scopes ...Scope) [][]key.Binding {
	var out [][]key.Binding
	for _, s := range scopes {
		var col []key.Binding
		for _, a := range Actions {
			if a.Scope == s {
				if b := k.bindings[a.ID]; b.Enabled() {
					col = append(col, b)
				}
			}
		}
		if len(col) > 0 {
			out = append(out, col)
		}
	}
	return out
}
