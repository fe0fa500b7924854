package sshtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Host is an in-process SSH server standing for one node. It listens on no
// port: the Bastion hands it connections (over net.Pipe) for "name:22".
type Host struct {
	// Name is the DNS name the bastion knows the host by.
	Name string
	srv  *server
}

// NewHost returns a host server named name.
func NewHost(name string, cfg Config) (*Host, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return &Host{Name: name, srv: s}, nil
}

// HostKey returns the host's public key.
func (h *Host) HostKey() ssh.PublicKey { return h.srv.publicKey() }

// SetHostKey replaces the host key for new connections (a rebuilt host).
func (h *Host) SetHostKey(k ssh.Signer) { h.srv.setHostKey(k) }

// ServeConn serves the SSH protocol on c and returns when it closes.
func (h *Host) ServeConn(c net.Conn) { h.srv.serveConn(c) }

// KillConnections drops every open connection to the host.
func (h *Host) KillConnections() { h.srv.killConnections() }

// Accepted counts the SSH connections that completed a handshake.
func (h *Host) Accepted() int { return int(h.srv.accepted.Load()) }

// Close drops every connection and refuses new ones.
func (h *Host) Close() error {
	h.srv.mu.Lock()
	h.srv.closed = true
	h.srv.mu.Unlock()
	h.srv.killConnections()
	return nil
}

func (s *server) publicKey() ssh.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.HostKey.PublicKey()
}

func (s *server) setHostKey(k ssh.Signer) {
	s.mu.Lock()
	s.cfg.HostKey = k
	s.mu.Unlock()
}

// Authorize adds a public key accepted for log-in.
func (h *Host) Authorize(k ssh.PublicKey) { h.srv.authorize(k) }

func (s *server) authorize(k ssh.PublicKey) {
	s.mu.Lock()
	s.cfg.AuthorizedKeys = append(s.cfg.AuthorizedKeys, k)
	s.mu.Unlock()
}

// Bastion is an in-process SSH jump host listening on 127.0.0.1. It forwards
// direct-tcpip channels for "name:port" to what was registered with AddHost
// or Handle, and serves exec requests on itself with Config.Exec.
type Bastion struct {
	// Addr is the host:port the bastion listens on.
	Addr string

	srv        *server
	ln         net.Listener
	mu         sync.Mutex
	targets    map[string]func(net.Conn)
	forwarding bool
	wg         sync.WaitGroup
}

// NewBastion starts a bastion on 127.0.0.1 with a free port.
func NewBastion(cfg Config) (*Bastion, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	addr := cfg.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sshtest: bastion listen: %w", err)
	}
	b := &Bastion{Addr: ln.Addr().String(), srv: s, ln: ln, targets: map[string]func(net.Conn){}, forwarding: true}
	s.forward = b.forward
	b.wg.Add(1)
	go b.accept()
	return b, nil
}

func (b *Bastion) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.srv.serveConn(c)
	}
}

// HostKey returns the bastion's public key.
func (b *Bastion) HostKey() ssh.PublicKey { return b.srv.publicKey() }

// SetHostKey replaces the bastion's key for new connections.
func (b *Bastion) SetHostKey(k ssh.Signer) { b.srv.setHostKey(k) }

// Authorize adds a public key accepted for log-in.
func (b *Bastion) Authorize(k ssh.PublicKey) { b.srv.authorize(k) }

// AddHost makes name:22 reach h.
func (b *Bastion) AddHost(h *Host) {
	b.Handle(net.JoinHostPort(h.Name, "22"), func(c net.Conn) { h.ServeConn(c) })
}

// Handle makes addr ("name:port") reach fn, which owns the connection (the
// demo serves HTTP and gRPC endpoints this way).
func (b *Bastion) Handle(addr string, fn func(net.Conn)) {
	b.mu.Lock()
	b.targets[addr] = fn
	b.mu.Unlock()
}

// Remove makes addr unreachable ("connect failed"), like a host that is down.
func (b *Bastion) Remove(addr string) {
	b.mu.Lock()
	delete(b.targets, addr)
	b.mu.Unlock()
}

// Dial connects to addr ("name:port") from inside the network, as a host
// behind the bastion would (the demo's monitor scrapes its targets this way):
// the handler registered for addr, or "connection refused" when there is none
// (a host that is down). It does not depend on SetForwarding.
func (b *Bastion) Dial(ctx context.Context, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	fn := b.targets[addr]
	b.mu.Unlock()
	if fn == nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: pipeAddr(addr), Err: errors.New("connection refused")}
	}
	client, srv := net.Pipe()
	go func() {
		fn(srv)
		srv.Close()
	}()
	return client, nil
}

// pipeAddr names an in-process address in errors.
type pipeAddr string

func (a pipeAddr) Network() string { return "tcp" }
func (a pipeAddr) String() string  { return string(a) }

// SetForwarding turns forwarding on or off; off answers every direct-tcpip
// request with "administratively prohibited", like AllowTcpForwarding no.
func (b *Bastion) SetForwarding(on bool) {
	b.mu.Lock()
	b.forwarding = on
	b.mu.Unlock()
}

// KillConnections drops every client connection, and with them every tunnel.
func (b *Bastion) KillConnections() { b.srv.killConnections() }

// Accepted counts the SSH connections that completed a handshake.
func (b *Bastion) Accepted() int { return int(b.srv.accepted.Load()) }

// Close stops listening and drops every connection.
func (b *Bastion) Close() error {
	b.srv.mu.Lock()
	b.srv.closed = true
	b.srv.mu.Unlock()
	err := b.ln.Close()
	b.srv.killConnections()
	b.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (b *Bastion) forward(nc ssh.NewChannel) {
	var p struct {
		Host       string
		Port       uint32
		OriginAddr string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	addr := net.JoinHostPort(p.Host, fmt.Sprint(p.Port))
	b.mu.Lock()
	on, fn := b.forwarding, b.targets[addr]
	b.mu.Unlock()
	if !on {
		nc.Reject(ssh.Prohibited, "administratively prohibited")
		return
	}
	if fn == nil {
		nc.Reject(ssh.ConnectionFailed, "Connection refused")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	client, srv := net.Pipe()
	go func() {
		fn(srv)
		srv.Close()
	}()
	proxy(ch, client)
}
