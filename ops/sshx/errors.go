package sshx

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrClosed is returned by calls on a Client after Close.
var ErrClosed = errors.New("sshx: client is closed")

// ErrForwardingRefused means the bastion refused to open a TCP connection for
// us ("administratively prohibited"): AllowTcpForwarding is off on it.
var ErrForwardingRefused = errors.New("the bastion refused to forward the connection (administratively prohibited): set AllowTcpForwarding yes in the bastion's sshd_config")

// ErrHandshakeTimeout means a server accepted the TCP connection but did not
// complete the SSH handshake within Config.DialTimeout.
var ErrHandshakeTimeout = errors.New("no SSH handshake")

// BastionError means the bastion could not be reached or logged in to. It
// concerns every host behind the bastion alike, so a caller working on many
// hosts can fail them all at once instead of trying each. Its message is the
// underlying error's; errors.As reaches the typed errors inside
// (*UnknownHostKeyError, *ChangedHostKeyError, *AuthError).
type BastionError struct {
	// Addr is the bastion's host:port.
	Addr string
	Err  error
}

// Error returns the underlying error's message.
func (e *BastionError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *BastionError) Unwrap() error { return e.Err }

// UnknownHostKeyError means a host presented a key that known_hosts does not
// hold. The connection was not made.
type UnknownHostKeyError struct {
	// Host is the address dialled, host:port.
	Host string
	// Bastion is true when Host is the bastion.
	Bastion bool
	// Fingerprint is the key's SHA256 fingerprint ("SHA256:...").
	Fingerprint string
	// Key is the key the host presented.
	Key ssh.PublicKey
	// KnownHostsFile is the file that was searched.
	KnownHostsFile string
}

// Error says which key was seen and how to trust it.
func (e *UnknownHostKeyError) Error() string {
	what, cmd := "host", "scalar-tui trust "+trustName(e.Host)
	if e.Bastion {
		what, cmd = "bastion", "scalar-tui trust --bastion"
	}
	return fmt.Sprintf("%s %s presented an unknown %s key %s (not in %s): check the fingerprint, then run `%s`",
		what, e.Host, e.Key.Type(), e.Fingerprint, e.KnownHostsFile, cmd)
}

// ChangedHostKeyError means a host presented a key different from the one in
// known_hosts: the host was rebuilt, or someone is intercepting the
// connection. The connection was refused.
type ChangedHostKeyError struct {
	// Host is the address dialled, host:port.
	Host string
	// Bastion is true when Host is the bastion.
	Bastion bool
	// Fingerprint and Key are what the host presented now.
	Fingerprint string
	Key         ssh.PublicKey
	// Want are the known_hosts entries for the host.
	Want []knownhosts.KnownKey
	// KnownHostsFile is the file that was searched.
	KnownHostsFile string
}

// Error is a loud warning in the style of OpenSSH's.
func (e *ChangedHostKeyError) Error() string {
	var b strings.Builder
	b.WriteString("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n")
	b.WriteString("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n")
	b.WriteString("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n")
	b.WriteString("IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n")
	fmt.Fprintf(&b, "The %s key of %s is now %s, but known_hosts says:\n", e.Key.Type(), e.Host, e.Fingerprint)
	for _, w := range e.Want {
		fmt.Fprintf(&b, "  %s:%d %s %s\n", w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key))
	}
	fmt.Fprintf(&b, "The connection was refused. If the %s was rebuilt on purpose (e.g. a node replacement), run\n"+
		"`%s`: it shows the old and the new fingerprint side by side and\n"+
		"replaces the entry in %s only when you confirm.", hostOrBastion(e.Bastion), replaceCommand(e.Host, e.Bastion), e.KnownHostsFile)
	return b.String()
}

func hostOrBastion(bastion bool) string {
	if bastion {
		return "bastion"
	}
	return "host"
}

// replaceCommand is the command that replaces a changed key.
func replaceCommand(host string, bastion bool) string {
	if bastion {
		return "scalar-tui trust --replace --bastion"
	}
	return "scalar-tui trust --replace " + trustName(host)
}

// trustName strips the default port for display in a command.
func trustName(hostport string) string {
	return strings.TrimSuffix(hostport, ":22")
}

// AuthError means the server refused every key we offered.
type AuthError struct {
	// Addr is the server, User the user name tried, Keys the fingerprints offered.
	Addr string
	User string
	Keys []string
	Err  error
}

// Error names the user and the keys offered, and what to check.
func (e *AuthError) Error() string {
	return fmt.Sprintf("log in to %s as %q refused (offered keys: %s): check the user name (scalar-terraform uses %q) and that your key is in the host's authorized_keys and loaded with `ssh-add`: %v",
		e.Addr, e.User, strings.Join(e.Keys, ", "), "centos", e.Err)
}

// Unwrap returns the SSH library's error.
func (e *AuthError) Unwrap() error { return e.Err }

// ConnectionLostError means an SSH connection died while a call was using it.
// The remote command may still be running. The next call reconnects.
type ConnectionLostError struct {
	// Bastion is the bastion's address; Host the host the call was for
	// (empty for calls on the bastion itself).
	Bastion string
	Host    string
	// BastionLost is true when the bastion connection itself dropped.
	BastionLost bool
	Err         error
}

// Error names the bastion and the host, and says the next call reconnects.
func (e *ConnectionLostError) Error() string {
	on := "the bastion"
	if e.Host != "" {
		on = e.Host
	}
	if e.BastionLost || e.Host == "" {
		return fmt.Sprintf("lost the SSH connection to bastion %s while working on %s: %v (the remote command may still be running; the next call reconnects)", e.Bastion, on, e.Err)
	}
	return fmt.Sprintf("lost the SSH connection to %s (through bastion %s): %v (the remote command may still be running; the next call reconnects)", e.Host, e.Bastion, e.Err)
}

// Unwrap returns the underlying error.
func (e *ConnectionLostError) Unwrap() error { return e.Err }

// permanent reports whether err cannot be cured by reconnecting.
func permanent(err error) bool {
	var u *UnknownHostKeyError
	var c *ChangedHostKeyError
	var a *AuthError
	return errors.As(err, &u) || errors.As(err, &c) || errors.As(err, &a) || errors.Is(err, ErrClosed) || errors.Is(err, ErrForwardingRefused)
}
