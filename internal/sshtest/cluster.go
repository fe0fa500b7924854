package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ClientKey is a user key pair for tests: the signer, and the private key in
// OpenSSH PEM form for writing to an identity file.
type ClientKey struct {
	Signer ssh.Signer
	PEM    []byte
	// Private is the raw key, for adding to an in-process ssh-agent.
	Private ed25519.PrivateKey
}

// NewClientKey generates an ed25519 client key. A non-empty passphrase
// encrypts the PEM.
func NewClientKey(passphrase string) (*ClientKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshtest: generate client key: %w", err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "sshtest")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "sshtest", []byte(passphrase))
	}
	if err != nil {
		return nil, fmt.Errorf("sshtest: marshal client key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("sshtest: client signer: %w", err)
	}
	return &ClientKey{Signer: signer, PEM: pem.EncodeToMemory(block), Private: priv}, nil
}

// Cluster is a bastion and named hosts behind it, all accepting one user and
// one client key: the in-process twin of a scalar-terraform deployment.
type Cluster struct {
	User    string
	Key     *ClientKey
	Bastion *Bastion
	Hosts   map[string]*Host
	// Shells are the RealShells of hosts started with RealShell (by name;
	// "" for the bastion).
	Shells map[string]*RealShell
}

// ClusterOptions configures NewCluster.
type ClusterOptions struct {
	// User is the accepted user name (default "centos").
	User string
	// Hosts are the host names to create behind the bastion.
	Hosts []string
	// Exec serves exec requests on every host and the bastion, unless
	// RealShellDir is set.
	Exec Handler
	// Shell serves interactive shells on every host.
	Shell Handler
	// RealShellDir, when set, runs every exec request with a real /bin/sh;
	// each host gets HOME=RealShellDir/<name> ("bastion" for the bastion).
	RealShellDir string
}

// NewCluster starts a bastion and its hosts. Call Close when done.
func NewCluster(o ClusterOptions) (*Cluster, error) {
	if o.User == "" {
		o.User = "centos"
	}
	key, err := NewClientKey("")
	if err != nil {
		return nil, err
	}
	c := &Cluster{User: o.User, Key: key, Hosts: map[string]*Host{}, Shells: map[string]*RealShell{}}
	cfgFor := func(name string) (Config, error) {
		cfg := Config{User: o.User, AuthorizedKeys: []ssh.PublicKey{key.Signer.PublicKey()}, Exec: o.Exec, Shell: o.Shell}
		if o.RealShellDir != "" {
			home := filepath.Join(o.RealShellDir, name)
			if err := os.MkdirAll(home, 0o755); err != nil {
				return cfg, fmt.Errorf("sshtest: %w", err)
			}
			cfg.RealShell = NewRealShell(home)
			key := name
			if name == "bastion" {
				key = ""
			}
			c.Shells[key] = cfg.RealShell
		}
		return cfg, nil
	}
	bcfg, err := cfgFor("bastion")
	if err != nil {
		return nil, err
	}
	if c.Bastion, err = NewBastion(bcfg); err != nil {
		return nil, err
	}
	for _, name := range o.Hosts {
		hcfg, err := cfgFor(name)
		if err != nil {
			c.Close()
			return nil, err
		}
		h, err := NewHost(name, hcfg)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Hosts[name] = h
		c.Bastion.AddHost(h)
	}
	return c, nil
}

// KnownHostsLines returns known_hosts lines for the bastion and every host.
func (c *Cluster) KnownHostsLines() []string {
	lines := []string{knownhosts.Line([]string{knownhosts.Normalize(c.Bastion.Addr)}, c.Bastion.HostKey())}
	for name, h := range c.Hosts {
		lines = append(lines, knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort(name, "22"))}, h.HostKey()))
	}
	return lines
}

// WriteClientFiles writes dir/known_hosts (trusting the bastion and every
// host) and dir/id_ed25519 (the client key), and returns their paths.
func (c *Cluster) WriteClientFiles(dir string) (knownHosts, identity string, err error) {
	knownHosts = filepath.Join(dir, "known_hosts")
	identity = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(knownHosts, []byte(strings.Join(c.KnownHostsLines(), "\n")+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("sshtest: write known_hosts: %w", err)
	}
	if err := os.WriteFile(identity, c.Key.PEM, 0o600); err != nil {
		return "", "", fmt.Errorf("sshtest: write identity: %w", err)
	}
	return knownHosts, identity, nil
}

// Close stops the bastion and every host and kills the commands their real
// shells still run.
func (c *Cluster) Close() error {
	var errs []error
	if c.Bastion != nil {
		errs = append(errs, c.Bastion.Close())
	}
	for _, h := range c.Hosts {
		errs = append(errs, h.Close())
	}
	for _, r := range c.Shells {
		r.Close()
	}
	return errors.Join(errs...)
}
