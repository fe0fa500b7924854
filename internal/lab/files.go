package lab

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// genKey writes an unencrypted OpenSSH ed25519 private key to path (0600) and
// its public key to path+".pub", and returns the authorized_keys line.
func genKey(path, comment string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	blk, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		return "", err
	}
	spub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spub))) + " " + comment
	if err := os.WriteFile(path+".pub", []byte(line+"\n"), 0o644); err != nil {
		return "", err
	}
	return line, nil
}

func (h *Host) keyPath() string { return filepath.Join(h.Dir, "ssh_host_ed25519_key") }

// ecdsaKeyPath is the host's second host key, which AddECDSAHostKey creates.
func (h *Host) ecdsaKeyPath() string { return filepath.Join(h.Dir, "ssh_host_ecdsa_key") }

// hostPub is the host's public key as "ssh-ed25519 AAAA...".
func (h *Host) hostPub() (string, error) {
	b, err := os.ReadFile(h.keyPath() + ".pub")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return "", fmt.Errorf("%s.pub: not a public key", h.keyPath())
	}
	return f[0] + " " + f[1], nil
}

// writeFiles writes the client key, host keys, sshd configs, hosts files,
// known_hosts and ssh_config.
func (l *Lab) writeFiles() error {
	line, err := genKey(l.KeyPath, "scalar-tui-lab-"+l.st.Prefix)
	if err != nil {
		return fmt.Errorf("lab: client key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "authorized_keys"), []byte(line+"\n"), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	hosts := l.etcHosts()
	for _, h := range l.all() {
		if _, err := genKey(h.keyPath(), "root@"+h.Short); err != nil {
			return fmt.Errorf("lab: host key for %s: %w", h.Short, err)
		}
		if err := l.writeSSHDConfig(h); err != nil {
			return err
		}
		etc := filepath.Join("/etc/netns", h.Namespace)
		if err := os.MkdirAll(etc, 0o755); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		if err := os.WriteFile(filepath.Join(etc, "hosts"), hosts, 0o644); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		// Nothing in the lab has DNS: "nameserver 127.0.0.1" makes a lookup of
		// an unknown name fail at once instead of timing out.
		if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "etc_hosts"), hosts, 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := l.writeKnownHosts(); err != nil {
		return err
	}
	return l.writeClientConfig()
}

// sshdConfig renders the sshd_config of h.
func (l *Lab) sshdConfig(h *Host) string {
	fwd := "no"
	if h == &l.Bastion && l.st.Forwarding {
		fwd = "yes"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# scalar-tui lab %s: %s\n", l.st.Prefix, h.Name)
	fmt.Fprintf(&b, "Port 22\nListenAddress %s\n", h.IP)
	fmt.Fprintf(&b, "HostKey %s\nPidFile %s\n", h.keyPath(), filepath.Join(h.Dir, "sshd.pid"))
	if _, err := os.Stat(h.ecdsaKeyPath()); err == nil {
		fmt.Fprintf(&b, "HostKey %s\n", h.ecdsaKeyPath())
	}
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", filepath.Join(l.Dir, "authorized_keys"))
	b.WriteString("PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n")
	b.WriteString("PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n")
	// StrictModes yes refuses keys under a world-writable /tmp.
	b.WriteString("StrictModes no\nPrintMotd no\nPrintLastLog no\nUseDNS no\nLogLevel VERBOSE\n")
	fmt.Fprintf(&b, "AllowTcpForwarding %s\nAllowAgentForwarding no\nX11Forwarding no\n", fwd)
	// A fan-out opens one connection per host through the bastion at once, and
	// one client may multiplex many sessions: raise the defaults (10:30:100, 10).
	b.WriteString("MaxStartups 400\nMaxSessions 100\n")
	// SetEnv overrides the default PATH sshd gives sessions (OpenSSH >= 8.7).
	b.WriteString("SetEnv")
	for _, kv := range l.sessionEnv(h) {
		fmt.Fprintf(&b, " \"%s\"", kv)
	}
	b.WriteString("\n")
	b.WriteString("Subsystem sftp internal-sftp\n")
	return b.String()
}

func (l *Lab) writeSSHDConfig(h *Host) error {
	if err := os.WriteFile(filepath.Join(h.Dir, "sshd_config"), []byte(l.sshdConfig(h)), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// etcHosts is the private zone as an /etc/hosts file.
func (l *Lab) etcHosts() []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	fmt.Fprintf(&b, "# scalar-tui lab %s: the private zone %s\n", l.st.Prefix, l.Domain)
	line := func(ip string, names ...string) {
		var full []string
		for _, n := range names {
			full = append(full, n+"."+l.Domain)
		}
		fmt.Fprintf(&b, "%s\t%s %s\n", ip, strings.Join(full, " "), strings.Join(names, " "))
	}
	line(l.Bastion.IP, l.Bastion.Short, "bastion")
	monitorDone := false
	for _, h := range l.Hosts {
		names := []string{h.Short}
		if h.Role == "monitor" && !monitorDone {
			names = append(names, "monitor")
			monitorDone = true
		}
		line(h.IP, names...)
	}
	// Multi-address records (glibc returns every line with "multi on").
	for _, h := range l.Hosts {
		switch h.Role {
		case "cassandra":
			line(h.IP, "cassandra-lb")
		case "scalardl-blue":
			line(h.IP, "scalardl")
		}
	}
	return b.Bytes()
}

// knownHostsLines renders known_hosts: the bastion by IP (port 22 needs no
// brackets) and every host by FQDN, short name and IP.
func (l *Lab) knownHostsLines() ([]string, error) {
	var out []string
	monitorDone := false
	for _, h := range l.all() {
		pub, err := h.hostPub()
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		names := []string{h.Name, h.Short}
		// The "monitor" record points at the first monitor (active_offset 0).
		if h.Role == "monitor" && !monitorDone {
			names = append(names, "monitor."+l.Domain, "monitor")
			monitorDone = true
		}
		names = append(names, h.IP)
		out = append(out, strings.Join(names, ",")+" "+pub)
	}
	return out, nil
}

func (l *Lab) writeKnownHosts() error {
	lines, err := l.knownHostsLines()
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.KnownHosts, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// writeClientConfig writes the OpenSSH client config. OpenSSH's -J with only
// -o options fails on the jump hop, so the bastion's options live here.
func (l *Lab) writeClientConfig() error {
	common := fmt.Sprintf("  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n",
		User, l.KeyPath, l.KnownHosts)
	var b strings.Builder
	fmt.Fprintf(&b, "# scalar-tui lab %s. Use: ssh -F %s cassandra-1.%s hostname\n", l.st.Prefix, l.SSHConfig, l.Domain)
	fmt.Fprintf(&b, "Host bastion bastion-1 bastion-1.%s %s\n  HostName %s\n  Port 22\n  ProxyJump none\n%s\n", l.Domain, l.Bastion.IP, l.Bastion.IP, common)
	fmt.Fprintf(&b, "Host *.%s\n  ProxyJump bastion\n%s", l.Domain, common)
	if err := os.WriteFile(l.SSHConfig, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}
