// Package sshtest runs SSH servers in process, built on golang.org/x/crypto/ssh,
// for the tests of ops/sshx and for `scalar-tui demo`: a Bastion that forwards
// direct-tcpip channels to registered Hosts and handlers, and Hosts whose exec
// and shell requests are served by Go functions or by a real local /bin/sh.
//
// Production code must not import it.
package sshtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"

	"scalar-tui/ops/shell"
)

// Session is one exec or shell request, as a handler sees it.
type Session struct {
	// User is the authenticated user name.
	User string
	// Command is the exec request's command line; empty for a shell.
	Command string
	// Env holds the variables the client sent with "env" requests.
	Env map[string]string
	// PTY is set when the client asked for a terminal.
	PTY *PTY
	// Stdin reads what the client sends; Stdout and Stderr go back to it.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// PTY is a client's "pty-req": terminal type and size in characters.
type PTY struct {
	Term       string
	Cols, Rows int
}

// signalNames are the SSH names of signals a handler may report.
var signalNames = map[int]string{1: "HUP", 2: "INT", 3: "QUIT", 6: "ABRT", 9: "KILL", 13: "PIPE", 14: "ALRM", 15: "TERM"}

// Handler serves one session and returns its exit status; a negative value
// -N reports death by signal N (sent as "exit-signal"). ctx is cancelled
// when the session's channel or connection closes, or when the client kills
// the session's emulated process group (see Config.Exec).
type Handler func(ctx context.Context, s Session) int

// Config configures a Bastion or a Host.
type Config struct {
	// User, when set, is the only user name accepted.
	User string
	// AuthorizedKeys are the public keys accepted for authentication.
	AuthorizedKeys []ssh.PublicKey
	// HostKey is the server's key; nil generates an ed25519 key.
	HostKey ssh.Signer
	// Exec serves exec requests. The commands ops/sshx wraps with
	// shell.WithPGID are unwrapped first, the marker line is written with an
	// emulated process group, and shell.KillGroup commands for that group
	// cancel the handler's ctx, so Go handlers behave like a real shell.
	// Nil rejects exec requests.
	Exec Handler
	// RealShell, when set, serves exec requests instead of Exec, passing each
	// command unchanged to a real local /bin/sh.
	RealShell *RealShell
	// Shell serves shell requests (interactive logins). Nil rejects them.
	Shell Handler
	// Listen is the bastion's listen address; empty means 127.0.0.1:0.
	Listen string
}

// GenerateKey returns a new ed25519 signer.
func GenerateKey() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshtest: generate ed25519 key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

// server is what Bastion and Host share: authentication, sessions and the
// bookkeeping that lets a test kill every connection.
type server struct {
	mu       sync.Mutex
	cfg      Config
	conns    map[net.Conn]struct{}
	closed   bool
	accepted atomic.Int64
	groups   *groups
	// forward serves direct-tcpip channels; nil rejects them.
	forward func(ch ssh.NewChannel)
}

func newServer(cfg Config) (*server, error) {
	if cfg.HostKey == nil {
		k, err := GenerateKey()
		if err != nil {
			return nil, err
		}
		cfg.HostKey = k
	}
	return &server{cfg: cfg, conns: map[net.Conn]struct{}{}, groups: &groups{m: map[int]context.CancelFunc{}}}, nil
}

// sshConfig is built per connection so SetHostKey and Authorize apply to the
// next connection.
func (s *server) sshConfig() *ssh.ServerConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	user := s.cfg.User
	keys := make(map[string]bool, len(s.cfg.AuthorizedKeys))
	for _, k := range s.cfg.AuthorizedKeys {
		keys[string(k.Marshal())] = true
	}
	conf := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if user != "" && meta.User() != user {
				return nil, fmt.Errorf("sshtest: unknown user %q", meta.User())
			}
			if !keys[string(key.Marshal())] {
				return nil, errors.New("sshtest: key not authorized")
			}
			return nil, nil
		},
	}
	conf.AddHostKey(s.cfg.HostKey)
	return conf
}

func (s *server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// killConnections closes every open connection.
func (s *server) killConnections() {
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// serveConn runs the SSH protocol on c until it closes.
func (s *server) serveConn(c net.Conn) {
	if !s.track(c) {
		c.Close()
		return
	}
	defer s.untrack(c)
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, s.sshConfig())
	if err != nil {
		return
	}
	s.accepted.Add(1)
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go s.session(sc, nc)
		case "direct-tcpip":
			if s.forward == nil {
				nc.Reject(ssh.Prohibited, "forwarding is not supported by this server")
				continue
			}
			go s.forward(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "unknown channel type")
		}
	}
}

