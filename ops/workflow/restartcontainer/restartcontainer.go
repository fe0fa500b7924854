// Package restartcontainer is the runbook of the *ContainerDown alerts
// (scalar-terraform docs/ScalarDLContainerDown.md, EnvoyContainerDown.md, the
// Cassy, Reaper and monitor pages): `cd ~/provision && docker-compose up -d
// SERVICE` on the host, gated on the container running and, for Scalar DL,
// on the ledger answering SERVING and every Envoy having it back in its
// scalar-service cluster; with a health source, on the alert clearing.
//
// It builds a workflow.Plan and knows nothing of the UI. It must not import
// tui or cmd.
package restartcontainer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/gates"
)

// Workflow is the workflow's name in plans, journals and run IDs.
const Workflow = "restart-container"

// services are the docker-compose services scalar-terraform runs per role
// (the one-shot cqlsh of the reaper host is not one to restart).
var services = map[inventory.Role][]string{
	inventory.RoleScalarDLBlue:  {"scalar"},
	inventory.RoleScalarDLGreen: {"scalar"},
	inventory.RoleEnvoy:         {"envoy"},
	inventory.RoleCassy:         {"cassy"},
	inventory.RoleReaper:        {"reaper"},
	inventory.RoleMonitor:       {"prometheus", "alertmanager", "grafana", "nginx", "tailon"},
}

// alerts maps a service to the alert that fires when its container is down.
var alerts = map[string]string{
	"scalar":       "ScalarDLContainerDown",
	"envoy":        "EnvoyContainerDown",
	"cassy":        "CassyContainerDown",
	"reaper":       "ReaperContainerDown",
	"prometheus":   "PrometheusContainerDown",
	"alertmanager": "AlertmanagerContainerDown",
	"grafana":      "GrafanaContainerDown",
	"nginx":        "NginxContainerDown",
}

// Services returns the services a host of role runs, the first being the
// default; nil for roles without containers (cassandra, bastion).
func Services(role inventory.Role) []string { return append([]string(nil), services[role]...) }

// AlertFor returns the alert of service's container, or "" (tailon has none).
func AlertFor(service string) string { return alerts[service] }

// UpCommand is the documented fix, for one service.
func UpCommand(service string) string {
	return "cd ~/provision && docker-compose up -d " + shell.Quote(service)
}

// Options selects the container. Host is required.
type Options struct {
	// Host is the host: name, short name or private IP.
	Host string `json:"host"`
	// Service is the docker-compose service; default the role's main one.
	Service string `json:"service,omitempty"`
	// GateDeadline bounds each wait (default 10 minutes); GateInterval is
	// the poll interval (default 5 s).
	GateDeadline time.Duration `json:"gate_deadline,omitempty"`
	GateInterval time.Duration `json:"gate_interval,omitempty"`
	// Health, when set, adds the last gate: the container's alert no longer
	// fires for the host. Not journalled.
	Health health.Source `json:"-"`
}

// Plan builds the plan for inv.
func Plan(inv *inventory.Inventory, opts Options) (*workflow.Plan, error) {
	return PlanAt(inv, opts, time.Now())
}

