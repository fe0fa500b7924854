package silence

import (
	"fmt"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/workflow"
)

// Client returns an Alertmanager client of the deployment's monitor,
// dialled with dial (through the bastion).
func Client(inv *inventory.Inventory, dial alertmanager.DialFunc) (*alertmanager.Client, error) {
	u, err := URL(inv.Endpoints.Prometheus)
	if err != nil {
		return nil, err
	}
	return alertmanager.New(u, alertmanager.Options{Dial: dial, Timeout: 10 * time.Second})
}

// Around wraps p in a silence of the hosts its steps run on, unless off, p
// changes nothing, or p already carries one (the runbooks make their own).
// A deployment without a monitor host has no Alertmanager: the plan says so
// and runs without. The CLI and the console wrap every new plan with it.
func Around(inv *inventory.Inventory, dial alertmanager.DialFunc, p *workflow.Plan, off bool) error {
	if off || p.ReadOnly {
		return nil
	}
	for _, s := range p.Steps {
		if s.ID == "silence-alerts" {
			return nil
		}
	}
	hosts := HostsOf(p)
	if len(hosts) == 0 {
		return nil
	}
	if _, err := URL(inv.Endpoints.Prometheus); err != nil {
		p.Notes = append(p.Notes, "The deployment has no monitor host: no alert is silenced while the run lasts.")
		return nil
	}
	am, err := Client(inv, dial)
	if err != nil {
		return err
	}
	Wrap(p, Options{Client: am, Hosts: hosts})
	return nil
}

// Hosts wraps p in a silence of hosts, refusing when the deployment has no
// Alertmanager (the runbooks: pass --no-silence to run without one).
func Hosts(inv *inventory.Inventory, dial alertmanager.DialFunc, p *workflow.Plan, hosts ...string) error {
	if p.ReadOnly {
		return nil
	}
	if _, err := URL(inv.Endpoints.Prometheus); err != nil {
		return fmt.Errorf("%w; pass --no-silence to run without one", err)
	}
	am, err := Client(inv, dial)
	if err != nil {
		return err
	}
	Wrap(p, Options{Client: am, Hosts: hosts})
	return nil
}
