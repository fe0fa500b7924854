package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Config says where the bastion is and how to log in.
type Config struct {
	// BastionAddr is the bastion's host:port (port 22 when omitted).
	BastionAddr string
	// User logs in on the bastion and on every host ("centos" on scalar-terraform).
	User string
	// IdentityFile is a private key file, tried after the agent's keys
	// (--identity, or private_key_path from the Terraform state). Optional.
	IdentityFile string
	// KnownHostsFile holds the trusted host keys for the bastion and the hosts.
	// A missing file is read as empty: every host is unknown until trusted.
	KnownHostsFile string
	// AgentSocket is the ssh-agent socket; empty means $SSH_AUTH_SOCK.
	AgentSocket string
	// NoAgent disables ssh-agent.
	NoAgent bool
	// DialTimeout bounds each TCP connect, and separately each SSH handshake
	// (the console's --connect-timeout; default 5s). A server that accepts
	// TCP and never speaks SSH fails after it with ErrHandshakeTimeout.
	DialTimeout time.Duration
	// CommandTimeout bounds each Run when RunOptions.Timeout is zero (0: none).
	CommandTimeout time.Duration
	// KeepAlive is the interval of keepalive@openssh.com requests; a
	// connection that misses two in a row is closed (default 15s; negative
	// disables).
	KeepAlive time.Duration
}

// DefaultDialTimeout is Config.DialTimeout when it is not set.
const DefaultDialTimeout = 5 * time.Second

// Option changes a Client at construction.
type Option func(*Client)

// WithLogger sends connection events to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithAgent uses ag instead of dialling an ssh-agent socket.
func WithAgent(ag agent.Agent) Option { return func(c *Client) { c.agent = ag } }

// WithKillGrace sets how long a cancelled command has between SIGTERM and
// SIGKILL (default 3s).
func WithKillGrace(d time.Duration) Option { return func(c *Client) { c.killGrace = d } }

// Client is the console's SSH transport: one connection to the bastion, and a
// cached connection to each host multiplexed over it. It is safe for
// concurrent use.
//
// Caveats: host keys are always checked against Config.KnownHostsFile, which
// is re-read for every new connection so `trust` takes effect at once. When
// the bastion connection drops, calls using it fail with a
// *ConnectionLostError and the next call dials again; commands that must
// survive a drop run detached (workflow.ShellDetacher).
type Client struct {
	cfg       Config
	log       *slog.Logger
	agent     agent.Agent
	agentConn net.Conn
	fileKey   ssh.Signer
	killGrace time.Duration
	audit     auditHook

	mu     sync.Mutex
	cur    *bastionConn
	closed bool
}

// New checks cfg, loads the credentials and returns a Client. It does not
// connect: the first call does.
func New(cfg Config, opts ...Option) (*Client, error) {
	if cfg.BastionAddr == "" {
		return nil, errors.New("sshx: no bastion address: is the network root's state loaded?")
	}
	if _, _, err := net.SplitHostPort(cfg.BastionAddr); err != nil {
		cfg.BastionAddr = net.JoinHostPort(cfg.BastionAddr, "22")
	}
	if cfg.User == "" {
		return nil, errors.New("sshx: no SSH user: set user_name in the network root (scalar-terraform default: centos)")
	}
	if cfg.KnownHostsFile == "" {
		return nil, errors.New("sshx: no known_hosts file given (--known-hosts)")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	c := &Client{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), killGrace: 3 * time.Second}
	for _, o := range opts {
		o(c)
	}
	if c.agent == nil && !cfg.NoAgent {
		sock := cfg.AgentSocket
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		if sock != "" {
			conn, err := net.DialTimeout("unix", sock, cfg.DialTimeout)
			if err != nil {
				c.log.Warn("ssh-agent unreachable", "socket", sock, "err", err)
			} else {
				c.agentConn, c.agent = conn, agent.NewClient(conn)
			}
		}
	}
	if cfg.IdentityFile != "" {
		if err := c.loadKey(cfg.IdentityFile); err != nil {
			c.Close()
			return nil, err
		}
	}
	if c.fileKey == nil {
		if c.agent == nil {
			return nil, errors.New("sshx: no SSH key: start ssh-agent and `ssh-add` your key (SSH_AUTH_SOCK must be set), or pass --identity FILE")
		}
		if keys, err := c.agent.List(); err == nil && len(keys) == 0 {
			c.Close()
			return nil, errors.New("sshx: ssh-agent holds no keys: `ssh-add` the deployment's key (private_key_path), or pass --identity FILE")
		}
	}
	return c, nil
}

