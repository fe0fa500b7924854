package sshx_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
)

// silentServer accepts TCP connections and never says a word, like a
// bastion whose sshd is wedged (or a port that is not SSH at all).
type silentServer struct {
	ln      net.Listener
	accepts atomic.Int32
	mu      sync.Mutex
	conns   []net.Conn
}

func newSilentServer(t testing.TB) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepts.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

// silentClient is a client of a silent bastion, with valid credentials and
// known_hosts (from a real test cluster) so that only the bastion is wrong.
func silentClient(t *testing.T, timeout time.Duration) (*silentServer, *sshx.Client) {
	t.Helper()
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	s := newSilentServer(t)
	cfg := e.config()
	cfg.BastionAddr = s.ln.Addr().String()
	cfg.DialTimeout = timeout
	c, err := sshx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

// A bastion that accepts TCP and never speaks SSH fails every host at once
// with one connection attempt, not one handshake timeout per host in turn.
func TestSilentBastionFailsAllHostsAtOnce(t *testing.T) {
	s, c := silentClient(t, 2*time.Second)
	// A safety net only: the handshake bound must end the calls first.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hosts := []string{"cassandra-1.internal", "cassandra-2.internal", "cassandra-3.internal", "scalardl-1", "scalardl-2", "scalardl-3"}
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Run(ctx, h, "echo hi", sshx.RunOptions{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		var be *sshx.BastionError
		switch {
		case err == nil:
			t.Fatalf("%s: ran on a silent bastion", hosts[i])
		case !errors.Is(err, sshx.ErrHandshakeTimeout):
			t.Errorf("%s: %v, want ErrHandshakeTimeout", hosts[i], err)
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			t.Errorf("%s: a handshake timeout must not read as a cancellation: %v", hosts[i], err)
		case !errors.As(err, &be):
			t.Errorf("%s: %v is not a *BastionError", hosts[i], err)
		}
	}
	if n := s.accepts.Load(); n != 1 {
		t.Errorf("the silent bastion was dialled %d times for %d concurrent calls, want once", n, len(hosts))
	}
}

// trust --bastion on a silent bastion must end with an error, not hang.
func TestBastionHostKeySilentBastion(t *testing.T) {
	_, c := silentClient(t, 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.BastionHostKey(ctx)
	if !errors.Is(err, sshx.ErrHandshakeTimeout) || ctx.Err() != nil {
		t.Fatalf("BastionHostKey = %v (ctx %v), want ErrHandshakeTimeout before the test's deadline", err, ctx.Err())
	}
	var be *sshx.BastionError
	if !errors.As(err, &be) {
		t.Errorf("%v is not a *BastionError", err)
	}
}
