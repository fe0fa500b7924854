package restartcontainer

import (
	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/runbookkind"
)

func init() {
	runbookkind.Register(runbookkind.Spec[Options]{
		Kind: workflow.Kind{
			Name:    Workflow,
			Usage:   "restart-container --host HOST [--service SVC] [--dry-run] [--yes] [--json] [--no-silence]",
			Summary: "Start a host's docker-compose service (runbook of the *ContainerDown alerts)",
			Long: `Runbook of ScalarDLContainerDown, EnvoyContainerDown and the Cassy, Reaper and
monitor container alerts (scalar-terraform docs/*ContainerDown.md). Takes the
cluster lock, silences the host's alerts (unless --no-silence), runs
` + "`cd ~/provision && docker-compose up -d SERVICE`" + ` on the host and waits until
the container runs; for Scalar DL until the ledger answers SERVING and every
Envoy lists it healthy; then (with --health-gate prometheus) until the alert
no longer fires. --service defaults to the role's service (scalar, envoy,
cassy, reaper; prometheus on the monitor, which also runs alertmanager,
grafana, nginx and tailon). With Alertmanager itself down, pass --no-silence.

Exit status: 0 done, 1 failed or refused, 2 bad flags or deployment,
130 canceled.`,
			Example: "  scalar-tui restart-container --host scalardl-blue-2 --dry-run\n" +
				"  scalar-tui restart-container --host monitor-1 --service grafana --yes",
			Options: []workflow.KindOption{
				{Name: "host", PerRun: true, Type: workflow.OptString, Default: "", Help: "the host: name, short name or IP"},
				{Name: "service", PerRun: true, Type: workflow.OptString, Default: "", Help: "the docker-compose service (default: the role's)"},
			},
		},
		Silence:     true,
		HealthCheck: true,
		Validate:    runbookkind.HostRequired,
		Options: func(v workflow.Values) Options {
			return Options{Host: v.String("host"), Service: v.String("service"),
				GateDeadline: v.Duration("gate-deadline"), GateInterval: v.Duration("gate-interval")}
		},
		Plan: func(d workflow.Deps, o Options, src health.Source) (*workflow.Plan, error) {
			o.Health = src
			return Plan(d.Inventory, o)
		},
		SilenceHosts: func(_ *inventory.Inventory, o Options) []string { return []string{o.Host} },
	})
}