func (c *Client) loadKey(path string) error {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		if c.agent != nil && errors.Is(err, os.ErrNotExist) {
			// private_key_path from the state is operator-specific; the agent may hold the key.
			c.log.Info("identity file missing; using ssh-agent only", "file", path)
			return nil
		}
		return fmt.Errorf("sshx: read identity file: %w (pass --identity with your own key, or `ssh-add` it)", err)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		if c.agent != nil {
			c.log.Info("identity file is encrypted; relying on ssh-agent", "file", path)
			return nil
		}
		return fmt.Errorf("sshx: private key %s is encrypted and no ssh-agent is running: start ssh-agent (eval $(ssh-agent)) and run `ssh-add %s`, then try again", path, path)
	case err != nil:
		return fmt.Errorf("sshx: parse private key %s: %w", path, err)
	}
	c.fileKey = signer
	return nil
}

// signers lists the agent's keys first, then the identity file's.
func (c *Client) signers() ([]ssh.Signer, error) {
	var out []ssh.Signer
	if c.agent != nil {
		s, err := c.agent.Signers()
		if err != nil {
			c.log.Warn("ssh-agent signers", "err", err)
		}
		out = append(out, s...)
	}
	if c.fileKey != nil {
		out = append(out, c.fileKey)
	}
	if len(out) == 0 {
		return nil, errors.New("no keys to offer: `ssh-add` your key or pass --identity")
	}
	return out, nil
}

func (c *Client) fingerprints() []string {
	s, _ := c.signers()
	fp := make([]string, len(s))
	for i, k := range s {
		fp[i] = ssh.FingerprintSHA256(k.PublicKey())
	}
	return fp
}

// BastionAddr returns the bastion's host:port.
func (c *Client) BastionAddr() string { return c.cfg.BastionAddr }

// Close closes every connection and the agent socket. Calls in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	bc := c.cur
	c.cur = nil
	c.mu.Unlock()
	if bc != nil {
		bc.close()
	}
	if c.agentConn != nil {
		c.agentConn.Close()
	}
	return nil
}

// bastionConn is one SSH connection to the bastion and the host connections
// riding on it. A new bastionConn (with an empty host cache) replaces it when
// it dies.
type bastionConn struct {
	ready  chan struct{} // closed when the dial finished
	client *ssh.Client
	err    error
	// callerGone is true when the dial failed because the caller that
	// dialled gave up (its ctx ended), not because of the bastion: only then
	// do callers waiting on the same dial try again.
	callerGone bool
	done       chan struct{} // closed when the connection died
	why        cause         // why it died

	mu    sync.Mutex
	hosts map[string]*hostConn
}

type hostConn struct {
	ready      chan struct{}
	client     *ssh.Client
	err        error
	callerGone bool // as bastionConn.callerGone
	done       chan struct{}
	why        cause
}

// cause is the first recorded reason a connection died.
type cause struct {
	mu  sync.Mutex
	err error
}

func (c *cause) set(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *cause) get() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (bc *bastionConn) dead() bool {
	select {
	case <-bc.done:
		return true
	default:
		return false
	}
}

// diedWithin reports whether the connection is dead or dies within d (its
// death is noticed by a goroutine, so a failed call may see it a bit late).
func (bc *bastionConn) diedWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-bc.done:
		return true
	case <-t.C:
		return false
	}
}

func (bc *bastionConn) close() {
	<-bc.ready
	if bc.client != nil {
		bc.client.Close()
	}
}

// bastion returns a live bastion connection, dialling one when needed.
func (c *Client) bastion(ctx context.Context) (*bastionConn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		bc := c.cur
		if bc == nil || isDone(bc.ready) && (bc.err != nil || bc.dead()) {
			bc = &bastionConn{ready: make(chan struct{}), done: make(chan struct{}), hosts: map[string]*hostConn{}}
			c.cur = bc
			c.mu.Unlock()
			bc.client, bc.err = c.dialBastion(ctx)
			if bc.err == nil {
				c.watch(bc.client, bc.done, &bc.why, bc.closeHosts)
			}
			bc.callerGone = bc.err != nil && ctx.Err() != nil
			close(bc.ready)
			if bc.err != nil {
				return nil, bc.err
			}
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if closed {
				bc.client.Close()
				return nil, ErrClosed
			}
			return bc, nil
		}
		c.mu.Unlock()
		select {
		case <-bc.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to bastion %s: %w", c.cfg.BastionAddr, ctx.Err())
		}
		if bc.err != nil {
			if bc.callerGone && ctx.Err() == nil {
				continue // the caller that dialled gave up; try again for us
			}
			// One bastion failure fails every caller waiting on it at once.
			return nil, bc.err
		}
		if bc.dead() {
			continue
		}
		return bc, nil
	}
}

