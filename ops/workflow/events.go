package workflow

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is one thing that happened during a run. The concrete types are
// PlanEvent, StepStarted, OutputLine, GateWaiting, GatePassed, StepDone,
// StepFailed, StepSkipped, Progress, Notice, Paused and Finished. Every event
// embeds Header. Events about a step carry its ID, its index in the plan's
// Steps (Index; -1 for a compensation step, which is not one of them) and
// its host ("" for the bastion or the cluster): the CLI, --json and the
// console all consume these same values.
type Event interface {
	// Kind is the event's name in JSON output, e.g. "step_started".
	Kind() string
	header() *Header
}

// Header is common to every event.
type Header struct {
	Run  string    `json:"run"`
	Time time.Time `json:"time"`
}

func (h *Header) header() *Header { return h }

// PlanEvent is sent once when a run (or a resumed run) starts.
type PlanEvent struct {
	Header
	Workflow string   `json:"workflow"`
	Steps    []string `json:"steps"`
	Resumed  bool     `json:"resumed,omitempty"`
}

// StepStarted is sent when a step begins (or is re-attached after Resume).
type StepStarted struct {
	Header
	Step     string `json:"step"`
	Index    int    `json:"index"`
	Title    string `json:"title"`
	Host     string `json:"host,omitempty"`
	Attempt  int    `json:"attempt"`
	Reattach bool   `json:"reattach,omitempty"`
}

// OutputLine is one line of a step command's output.
type OutputLine struct {
	Header
	Step   string `json:"step"`
	Index  int    `json:"index"`
	Host   string `json:"host"`
	Stream string `json:"stream"` // "stdout" or "stderr"
	Line   string `json:"line"`
}

