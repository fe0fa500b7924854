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
func captureConfig(user string, algos []string, got *ssh.PublicKey) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              user,
		HostKeyAlgorithms: algos,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			*got = key
			return errKeyCaptured
		},
	}
}

// HostKey fetches the host key host presents, through the (trusted) bastion,
// without logging in, so the operator can compare its fingerprint and trust
// it. host is a name or host:port (port 22 by default). When known_hosts
// already holds keys for host, the key of the same type is asked for first,
// so an unchanged host is not reported changed for showing another of its
// keys, and a rebuilt one is compared like for like.
func (c *Client) HostKey(ctx context.Context, host string) (ssh.PublicKey, error) {
	addr := hostAddr(host)
	return c.fetchKey(ctx, addr, func(ctx context.Context) (net.Conn, error) {
		bc, err := c.bastion(ctx)
		if err != nil {
			return nil, err
		}
		return c.tunnel(ctx, bc, addr)
	})
}

// BastionHostKey fetches the key the bastion presents, without logging in
// (the known key's type first, as HostKey).
func (c *Client) BastionHostKey(ctx context.Context) (ssh.PublicKey, error) {
	key, err := c.fetchKey(ctx, c.cfg.BastionAddr, func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: c.cfg.DialTimeout}
		conn, err := d.DialContext(ctx, "tcp", c.cfg.BastionAddr)
		if err != nil {
			return nil, &BastionError{Addr: c.cfg.BastionAddr, Err: fmt.Errorf("connect to bastion %s: %w (is the bastion up and its address right?)", c.cfg.BastionAddr, err)}
		}
		return conn, nil
	})
	var be *BastionError
	if err != nil && !errors.As(err, &be) {
		err = &BastionError{Addr: c.cfg.BastionAddr, Err: err}
	}
	return key, err
}

// fetchKey captures addr's host key over a connection from dial: with the
// algorithms of the keys known for addr first, then (when the host offers
// none of them, e.g. rebuilt with other key types) with trustAlgorithms.
func (c *Client) fetchKey(ctx context.Context, addr string, dial func(context.Context) (net.Conn, error)) (ssh.PublicKey, error) {
	tries := [][]string{trustAlgorithms}
	if known := c.knownAlgorithms(addr); known != nil {
		tries = [][]string{known, trustAlgorithms}
	}
	var last error
	for _, algos := range tries {
		conn, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		key, err := c.captureKey(ctx, conn, addr, algos)
		if err == nil {
			return key, nil
		}
		last = err
		if ctx.Err() != nil || errors.Is(err, ErrHandshakeTimeout) {
			break
		}
	}
	return nil, last
}

// captureKey runs the start of a handshake on conn until the server shows its
// key, bounded by ctx and DialTimeout: a server that accepts TCP and never
// speaks SSH fails with ErrHandshakeTimeout.
func (c *Client) captureKey(ctx context.Context, conn net.Conn, addr string, algos []string) (ssh.PublicKey, error) {
	defer conn.Close()
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.DialTimeout, errDialTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var key ssh.PublicKey
	_, _, _, err := ssh.NewClientConn(conn, addr, captureConfig(c.cfg.User, algos, &key))
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

// ReplaceKnownHost swaps the key of a host whose key changed on purpose (a
// rebuilt node): old are the entries that named it with its previous key
// (ChangedHostKeyError.Want), key the key it presents now. The first old
// entry keeps its host patterns (every name it listed meant the same
// machine) and gets key; the other old entries, which held more of the old
// machine's keys, are removed, so no stale key of the host is left to be
// offered. Everything else in file is kept byte for byte, and the file is
// replaced atomically with its mode kept.
//
// It refuses, changing nothing, when an entry is no longer what old says
// (the file changed since the check) or when an entry's patterns could name
// other hosts (a wildcard or a negation): such a line is the operator's to
// edit.
func ReplaceKnownHost(file string, old []knownhosts.KnownKey, key ssh.PublicKey) error {
	if len(old) == 0 {
		return fmt.Errorf("replace in known_hosts %s: no old entry to replace", file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read known_hosts %s: %w", file, err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	drop := map[int]bool{}
	first := -1
	for i, w := range old {
		if w.Filename != file {
			return fmt.Errorf("replace in known_hosts %s: the old key is in %s, not in this file", file, w.Filename)
		}
		n := w.Line - 1
		if n < 0 || n >= len(lines) {
			return fmt.Errorf("known_hosts %s changed since it was read (line %d is gone): run the command again", file, w.Line)
		}
		marker, hosts, k, _, _, err := ssh.ParseKnownHosts([]byte(lines[n]))
		if err != nil || marker != "" || k == nil || !bytesEqual(k.Marshal(), w.Key.Marshal()) {
			return fmt.Errorf("known_hosts %s changed since it was read (line %d no longer holds the old %s key): run the command again", file, w.Line, w.Key.Type())
		}
		for _, p := range hosts {
			if strings.ContainsAny(p, "*?") || strings.HasPrefix(p, "!") {
				return fmt.Errorf("%s:%d names hosts by the pattern %q, which may cover other hosts: edit that line yourself", file, w.Line, p)
			}
		}
		if i == 0 {
			first = n
			lines[n] = strings.Join(hosts, ",") + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + "\n"
			continue
		}
		if n != first {
			drop[n] = true
		}
	}
	var out strings.Builder
	for i, l := range lines {
		if !drop[i] {
			out.WriteString(l)
		}
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(file); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".known_hosts-*")
	if err != nil {
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(out.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	return nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