func (bc *bastionConn) closeHosts() {
	bc.mu.Lock()
	hosts := bc.hosts
	bc.hosts = map[string]*hostConn{}
	bc.mu.Unlock()
	for _, hc := range hosts {
		go func() {
			<-hc.ready
			if hc.client != nil {
				hc.client.Close()
			}
		}()
	}
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (c *Client) dialBastion(ctx context.Context) (*ssh.Client, error) {
	addr := c.cfg.BastionAddr
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &BastionError{Addr: addr, Err: fmt.Errorf("connect to bastion %s: %w (is the bastion up and its address right? check bastion_ip in the network root's state)", addr, err)}
	}
	cl, err := c.handshake(ctx, conn, addr, true)
	if err != nil {
		return nil, &BastionError{Addr: addr, Err: c.handshakeError(err, addr, "bastion "+addr)}
	}
	c.log.Info("connected to bastion", "addr", addr)
	return cl, nil
}

// host returns a live connection to addr through the bastion.
func (c *Client) host(ctx context.Context, addr string) (*bastionConn, *hostConn, error) {
	retried := false
	for {
		bc, err := c.bastion(ctx)
		if err != nil {
			return nil, nil, err
		}
		bc.mu.Lock()
		hc := bc.hosts[addr]
		if hc == nil || isDone(hc.ready) && (hc.err != nil || isDone(hc.done)) {
			hc = &hostConn{ready: make(chan struct{}), done: make(chan struct{})}
			bc.hosts[addr] = hc
			bc.mu.Unlock()
			hc.client, hc.err = c.dialHost(ctx, bc, addr)
			if hc.err == nil {
				c.watch(hc.client, hc.done, &hc.why, func() {})
			}
			hc.callerGone = hc.err != nil && ctx.Err() != nil
			close(hc.ready)
			var lost *ConnectionLostError
			if errors.As(hc.err, &lost) && lost.BastionLost && !retried {
				// The bastion connection was already dead; nothing ran yet.
				retried = true
				continue
			}
			if hc.err != nil {
				return nil, nil, hc.err
			}
			return bc, hc, nil
		}
		bc.mu.Unlock()
		select {
		case <-hc.ready:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("connect to %s: %w", addr, ctx.Err())
		}
		if hc.err != nil {
			if hc.callerGone && ctx.Err() == nil {
				continue
			}
			return nil, nil, hc.err
		}
		if isDone(hc.done) {
			continue
		}
		return bc, hc, nil
	}
}

func (c *Client) dialHost(ctx context.Context, bc *bastionConn, addr string) (*ssh.Client, error) {
	conn, err := c.tunnel(ctx, bc, addr)
	if err != nil {
		return nil, err
	}
	cl, err := c.handshake(ctx, conn, addr, false)
	if err != nil {
		herr := c.handshakeError(err, addr, addr+" (through bastion "+c.cfg.BastionAddr+")")
		if !permanent(herr) && bc.diedWithin(time.Second) {
			return nil, &ConnectionLostError{Bastion: c.cfg.BastionAddr, Host: addr, BastionLost: true, Err: orCause(bc.why.get(), err)}
		}
		return nil, herr
	}
	c.log.Info("connected to host", "addr", addr)
	return cl, nil
}

// tunnel opens a TCP connection to addr from the bastion.
func (c *Client) tunnel(ctx context.Context, bc *bastionConn, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	conn, err := bc.client.DialContext(ctx, "tcp", addr)
	if err == nil {
		return conn, nil
	}
	var oce *ssh.OpenChannelError
	switch {
	case errors.As(err, &oce) && oce.Reason == ssh.Prohibited:
		return nil, fmt.Errorf("connect to %s through bastion %s: %w", addr, c.cfg.BastionAddr, ErrForwardingRefused)
	case errors.As(err, &oce) && oce.Reason == ssh.ConnectionFailed:
		return nil, fmt.Errorf("connect to %s through bastion %s: %w (is the host up and listening on that port? does the bastion resolve its name?)", addr, c.cfg.BastionAddr, err)
	case bc.diedWithin(time.Second):
		return nil, &ConnectionLostError{Bastion: c.cfg.BastionAddr, Host: addr, BastionLost: true, Err: orCause(bc.why.get(), err)}
	}
	return nil, fmt.Errorf("connect to %s through bastion %s: %w", addr, c.cfg.BastionAddr, err)
}

