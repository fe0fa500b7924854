package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
	registerCancelReport(repair.Workflow, cancelReport{canceling: repairCanceling, report: repairCancelReport})
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

Before the first node (and on resume) the run is refused while any repair
runs on the ring: a live detached ` + "`nodetool repair`" + ` of another run (a killed
console's orphan), a Validation or Anticompaction in ` + "`nodetool compactionstats`" + `,
Repair streams in ` + "`nodetool netstats`" + `, or a RUNNING Reaper run; the gate
after each node also waits while a repair started meanwhile runs. Ctrl-C
stops the nodetool client only: Cassandra goes on repairing on the server
side until that repair ends; ` + "`scalar-tui repair status --wait`" + ` waits for it.

Exit status: 0 done (or canary-wait with --canary), 1 failed, refused (also
while another repair runs) or locked by someone else, 2 bad flags or
deployment (nothing attempted), 130 canceled (the nodetool client was
stopped and the lock released; the server-side repair may go on).`,
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
	cmd.AddCommand(newRepairStatusCmd(g))
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
	// Both routes: the no-repair-running preflight also asks Reaper.
	opts.Reaper.Dial = cl.DialContext
	if opts.Via == repair.ViaReaper {
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

// reaperProbe is how `repair status`, unlock and the nodetool route's
// preflight ask Reaper what it repairs: the inventory's reaper host, the
// docker image's login, through the bastion. nil when there is no Reaper.
func reaperProbe(inv *inventory.Inventory, cl *sshx.Client) *repair.ReaperOptions {
	if len(inv.ByRole(inventory.RoleReaper)) == 0 {
		return nil
	}
	return &repair.ReaperOptions{URL: "http://" + net.JoinHostPort(inv.ByRole(inventory.RoleReaper)[0].Name, "8080"),
		User: "admin", Password: "admin", Cluster: "scalardl", Dial: cl.DialContext}
}

// runningRepairs asks the cluster what repair runs (see repair.InProgress).
func runningRepairs(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, warn func(string)) ([]repair.Activity, error) {
	return repair.InProgress(ctx, repair.ExecVia(cl), inv, repair.ProbeOptions{Reaper: reaperProbe(inv, cl), Warn: warn})
}

// viaReaper reports whether p is a --via reaper repair (its Ctrl-C pauses
// the Reaper run, which the step's own error already says).
func viaReaper(p *workflow.Plan) bool {
	switch params := p.Params.(type) {
	case repairParams:
		return params.Via == repair.ViaReaper
	case repair.Options:
		return params.Via == repair.ViaReaper
	}
	return false
}

func repairCanceling(p *workflow.Plan) string {
	if viaReaper(p) {
		return "pausing the Reaper run"
	}
	return "stopping the nodetool client (this does not stop Cassandra's server-side repair)"
}

// repairCancelReport says what Ctrl-C stopped: the nodetool client, not the
// repair Cassandra runs on the server side; it asks the cluster what still
// runs and offers to wait for it.
func repairCancelReport(ctx context.Context, p *workflow.Plan, inv *inventory.Inventory, cl *sshx.Client) string {
	if viaReaper(p) {
		return ""
	}
	var warns []string
	acts, err := runningRepairs(ctx, inv, cl, func(s string) { warns = append(warns, s) })
	resume := fmt.Sprintf("`scalar-tui resume %s`", p.ID)
	switch {
	case err != nil:
		return fmt.Sprintf("the nodetool client was stopped and the lock released, but Cassandra may still be repairing on the server side (cannot check: %v); "+
			"`scalar-tui repair status --wait` waits until it has ended, then %s continues", err, resume)
	case len(acts) == 0:
		return fmt.Sprintf("the nodetool client was stopped, Cassandra shows no repair still running and the lock was released; %s continues", resume)
	}
	return fmt.Sprintf("Ctrl-C stopped only the nodetool client, not the repair: Cassandra goes on repairing on the server side and the lock was released:\n%s"+
		"a new repair and %s are refused until it has ended; `scalar-tui repair status --wait` waits for it, then %s continues", repair.Describe(acts), resume, resume)
}

// showRunningRepairs prints what still runs on the cluster, for unlock
// --force: a dead run's orphaned repair goes on after its lock is broken.
func showRunningRepairs(ctx context.Context, inv *inventory.Inventory, cl *sshx.Client, out io.Writer) {
	if len(inv.ByRole(inventory.RoleCassandra)) == 0 {
		return // the cassandra root is not loaded: nothing to ask
	}
	// Bounded: breaking a lock must not hang on one silent node.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	acts, err := runningRepairs(ctx, inv, cl, func(s string) { fmt.Fprintln(out, "note: "+s) })
	switch {
	case err != nil:
		fmt.Fprintf(out, "could not check what is still running on the cluster: %v\n", err)
	case len(acts) == 0:
		fmt.Fprintln(out, "no repair is running on the cluster")
	default:
		fmt.Fprintf(out, "still running on the cluster (left by the dead run, or someone else's):\n%s", repair.Describe(acts))
		fmt.Fprintln(out, "a new repair is refused until it has ended; `scalar-tui repair status --wait` waits for it")
	}
}

func newRepairStatusCmd(g *globalOptions) *cobra.Command {
	var (
		wait     bool
		asJSON   bool
		interval time.Duration
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status [--wait] [--json]",
		Short: "Show the repairs running on the cluster; --wait waits until none runs",
		Long: `Ask every Cassandra node and Reaper what repair runs: live detached
` + "`nodetool repair`" + ` commands of scalar-tui runs (their pid files), Validation and
Anticompaction compactions (` + "`nodetool compactionstats`" + `), Repair streams
(` + "`nodetool netstats`" + `) and RUNNING Reaper runs. A repair goes on on the server
side after its nodetool client was stopped (Ctrl-C, a killed console).

Exit status: 0 (with --wait: once nothing runs), 1 the cluster cannot be
asked or --timeout passed with a repair still running, 2 bad flags,
130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 || timeout < 0 {
				return badInput(errors.New("--interval must be positive and --timeout not negative"))
			}
			ctx := cmd.Context()
			inv, cl, err := openDeployment(ctx, g)
			if err != nil {
				return err
			}
			defer cl.Close()
			if len(inv.ByRole(inventory.RoleCassandra)) == 0 {
				return badInput(errors.New("repair status: the inventory has no Cassandra nodes (is the cassandra root loaded?)"))
			}
			out := cmd.OutOrStdout()
			var deadline <-chan time.Time
			if timeout > 0 {
				t := time.NewTimer(timeout)
				defer t.Stop()
				deadline = t.C
			}
			for {
				pctx, cancel := context.WithTimeout(ctx, time.Minute) // one silent node must not hang the wait
				acts, err := runningRepairs(pctx, inv, cl, func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), "note: "+s) })
				cancel()
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return failed(err)
				}
				if asJSON {
					b, _ := json.Marshal(map[string]any{"running": len(acts) > 0, "activities": acts})
					fmt.Fprintln(out, string(b))
				} else if len(acts) == 0 {
					fmt.Fprintln(out, "no repair is running on the cluster")
				} else {
					fmt.Fprintf(out, "running on the cluster:\n%s", repair.Describe(acts))
				}
				if !wait || len(acts) == 0 {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-deadline:
					return failed(fmt.Errorf("a repair still runs after %s", timeout))
				case <-time.After(interval):
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "poll until no repair runs")
	f.BoolVar(&asJSON, "json", false, "print each poll as one JSON object")
	f.DurationVar(&interval, "interval", 10*time.Second, "with --wait: time between polls")
	f.DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long (0: no bound)")
	return cmd
}
