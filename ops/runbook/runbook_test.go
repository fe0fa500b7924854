package runbook_test

import (
	"strings"
	"testing"

	"scalar-tui/ops/health"
	"scalar-tui/ops/runbook"
	"scalar-tui/ops/workflow/freedisk"
	"scalar-tui/ops/workflow/reachability"
	"scalar-tui/ops/workflow/restartcassandra"
	"scalar-tui/ops/workflow/restartcontainer"
	"scalar-tui/ops/workflow/rollingrestart"
)

const c2 = "cassandra-2.internal.scalar-labs.com"

func alert(name, instance string) health.Alert {
	return health.Alert{Name: name, Instance: instance, Labels: map[string]string{"alertname": name}}
}

func TestFor(t *testing.T) {
	for _, c := range []struct {
		a    health.Alert
		args string // "" = not runnable
		doc  string
	}{
		{alert("CassandraProcessStopped", c2+":9100"), "restart-cassandra --host " + c2, "docs/CassandraProcessStopped.md"},
		{health.Alert{Name: "CassandraProcessStopped", Host: "cassandra-3.x"}, "restart-cassandra --host cassandra-3.x", "docs/CassandraProcessStopped.md"},
		{alert("CassandraProcessStopped", ""), "", "docs/CassandraProcessStopped.md"},
		{alert("CassandraDriveSpaceLow", c2+":9100"), "free-disk --host " + c2, "docs/CassandraDriveSpaceLow.md"},
		{alert("InstanceDriveSpaceLow", c2+":9100"), "free-disk --host " + c2, "docs/InstanceDriveSpaceLow.md"},
		{alert("InstanceDriveSpaceLow", "envoy-1.internal.scalar-labs.com:9100"), "", "docs/InstanceDriveSpaceLow.md"},
		// The root filesystem of a Cassandra node: clearing /data's
		// snapshots would not help, so no free-disk is offered.
		{health.Alert{Name: "InstanceDriveSpaceLow", Instance: c2 + ":9100", Labels: map[string]string{"alertname": "InstanceDriveSpaceLow", "mountpoint": "/"}}, "", "docs/InstanceDriveSpaceLow.md"},
		{health.Alert{Name: "InstanceDriveSpaceLow", Instance: c2 + ":9100", Labels: map[string]string{"alertname": "InstanceDriveSpaceLow", "mountpoint": "/data"}}, "free-disk --host " + c2, "docs/InstanceDriveSpaceLow.md"},
		{alert("InstanceDown", "reaper-1.internal.scalar-labs.com:9100"), "reachability --host reaper-1.internal.scalar-labs.com", "docs/InstanceDown.md"},
		{alert("ScalarDLContainerDown", "scalardl-blue-2.internal.scalar-labs.com:18080"), "restart-container --host scalardl-blue-2.internal.scalar-labs.com --service scalar", "docs/ScalarDLContainerDown.md"},
		{alert("EnvoyContainerDown", "envoy-1.internal.scalar-labs.com:18080"), "restart-container --host envoy-1.internal.scalar-labs.com --service envoy", "docs/Alerts.md"},
		{alert("GrafanaContainerDown", "monitor-1.internal.scalar-labs.com:18080"), "restart-container --host monitor-1.internal.scalar-labs.com --service grafana", "docs/GrafanaContainerDown.md"},
		{alert("AlertmanagerContainerDown", "monitor-1.internal.scalar-labs.com:18080"), "restart-container --host monitor-1.internal.scalar-labs.com --service alertmanager --no-silence", "docs/Alerts.md"},
		{alert("CassandraClusterDown", ""), "", "docs/CassandraClusterDown.md"},
		{alert("ScalarDLClusterDown", ""), "", "docs/ScalarDLClusterDown.md"},
		{alert("TdAgentDown", c2+":9100"), "", "docs/Alerts.md"},
	} {
		a, ok := runbook.For(c.a)
		if !ok {
			t.Errorf("%s: unknown", c.a.Name)
			continue
		}
		if got := strings.Join(a.Args(), " "); got != c.args {
			t.Errorf("%s %s: args %q, want %q", c.a.Name, c.a.Instance, got, c.args)
		}
		if a.Runnable() != (c.args != "") {
			t.Errorf("%s: runnable %v", c.a.Name, a.Runnable())
		}
		if a.Doc != c.doc || a.Title == "" || len(a.Commands) == 0 {
			t.Errorf("%s: doc %q title %q commands %v", c.a.Name, a.Doc, a.Title, a.Commands)
		}
	}
	if _, ok := runbook.For(alert("Watchdog", "")); ok {
		t.Error("an unknown alert has an action")
	}
	if a, _ := runbook.For(alert("InstanceDown", "x:9100")); !a.ReadOnly {
		t.Error("reachability is not marked read-only")
	}
}

// The mapping names the workflows' real names, and every container alert
// restart-container clears is mapped to the same service.
func TestMatchesWorkflows(t *testing.T) {
	for name, want := range map[string]string{
		runbook.WorkflowRestartCassandra: restartcassandra.Workflow, runbook.WorkflowRollingRestart: rollingrestart.Workflow,
		runbook.WorkflowRestartContainer: restartcontainer.Workflow, runbook.WorkflowFreeDisk: freedisk.Workflow,
		runbook.WorkflowReachability: reachability.Workflow,
	} {
		if name != want {
			t.Errorf("runbook names %q, the package %q", name, want)
		}
	}
	for _, name := range restartcontainer.Alerts() {
		a, ok := runbook.For(alert(name, "h.x:18080"))
		if !ok || a.Workflow != restartcontainer.Workflow || restartcontainer.AlertFor(a.Options["service"]) != name {
			t.Errorf("%s: %+v", name, a)
		}
	}
	// Every alert of the deployment's rule files is known.
	for _, name := range []string{"CassandraClusterDown", "CassandraDriveSpaceLow", "CassandraProcessStopped", "EnvoyClusterDown",
		"EnvoyContainerDown", "InstanceDown", "InstanceDriveSpaceLow", "InstanceHighCPUUtilization", "ScalarDLClusterDown",
		"ScalarDLContainerDown", "TdAgentDown"} {
		if _, ok := runbook.For(alert(name, "")); !ok {
			t.Errorf("%s unknown", name)
		}
	}
}
