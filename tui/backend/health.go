package backend

import (
	"fmt"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/tui/vm"
)

// stateOf maps a health.State onto the console's state.
func stateOf(s health.State) vm.State {
	switch s {
	case health.StateHealthy:
		return vm.StateHealthy
	case health.StateDegraded:
		return vm.StateDegraded
	case health.StateDown:
		return vm.StateDown
	default:
		return vm.StateUnknown
	}
}

// HealthView maps a health snapshot onto the console's view model. It is a
// pure function: the console's refresh calls it inside a tea.Cmd.
func HealthView(s *health.Snapshot) vm.HealthView {
	if s == nil {
		return vm.HealthView{State: vm.StateUnknown}
	}
	v := vm.HealthView{At: s.At, Source: s.Source}
	for _, h := range s.Hosts {
		row := vm.HostRow{
			Host:     h.Host,
			State:    stateOf(h.State),
			Reasons:  h.Reasons,
			CPU:      h.CPU,
			Mem:      h.Mem,
			DiskRoot: usedOf(h.DiskRoot),
			DiskData: usedOf(h.DiskData),
			Load1:    h.Load1,
		}
		row.Service, row.ServiceState = service(h)
		if h.Host.Role.IsScalarDL() && h.ContainerImage != "" {
			if i := strings.LastIndexByte(h.ContainerImage, ':'); i >= 0 && !strings.Contains(h.ContainerImage[i:], "/") {
				row.ImageTag = h.ContainerImage[i+1:]
			}
		}
		for _, a := range h.Alerts {
			row.Alerts = append(row.Alerts, alertView(a))
		}
		v.Hosts = append(v.Hosts, row)
	}
	c := s.Cluster
	if c.CassandraTotal > 0 {
		v.Cluster = append(v.Cluster, countLine("Cassandra", c.CassandraActive, c.CassandraTotal, "active"))
	}
	if c.ScalarDLBlueTotal > 0 {
		v.Cluster = append(v.Cluster, countLine("Scalar DL blue", c.ScalarDLBlueActive, c.ScalarDLBlueTotal, "serving"))
	}
	if c.ScalarDLGreenTotal > 0 {
		v.Cluster = append(v.Cluster, countLine("Scalar DL green", c.ScalarDLGreenActive, c.ScalarDLGreenTotal, "serving"))
	}
	if c.EnvoyTotal > 0 {
		v.Cluster = append(v.Cluster, countLine("Envoy", c.EnvoyActive, c.EnvoyTotal, "running"))
	}
	for _, a := range s.Alerts {
		v.Alerts = append(v.Alerts, alertView(a))
	}
	for _, e := range s.Errors {
		v.Errors = append(v.Errors, e.Error())
	}
	return v
}

// usedOf turns health's percent-free into the console's percent-used.
func usedOf(free *float64) *float64 {
	if free == nil {
		return nil
	}
	u := 100 - *free
	return &u
}

func countLine(name string, active, total int, word string) vm.ClusterLine {
	st := vm.StateHealthy
	switch {
	case active == 0:
		st = vm.StateDown
	case active < total:
		st = vm.StateDegraded
	}
	return vm.ClusterLine{Name: name, Summary: fmt.Sprintf("%d/%d %s", active, total, word), State: st}
}

// service describes the role's main service for the overview's service column.
func service(h health.HostHealth) (string, vm.State) {
	switch {
	case h.Host.Role == inventory.RoleCassandra:
		if h.CassandraActive == nil {
			return "cassandra ?", vm.StateUnknown
		}
		if *h.CassandraActive {
			return "cassandra active", vm.StateHealthy
		}
		return "cassandra inactive", vm.StateDegraded
	case h.ContainerService != "":
		name := h.ContainerService
		if h.Host.Role == inventory.RoleEnvoy && h.EnvoyHealthyMembers != nil && h.EnvoyTotalMembers != nil {
			name = fmt.Sprintf("envoy %d/%d", *h.EnvoyHealthyMembers, *h.EnvoyTotalMembers)
			if h.ContainerFresh != nil && *h.ContainerFresh && *h.EnvoyHealthyMembers < *h.EnvoyTotalMembers {
				return name, vm.StateDegraded
			}
		}
		switch {
		case h.ContainerFresh == nil:
			return name + " ?", vm.StateUnknown
		case *h.ContainerFresh:
			return name + " up", vm.StateHealthy
		case h.ContainerAge != nil:
			return fmt.Sprintf("%s stale %s", name, h.ContainerAge.Round(time.Second)), vm.StateDegraded
		default:
			return name + " down", vm.StateDegraded
		}
	}
	return "", vm.StateUnknown
}

func alertView(a health.Alert) vm.AlertView {
	inst := a.Host
	if inst == "" {
		inst = health.InstanceHost(a.Instance)
	}
	summary := a.Labels["summary"]
	if summary == "" {
		summary = a.Labels["description"]
	}
	return vm.AlertView{Name: a.Name, Severity: a.Severity, Instance: inst, Summary: summary}
}