// handshake runs the SSH client handshake on conn, bounded by ctx and
// DialTimeout (tunnelled connections have no deadlines, so the bound closes
// the connection instead).
func (c *Client) handshake(ctx context.Context, conn net.Conn, addr string, isBastion bool) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.DialTimeout, errDialTimeout)
	defer cancel()
	var settled atomic.Bool
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			if settled.CompareAndSwap(false, true) {
				conn.Close()
			}
		case <-stop:
		}
	}()
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, c.clientConfig(addr, isBastion))
	close(stop)
	if !settled.CompareAndSwap(false, true) {
		if err == nil {
			cc.Close()
		}
		return nil, c.handshakeTimeout(ctx, addr)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// handshakeTimeout is the error of a handshake cut off by ctx: the caller's
// cancellation as is, or ErrHandshakeTimeout when DialTimeout passed (which
// must not look like a cancellation, or waiting callers would retry).
func (c *Client) handshakeTimeout(ctx context.Context, addr string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && errors.Is(context.Cause(ctx), errDialTimeout) {
		return fmt.Errorf("ssh handshake with %s: %w after %s (the server accepted the TCP connection but did not complete an SSH handshake: is it an SSH server? on a slow link raise --connect-timeout)", addr, ErrHandshakeTimeout, c.cfg.DialTimeout)
	}
	return fmt.Errorf("ssh handshake with %s: %w", addr, ctx.Err())
}

// errDialTimeout is the cause of the contexts that bound handshakes.
var errDialTimeout = errors.New("connect timeout")

func (c *Client) clientConfig(addr string, isBastion bool) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              c.cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeysCallback(c.signers)},
		HostKeyCallback:   c.hostKeyCallback(addr, isBastion),
		HostKeyAlgorithms: c.knownAlgorithms(addr),
		Timeout:           c.cfg.DialTimeout,
	}
}

// handshakeError turns handshake failures into the typed errors.
func (c *Client) handshakeError(err error, addr, what string) error {
	var u *UnknownHostKeyError
	var ch *ChangedHostKeyError
	switch {
	case errors.As(err, &u):
		return u
	case errors.As(err, &ch):
		return ch
	case strings.Contains(err.Error(), "unable to authenticate"):
		return &AuthError{Addr: addr, User: c.cfg.User, Keys: c.fingerprints(), Err: err}
	}
	return fmt.Errorf("ssh handshake with %s: %w", what, err)
}

// watch closes done when cl dies, recording why, and sends keepalives.
func (c *Client) watch(cl *ssh.Client, done chan struct{}, why *cause, onDeath func()) {
	stop := make(chan struct{})
	go func() {
		err := cl.Wait()
		if err == nil {
			err = io.EOF
		}
		why.set(err)
		close(stop)
		close(done)
		onDeath()
		c.log.Info("ssh connection closed", "remote", cl.RemoteAddr().String(), "err", err)
	}()
	if c.cfg.KeepAlive <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(c.cfg.KeepAlive)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			replied := make(chan error, 1)
			go func() {
				_, _, err := cl.SendRequest("keepalive@openssh.com", true, nil)
				replied <- err
			}()
			select {
			case err := <-replied:
				if err != nil {
					why.set(fmt.Errorf("keepalive failed: %w", err))
					cl.Close()
					return
				}
			case <-time.After(2 * c.cfg.KeepAlive):
				why.set(fmt.Errorf("no answer to keepalives for %s", 2*c.cfg.KeepAlive))
				cl.Close()
				return
			case <-stop:
				return
			}
		}
	}()
}

// hostAddr adds port 22 when host has no port.
func hostAddr(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(host, "22")
}

// DialContext opens a TCP connection to addr (host:port) from the bastion, for
// HTTP clients (Prometheus) and gRPC (the Scalar DL admin port). It uses the
// shared bastion connection.
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("sshx: dial %s %s: only tcp can be forwarded through the bastion", network, addr)
	}
	bc, err := c.bastion(ctx)
	if err != nil {
		return nil, err
	}
	return c.tunnel(ctx, bc, addr)
}
