package workflow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strings"
	"time"

	"scalar-tui/inventory"
)

// Plan is everything a workflow will do, built before anything runs so that it
// can be shown (--dry-run, the TUI's confirm screen), journalled and resumed.
type Plan struct {
	// ID names the run, e.g. "20261124-2231-repair". The engine adds a random
	// suffix at start if a run with the same ID is already journalled.
	ID string
	// Workflow is the workflow's name, e.g. "repair".
	Workflow string
	// Created is when the plan was built.
	Created time.Time
	// Operator is user@host of whoever runs it.
	Operator string
	// Preflight checks run before the first step; any failure refuses the run.
	Preflight []Check
	// Steps run in order.
	Steps []Step
	// Fingerprint identifies the inventory the plan was built from (see
	// Fingerprint). Resume refuses when it changed.
	Fingerprint string
	// ReadOnly plans change nothing and never take the cluster lock.
	ReadOnly bool
	// Params are the workflow's options, journalled as JSON so that the CLI
	// can rebuild the same plan for Resume.
	Params any
	// Notes are warnings the operator must read before confirming (e.g. a
	// major version change, what Terraform must be told afterwards). They
	// are shown with the plan and change nothing.
	Notes []string
	// Compensations maps a cluster-state marker (see Marker*) to the step that
	// undoes the state it records. Resume runs it first when the journal shows
	// the marker still set.
	Compensations map[string]Step
}

// Step is one unit of work: usually one command on one host.
type Step struct {
	// ID is unique within the plan and stable across rebuilds of the same plan
	// (Resume matches steps by ID), e.g. "cassandra-1/repair-scalar".
	ID string
	// Title is a one-line human description.
	Title string
	// Host is the host's name, or "" for a cluster-wide step.
	Host string
	// Commands are the exact remote commands, for display and, when Run is
	// nil, for execution on Host in order.
	Commands []string
	// Run, when set, replaces the default execution of Commands. It is not
	// serialized: the plan is rebuilt from Params on Resume.
	Run func(ctx context.Context, env *Env) error `json:"-"`
	// Gate, when set, must pass after the step's commands before the step is done.
	Gate *Gate
	// Timeout bounds the step's commands (not its gate); zero means no bound.
	Timeout time.Duration
	// Idempotent steps are safe to run again after a crash left them running.
	Idempotent bool
	// Detached commands run with setsid nohup on Host, their output and exit
	// code in files, and survive SSH drops and the console dying. Resume
	// re-attaches to them.
	Detached bool
	// Cleanup steps run even when an earlier step failed or the run was
	// canceled (e.g. unpause Scalar DL).
	Cleanup bool
	// Parallel, when non-empty, runs this step concurrently with the
	// neighbouring steps of the same group.
	Parallel string
	// Progress, when set, extracts a completion percentage from an output line.
	Progress func(line string) (percent float64, ok bool) `json:"-"`
}

// Gate is a condition polled after a step until it passes or its deadline
// expires. Gates fail closed: an error or missing data counts as not passed.
type Gate struct {
	// Name is short, e.g. "ring-UN".
	Name string
	// Description says what must hold, e.g. "every Cassandra node is UN".
	Description string
	// Check reports whether the condition holds now, and if not, why.
	Check func(ctx context.Context, env *Env) (ok bool, reason string, err error) `json:"-"`
	// Deadline bounds the wait; zero means 10 minutes.
	Deadline time.Duration
	// Interval between polls; zero means 5 seconds.
	Interval time.Duration
}

// Check is a preflight condition.
type Check struct {
	// Name is short, e.g. "ring-UN".
	Name string
	// Description says what must hold.
	Description string
	// Run returns nil when the condition holds, else an error that tells the
	// operator why the run is refused.
	Run func(ctx context.Context, env *Env) error `json:"-"`
}

// NewPlan returns an empty plan for workflow with a fresh ID, the current
// operator and the inventory's fingerprint. inv may be nil.
func NewPlan(workflow string, inv *inventory.Inventory, now time.Time) *Plan {
	return &Plan{
		ID:          NewRunID(now, workflow),
		Workflow:    workflow,
		Created:     now,
		Operator:    Operator(),
		Fingerprint: Fingerprint(inv),
	}
}

