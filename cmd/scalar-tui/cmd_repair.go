package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/repair"
)

func init() {
	register(newRepairCmd)
	registerResume(repair.Workflow, resumeRepairPlan)
}

// Health gate sources for --health-gate.
const (
	healthGatePrometheus = "prometheus"
	healthGateScrape     = "scrape"
	// healthGateAuto asks Prometheus and scrapes the exporters while it is
	// unreachable (what the console uses).
	healthGateAuto = "auto"
	healthGateOff  = "off"
)

// healthGateSource builds the source a workflow's health gate reads, or nil
// for "off".
func healthGateSource(inv *inventory.Inventory, cl *sshx.Client, gate string) (health.Source, error) {
	switch gate {
	case healthGatePrometheus:
		s, err := health.NewPrometheusSource(inv, "", health.PrometheusOptions{Dial: cl.DialContext, Timeout: 10 * time.Second})
		if err != nil {
			return nil, badInput(fmt.Errorf("health gate: %w", err))
		}
		return s, nil
	case healthGateScrape:
		return health.NewScrapeSource(inv, health.ScrapeOptions{Dial: cl.DialContext, Timeout: 5 * time.Second}), nil
	case healthGateAuto:
		return consoleHealthSource(inv, cl.DialContext)
	case healthGateOff:
		return nil, nil
	default:
		return nil, badInput(fmt.Errorf("--health-gate %q: want prometheus, scrape, auto or off", gate))
	}
}

// repairParams are what a repair run journals so that resume rebuilds the
// same plan: the workflow's options plus the CLI's choice of health gate.
type repairParams struct {
	repair.Options
	HealthGate string `json:"health_gate,omitempty"`
	// ReaperPasswordFile is journalled instead of the password itself.
	ReaperPasswordFile string `json:"reaper_password_file,omitempty"`
}

type repairFlags struct {
	wf           workflowFlags
	keyspaces    []string
	hosts        []string
	via          string
	healthGate   string
	gateDeadline time.Duration
	gateInterval time.Duration
	timeout      time.Duration
	reaperURL    string
	reaperUser   string
	reaperPWFile string
	reaperPoll   time.Duration
}

func newRepairCmd(g *globalOptions) *cobra.Command {
	o := &repairFlags{}
	cmd := &cobra.Command{
		Use:   "repair [--keyspace KS]... [--host H]... [--via nodetool] [--dry-run] [--yes] [--json] [--canary]",
		Short: "Run a full primary-range repair, one Cassandra node at a time",
		Long: `Repair Cassandra the manual way (domain.md §4.3): take the cluster lock on the
bastion, refuse unless every node is UN and cassandra.service is active, then
on one node at a time run ` + "`nodetool repair -full -pr KEYSPACE`" + ` detached on the
node (it survives SSH drops and this console dying), and after each node wait
until the whole ring is UN again (and, with --health-gate, monitoring agrees
that cassandra.service is active everywhere). It stops at the first failure;
` + "`scalar-tui resume ID`" + ` continues at the first unfinished step.

--via reaper drives Cassandra Reaper's REST API through the bastion instead:
one cluster-wide Reaper run per keyspace, followed until DONE; resume
re-attaches to it, Ctrl-C pauses it.

--health-gate chooses the second opinion the gate after each node requires:
prometheus (default: the monitor's Prometheus through the bastion), scrape
(the exporters directly, for when Prometheus is down) or off (deployments
without monitoring; the nodetool ring check still applies). The gate fails
closed: if the health source cannot be read, it does not pass, and the run is
refused at preflight when the source cannot be read at all.

Exit status: 0 done (or canary-wait with --canary), 1 failed, refused or
locked by someone else, 2 bad flags or deployment (nothing attempted),
130 canceled (the remote repair was stopped and the lock released).`,
		Example: "  scalar-tui repair --dry-run\n  scalar-tui repair --keyspace scalar --host cassandra-2\n" +
			"  scalar-tui repair --yes --json --health-gate scrape",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			params, err := o.params()
			if err != nil {
				return badInput(err)
			}
			o.wf.redactor = workflow.NewRedactor()
			return runWorkflow(ctx, g, o.wf, streamsOf(cmd), func(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client) (*workflow.Plan, error) {
				return buildRepairPlan(inv, cl, params, o.wf.redactor)
			})
		},
	}
	f := cmd.Flags()
	o.wf.addFlags(f, true)
	f.StringSliceVar(&o.keyspaces, "keyspace", nil, "keyspace to repair (repeatable or comma-separated; default scalar,coordinator)")
	f.StringArrayVar(&o.hosts, "host", nil, "repair only this Cassandra node: name, short name or IP (repeatable); preflight and gates still cover the whole ring")
	f.StringVar(&o.via, "via", repair.ViaNodetool, "how to repair: nodetool (each node over SSH) or reaper (Reaper's REST API through the bastion)")
	f.StringVar(&o.reaperURL, "reaper-url", "", "with --via reaper: Reaper's URL, dialled through the bastion (default http://reaper-1.<domain>:8080)")
	f.StringVar(&o.reaperUser, "reaper-user", "admin", "with --via reaper: Reaper user")
	f.StringVar(&o.reaperPWFile, "reaper-password-file", "", "with --via reaper: file holding the Reaper password (default: the docker image's admin)")
	f.DurationVar(&o.reaperPoll, "reaper-poll-interval", 10*time.Second, "with --via reaper: how often to poll the Reaper run")
	f.StringVar(&o.healthGate, "health-gate", healthGatePrometheus, "second opinion for the gate after each node: prometheus, scrape, auto (prometheus, else scrape) or off")
	f.DurationVar(&o.gateDeadline, "gate-deadline", 15*time.Minute, "how long to wait for the ring to be healthy after each node")
	f.DurationVar(&o.gateInterval, "gate-interval", 10*time.Second, "poll interval of the gate after each node")
	f.DurationVar(&o.timeout, "timeout", 0, "bound one keyspace's repair on one node (0: no bound)")
	positive(f, "gate-deadline", "gate-interval", "reaper-poll-interval")
	return cmd
}

