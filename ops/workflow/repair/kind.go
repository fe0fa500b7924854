package repair

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
)

// Journal is what a repair run journals so that resume rebuilds the same
// plan: the workflow's options plus the choice of health gate.
type Journal struct {
	Options
	HealthGate string `json:"health_gate,omitempty"`
	// ReaperPasswordFile is journalled instead of the password itself.
	ReaperPasswordFile string `json:"reaper_password_file,omitempty"`
}

func init() {
	workflow.Register(&workflow.Kind{
		Name:      Workflow,
		Dangerous: true,
		Canary:    true,
		Usage:     "repair [--keyspace KS]... [--host H]... [--via nodetool] [--dry-run] [--yes] [--json] [--canary]",
		Summary:   "Run a full primary-range repair, one Cassandra node at a time",
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
		Options: []workflow.KindOption{
			{Name: "keyspace", Type: workflow.OptStringList, Help: "keyspace to repair (repeatable or comma-separated; default scalar,coordinator)"},
			{Name: "host", PerRun: true, Type: workflow.OptStringArray, Help: "repair only this Cassandra node: name, short name or IP (repeatable); preflight and gates still cover the whole ring"},
			{Name: "via", Type: workflow.OptString, Default: ViaNodetool, Help: "how to repair: nodetool (each node over SSH) or reaper (Reaper's REST API through the bastion)"},
			{Name: "reaper-url", Type: workflow.OptString, Default: "", Help: "with --via reaper: Reaper's URL, dialled through the bastion (default http://reaper-1.<domain>:8080)"},
			{Name: "reaper-user", Type: workflow.OptString, Default: "admin", Help: "with --via reaper: Reaper user"},
			{Name: "reaper-password-file", Type: workflow.OptString, Default: "", Help: "with --via reaper: file holding the Reaper password (default: the docker image's admin)"},
			{Name: "reaper-poll-interval", Type: workflow.OptDuration, Default: 10 * time.Second, Help: "with --via reaper: how often to poll the Reaper run", Positive: true},
			{Name: "health-gate", Type: workflow.OptString, Default: workflow.HealthGatePrometheus, Help: "second opinion for the gate after each node: prometheus, scrape, auto (prometheus, else scrape) or off"},
			{Name: "gate-deadline", Type: workflow.OptDuration, Default: 15 * time.Minute, Help: "how long to wait for the ring to be healthy after each node", Positive: true},
			{Name: "gate-interval", Type: workflow.OptDuration, Default: 10 * time.Second, Help: "poll interval of the gate after each node", Positive: true},
			{Name: "timeout", Type: workflow.OptDuration, Default: time.Duration(0), Help: "bound one keyspace's repair on one node (0: no bound)"},
		},
		ConsoleCommand:  "repair",
		ConsoleKey:      "repair",
		ConsoleDefaults: map[string]string{"health-gate": workflow.HealthGateAuto},
		Validate:        func(v workflow.Values) error { _, err := journalOf(v); return err },
		Plan: func(_ context.Context, d workflow.Deps, v workflow.Values) (*workflow.Plan, error) {
			j, err := journalOf(v)
			if err != nil {
				return nil, err
			}
			return BuildPlan(d, j)
		},
		Resume: workflow.DecodeParams(Workflow, func(_ context.Context, d workflow.Deps, j Journal) (*workflow.Plan, error) {
			if j.HealthGate == "" {
				j.HealthGate = workflow.HealthGateOff
			}
			// The Reaper password only travels in an HTTP form body, never
			// in a command, event or error text: no redactor is needed.
			d.Redactor = nil
			return BuildPlan(d, j)
		}),
	})
}

// journalOf validates the options into the journalled parameters.
func journalOf(v workflow.Values) (Journal, error) {
	if err := workflow.CheckHealthGate(v.String("health-gate")); err != nil {
		return Journal{}, err
	}
	gateDeadline, gateInterval, timeout := v.Duration("gate-deadline"), v.Duration("gate-interval"), v.Duration("timeout")
	via, reaperURL, pwFile := v.String("via"), v.String("reaper-url"), v.String("reaper-password-file")
	if gateDeadline <= 0 || gateInterval <= 0 {
		return Journal{}, errors.New("--gate-deadline and --gate-interval must be positive")
	}
	if timeout < 0 {
		return Journal{}, errors.New("--timeout must not be negative")
	}
	if via != ViaReaper && (reaperURL != "" || pwFile != "") {
		return Journal{}, errors.New("--reaper-url and --reaper-password-file apply to --via reaper only")
	}
	if reaperURL != "" {
		if err := CheckReaperURL(reaperURL); err != nil {
			return Journal{}, fmt.Errorf("--reaper-url: %w", err)
		}
	}
	if v.Duration("reaper-poll-interval") <= 0 {
		return Journal{}, errors.New("--reaper-poll-interval must be positive")
	}
	var ks []string
	for _, k := range v.Strings("keyspace") {
		if k = strings.TrimSpace(k); k != "" {
			ks = append(ks, k)
		}
	}
	j := Journal{
		Options: Options{Keyspaces: ks, Hosts: v.Strings("host"), Via: via,
			GateDeadline: gateDeadline, GateInterval: gateInterval, Timeout: timeout},
		HealthGate: v.String("health-gate"),
	}
	if via == ViaReaper {
		j.Reaper = ReaperOptions{URL: reaperURL, User: v.String("reaper-user"), PollInterval: v.Duration("reaper-poll-interval")}
		j.ReaperPasswordFile = pwFile
	}
	return j, nil
}

// BuildPlan builds the repair plan of j with the health gate wired in.
func BuildPlan(d workflow.Deps, j Journal) (*workflow.Plan, error) {
	opts := j.Options
	// Both routes: the no-repair-running preflight also asks Reaper.
	opts.Reaper.Dial = d.Client.DialContext
	if opts.Via == ViaReaper && j.ReaperPasswordFile != "" {
		pw, err := workflow.ReadSecret(j.ReaperPasswordFile, "--reaper-password-file")
		if err != nil {
			return nil, err
		}
		opts.Reaper.Password = pw
		d.Redactor.Add(pw)
	}
	src, err := d.HealthSource(j.HealthGate)
	if err != nil {
		return nil, err
	}
	if src != nil {
		opts.Health = CassandraActive(src)
	}
	p, err := Plan(d.Inventory, opts)
	if err != nil {
		return nil, err
	}
	// Journal the gate too, so that resume rebuilds the same one.
	p.Params = j
	if src != nil {
		hc := opts.Health
		p.Preflight = append(p.Preflight, workflow.Check{
			Name:        "health-" + j.HealthGate,
			Description: "monitoring (" + j.HealthGate + ") reports cassandra.service active on every Cassandra node",
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

// CassandraActive is the repair gate's second opinion: every Cassandra
// node's service is active according to src. A source error fails the gate.
func CassandraActive(src health.Source) func(ctx context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		snap, err := src.Snapshot(ctx)
		if err != nil {
			return false, "", err
		}
		ok, reason := snap.AllCassandraActive()
		return ok, reason, nil
	}
}
