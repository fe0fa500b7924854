package sim

import (
	"errors"
	"net"
	"sync"
)

// ConnListener is an in-memory net.Listener for the in-process demo: the
// demo's connection registry hands each accepted connection (for example
// one side of net.Pipe, or a channel of an SSH direct-tcpip request) to
// Handle, and Serve's HTTP/gRPC servers Accept it. Use NewConnListener as
// the ListenFunc result for one port.
type ConnListener struct {
	addr   net.Addr
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

// NewConnListener returns a listener that reports addr ("10.42.3.5:50053") as its address.
func NewConnListener(addr string) *ConnListener {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		a = &net.TCPAddr{}
	}
	return &ConnListener{addr: a, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// ErrListenerClosed is returned by Handle and Accept after Close.
var ErrListenerClosed = errors.New("sim: listener closed")

// Handle passes c to the server; it blocks until the server accepts it and
// closes c (returning ErrListenerClosed) if the listener is closed. Its
// signature fits a func(net.Conn) registry.
func (l *ConnListener) Handle(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

// Dial returns the client side of a new in-memory connection to the listener.
func (l *ConnListener) Dial() (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		client.Close()
		server.Close()
		return nil, ErrListenerClosed
	}
}

// Accept implements net.Listener.
func (l *ConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, ErrListenerClosed
	}
}

// Close implements net.Listener.
func (l *ConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr implements net.Listener.
func (l *ConnListener) Addr() net.Addr { return l.addr }
