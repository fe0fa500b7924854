package main

// `scalar-tui drill NAME --host H` runs one drill of ops/workflow/drill and
// keeps its result; `scalar-tui drills` lists past results with the trend.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/internal/demo"
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/drill"
)

func init() {
	register(newDrillCmd)
	register(newDrillsCmd)
}

type drillFlags struct {
	wf              workflowFlags
	host            string
	allowProduction bool
	confirm         string
	simState        string
	labDir          string
	interval        time.Duration
	deadline        time.Duration
	waitHealthy     time.Duration
}

func newDrillCmd(g *globalOptions) *cobra.Command {
	o := &drillFlags{}
	var names []string
	for _, s := range drill.Catalog() {
		names = append(names, fmt.Sprintf("  %-17s %s", s.Name, s.Title))
	}
	cmd := &cobra.Command{
		Use:   "drill NAME --host HOST [--yes] [--json] [--dry-run]",
		Short: "Run a drill: inject one fault, watch the alert fire, recover with the runbook",
		Long: `Inject ONE fault on one host, expect the monitoring to notice (the alert fires in
Prometheus and health marks the host), recover with the matching runbook's steps and
expect everything to clear. The recovery steps always run: on failure, Ctrl-C or a
signal too. The drill is refused unless the whole cluster is healthy with no alert
firing, and refused on a production environment (config kind: production, or no kind)
unless --allow-production and --confirm-deployment NETWORK_NAME. The result (time to
detect, time to recover, whether clients were affected) is kept beside the journal;
` + "`scalar-tui drills`" + ` lists them.

Drills:
` + strings.Join(names, "\n") + `

node-unreachable and disk-low use the simulator and run on the demo (--sim-state DIR,
the demo's simulator state) and, node-unreachable only, on the lab (--lab-dir DIR).

Exit status: 0 passed, 1 failed or refused, 2 bad flags or deployment, 130 canceled.`,
		Example: "  scalar-tui drill cassandra-stopped --host cassandra-2 --dry-run\n  scalar-tui drill envoy-killed --host envoy-1 --yes --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDrill(cmd.Context(), g, o, args[0], streamsOf(cmd))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "the host to inject the fault on: name, short name or IP")
	f.BoolVar(&o.wf.yes, "yes", false, "run without asking for confirmation")
	f.BoolVar(&o.wf.json, "json", false, "print events and the result as JSON lines")
	f.BoolVar(&o.wf.dryRun, "dry-run", false, "print the plan and exit")
	f.StringVar(&o.wf.lockPath, "lock-path", "", "cluster lock directory on the bastion")
	f.BoolVar(&o.allowProduction, "allow-production", false, "allow a drill on a production environment (with --confirm-deployment)")
	f.StringVar(&o.confirm, "confirm-deployment", "", "the deployment's network name, typed, to confirm a production drill")
	f.StringVar(&o.simState, "sim-state", "", "simulator state directory of the demo (marks the deployment as a lab)")
	f.StringVar(&o.labDir, "lab-dir", "", "directory of a running `scalar-tui lab up` (marks the deployment as a lab; node-unreachable takes the host's link down)")
	cmd.MarkFlagsMutuallyExclusive("sim-state", "lab-dir")
	f.DurationVar(&o.interval, "interval", time.Second, "poll interval of the monitoring")
	f.DurationVar(&o.deadline, "deadline", 5*time.Minute, "bound of detection and of each recovery wait")
	f.DurationVar(&o.waitHealthy, "wait-healthy", 0, "wait up to this long for the cluster to be fully healthy before the preflight (a freshly started lab, a scheduled job after another one)")
	return cmd
}

// labFaults injects the simulator's faults of a lab (`scalar-tui lab up`)
// through `scalar-sim lab fault`, which on node-down also takes the host's
// network link down, so its real node exporter stops answering. The demo's
// faults (--sim-state) are demo.Faults, in this process.
type labFaults struct {
	dir string
}

func (l labFaults) InjectFault(ctx context.Context, host, kind string) error {
	return runSimQuiet(ctx, "lab", "fault", "--dir", l.dir, "--", host, kind)
}

func (l labFaults) ClearFault(ctx context.Context, host, kind string) error {
	return runSimQuiet(ctx, "lab", "fault", "--dir", l.dir, "--clear", "--", host, kind)
}

// envKind returns the config environment's kind when the deployment comes
// from the config ("" otherwise: unknown counts as production).
func envKind(g *globalOptions) (string, error) {
	if g.tfRoot != "" || len(g.tfDirs) > 0 {
		return "", nil
	}
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return "", badInput(err)
	}
	env, err := cfg.environment(g.envName)
	if err != nil || env == nil {
		return "", badInput(err)
	}
	return env.Kind, nil
}

