package gates

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/workflow"
)

// RingUNFromPeer runs RingUN on the first node of ring other than target
// whose `nodetool status` answers: a restarted node is judged the way the
// rest of the cluster sees it, not by itself. It fails closed when no peer
// answers. With a one-node ring it asks target itself.
func RingUNFromPeer(ctx context.Context, env *workflow.Env, ring []inventory.Host, target inventory.Host) (bool, string, error) {
	var tried []string
	for _, on := range ring {
		if on.Name == target.Name && len(ring) > 1 {
			continue
		}
		ok, reason, err := RingUN(ctx, env, ring, on)
		if err != nil {
			if ctx.Err() != nil {
				return false, "", err
			}
			tried = append(tried, err.Error())
			continue
		}
		if !ok && strings.HasPrefix(reason, "nodetool status on ") {
			// That peer's JMX did not answer (it is down itself): ask the next.
			tried = append(tried, reason)
			continue
		}
		return ok, reason, nil
	}
	return false, "no other Cassandra node answered `nodetool status`: " + strings.Join(tried, "; "), nil
}

// NodeUN reports whether target is UN in `nodetool status` seen from a peer
// (the first other node of ring whose nodetool answers), whatever the state
// of the other nodes: the gate after starting one node while another may be
// down (forced runs). It fails closed when no peer answers.
func NodeUN(ctx context.Context, env *workflow.Env, ring []inventory.Host, target inventory.Host) (bool, string, error) {
	if target.PrivateIP == "" {
		return false, target.Short + " has no private IP in the inventory", nil
	}
	var tried []string
	for _, on := range ring {
		if on.Name == target.Name && len(ring) > 1 {
			continue
		}
		r, err := env.Exec(ctx, on.Name, "nodetool status")
		if err != nil {
			if ctx.Err() != nil {
				return false, "", err
			}
			tried = append(tried, fmt.Sprintf("%s: %v", on.Short, err))
			continue
		}
		if r.ExitCode != 0 {
			tried = append(tried, fmt.Sprintf("%s: exit %d: %s", on.Short, r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout)))
			continue
		}
		nodes, err := nodetool.ParseStatus(r.Stdout)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", on.Short, err))
			continue
		}
		for _, n := range nodes {
			if n.Address == target.PrivateIP {
				if n.UN() {
					return true, "", nil
				}
				return false, fmt.Sprintf("%s (%s) is %s%s as %s sees it", target.Short, target.PrivateIP, n.Status, n.State, on.Short), nil
			}
		}
		return false, fmt.Sprintf("%s (%s) is not in the ring as %s sees it", target.Short, target.PrivateIP, on.Short), nil
	}
	return false, "no other Cassandra node answered `nodetool status`: " + strings.Join(tried, "; "), nil
}

// AlertClear reports whether src shows none of the alerts names firing for
// host, and (for the Prometheus source, which evaluates the real rules)
// what still fires. A source error is returned (the gate fails closed).
// A source without alerts (the scrape fallback) cannot see alerts: it
// passes only when check, if set, passes on the host's health.
func AlertClear(ctx context.Context, src health.Source, host inventory.Host, names []string, check func(health.HostHealth) (bool, string)) (bool, string, error) {
	if src == nil {
		return false, "", errors.New("no health source")
	}
	snap, err := src.Snapshot(ctx)
	if err != nil {
		return false, "", err
	}
	var firing []string
	for _, a := range snap.Alerts {
		if !alertOn(a, host) {
			continue
		}
		for _, n := range names {
			if a.Name == n {
				firing = append(firing, a.Name)
			}
		}
	}
	if len(firing) > 0 {
		return false, fmt.Sprintf("%s still firing for %s (%s)", strings.Join(firing, ", "), host.Short, snap.Source), nil
	}
	if check != nil {
		hh, ok := snap.Host(host.Name)
		if !ok {
			return false, host.Short + " is not in the health snapshot", nil
		}
		if ok, why := check(hh); !ok {
			return false, why, nil
		}
	}
	return true, "", nil
}

// alertOn reports whether alert a is about host.
func alertOn(a health.Alert, host inventory.Host) bool {
	if a.Host != "" {
		return a.Host == host.Name
	}
	h := strings.ToLower(health.InstanceHost(a.Instance))
	return h != "" && (h == strings.ToLower(host.Name) || h == host.PrivateIP)
}