// params validates the flags into the journalled parameters.
func (o *repairFlags) params() (repairParams, error) {
	switch o.healthGate {
	case healthGatePrometheus, healthGateScrape, healthGateAuto, healthGateOff:
	default:
		return repairParams{}, fmt.Errorf("--health-gate %q: want prometheus, scrape, auto or off", o.healthGate)
	}
	if o.gateDeadline <= 0 || o.gateInterval <= 0 {
		return repairParams{}, errors.New("--gate-deadline and --gate-interval must be positive")
	}
	if o.timeout < 0 {
		return repairParams{}, errors.New("--timeout must not be negative")
	}
	if o.via != repair.ViaReaper && (o.reaperURL != "" || o.reaperPWFile != "") {
		return repairParams{}, errors.New("--reaper-url and --reaper-password-file apply to --via reaper only")
	}
	if o.reaperURL != "" {
		if err := repair.CheckReaperURL(o.reaperURL); err != nil {
			return repairParams{}, fmt.Errorf("--reaper-url: %w", err)
		}
	}
	if o.reaperPoll <= 0 {
		return repairParams{}, errors.New("--reaper-poll-interval must be positive")
	}
	var ks []string
	for _, k := range o.keyspaces {
		if k = strings.TrimSpace(k); k != "" {
			ks = append(ks, k)
		}
	}
	p := repairParams{
		Options: repair.Options{Keyspaces: ks, Hosts: o.hosts, Via: o.via,
			GateDeadline: o.gateDeadline, GateInterval: o.gateInterval, Timeout: o.timeout},
		HealthGate: o.healthGate,
	}
	if o.via == repair.ViaReaper {
		p.Reaper = repair.ReaperOptions{URL: o.reaperURL, User: o.reaperUser, PollInterval: o.reaperPoll}
		p.ReaperPasswordFile = o.reaperPWFile
	}
	return p, nil
}

// buildRepairPlan builds the repair plan with the health gate wired in.
func buildRepairPlan(inv *inventory.Inventory, cl *sshx.Client, params repairParams, red *workflow.Redactor) (*workflow.Plan, error) {
	opts := params.Options
	if opts.Via == repair.ViaReaper {
		opts.Reaper.Dial = cl.DialContext
		if params.ReaperPasswordFile != "" {
			pw, err := readSecret(params.ReaperPasswordFile, "--reaper-password-file")
			if err != nil {
				return nil, badInput(err)
			}
			opts.Reaper.Password = pw
			red.Add(pw)
		}
	}
	src, err := healthGateSource(inv, cl, params.HealthGate)
	if err != nil {
		return nil, err
	}
	if src != nil {
		opts.Health = cassandraActive(src)
	}
	p, err := repair.Plan(inv, opts)
	if err != nil {
		return nil, err
	}
	// Journal the CLI's choice too, so that resume rebuilds the same gate.
	p.Params = params
	if src != nil {
		hc := opts.Health
		p.Preflight = append(p.Preflight, workflow.Check{
			Name:        "health-" + params.HealthGate,
			Description: "monitoring (" + params.HealthGate + ") reports cassandra.service active on every Cassandra node",
			Run: func(ctx context.Context, env *workflow.Env) error {
				ok, reason, err := hc(ctx)
				if err != nil {
					return fmt.Errorf("%w (the gate after each node needs it: use --health-gate scrape when Prometheus is down, or --health-gate off for a deployment without monitoring)", err)
				}
				if !ok {
					return errors.New(reason)
				}
				return nil
			},
		})
	}
	return p, nil
}

// cassandraActive is the repair gate's second opinion: every Cassandra node's
// service is active according to src. A source error fails the gate.
func cassandraActive(src health.Source) func(ctx context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		snap, err := src.Snapshot(ctx)
		if err != nil {
			return false, "", err
		}
		ok, reason := snap.AllCassandraActive()
		return ok, reason, nil
	}
}

// resumeRepairPlan rebuilds a repair plan from its journalled parameters.
func resumeRepairPlan(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, raw json.RawMessage) (*workflow.Plan, error) {
	var params repairParams
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &params); err != nil {
			return nil, fmt.Errorf("journalled repair parameters: %w", err)
		}
	}
	if params.HealthGate == "" {
		params.HealthGate = healthGateOff
	}
	// The Reaper password only travels in an HTTP form body, never in a
	// command, event or error text, so no redactor is needed here.
	return buildRepairPlan(inv, cl, params, nil)
}