// NewRunID returns an ID like "20261124-2231-repair" (UTC).
func NewRunID(now time.Time, workflow string) string {
	return now.UTC().Format("20060102-1504") + "-" + workflow
}

// UniqueRunID appends a random suffix to id ("20261124-2231-repair-3fa2b1").
// Run IDs are per minute and the bastion lock is re-entrant for its run, so
// every run started by a person gets one: two consoles starting the same
// workflow in the same minute never share an ID.
func UniqueRunID(id string) string { return id + "-" + randomSuffix() }

// randomSuffix is appended to a run ID that is already taken.
func randomSuffix() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("%06x", time.Now().UnixNano()&0xffffff)
	}
	return hex.EncodeToString(b[:])
}

// Operator returns "user@host" for the local user, used in the audit log and
// the cluster lock.
func Operator() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if s := os.Getenv("USER"); s != "" {
		name = s
	} else {
		name = fmt.Sprintf("uid%d", os.Getuid())
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return name + "@" + host
}

// Fingerprint hashes what a plan depends on in the inventory: the network
// name, the bastion and every host's name, role and private IP. Resume refuses
// when it changed (a node was replaced, a root re-applied). nil gives "".
func Fingerprint(inv *inventory.Inventory) string {
	if inv == nil {
		return ""
	}
	lines := make([]string, 0, len(inv.Hosts)+1)
	for _, h := range inv.Hosts {
		lines = append(lines, fmt.Sprintf("%s|%s|%s", h.Name, h.Role, h.PrivateIP))
	}
	sort.Strings(lines)
	sum := sha256.New()
	fmt.Fprintf(sum, "%s|%s|%d\n", inv.NetworkName, inv.BastionIP, inv.BastionPort)
	for _, l := range lines {
		fmt.Fprintln(sum, l)
	}
	return hex.EncodeToString(sum.Sum(nil))[:16]
}

// PlanLineKind says what a line of a rendered plan is, so that a console
// can style it (and mark preflight checks with their results).
type PlanLineKind int

// The kinds of plan lines.
const (
	// PlanTitle is the first line: "Plan ID (workflow NAME)".
	PlanTitle PlanLineKind = iota
	// PlanField is one of the fields under the title (operator, created,
	// inventory fingerprint, cluster lock).
	PlanField
	// PlanBlank separates the sections.
	PlanBlank
	// PlanHeading opens a section: the notes, the preflight checks, the steps.
	PlanHeading
	// PlanNote is a line of a note the operator must read first.
	PlanNote
	// PlanCheck is a preflight check; Index is its index in Plan.Preflight.
	PlanCheck
	// PlanStep is a step's first line; Index is its index in Plan.Steps.
	PlanStep
	// PlanFlags lists a step's properties (detached, idempotent, cleanup...).
	PlanFlags
	// PlanCommand is a command the step runs, exactly as it will run.
	PlanCommand
	// PlanGate is the gate after a step.
	PlanGate
)

// The headings of the plan's sections (PlanHeading lines).
const (
	HeadingNotes     = "Read first:"
	HeadingPreflight = "Preflight (the run is refused unless all pass):"
	HeadingSteps     = "Steps:"
)

// PlanLine is one line of a rendered plan. Text is the line as --dry-run
// prints it; Body is Text without its indent and bullet ("- ", "! ", "$ "),
// for a console that draws its own; Index is the check's or the step's index
// (PlanCheck, and every line of a step), -1 otherwise.
type PlanLine struct {
	Kind  PlanLineKind
	Index int
	Text  string
	Body  string
}

