package demo

import (
	"context"

	"scalar-tui/internal/sim"
)

// FaultKinds are the simulator's fault kinds (for help texts and --fault).
var FaultKinds = sim.FaultKinds

// Faults injects and clears the simulator's faults in a simulator state
// directory (a demo's SimState, `scalar-tui demo --state DIR`'s DIR/sim), in
// this process: what `scalar-tui drill --sim-state` needs without linking
// the simulator's command line (cmd/scalar-sim).
type Faults struct {
	// State is the simulator state directory.
	State string
}

// InjectFault activates fault kind on host (FQDN, short name, IP or "*").
func (f Faults) InjectFault(_ context.Context, host, kind string) error {
	return sim.InjectFault(f.State, host, kind, "")
}

// ClearFault removes fault kind from host ("" clears all of the host's).
func (f Faults) ClearFault(_ context.Context, host, kind string) error {
	return sim.ClearFault(f.State, host, kind)
}

// SimulatedIPs returns the hosts simulated in the state directory, FQDN and
// short name to private IP, so a caller can check that a state is the one
// behind a deployment.
func SimulatedIPs(state string) (map[string]string, error) {
	st, err := sim.Load(state)
	if err != nil {
		return nil, err
	}
	ips := make(map[string]string, len(st.Hosts))
	for _, h := range st.Hosts {
		ips[h.Name] = h.IP
		if _, taken := ips[h.Short]; !taken {
			ips[h.Short] = h.IP
		}
	}
	return ips, nil
}
