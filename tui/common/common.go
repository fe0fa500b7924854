// Package common holds what every console component shares: the Common
// value (size, styles, keys, clock, backend, context), the Component
// contract and the messages components send to the root.
//
// common must not import the root tui package or any component, nor ops/*;
// it does no I/O.
package common

import (
	"context"
	"regexp"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"scalar-tui/tui/keymap"
	"scalar-tui/tui/styles"
	"scalar-tui/tui/vm"
)

// Common is shared by value between the root and its components.
type Common struct {
	// Ctx is the console's context; backend calls derive from it.
	Ctx     context.Context
	Width   int
	Height  int
	Styles  *styles.Styles
	Keys    *keymap.KeyMap
	Backend vm.Backend
	// Clock is the only source of "now", so golden tests are stable.
	Clock func() time.Time
	// EnvColor and ProdPattern colour the environment badge.
	EnvColor    string
	ProdPattern *regexp.Regexp
}

// Now returns Clock() (time.Now when unset).
func (c Common) Now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock()
}

// Component is the contract every screen and widget follows.
type Component interface {
	tea.Model
	help.KeyMap
	// SetSize gives the component its drawing area.
	SetSize(width, height int)
}

// ComponentID names a component instance so async results find their way
// back to it (gh-dash's SectionMsg).
type ComponentID string

// The component instances of the console.
const (
	OverviewID ComponentID = "overview"
	DetailID   ComponentID = "detail"
	WorkflowID ComponentID = "workflow"
	RunsID     ComponentID = "runs"
	AuditID    ComponentID = "audit"
	RunID      ComponentID = "run"
	AlertsID   ComponentID = "alerts"
	LogsID     ComponentID = "logs"
	BackupsID  ComponentID = "backups"
)

// Envelope carries an async result to the component named To.
type Envelope struct {
	To  ComponentID
	Msg tea.Msg
}

// Wrap returns a Cmd that runs fn and delivers its message in an Envelope to id.
func Wrap(id ComponentID, fn func() tea.Msg) tea.Cmd {
	return func() tea.Msg { return Envelope{To: id, Msg: fn()} }
}

// Screen is a top-level screen of the console.
type Screen int

// The screens.
const (
	ScreenOverview Screen = iota
	ScreenDetail
	ScreenWorkflow
	ScreenRuns
	ScreenAudit
	// ScreenRun is one run in full (Enter on :runs or :audit).
	ScreenRun
	// ScreenAlerts lists every firing alert with its runbook (:alerts).
	ScreenAlerts
	// ScreenLogs is one host's log (l on a host).
	ScreenLogs
	// ScreenBackups lists backups (:backups).
	ScreenBackups
)

// String names the screen for the header.
func (s Screen) String() string {
	switch s {
	case ScreenOverview:
		return "overview"
	case ScreenDetail:
		return "host"
	case ScreenWorkflow:
		return "workflow"
	case ScreenRuns:
		return "runs"
	case ScreenAudit:
		return "audit"
	case ScreenRun:
		return "run"
	case ScreenAlerts:
		return "alerts"
	case ScreenLogs:
		return "logs"
	case ScreenBackups:
		return "backups"
	}
	return "screen?"
}

// NavigateMsg asks the root to show a screen; Host selects a host for the detail screen.
type NavigateMsg struct {
	To   Screen
	Host string
}

// OpenRunMsg asks the root to show run ID in full (the run detail screen).
type OpenRunMsg struct{ ID string }

// BackMsg asks the root to go back to the previous screen.
type BackMsg struct{}

// PlanMsg asks the root to open the workflow screen and plan kind. When
// Ask is true and the kind's catalog entry asks for options first
// (ConsoleAsk: the upgrade's tag), the workflow screen shows their form,
// prefilled from Params.Options.
type PlanMsg struct {
	Kind   vm.WorkflowKind
	Params vm.WorkflowParams
	Ask    bool
}

// ResumeMsg asks the root to resume Run, an unfinished run from the journal
// (after confirmation; never in read-only mode).
type ResumeMsg struct{ Run vm.RunView }

// LogsMsg asks the root to show Host's log.
type LogsMsg struct{ Host string }

// ShellMsg asks the root to open a shell on Host (after confirmation).
type ShellMsg struct{ Host string }

// StatusMsg shows a line in the status bar.
type StatusMsg struct {
	Text string
	Err  bool
}

// Status returns a Cmd that shows text in the status bar.
func Status(text string, isErr bool) tea.Cmd {
	return func() tea.Msg { return StatusMsg{Text: text, Err: isErr} }
}
