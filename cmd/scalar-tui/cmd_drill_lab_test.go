package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
)

// A drill on a lab (--lab-dir) breaks and mends hosts through `scalar-sim
// lab fault`: the simulator's fault, and for node-down the host's link.
func TestLabDrillFaultsRunScalarSim(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	hosts, err := lab.ParseHosts("cassandra=2")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, n := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: bin, NoPrometheus: true})
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	h, ok := l.Host("cassandra-2")
	if !ok {
		t.Fatal("no cassandra-2 in the lab")
	}
	check := func(when string, wantFault bool, wantLink string) {
		t.Helper()
		st, err := sim.Load(n.SimState)
		if err != nil {
			t.Fatal(err)
		}
		if _, got := st.Host("cassandra-2").Faults[sim.FaultNodeDown]; got != wantFault {
			t.Errorf("%s: node-down in the simulator = %v, want %v", when, got, wantFault)
		}
		out, err := exec.Command("ip", "-n", h.Namespace, "-br", "link", "show", "eth0").CombinedOutput()
		if err != nil {
			t.Fatalf("ip link: %v: %s", err, out)
		}
		if f := strings.Fields(string(out)); len(f) < 2 || f[1] != wantLink {
			t.Errorf("%s: cassandra-2 eth0 = %q, want %s", when, out, wantLink)
		}
	}
	f := labFaults{dir: l.Dir}
	ctx := context.Background()
	check("before", false, "UP")
	if err := f.InjectFault(ctx, "cassandra-2", sim.FaultNodeDown); err != nil {
		t.Fatal(err)
	}
	check("injected", true, "DOWN")
	if err := f.ClearFault(ctx, "cassandra-2", sim.FaultNodeDown); err != nil {
		t.Fatal(err)
	}
	check("cleared", false, "UP")
	if err := f.InjectFault(ctx, "cassandra-9", sim.FaultNodeDown); err == nil || !strings.Contains(err.Error(), "cassandra-9") {
		t.Errorf("fault on an unknown host: %v, want scalar-sim's error naming it", err)
	}
}