// Lines renders the plan: the one rendering of a plan, which --dry-run
// prints (Render) and the console shows. It shows every remote command
// exactly as it will run.
func (p *Plan) Lines() []PlanLine {
	var out []PlanLine
	add := func(kind PlanLineKind, index int, indent, body string) {
		out = append(out, PlanLine{Kind: kind, Index: index, Text: indent + body, Body: body})
	}
	blank := func() { out = append(out, PlanLine{Kind: PlanBlank, Index: -1}) }
	add(PlanTitle, -1, "", fmt.Sprintf("Plan %s (workflow %s)", p.ID, p.Workflow))
	add(PlanField, -1, "  ", "operator:    "+p.Operator)
	add(PlanField, -1, "  ", "created:     "+p.Created.UTC().Format(time.RFC3339))
	if p.Fingerprint != "" {
		add(PlanField, -1, "  ", "inventory:   "+p.Fingerprint)
	}
	if p.ReadOnly {
		add(PlanField, -1, "  ", "read-only:   yes (no cluster lock)")
	} else {
		add(PlanField, -1, "  ", "cluster lock: taken on the bastion for the whole run")
	}
	if len(p.Notes) > 0 {
		blank()
		add(PlanHeading, -1, "", HeadingNotes)
		for _, n := range p.Notes {
			for i, l := range strings.Split(n, "\n") {
				if i == 0 {
					add(PlanNote, -1, "  ! ", l)
				} else {
					add(PlanNote, -1, "    ", l)
				}
			}
		}
	}
	if len(p.Preflight) > 0 {
		blank()
		add(PlanHeading, -1, "", HeadingPreflight)
		for i, c := range p.Preflight {
			add(PlanCheck, i, "  - ", c.Name+": "+c.Description)
		}
	}
	blank()
	add(PlanHeading, -1, "", HeadingSteps)
	for i, s := range p.Steps {
		host := s.Host
		if host == "" {
			host = "(cluster)"
		}
		add(PlanStep, i, "  ", fmt.Sprintf("%d. [%s] %s on %s", i+1, s.ID, s.Title, host))
		var flags []string
		if s.Detached {
			flags = append(flags, "detached")
		}
		if s.Idempotent {
			flags = append(flags, "idempotent")
		}
		if s.Cleanup {
			flags = append(flags, "cleanup: always runs")
		}
		if s.Parallel != "" {
			flags = append(flags, "parallel group "+s.Parallel)
		}
		if s.Timeout > 0 {
			flags = append(flags, "timeout "+s.Timeout.String())
		}
		if len(flags) > 0 {
			add(PlanFlags, i, "     ", "("+strings.Join(flags, ", ")+")")
		}
		for _, c := range s.Commands {
			add(PlanCommand, i, "     $ ", c)
		}
		if g := s.Gate; g != nil {
			add(PlanGate, i, "     ", fmt.Sprintf("gate %s: %s (deadline %s, every %s)", g.Name, g.Description, g.deadline(), g.interval()))
		}
	}
	return out
}

// Render writes the plan's Lines as text, for --dry-run.
func (p *Plan) Render(w io.Writer) error {
	var b strings.Builder
	for _, l := range p.Lines() {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (g *Gate) deadline() time.Duration {
	if g.Deadline <= 0 {
		return 10 * time.Minute
	}
	return g.Deadline
}

func (g *Gate) interval() time.Duration {
	if g.Interval <= 0 {
		return 5 * time.Second
	}
	return g.Interval
}

// validate rejects plans the engine cannot run or resume safely.
func (p *Plan) validate() error {
	if p.Workflow == "" {
		return fmt.Errorf("plan has no workflow name")
	}
	seen := map[string]bool{}
	for _, s := range p.Steps {
		if s.ID == "" {
			return fmt.Errorf("plan %s: a step has no ID", p.ID)
		}
		if seen[s.ID] {
			return fmt.Errorf("plan %s: duplicate step ID %q", p.ID, s.ID)
		}
		seen[s.ID] = true
		if s.Run == nil && len(s.Commands) > 0 && s.Host == "" && s.Detached {
			return fmt.Errorf("plan %s: step %s is detached but names no host", p.ID, s.ID)
		}
	}
	return nil
}

// paramsJSON marshals Params for the journal.
func (p *Plan) paramsJSON() json.RawMessage {
	if p.Params == nil {
		return nil
	}
	b, err := json.Marshal(p.Params)
	if err != nil {
		return nil
	}
	return b
}