// GateWaiting is sent after every failed poll of a gate.
type GateWaiting struct {
	Header
	Step       string        `json:"step"`
	Index      int           `json:"index"`
	Host       string        `json:"host,omitempty"`
	Gate       string        `json:"gate"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	LastReason string        `json:"last_reason"`
}

// GatePassed is sent when a gate's condition holds.
type GatePassed struct {
	Header
	Step    string        `json:"step"`
	Index   int           `json:"index"`
	Host    string        `json:"host,omitempty"`
	Gate    string        `json:"gate"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// StepDone is sent when a step (and its gate) succeeded.
type StepDone struct {
	Header
	Step     string        `json:"step"`
	Index    int           `json:"index"`
	Host     string        `json:"host,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// StepFailed is sent when a step failed or was canceled.
type StepFailed struct {
	Header
	Step  string `json:"step"`
	Index int    `json:"index"`
	Host  string `json:"host,omitempty"`
	Err   string `json:"error"`
}

// StepSkipped is sent for steps not run because an earlier step failed.
type StepSkipped struct {
	Header
	Step   string `json:"step"`
	Index  int    `json:"index"`
	Host   string `json:"host,omitempty"`
	Reason string `json:"reason"`
}

// Progress reports a step's completion as parsed from its output.
type Progress struct {
	Header
	Step    string  `json:"step"`
	Index   int     `json:"index"`
	Host    string  `json:"host"`
	Percent float64 `json:"percent"`
}

// Notice is an informational message (preflight results, lock taken,
// compensation run on resume...).
type Notice struct {
	Header
	Message string `json:"message"`
}

// Paused is sent instead of Finished when an engine that holds at stops
// (Engine.HoldAtStops) reaches an operator's pause or the canary stop: the
// run waits for Engine.Continue. Index is the last step done (0 when none);
// Canary is true at the canary stop. Engines that do not hold end the run
// with Finished (status paused or canary-wait) instead.
type Paused struct {
	Header
	Index  int    `json:"index"`
	Canary bool   `json:"canary,omitempty"`
	Reason string `json:"reason"`
}

// Finished is the last event of a run.
type Finished struct {
	Header
	Status Status `json:"status"`
	Err    string `json:"error,omitempty"`
}

// Kind implements Event.
func (*PlanEvent) Kind() string { return "plan" }

// Kind implements Event.
func (*StepStarted) Kind() string { return "step_started" }

// Kind implements Event.
func (*OutputLine) Kind() string { return "output" }

// Kind implements Event.
func (*GateWaiting) Kind() string { return "gate_waiting" }

// Kind implements Event.
func (*GatePassed) Kind() string { return "gate_passed" }

// Kind implements Event.
func (*StepDone) Kind() string { return "step_done" }

// Kind implements Event.
func (*StepFailed) Kind() string { return "step_failed" }

// Kind implements Event.
func (*StepSkipped) Kind() string { return "step_skipped" }

// Kind implements Event.
func (*Progress) Kind() string { return "progress" }

// Kind implements Event.
func (*Notice) Kind() string { return "notice" }

// Kind implements Event.
func (*Paused) Kind() string { return "paused" }

// Kind implements Event.
func (*Finished) Kind() string { return "finished" }

// MarshalEventJSON returns e as one JSON object with a "type" field, for
// --json output (one object per line).
func MarshalEventJSON(e Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	// Splice "type" in front of the event's own fields.
	t, _ := json.Marshal(e.Kind())
	out := make([]byte, 0, len(b)+len(t)+9)
	out = append(out, `{"type":`...)
	out = append(out, t...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, b[1:]...)
	return out, nil
}

// FormatEvent returns e as one line of text for the CLI.
func FormatEvent(e Event) string {
	ts := e.header().Time.UTC().Format("15:04:05")
	switch e := e.(type) {
	case *PlanEvent:
		verb := "starting"
		if e.Resumed {
			verb = "resuming"
		}
		return fmt.Sprintf("%s %s run %s (%d steps)", ts, verb, e.Run, len(e.Steps))
	case *StepStarted:
		what := "start"
		if e.Reattach {
			what = "re-attach"
		}
		if e.Title == "" {
			return fmt.Sprintf("%s %s %s%s", ts, what, e.Step, onHost(e.Host))
		}
		return fmt.Sprintf("%s %s %s: %s%s", ts, what, e.Step, e.Title, onHost(e.Host))
	case *OutputLine:
		mark := "|"
		if e.Stream == "stderr" {
			mark = "!"
		}
		return fmt.Sprintf("%s   %s %s %s", ts, hostLabel(e.Host), mark, e.Line)
	case *GateWaiting:
		return fmt.Sprintf("%s   gate %s waiting (%s): %s", ts, e.Gate, e.Elapsed.Round(time.Second), e.LastReason)
	case *GatePassed:
		return fmt.Sprintf("%s   gate %s passed after %s", ts, e.Gate, e.Elapsed.Round(time.Second))
	case *StepDone:
		return fmt.Sprintf("%s done %s (%s)", ts, e.Step, e.Duration.Round(time.Millisecond))
	case *StepFailed:
		return fmt.Sprintf("%s FAILED %s: %s", ts, e.Step, e.Err)
	case *StepSkipped:
		return fmt.Sprintf("%s skip %s: %s", ts, e.Step, e.Reason)
	case *Progress:
		return fmt.Sprintf("%s   %s %.0f%%", ts, hostLabel(e.Host), e.Percent)
	case *Notice:
		return fmt.Sprintf("%s %s", ts, e.Message)
	case *Paused:
		return fmt.Sprintf("%s run %s paused: %s", ts, e.Run, e.Reason)
	case *Finished:
		if e.Err != "" {
			return fmt.Sprintf("%s run %s %s: %s", ts, e.Run, e.Status, e.Err)
		}
		return fmt.Sprintf("%s run %s %s", ts, e.Run, e.Status)
	}
	return ts + " " + e.Kind()
}

func onHost(h string) string {
	if h == "" {
		return ""
	}
	return " on " + h
}

func hostLabel(h string) string {
	if h == "" {
		return "cluster"
	}
	return h
}