// simMatches checks that the simulator state at dir is the one behind inv:
// every inventory host is simulated with the same IP, so --sim-state cannot
// turn a real deployment into a "lab".
func simMatches(dir string, inv *inventory.Inventory) error {
	ips, err := demo.SimulatedIPs(dir)
	if err != nil {
		return fmt.Errorf("--sim-state %s: %w", dir, err)
	}
	for _, h := range inv.Hosts {
		if ip, ok := ips[h.Name]; !ok || ip != h.PrivateIP {
			return fmt.Errorf("--sim-state %s does not simulate this deployment (%s %s is not in it)", dir, h.Name, h.PrivateIP)
		}
	}
	return nil
}

func runDrill(ctx context.Context, g *globalOptions, o *drillFlags, name string, s cmdStreams) error {
	v := workflow.Values{"name": name, "host": o.host, "allow-production": o.allowProduction,
		"confirm-deployment": o.confirm, "interval": o.interval, "deadline": o.deadline}
	k, _ := workflow.Lookup(drill.Workflow)
	if err := k.Validate(v); err != nil {
		return badInput(err)
	}
	kind, err := envKind(g)
	if err != nil {
		return err
	}
	inv, cl, err := openDeployment(ctx, g)
	if err != nil {
		return err
	}
	defer cl.Close()
	o.wf.dep = g.deploymentOf(inv, o.wf.lockPath)
	deps := kindDeps(inv, cl, o.wf, s)
	deps.EnvKind = kind
	if o.labDir != "" && name == drill.DiskLow {
		// The lab's hosts run the real node exporter, which reports this
		// machine's disks, not the simulator's /data: the fault would never
		// show in Prometheus.
		return badInput(errors.New("drill disk-low runs on the demo only: the lab's real node exporters report this machine's disks, not the simulator's /data"))
	}
	if o.labDir != "" {
		// The simulator state labnodes keeps in the lab directory.
		dir := filepath.Join(o.labDir, "sim", "state")
		if err := simMatches(dir, inv); err != nil {
			return badInput(fmt.Errorf("--lab-dir %s: %w", o.labDir, err))
		}
		if _, err := simBinary(); err != nil {
			return badInput(err)
		}
		deps.Faults = labFaults{dir: o.labDir}
	}
	if o.simState != "" {
		if err := simMatches(o.simState, inv); err != nil {
			return badInput(err)
		}
		deps.Faults = demo.Faults{State: o.simState}
	}
	d, err := drill.Prepare(deps, v)
	var unsafe *drill.SafetyError
	switch {
	case errors.As(err, &unsafe):
		return failed(err)
	case err != nil:
		return badInput(err)
	}
	src, err := deps.HealthSource(workflow.HealthGateEnvoy)
	if err != nil {
		return err
	}
	if o.waitHealthy > 0 && !o.wf.dryRun {
		if err := waitFullyHealthy(ctx, src, o.waitHealthy, o.interval); err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			return failed(fmt.Errorf("drill %s: %w", name, err))
		}
	}
	p := d.Plan
	p.ID = workflow.UniqueRunID(p.ID)
	if o.wf.dryRun {
		if err := p.Render(s.out); err != nil {
			return failed(err)
		}
		fmt.Fprintln(s.out, "\ndry run: nothing was changed and no lock was taken")
		return nil
	}
	if err := confirmPlan(o.wf, s, p, "drill", "run"); err != nil {
		return err
	}
	var status workflow.Status
	var runErr error
	execErr := execWorkflow(ctx, o.wf, s, cl, nil, p.ID, func(e *workflow.Engine) (workflow.Status, error) {
		status, runErr = e.Run(ctx, p)
		return status, runErr
	})
	r := d.Result(status, runErr)
	if status != workflow.StatusRefused {
		if _, err := drill.Save(drill.ResultsDir(o.wf.dep.dir), r); err != nil {
			fmt.Fprintln(s.err, "scalar-tui: keep the drill result:", err)
		}
	}
	if err := writeDrillResult(s.out, o.wf.json, r); err != nil {
		return failed(err)
	}
	if execErr != nil {
		return execErr
	}
	if !r.Pass() {
		return failed(fmt.Errorf("drill %s on %s did not pass", r.Drill, r.Host))
	}
	return nil
}

