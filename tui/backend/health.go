package backend

import (
	"fmt"
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
			DiskRoot: h.DiskRootUsed,
			DiskData: h.DiskDataUsed,
			Load1:    h.Load1,

			SampleAge: h.SampleAge,
		}
		if row.DiskRoot == nil && h.DiskRoot != nil {
			row.DiskRoot = usedOf(h.DiskRoot)
		}
		if row.DiskData == nil && h.DiskData != nil {
			row.DiskData = usedOf(h.DiskData)
		}
		row.Service, row.ServiceState = service(h)
		if h.Host.Role.IsScalarDL() {
			row.ImageTag = h.RunningImageTag
			if row.ImageTag == "" {
				row.ImageTag = health.ImageTag(h.ContainerImage)
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
		v.Cluster = append(v.Cluster, servingLine("Scalar DL blue", c.ScalarDLBlueServing, c.ScalarDLBlueServingUnknown, c.ScalarDLBlueActive, c.ScalarDLBlueTotal))
	}
	if c.ScalarDLGreenTotal > 0 {
		v.Cluster = append(v.Cluster, servingLine("Scalar DL green", c.ScalarDLGreenServing, c.ScalarDLGreenServingUnknown, c.ScalarDLGreenActive, c.ScalarDLGreenTotal))
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
	// The header's state comes from the same states as the rows and the
	// cluster lines: one degraded host makes it degraded.
	states := make([]vm.State, 0, len(v.Hosts)+len(v.Cluster))
	for _, r := range v.Hosts {
		states = append(states, r.State)
	}
	for _, l := range v.Cluster {
		states = append(states, l.State)
	}
	v.State = vm.Worst(states...)
	return v
}

// servingLine summarises a Scalar DL colour by what Envoy serves; the
// containers running (the recording rule's count) come after, so a node that
// runs but does not serve shows as "2/3 serving, 3 running".
func servingLine(name string, serving, unknown, running, total int) vm.ClusterLine {
	l := countLine(name, serving, total, "serving")
	if unknown > 0 {
		l.Summary = fmt.Sprintf("%d/%d serving, %d unknown", serving, total, unknown)
		if serving+unknown == total && l.State != vm.StateDown {
			l.State = vm.StateUnknown
		}
		if serving == 0 && unknown == total {
			l.State = vm.StateUnknown
		}
	}
	if running != serving {
		l.Summary += fmt.Sprintf(", %d running", running)
	}
	return l
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
	case h.Host.Role.IsScalarDL() && h.Serving != nil && h.ContainerFresh != nil && *h.ContainerFresh:
		if *h.Serving {
			return "scalar serving", vm.StateHealthy
		}
		return "scalar NOT SERVING", vm.StateDegraded
	case h.Host.Role.IsScalarDL() && h.ContainerFresh != nil && *h.ContainerFresh:
		return "scalar up, serving ?", vm.StateUnknown
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
