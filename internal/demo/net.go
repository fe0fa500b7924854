package demo

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"scalar-tui/internal/sim"
	"scalar-tui/internal/sshtest"
)

// addEndpoints registers what the bastion forwards for h: its SSH server on
// name:22 (srv may be nil: the bastion has none behind itself) and every
// simulated HTTP/gRPC port on name:port and ip:port, served by sim.Serve on
// in-memory listeners until ctx is done.
func (d *Demo) addEndpoints(ctx context.Context, h Host, srv *sshtest.Host) {
	var ts []target
	if srv != nil {
		ts = append(ts, target{addr: net.JoinHostPort(h.Name, "22"), fn: srv.ServeConn})
	}
	ports := sim.Ports(h.Role)
	if h.Role == sim.RoleScalarDLBlue || h.Role == sim.RoleScalarDLGreen {
		ports = append(ports, sim.PortScalarAdmin)
	}
	listeners := map[int]*sim.ConnListener{}
	for _, p := range ports {
		port := strconv.Itoa(p)
		l := sim.NewConnListener(net.JoinHostPort(h.IP, port))
		listeners[p] = l
		fn := serveOn(l)
		ts = append(ts, target{addr: net.JoinHostPort(h.Name, port), fn: fn}, target{addr: net.JoinHostPort(h.IP, port), fn: fn})
	}
	if h.Role == sim.RoleCassy {
		ts = append(ts, d.serveCassy(ctx, h)...)
	}
	d.mu.Lock()
	d.targets[h.Name] = ts
	d.mu.Unlock()
	for _, t := range ts {
		d.bastion.Handle(t.addr, t.fn)
	}
	listen := func(port int) (net.Listener, error) {
		l, ok := listeners[port]
		if !ok {
			return nil, fmt.Errorf("demo: no listener prepared for %s port %d", h.Short, port)
		}
		return l, nil
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		// Errors after shutdown are expected; a failing endpoint shows up as
		// a refused or closed connection, as on a real host.
		_ = sim.Serve(ctx, d.SimState, h.Name, listen, sim.ServeOptions{})
		for _, l := range listeners {
			l.Close()
		}
	}()
}

// serveCassy serves rpc.Cassy (sim.NewCassyGRPCServer) on cassy-1:20051
// until ctx is done, like the rpc.Admin servers on :50053, and registers the
// cluster once as an operator would (domain.md §4.2 "Do this once"); if that
// fails (every Cassandra node down) Cassy simply has no cluster yet.
func (d *Demo) serveCassy(ctx context.Context, h Host) []target {
	_, _ = sim.RegisterCassyCluster(d.SimState, "")
	l := sim.NewConnListener(net.JoinHostPort(h.IP, strconv.Itoa(sim.PortCassy)))
	fn := serveOn(l)
	gs := sim.NewCassyGRPCServer(d.SimState)
	d.wg.Add(2)
	go func() { defer d.wg.Done(); _ = gs.Serve(l) }()
	go func() { defer d.wg.Done(); <-ctx.Done(); gs.Stop(); l.Close() }()
	port := strconv.Itoa(sim.PortCassy)
	return []target{{addr: net.JoinHostPort(h.Name, port), fn: fn}, {addr: net.JoinHostPort(h.IP, port), fn: fn}}
}

// serveOn adapts l to Bastion.Handle, which closes the connection as soon as
// the handler returns: it blocks until the server closes the connection.
func serveOn(l *sim.ConnListener) func(net.Conn) {
	return func(c net.Conn) {
		w := &closeNotifyConn{Conn: c, done: make(chan struct{})}
		l.Handle(w)
		<-w.done
	}
}

// closeNotifyConn closes done when the connection is closed.
type closeNotifyConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

// Close closes the connection and signals done.
func (c *closeNotifyConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.done) })
	return err
}

// syncDown makes hosts with the node-down fault unreachable (the bastion
// answers "connection refused" and open sessions drop), and brings back
// hosts whose fault was cleared.
func (d *Demo) syncDown() error {
	st, err := sim.Load(d.SimState)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, sh := range st.Hosts {
		down := sh.Down()
		d.mu.Lock()
		was, ts := d.down[sh.Name], d.targets[sh.Name]
		d.down[sh.Name] = down
		d.mu.Unlock()
		if down == was {
			continue
		}
		for _, t := range ts {
			if down {
				d.bastion.Remove(t.addr)
			} else {
				d.bastion.Handle(t.addr, t.fn)
			}
		}
		if srv := d.servers[sh.Name]; srv != nil && down {
			srv.KillConnections()
		}
	}
	return nil
}

// watchDown applies node-down faults injected while the demo runs.
func (d *Demo) watchDown(ctx context.Context) {
	defer d.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = d.syncDown() // a transient read error is retried on the next tick
		}
	}
}
