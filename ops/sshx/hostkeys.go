package sshx

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHosts reads the known_hosts file afresh; a missing file is empty.
func (c *Client) knownHosts() (ssh.HostKeyCallback, error) {
	return loadKnownHosts(c.cfg.KnownHostsFile)
}

func loadKnownHosts(file string) (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(file)
	if errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known_hosts %s: %w (fix or remove the bad line)", file, err)
	}
	return cb, nil
}

// CheckKnownHost reports whether key is the known key of addr (host:port) in
// file: nil when it is, *UnknownHostKeyError when the host is not listed,
// *ChangedHostKeyError when a different key is.
func CheckKnownHost(file, addr string, key ssh.PublicKey) error {
	cb, err := loadKnownHosts(file)
	if err != nil {
		return err
	}
	return classifyHostKeyError(cb(hostAddr(addr), &net.TCPAddr{}, key), file, hostAddr(addr), false, key)
}

// CheckKnownBastion is CheckKnownHost for the bastion: its errors suggest
// `scalar-tui trust --bastion` rather than the bastion's address.
func CheckKnownBastion(file, addr string, key ssh.PublicKey) error {
	cb, err := loadKnownHosts(file)
	if err != nil {
		return err
	}
	return classifyHostKeyError(cb(hostAddr(addr), &net.TCPAddr{}, key), file, hostAddr(addr), true, key)
}

func classifyHostKeyError(err error, file, addr string, isBastion bool, key ssh.PublicKey) error {
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		if len(ke.Want) == 0 {
			return &UnknownHostKeyError{Host: addr, Bastion: isBastion, Fingerprint: ssh.FingerprintSHA256(key), Key: key, KnownHostsFile: file}
		}
		return &ChangedHostKeyError{Host: addr, Bastion: isBastion, Fingerprint: ssh.FingerprintSHA256(key), Key: key, Want: ke.Want, KnownHostsFile: file}
	}
	var re *knownhosts.RevokedError
	if errors.As(err, &re) {
		return fmt.Errorf("host key of %s is revoked in %s:%d: refusing to connect", addr, re.Revoked.Filename, re.Revoked.Line)
	}
	return err
}

func (c *Client) hostKeyCallback(addr string, isBastion bool) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		cb, err := c.knownHosts()
		if err != nil {
			return err
		}
		if remote == nil {
			remote = &net.TCPAddr{}
		}
		return classifyHostKeyError(cb(hostname, remote, key), c.cfg.KnownHostsFile, addr, isBastion, key)
	}
}

var (
	probeOnce sync.Once
	probeKey  ssh.PublicKey
)

// knownAlgorithms returns the host key algorithms of the keys known_hosts
// holds for addr, so the server presents the key we know rather than another
// of its keys (which would look like a changed key). Nil means the defaults.
func (c *Client) knownAlgorithms(addr string) []string {
	probeOnce.Do(func() {
		pub, _, err := ed25519.GenerateKey(nil)
		if err == nil {
			probeKey, _ = ssh.NewPublicKey(pub)
		}
	})
	if probeKey == nil {
		return nil
	}
	cb, err := c.knownHosts()
	if err != nil {
		return nil
	}
	// A throwaway key never matches, so the error lists the known keys.
	var ke *knownhosts.KeyError
	if !errors.As(cb(addr, &net.TCPAddr{}, probeKey), &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, w := range ke.Want {
		for _, a := range algorithmsFor(w.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// trustAlgorithms is the preference when fetching a key to trust.
var trustAlgorithms = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}

var errKeyCaptured = errors.New("host key captured")

// captureConfig aborts the handshake once the server has shown its key.
func captureConfig(user string, got *ssh.PublicKey) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              user,
		HostKeyAlgorithms: trustAlgorithms,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			*got = key
			return errKeyCaptured
		},
	}
}

// HostKey fetches the host key host presents, through the (trusted) bastion,
// without logging in, so the operator can compare its fingerprint and trust
// it. host is a name or host:port (port 22 by default).
func (c *Client) HostKey(ctx context.Context, host string) (ssh.PublicKey, error) {
	addr := hostAddr(host)
	bc, err := c.bastion(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := c.tunnel(ctx, bc, addr)
	if err != nil {
		return nil, err
	}
	return c.captureKey(ctx, conn, addr)
}

// BastionHostKey fetches the key the bastion presents, without logging in.
func (c *Client) BastionHostKey(ctx context.Context) (ssh.PublicKey, error) {
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", c.cfg.BastionAddr)
	if err != nil {
		return nil, &BastionError{Addr: c.cfg.BastionAddr, Err: fmt.Errorf("connect to bastion %s: %w (is the bastion up and its address right?)", c.cfg.BastionAddr, err)}
	}
	key, err := c.captureKey(ctx, conn, c.cfg.BastionAddr)
	if err != nil {
		return nil, &BastionError{Addr: c.cfg.BastionAddr, Err: err}
	}
	return key, nil
}

// captureKey runs the start of a handshake on conn until the server shows its
// key, bounded by ctx and DialTimeout: a server that accepts TCP and never
// speaks SSH fails with ErrHandshakeTimeout.
func (c *Client) captureKey(ctx context.Context, conn net.Conn, addr string) (ssh.PublicKey, error) {
	defer conn.Close()
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.DialTimeout, errDialTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var key ssh.PublicKey
	_, _, _, err := ssh.NewClientConn(conn, addr, captureConfig(c.cfg.User, &key))
	if key != nil {
		return key, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("fetch host key: %w", c.handshakeTimeout(ctx, addr))
	}
	if err == nil {
		err = errors.New("no host key received")
	}
	return nil, fmt.Errorf("fetch host key of %s: %w", addr, err)
}

// AppendKnownHost appends an OpenSSH known_hosts line for host (a name or
// host:port; written as [host]:port when the port is not 22) to file,
// creating the file (0600) and its directory (0700) when missing.
func AppendKnownHost(file, host string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("create directory for %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open known_hosts %s: %w", file, err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostAddr(host))}, key)
	// Start on a fresh line even if the file does not end with a newline.
	prefix := ""
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if b, err := os.ReadFile(file); err == nil && !strings.HasSuffix(string(b), "\n") {
			prefix = "\n"
		}
	}
	if _, err := f.WriteString(prefix + line + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	return nil
}
