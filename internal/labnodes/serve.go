package labnodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"scalar-tui/internal/sim"
)

// ServeOptions configures ServeNode.
type ServeOptions struct {
	// State is the simulator state directory; Host the simulated host's FQDN.
	State string
	Host  string
	// ListenIP is the address the endpoints listen on (inside the host's
	// namespace, "0.0.0.0" also answers on localhost like the real daemons).
	ListenIP string
	// TextfileDir, when set, receives sim.prom every TextfileEvery (default
	// 1s) for the node exporter's textfile collector.
	TextfileDir   string
	TextfileEvery time.Duration
	// SkipPorts are ports of the host's role not to listen on, because a real
	// daemon serves them (the node exporter's 9100).
	SkipPorts []int
	// Log receives textfile errors (nil: discarded).
	Log io.Writer
}

// ServeNode serves a simulated host's network endpoints (sim.Serve) except
// SkipPorts, and keeps its textfile current, until ctx is done. It is what
// `scalar-sim lab node-serve` runs on each lab host.
//
// The textfile is written into a staging directory beside TextfileDir and
// renamed into it, so the node exporter never sees the simulator's temporary
// file (a second *.prom with the same series would fail its whole scrape).
func ServeNode(ctx context.Context, o ServeOptions) error {
	if o.State == "" || o.Host == "" {
		return errors.New("node-serve: the state directory and the host are required")
	}
	if o.ListenIP == "" {
		o.ListenIP = "0.0.0.0"
	}
	skip := map[int]bool{}
	for _, p := range o.SkipPorts {
		skip[p] = true
	}
	listen := func(port int) (net.Listener, error) {
		addr := net.JoinHostPort(o.ListenIP, strconv.Itoa(port))
		if skip[port] {
			// A listener nobody can reach: the real daemon owns the port.
			return sim.NewConnListener(addr), nil
		}
		return net.Listen("tcp", addr)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	if o.TextfileDir != "" {
		every := o.TextfileEvery
		if every <= 0 {
			every = time.Second
		}
		staging := strings.TrimRight(o.TextfileDir, "/") + ".staging"
		if err := os.MkdirAll(staging, 0o755); err != nil {
			return fmt.Errorf("node-serve: %w", err)
		}
		if err := os.MkdirAll(o.TextfileDir, 0o755); err != nil {
			return fmt.Errorf("node-serve: %w", err)
		}
		go func() {
			defer close(done)
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				if err := writeTextfile(o.State, o.Host, staging, o.TextfileDir); err != nil && o.Log != nil {
					fmt.Fprintf(o.Log, "node-serve %s: %v\n", o.Host, err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	} else {
		close(done)
	}
	cassyDone := make(chan error, 1)
	if st, err := sim.Load(o.State); err == nil && st.Host(o.Host) != nil && st.Host(o.Host).Role == sim.RoleCassy && !skip[sim.PortCassy] {
		ln, err := listen(sim.PortCassy)
		if err != nil {
			cancel()
			<-done
			return fmt.Errorf("node-serve: rpc.Cassy: %w", err)
		}
		serveCassy(ctx, o.State, ln, cassyDone)
	} else {
		cassyDone <- nil
	}
	err := sim.Serve(ctx, o.State, o.Host, listen, sim.ServeOptions{})
	cancel()
	<-done
	if cerr := <-cassyDone; err == nil {
		err = cerr
	}
	return err
}

// serveCassy serves rpc.Cassy (the simulator's, sim.NewCassyGRPCServer) on
// ln until ctx is done, as the demo does on cassy-1:20051, after registering
// the Cassandra cluster once as an operator would (domain.md §4.2 "Do this
// once"); if that fails (every Cassandra node down) Cassy simply has no
// cluster yet. The server's error, nil after ctx ends, goes to done.
func serveCassy(ctx context.Context, state string, ln net.Listener, done chan<- error) {
	_, _ = sim.RegisterCassyCluster(state, "")
	gs := sim.NewCassyGRPCServer(state)
	stopped := make(chan struct{})
	go func() {
		<-ctx.Done()
		gs.Stop()
		close(stopped)
	}()
	go func() {
		err := gs.Serve(ln)
		<-stopped
		if ctx.Err() != nil {
			err = nil
		}
		done <- err
	}()
}

func writeTextfile(state, host, staging, dir string) error {
	if err := sim.WriteTextfile(state, host, staging); err != nil {
		return err
	}
	return os.Rename(filepath.Join(staging, "sim.prom"), filepath.Join(dir, "sim.prom"))
}

// Wait waits until every target answers: "host:port" accepts a TCP
// connection, and an "http://..." URL answers 200. It is what `scalar-sim lab
// wait` runs inside the lab, where the targets are reachable.
func Wait(ctx context.Context, targets []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for _, t := range targets {
		for {
			if last = probe(ctx, client, t); last == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not ready after %s: %w", t, timeout, last)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func probe(ctx context.Context, client *http.Client, target string) error {
	if strings.HasPrefix(target, "http://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return err
	}
	return c.Close()
}