// session serves one "session" channel like sshd: env, pty-req,
// window-change, exec and shell; "signal" requests are refused, as OpenSSH
// does in many versions.
func (s *server) session(sc *ssh.ServerConn, nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sess := Session{User: sc.User(), Env: map[string]string{}, Stdin: ch, Stdout: ch, Stderr: ch.Stderr()}
	done := make(chan int, 1)
	started := false
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				// The client closed the channel or the connection died.
				cancel()
				if started {
					<-done
				}
				return
			}
			switch req.Type {
			case "env":
				var kv struct{ Name, Value string }
				if ssh.Unmarshal(req.Payload, &kv) == nil {
					sess.Env[kv.Name] = kv.Value
				}
				req.Reply(true, nil)
			case "pty-req":
				var p struct {
					Term                 string
					Cols, Rows, PxW, PxH uint32
					Modes                string
				}
				if ssh.Unmarshal(req.Payload, &p) != nil {
					req.Reply(false, nil)
					continue
				}
				sess.PTY = &PTY{Term: p.Term, Cols: int(p.Cols), Rows: int(p.Rows)}
				req.Reply(true, nil)
			case "window-change":
				if sess.PTY != nil && len(req.Payload) >= 8 {
					sess.PTY.Cols = int(binary.BigEndian.Uint32(req.Payload))
					sess.PTY.Rows = int(binary.BigEndian.Uint32(req.Payload[4:]))
				}
				req.Reply(true, nil)
			case "exec", "shell":
				var h Handler
				if req.Type == "exec" {
					var p struct{ Command string }
					if ssh.Unmarshal(req.Payload, &p) != nil || started {
						req.Reply(false, nil)
						continue
					}
					sess.Command = p.Command
					h = s.execHandler()
				} else {
					h = s.cfg.Shell
				}
				if h == nil || started {
					req.Reply(false, nil)
					continue
				}
				started = true
				req.Reply(true, nil)
				sess := sess
				go func() { done <- h(ctx, sess) }()
			default:
				req.Reply(false, nil)
			}
		case code := <-done:
			started = false
			ch.CloseWrite()
			if name, ok := signalNames[-code]; ok && code < 0 {
				ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
					Signal     string
					CoreDumped bool
					Error      string
					Lang       string
				}{Signal: name}))
				return
			}
			if code < 0 {
				code = 128 - code
			}
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		}
	}
}

// execHandler returns Config.Exec wrapped with the shell emulation described
// on Config.Exec.
func (s *server) execHandler() Handler {
	if s.cfg.RealShell != nil {
		return s.cfg.RealShell.serve
	}
	h := s.cfg.Exec
	if h == nil {
		return nil
	}
	return func(ctx context.Context, sess Session) int {
		if sig, pgid, ok := shell.ParseKillGroup(sess.Command); ok {
			_ = sig
			s.groups.kill(pgid)
			return 0
		}
		inner, ok := shell.ParseWithPGID(sess.Command)
		if !ok {
			return h(ctx, sess)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		pgid := s.groups.add(cancel)
		defer s.groups.remove(pgid)
		fmt.Fprintf(sess.Stderr, "%s%d\n", shell.PGIDMarker, pgid)
		sess.Command = inner
		return h(ctx, sess)
	}
}

// groups are the emulated process groups of running Go handlers.
type groups struct {
	mu   sync.Mutex
	next int
	m    map[int]context.CancelFunc
}

func (g *groups) add(cancel context.CancelFunc) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next++
	id := 100000 + g.next
	g.m[id] = cancel
	return id
}

func (g *groups) remove(id int) {
	g.mu.Lock()
	delete(g.m, id)
	g.mu.Unlock()
}

func (g *groups) kill(id int) {
	g.mu.Lock()
	cancel := g.m[id]
	g.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// proxy copies between a and b until either side closes, then closes both.
func proxy(a, b io.ReadWriteCloser) {
	var once sync.Once
	closeBoth := func() { a.Close(); b.Close() }
	go func() { io.Copy(a, b); once.Do(closeBoth) }()
	io.Copy(b, a)
	once.Do(closeBoth)
}