// ContainerRunningCommand prints the names of the running containers of the
// docker-compose service on a host.
func ContainerRunningCommand(service string) string {
	return "docker ps --filter " + shell.Quote("label=com.docker.compose.service="+service) +
		" --filter status=running --format '{{.Names}}'"
}

// ContainerRunning reports whether a container of service runs on host.
func ContainerRunning(ctx context.Context, env *workflow.Env, host inventory.Host, service string) (bool, string, error) {
	r, err := env.Exec(ctx, host.Name, ContainerRunningCommand(service))
	if err != nil {
		return false, "", fmt.Errorf("docker ps on %s: %w", host.Short, err)
	}
	if r.ExitCode != 0 {
		return false, fmt.Sprintf("docker ps on %s exited %d: %s", host.Short, r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout)), nil
	}
	if strings.TrimSpace(r.Stdout) == "" {
		return false, fmt.Sprintf("no running %s container on %s", service, host.Short), nil
	}
	return true, "", nil
}

// Scalar DL health probe paths: 2.x images (helm chart for 2.1.0) and 3.x.
const (
	ProbePath2 = "/bin/grpc_health_probe"
	ProbePath3 = "/usr/local/bin/grpc_health_probe"
)

// ServingCommand runs the ledger's gRPC health probe at path in provision_scalar_1.
func ServingCommand(path string) string {
	return "docker exec provision_scalar_1 " + path + " -addr=:50051"
}

// Serving reports whether the ledger on host answers SERVING, trying the 2.x
// probe path, then the 3.x one when the container has no such file.
func Serving(ctx context.Context, env *workflow.Env, host inventory.Host) (bool, string, error) {
	var r workflow.CommandResult
	for _, path := range []string{ProbePath2, ProbePath3} {
		var err error
		r, err = env.Exec(ctx, host.Name, ServingCommand(path))
		if err != nil {
			return false, "", fmt.Errorf("health probe on %s: %w", host.Short, err)
		}
		text := r.Stderr + r.Stdout
		if r.ExitCode != 0 && (strings.Contains(text, "no such file") || strings.Contains(text, "executable file not found")) {
			continue
		}
		break
	}
	out := strings.TrimSpace(r.Stdout)
	if r.ExitCode == 0 && strings.HasSuffix(out, "SERVING") && !strings.HasSuffix(out, "NOT_SERVING") {
		return true, "", nil
	}
	return false, fmt.Sprintf("%s: health probe exited %d: %s", host.Short, r.ExitCode, shell.FirstLine(r.Stderr+r.Stdout)), nil
}

// EnvoyClustersCommand prints Envoy's upstream cluster state.
const EnvoyClustersCommand = "curl -s localhost:9001/clusters"

// InEveryEnvoy reports whether every Envoy lists host's scalar-service
// upstream as healthy (`scalar-service::<ip>:50051::health_flags::healthy`).
func InEveryEnvoy(ctx context.Context, env *workflow.Env, envoys []inventory.Host, host inventory.Host) (bool, string, error) {
	if len(envoys) == 0 {
		return false, "the inventory has no Envoy host", nil
	}
	want := "scalar-service::" + host.PrivateIP + ":50051::health_flags::"
	for _, e := range envoys {
		r, err := env.Exec(ctx, e.Name, EnvoyClustersCommand)
		if err != nil {
			return false, "", fmt.Errorf("envoy %s: %w", e.Short, err)
		}
		if r.ExitCode != 0 {
			return false, fmt.Sprintf("envoy %s admin: curl exited %d", e.Short, r.ExitCode), nil
		}
		flags, found := "", false
		for _, l := range strings.Split(r.Stdout, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), want); ok {
				flags, found = v, true
				break
			}
		}
		switch {
		case !found:
			return false, fmt.Sprintf("envoy %s does not list %s (%s)", e.Short, host.Short, host.PrivateIP), nil
		case flags != "healthy":
			return false, fmt.Sprintf("envoy %s has %s as %s", e.Short, host.Short, flags), nil
		}
	}
	return true, "", nil
}

// CassandraActive reports whether `systemctl is-active cassandra` says active on host.
func CassandraActive(ctx context.Context, env *workflow.Env, host inventory.Host) (bool, string, error) {
	r, err := env.Exec(ctx, host.Name, "systemctl is-active cassandra")
	if err != nil {
		return false, "", fmt.Errorf("%s: %w", host.Short, err)
	}
	if state := strings.TrimSpace(r.Stdout); r.ExitCode != 0 || state != "active" {
		return false, fmt.Sprintf("cassandra on %s is %q", host.Short, state), nil
	}
	return true, "", nil
}