// waitFullyHealthy polls src until drill.FullyHealthy passes or within ends.
func waitFullyHealthy(ctx context.Context, src health.Source, within, every time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		snap, err := src.Snapshot(ctx)
		if err == nil {
			if err = drill.FullyHealthy(snap); err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("still not fully healthy after --wait-healthy %s: %w", within, err)
			}
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

func writeDrillResult(w io.Writer, asJSON bool, r drill.Result) error {
	if asJSON {
		b, err := json.Marshal(struct {
			Kind   string       `json:"kind"`
			Pass   bool         `json:"pass"`
			Result drill.Result `json:"result"`
		}{"drill-result", r.Pass(), r})
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	verdict := "FAIL"
	if r.Pass() {
		verdict = "PASS"
	}
	_, err := fmt.Fprintf(w, "\ndrill %s on %s: %s\n  detect: alert firing after %s, health marked after %s\n  recover: alert resolved after %s, healthy after %s\n  clients: %s\n",
		r.Drill, r.Host, verdict, drill.Dur(r.DetectAlert), drill.Dur(r.DetectHealth), drill.Dur(r.RecoverAlert), drill.Dur(r.RecoverHealthy), drill.ClientsText(r))
	return err
}

func newDrillsCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "drills [--json]",
		Short: "List past drills of the deployment with their timings and the trend",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := g.inventoryOptions()
			if err != nil {
				return err
			}
			inv, err := inventory.Load(cmd.Context(), opts)
			if err != nil {
				return badInput(err)
			}
			dir := drill.ResultsDir(g.deploymentOf(inv, "").dir)
			rs, err := drill.List(dir)
			if err != nil {
				return failed(err)
			}
			return writeDrills(cmd.OutOrStdout(), asJSON, rs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {results, trends} as JSON")
	return cmd
}

func writeDrills(w io.Writer, asJSON bool, rs []drill.Result) error {
	if asJSON {
		if rs == nil {
			rs = []drill.Result{}
		}
		tr := drill.Trends(rs)
		if tr == nil {
			tr = []drill.Trend{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Results []drill.Result `json:"results"`
			Trends  []drill.Trend  `json:"trends"`
		}{rs, tr})
	}
	if len(rs) == 0 {
		_, err := fmt.Fprintln(w, "no drills run on this deployment yet (scalar-tui drill --help)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tDRILL\tHOST\tRESULT\tDETECT ALERT\tDETECT HEALTH\tRECOVER ALERT\tRECOVER HEALTHY\tCLIENTS")
	for _, r := range rs {
		verdict := "FAIL"
		if r.Pass() {
			verdict = "PASS"
		}
		short, _, _ := strings.Cut(r.Host, ".")
		clients := "?"
		if r.ClientsAffected != nil {
			clients = map[bool]string{true: "affected", false: "ok"}[*r.ClientsAffected]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Started.UTC().Format(time.RFC3339), r.Drill, short, verdict,
			drill.Dur(r.DetectAlert), drill.Dur(r.DetectHealth), drill.Dur(r.RecoverAlert), drill.Dur(r.RecoverHealthy), clients)
	}
	fmt.Fprintln(tw, "\nTREND\tRUNS\tPASS\tLAST DETECT\tMEAN DETECT\tLAST RECOVER\tMEAN RECOVER")
	for _, t := range drill.Trends(rs) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", t.Drill, t.Runs, t.Pass, drill.Dur(t.LastDetect), drill.Dur(t.MeanDetect), drill.Dur(t.LastRecover), drill.Dur(t.MeanRecover))
	}
	return tw.Flush()
}
