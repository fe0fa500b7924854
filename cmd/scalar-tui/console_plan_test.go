package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"scalar-tui/ops/workflow/upgrade"
	"scalar-tui/tui/backend"
	"scalar-tui/tui/vm"
)

// The console plans a runbook and a restore through the catalog
// (backend.PlanKind) with the CLI's wiring (consoleWorkflows): same options
// by flag name, the console's client, nothing run, and no prompt read from
// the terminal.
func TestConsolePlansThroughTheCommands(t *testing.T) {
	e := startOpsEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g := &globalOptions{tfRoot: e.d.TFRoot, knownHosts: e.d.KnownHosts, identity: e.d.Identity}
	inv, cl, err := openDeployment(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w := consoleWorkflows(g, g.deploymentOf(inv, ""))
	p, err := backend.PlanKind(ctx, w, inv, cl, vm.WorkflowKind("restart-cassandra"), vm.WorkflowParams{Hosts: []string{"cassandra-2"}})
	if err != nil || p.Workflow != "restart-cassandra" || p.Steps[0].ID != "silence-alerts" {
		t.Fatalf("restart-cassandra plan: %+v, %v", p, err)
	}
	p, err = backend.PlanKind(ctx, w, inv, cl, vm.WorkflowKind("restore"), vm.WorkflowParams{Options: map[string]string{
		"tag": "b1", "confirm-deployment": inv.NetworkName}})
	if err != nil || p.Workflow != "restore" {
		t.Fatalf("restore plan: %+v, %v", p, err)
	}
	var steps []string
	for _, s := range p.Steps {
		steps = append(steps, s.ID)
	}
	if !strings.Contains(strings.Join(steps, " "), "silence-alerts") {
		t.Errorf("restore plan without its silence: %v", steps)
	}
	if _, err := backend.PlanKind(ctx, w, inv, cl, vm.WorkflowKind("restore"), vm.WorkflowParams{Options: map[string]string{"no-such": "x"}}); err == nil {
		t.Error("an unknown option was accepted")
	}
	// The console's upgrade reads the nodes' current images first, as the
	// CLI's does (upgrade.Discover): the plan shows what it replaces.
	p, err = backend.PlanKind(ctx, w, inv, cl, vm.KindUpgrade, vm.WorkflowParams{Options: map[string]string{"to": "9.9.9", "no-tfvars": "true"}})
	if err != nil {
		t.Fatalf("upgrade plan: %v", err)
	}
	if j, ok := p.Params.(upgrade.Journal); !ok || len(j.Current) == 0 || j.HealthGate != "auto" {
		t.Errorf("console upgrade without the current images or the console's gate: %+v", p.Params)
	}
	if _, err := backend.PlanKind(ctx, w, inv, cl, vm.WorkflowKind("no-such-workflow"), vm.WorkflowParams{}); err == nil {
		t.Error("an unknown workflow was planned")
	}
}