// PlanAt is Plan with an explicit clock.
func PlanAt(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("restart-container: no inventory")
	}
	if opts.Host == "" {
		return nil, errors.New("restart-container: --host is required")
	}
	h, ok := inv.Find(opts.Host)
	if !ok {
		return nil, fmt.Errorf("restart-container: unknown host %q", opts.Host)
	}
	svcs := services[h.Role]
	if len(svcs) == 0 {
		return nil, fmt.Errorf("restart-container: %s is a %s host and runs no docker-compose service (for Cassandra use restart-cassandra)", h.Name, h.Role)
	}
	if opts.Service == "" {
		opts.Service = svcs[0]
	}
	if !contains(svcs, opts.Service) {
		return nil, fmt.Errorf("restart-container: a %s host runs no service %q (it runs %s)", h.Role, opts.Service, strings.Join(svcs, ", "))
	}
	deadline, interval := opts.GateDeadline, opts.GateInterval
	if deadline <= 0 {
		deadline = 10 * time.Minute
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	opts.Host = h.Name
	svc := opts.Service

	p := workflow.NewPlan(Workflow, inv, now)
	p.Params = opts
	p.Preflight = []workflow.Check{{
		Name:        "compose-file",
		Description: fmt.Sprintf("%s has ~/provision/docker-compose.yml", h.Short),
		Run: func(ctx context.Context, env *workflow.Env) error {
			r, err := env.Exec(ctx, h.Name, "test -f ~/provision/docker-compose.yml")
			if err != nil {
				return fmt.Errorf("%s: %w", h.Short, err)
			}
			if r.ExitCode != 0 {
				return fmt.Errorf("%s has no ~/provision/docker-compose.yml: not provisioned by scalar-terraform?", h.Short)
			}
			return nil
		},
	}}
	p.Notes = append(p.Notes, "`docker-compose up -d` starts a stopped container as it is; it recreates it if ~/provision/docker-compose.yml or env changed since it was created.")
	p.Steps = []workflow.Step{{
		ID:         h.Short + "/up-" + svc,
		Title:      "docker-compose up -d " + svc,
		Host:       h.Name,
		Commands:   []string{UpCommand(svc)},
		Timeout:    5 * time.Minute,
		Idempotent: true,
		Gate: &workflow.Gate{
			Name:        "container-running",
			Description: fmt.Sprintf("a %s container runs on %s", svc, h.Short),
			Deadline:    deadline,
			Interval:    interval,
			Check: func(ctx context.Context, env *workflow.Env) (bool, string, error) {
				return gates.ContainerRunning(ctx, env, h, svc)
			},
		},
	}}
	if svc == "scalar" {
		envoys := inv.ByRole(inventory.RoleEnvoy)
		p.Steps = append(p.Steps, workflow.Step{
			ID:         h.Short + "/serving",
			Title:      "wait for the ledger to serve and rejoin every Envoy",
			Host:       h.Name,
			Idempotent: true,
			Run:        func(context.Context, *workflow.Env) error { return nil },
			Gate: &workflow.Gate{
				Name:        "serving-in-envoy",
				Description: fmt.Sprintf("the ledger on %s answers SERVING and all %d Envoys list it healthy", h.Short, len(envoys)),
				Deadline:    deadline,
				Interval:    interval,
				Check: func(ctx context.Context, env *workflow.Env) (bool, string, error) {
					if ok, why, err := gates.Serving(ctx, env, h); !ok || err != nil {
						return ok, why, err
					}
					return gates.InEveryEnvoy(ctx, env, envoys, h)
				},
			},
		})
	}
	if src, alert := opts.Health, alerts[svc]; src != nil && alert != "" {
		p.Steps = append(p.Steps, workflow.Step{
			ID:         h.Short + "/alert-clear",
			Title:      "wait for " + alert + " to clear",
			Host:       h.Name,
			Idempotent: true,
			Run:        func(context.Context, *workflow.Env) error { return nil },
			Gate: &workflow.Gate{
				Name:        "alert-clear",
				Description: fmt.Sprintf("monitoring shows %s not firing for %s", alert, h.Short),
				Deadline:    deadline,
				Interval:    interval,
				Check: func(ctx context.Context, _ *workflow.Env) (bool, string, error) {
					return gates.AlertClear(ctx, src, h, []string{alert}, func(hh health.HostHealth) (bool, string) {
						if hh.ContainerService != svc {
							return true, ""
						}
						if hh.ContainerFresh == nil || !*hh.ContainerFresh {
							return false, fmt.Sprintf("cadvisor has not seen the %s container on %s within %s", svc, h.Short, health.ContainerFreshFor)
						}
						return true, ""
					})
				},
			},
		})
	}
	return p, nil
}

// Alerts returns the container alerts this runbook clears, sorted.
func Alerts() []string {
	out := make([]string, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
