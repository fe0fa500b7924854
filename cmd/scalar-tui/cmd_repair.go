package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/repair"
)

func init() {
	kindCLIs[repair.Workflow] = kindCLI{extend: func(g *globalOptions, cmd *cobra.Command) { cmd.AddCommand(newRepairStatusCmd(g)) }}
	registerCancelReport(repair.Workflow, cancelReport{canceling: repairCanceling, report: repairCancelReport})
}

// healthGateSource builds the source a workflow's health gate reads
// (workflow.Deps.Health), or nil for "off".
func healthGateSource(inv *inventory.Inventory, cl *sshx.Client, gate string) (health.Source, error) {
	switch gate {
	case workflow.HealthGatePrometheus:
		s, err := health.NewPrometheusSource(inv, "", health.PrometheusOptions{Dial: cl.DialContext, Timeout: 10 * time.Second})
		if err != nil {
			return nil, badInput(fmt.Errorf("health gate: %w", err))
		}
		return s, nil
	case workflow.HealthGateScrape:
		return health.NewScrapeSource(inv, health.ScrapeOptions{Dial: cl.DialContext, Timeout: 5 * time.Second}), nil
	case workflow.HealthGateAuto:
		return consoleHealthSource(inv, cl.DialContext)
	case workflow.HealthGateEnvoy:
		// The drills: Envoy's admin pages too, for the clients-affected measure.
		s, err := health.NewPrometheusSource(inv, "", health.PrometheusOptions{Dial: cl.DialContext, Timeout: 10 * time.Second, EnvoyAdmin: true})
		if err != nil {
			return nil, badInput(err)
		}
		return s, nil
	case workflow.HealthGateOff:
		return nil, nil
	default:
		return nil, badInput(workflow.CheckHealthGate(gate))
	}
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
	case repair.Journal:
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
