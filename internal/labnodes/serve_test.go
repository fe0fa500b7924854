package labnodes

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sim"
	"scalar-tui/ops/cassy"
)

// TestServeNode serves a simulated cassandra host on a private loopback
// address: the cassandra exporter answers, the skipped node exporter port is
// left to the real daemon, and the textfile directory holds only sim.prom.
func TestServeNode(t *testing.T) {
	state := t.TempDir()
	hosts := sim.DefaultHosts("internal.scalar-labs.com")
	if err := sim.Init(state, hosts); err != nil {
		t.Fatal(err)
	}
	var host string
	for _, h := range hosts {
		if h.Role == sim.RoleCassandra {
			host = h.Name
			break
		}
	}
	// A loopback address of its own, so the fixed ports clash with nothing.
	ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(250)+1, rand.IntN(250)+1)
	textfile := filepath.Join(t.TempDir(), "textfile")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeNode(ctx, ServeOptions{State: state, Host: host, ListenIP: ip, TextfileDir: textfile,
			TextfileEvery: 50 * time.Millisecond, SkipPorts: []int{sim.PortNodeExporter}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeNode: %v", err)
		}
	}()

	exporter := "http://" + net.JoinHostPort(ip, fmt.Sprint(sim.PortCassExporter)) + "/metrics"
	if err := Wait(context.Background(), []string{net.JoinHostPort(ip, fmt.Sprint(sim.PortCassExporter)), exporter}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, fmt.Sprint(sim.PortNodeExporter)), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d is served although skipped", sim.PortNodeExporter)
	}
	if err := Wait(context.Background(), []string{net.JoinHostPort(ip, fmt.Sprint(sim.PortNodeExporter))}, 200*time.Millisecond); err == nil {
		t.Errorf("Wait on a closed port succeeded")
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(textfile, "sim.prom"))
		if err == nil && strings.Contains(string(b), `node_systemd_unit_state{name="cassandra.service",state="active"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sim.prom with an active cassandra.service: %q, %v", b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The node exporter reads every *.prom in the directory: only sim.prom may be there.
	for i := 0; i < 20; i++ {
		ents, err := os.ReadDir(textfile)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "sim.prom" {
				t.Fatalf("textfile directory holds %s", e.Name())
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWaitTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	err = Wait(context.Background(), []string{addr}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("Wait on a closed port: %v, want an error naming %s", err, addr)
	}
}

func TestOptionsDefaults(t *testing.T) {
	if _, err := (Options{}).withDefaults(); err == nil || !strings.Contains(err.Error(), "SimBinary") {
		t.Errorf("no SimBinary: %v", err)
	}
	if _, err := (Options{SimBinary: filepath.Join(t.TempDir(), "nope")}).withDefaults(); err == nil {
		t.Errorf("missing SimBinary accepted")
	}
}

// TestServeNodeCassy: on the cassy host, node-serve also answers rpc.Cassy
// on :20051 with the Cassandra cluster registered, as the demo's Cassy does.
func TestServeNodeCassy(t *testing.T) {
	state := t.TempDir()
	hosts := sim.DefaultHosts("internal.scalar-labs.com")
	if err := sim.Init(state, hosts); err != nil {
		t.Fatal(err)
	}
	var host string
	for _, h := range hosts {
		if h.Role == sim.RoleCassy {
			host = h.Name
		}
	}
	ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(250)+1, rand.IntN(250)+1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeNode(ctx, ServeOptions{State: state, Host: host, ListenIP: ip}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeNode: %v", err)
		}
	}()
	addr := net.JoinHostPort(ip, fmt.Sprint(PortCassy))
	if err := Wait(context.Background(), []string{addr}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	var d net.Dialer
	cl := cassy.Client{Addr: addr, Dial: func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }}
	got, err := cl.ListClusters(rctx, &cassy.ClusterListingRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].GetTargetIps()) != 3 {
		t.Fatalf("registered clusters: %v, want one over the 3 Cassandra nodes", got)
	}
}
