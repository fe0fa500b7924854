package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// DefaultDomain is scalar-terraform's default internal_domain.
const DefaultDomain = "internal.scalar-labs.com"

// User is the account clients log in as on every lab host. The lab logs in as
// root rather than creating a Unix user (real deployments use "centos"): it
// needs no change to /etc/passwd, and each host still gets its own home
// directory because DIR/hosts/<name>/home is bind-mounted over /root.
const User = "root"

// StateFile is the file in the lab directory that records what the lab
// created (namespaces, routes, PIDs), so `scalar-tui lab down` and Load can
// find and remove it.
const StateFile = "lab.json"

// registryDir holds one state file per live lab (by prefix) and the lock used
// to choose a free network. It is outside the lab directory so a crashed lab
// can be found and cleaned even when its directory is gone.
var registryDir = "/run/scalar-tui-lab"

// Config describes a lab to start.
type Config struct {
	// Prefix names everything the lab creates in the root namespace
	// (namespaces "<prefix>-cassandra-1", the bastion link "<prefix>r"): 1-8 of [a-z0-9].
	// A previous lab with the same prefix is removed first. Default: "lab" and
	// 4 random hex digits.
	Prefix string
	// Dir is where keys, configs, logs, the Terraform state and the state file
	// go. It is created if needed. Default: a new directory under os.TempDir().
	Dir string
	// Hosts are the private hosts; the bastion (bastion-1) always exists.
	// Default: DefaultHosts().
	Hosts []HostSpec
	// Domain is the private zone. Default: DefaultDomain.
	Domain string
	// Network is the lab's /16, e.g. "10.231.0.0/16". Default: the first
	// 10.N.0.0/16, N in 231..250, that no other lab and no route uses.
	Network string
	// NetworkName is the deployment name written to the Terraform state.
	// Default: "lab-<prefix>".
	NetworkName string
	// Ephemeral marks a lab owned by this process (tests): if the process dies
	// without Stop, the next lab started on this machine removes it.
	Ephemeral bool
	// Parallel bounds how many hosts are set up at once. Default 8.
	Parallel int
	// SessionEnv adds NAME=VALUE pairs to every host's SSH sessions (sshd
	// SetEnv), e.g. "SCALAR_SIM_STATE=/path" for the simulator. Values must not
	// contain double quotes.
	SessionEnv []string
}

// Host is one machine of the lab.
type Host struct {
	// Name is the FQDN, e.g. "cassandra-1.internal.scalar-labs.com".
	Name string `json:"name"`
	// Short is the record name and the host's hostname, e.g. "cassandra-1".
	Short string `json:"short"`
	Role  string `json:"role"`
	Index int    `json:"index"`
	// IP is the host's private address.
	IP string `json:"ip"`
	// Namespace is the network namespace (`ip netns exec <Namespace> ...`).
	Namespace string `json:"namespace"`
	// Dir is the host's directory in the lab dir: sshd_config, host key, logs.
	Dir string `json:"dir"`
	// BinDir comes first in the PATH of the host's SSH sessions.
	BinDir string `json:"bin_dir"`
	// HomeDir is mounted over /root for the host's sessions and processes.
	HomeDir string `json:"home_dir"`

	uts string // persistent UTS namespace file
}

// proc is a process the lab started and must kill.
type proc struct {
	Host  string   `json:"host"`
	PID   int      `json:"pid"`
	Start uint64   `json:"start"` // /proc/PID/stat starttime: guards against PID reuse
	Argv  []string `json:"argv"`
	SSHD  bool     `json:"sshd,omitempty"`
}

// state is everything needed to tear a lab down; it is the JSON of StateFile.
type state struct {
	Prefix      string   `json:"prefix"`
	Dir         string   `json:"dir"`
	Domain      string   `json:"domain"`
	Network     string   `json:"network"`
	NetworkName string   `json:"network_name"`
	OwnerPID    int      `json:"owner_pid"`
	OwnerStart  uint64   `json:"owner_start"`
	Ephemeral   bool     `json:"ephemeral"`
	Forwarding  bool     `json:"bastion_forwarding"`
	SessionEnv  []string `json:"session_env,omitempty"`
	Routes      []string `json:"routes"`
	Namespaces  []string `json:"namespaces"`
	EtcNetns    []string `json:"etc_netns"`
	UTSFiles    []string `json:"uts_files"`
	Bastion     Host     `json:"bastion"`
	Hosts       []Host   `json:"hosts"`
	Procs       []proc   `json:"procs"`
	TFRoot      string   `json:"tf_root,omitempty"`
	// ImageTags are the Scalar DL image tags the Terraform state records, by
	// role (SetImageTag); a role not listed records tfgen's default.
	ImageTags map[string]string `json:"image_tags,omitempty"`
}

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	// Dir is the lab directory.
	Dir string
	// TFRoot (DIR/tf) holds network/, cassandra/, scalardl/ and monitor/ with a
	// terraform.tfstate each, shaped like a scalar-terraform AWS deployment
	// (user_name root, private_key_path KeyPath, bastion_ip the bastion's IP).
	TFRoot string
	// KnownHosts is an OpenSSH known_hosts file with the bastion (by IP) and
	// every host (by FQDN, short name and IP).
	KnownHosts string
	// KeyPath is the client's unencrypted ed25519 private key; KeyPath+".pub"
	// is authorized on every host.
	KeyPath string
	// SSHConfig is an OpenSSH client config: `ssh -F SSHConfig cassandra-1.<domain>`.
	SSHConfig string
	// User is the login user (always User).
	User string
	// BastionAddr is the bastion's host:port, reachable from the root namespace.
	BastionAddr string
	// Domain is the private zone.
	Domain string
	// Network is the lab's /16.
	Network string
	// Bastion is the bastion host (bastion-1).
	Bastion Host
	// Hosts are the private hosts, in role order.
	Hosts []Host

	mu sync.Mutex
	st state
}

var prefixRE = regexp.MustCompile(`^[a-z0-9]{1,8}$`)

// Validate checks what can be checked in cfg without touching the system
// (prefix, network, host set, directory), so that callers can tell bad input
// from a failed start. Start checks the same.
func (cfg Config) Validate() error {
	if cfg.Prefix != "" && !prefixRE.MatchString(cfg.Prefix) {
		return fmt.Errorf("lab: prefix %q: want 1-8 characters of [a-z0-9]", cfg.Prefix)
	}
	if cfg.Network != "" {
		_, ipn, err := net.ParseCIDR(cfg.Network)
		if err != nil || ipn.IP.To4() == nil {
			return fmt.Errorf("lab: network %q: want an IPv4 /16 such as 10.231.0.0/16", cfg.Network)
		}
		if ones, _ := ipn.Mask.Size(); ones != 16 {
			return fmt.Errorf("lab: network %q: want a /16", cfg.Network)
		}
	}
	if len(cfg.Hosts) > 0 {
		if _, err := parseItemsFromSpecs(cfg.Hosts); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	for _, kv := range cfg.SessionEnv {
		if err := checkEnv(kv); err != nil {
			return err
		}
	}
	if cfg.Dir != "" {
		dir, err := filepath.Abs(cfg.Dir)
		if err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		if dir == "/root" || strings.HasPrefix(dir, "/root/") {
			return fmt.Errorf("lab: directory %s is under /root, which every lab host's home is mounted over (sshd could not read its config there): pick a directory elsewhere, e.g. under /var/tmp", dir)
		}
		if strings.ContainsAny(dir, " \t\n\"'\\") {
			return fmt.Errorf("lab: directory %q: must not contain spaces, quotes or backslashes (it goes into sshd_config)", dir)
		}
	}
	return nil
}

// Start creates and starts a lab. On error everything created so far is
// removed. Requires root.
func Start(ctx context.Context, cfg Config) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: must run as root (it creates network namespaces and runs sshd)")
	}
	if err := checkTools(); err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		cfg.Prefix = "lab" + hex.EncodeToString(b)
	}
	if !prefixRE.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("lab: prefix %q: want 1-8 characters of [a-z0-9]", cfg.Prefix)
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if cfg.NetworkName == "" {
		cfg.NetworkName = "lab-" + cfg.Prefix
	}
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = DefaultHosts()
	}
	hosts, err := parseItemsFromSpecs(cfg.Hosts)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	for _, kv := range cfg.SessionEnv {
		if err := checkEnv(kv); err != nil {
			return nil, err
		}
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "scalar-tui-lab-")
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		cfg.Dir = d
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if dir == "/root" || strings.HasPrefix(dir, "/root/") {
		return nil, fmt.Errorf("lab: directory %s is under /root, which every lab host's home is mounted over (sshd could not read its config there): pick a directory elsewhere, e.g. under /var/tmp", dir)
	}
	if strings.ContainsAny(dir, " \t\n\"'\\") {
		return nil, fmt.Errorf("lab: directory %q: must not contain spaces, quotes or backslashes (it goes into sshd_config)", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	// sshd's privilege separation directory; no init system made it here.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
		if old, err := Load(dir); err == nil {
			if err := old.Stop(); err != nil {
				return nil, fmt.Errorf("lab: remove the previous lab in %s: %w", dir, err)
			}
		}
	}

	l := &Lab{Dir: dir, User: User, Domain: cfg.Domain}
	l.st = state{
		Prefix: cfg.Prefix, Dir: dir, Domain: cfg.Domain, NetworkName: cfg.NetworkName,
		OwnerPID: os.Getpid(), OwnerStart: procStart(os.Getpid()), Ephemeral: cfg.Ephemeral,
		Forwarding: true, SessionEnv: cfg.SessionEnv,
	}
	ok := false
	defer func() {
		if !ok {
			_ = l.Stop()
		}
	}()
	if err := l.reserve(cfg.Network); err != nil {
		return nil, err
	}
	if err := l.layout(hosts); err != nil {
		return nil, err
	}
	if err := l.writeFiles(); err != nil {
		return nil, err
	}
	if err := l.createNetwork(ctx, cfg.Parallel); err != nil {
		return nil, err
	}
	if err := l.startAllSSHD(ctx, cfg.Parallel); err != nil {
		return nil, err
	}
	if err := waitBanner(ctx, l.BastionAddr, 5*time.Second); err != nil {
		return nil, fmt.Errorf("lab: bastion %s: %w", l.BastionAddr, err)
	}
	if err := l.writeTerraform(); err != nil {
		return nil, err
	}
	if err := l.save(); err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

func parseItemsFromSpecs(hs []HostSpec) ([]HostSpec, error) {
	items := make([]string, 0, len(hs))
	for _, h := range hs {
		items = append(items, h.Short())
	}
	return parseItems(items)
}

// reserve picks the network under the registry lock, removes leftovers of
// the same prefix (and of dead ephemeral labs), records the lab in the
// registry and adds the unreachable routes before anything can connect.
func (l *Lab) reserve(network string) error {
	if err := os.MkdirAll(registryDir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	unlock, err := lockRegistry()
	if err != nil {
		return err
	}
	defer unlock()
	if err := cleanLeftovers(l.st.Prefix); err != nil {
		return fmt.Errorf("lab: remove leftovers of prefix %s: %w", l.st.Prefix, err)
	}
	if network == "" {
		network, err = freeNetwork()
		if err != nil {
			return err
		}
	}
	_, ipn, err := net.ParseCIDR(network)
	if err != nil || ipn.IP.To4() == nil {
		return fmt.Errorf("lab: network %q: want an IPv4 /16 such as 10.231.0.0/16", network)
	}
	if ones, _ := ipn.Mask.Size(); ones != 16 {
		return fmt.Errorf("lab: network %q: want a /16", network)
	}
	if inUse, err := networkInUse(ipn); err != nil {
		return err
	} else if inUse != "" {
		return fmt.Errorf("lab: network %s overlaps %s: pick another Network", ipn, inUse)
	}
	l.st.Network = ipn.String()
	l.Network = l.st.Network
	// The /16 route goes in first: from here on nothing in the lab's network is
	// reachable from the root namespace except what the lab connects itself.
	r := "unreachable " + l.st.Network
	l.st.Routes = append(l.st.Routes, r)
	if err := l.saveRegistry(); err != nil {
		return err
	}
	if _, err := run(context.Background(), "ip", append([]string{"route", "add"}, strings.Fields(r)...)...); err != nil {
		return fmt.Errorf("lab: add route %s: %w", r, err)
	}
	return nil
}

// subnetAddr returns 10.N.<subnet>.<host> for the lab network.
func (l *Lab) subnetAddr(subnet, host int) string {
	ip := net.ParseIP(strings.Split(l.st.Network, "/")[0]).To4()
	return fmt.Sprintf("%d.%d.%d.%d", ip[0], ip[1], subnet, host)
}

// layout assigns names, addresses and directories.
func (l *Lab) layout(specs []HostSpec) error {
	mk := func(role string, index int, ip string) Host {
		short := fmt.Sprintf("%s-%d", role, index)
		hd := filepath.Join(l.Dir, "hosts", short)
		return Host{
			Name: short + "." + l.Domain, Short: short, Role: role, Index: index, IP: ip,
			Namespace: l.st.Prefix + "-" + short, Dir: hd,
			BinDir: filepath.Join(hd, "bin"), HomeDir: filepath.Join(hd, "home"),
			uts: filepath.Join(registryDir, l.st.Prefix, "uts", short),
		}
	}
	l.Bastion = mk("bastion", 1, l.subnetAddr(0, 10))
	next := map[int]int{}
	for _, s := range specs {
		sub := roleSubnet[s.Role]
		n := next[sub]
		next[sub]++
		if n >= 240 {
			return fmt.Errorf("lab: more than 240 hosts in subnet %s", l.subnetAddr(sub, 0))
		}
		l.Hosts = append(l.Hosts, mk(s.Role, s.Index, l.subnetAddr(sub, 10+n)))
	}
	l.BastionAddr = net.JoinHostPort(l.Bastion.IP, "22")
	l.st.Bastion = l.Bastion
	l.st.Hosts = l.Hosts
	l.KnownHosts = filepath.Join(l.Dir, "known_hosts")
	l.KeyPath = filepath.Join(l.Dir, "id_ed25519")
	l.SSHConfig = filepath.Join(l.Dir, "ssh_config")
	for _, h := range l.all() {
		l.st.Namespaces = append(l.st.Namespaces, h.Namespace)
		l.st.EtcNetns = append(l.st.EtcNetns, filepath.Join("/etc/netns", h.Namespace))
		l.st.UTSFiles = append(l.st.UTSFiles, h.uts)
		for _, d := range []string{h.BinDir, h.HomeDir, filepath.Join(h.Dir, "logs")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("lab: %w", err)
			}
		}
	}
	return l.saveRegistry()
}

// all is the bastion followed by the hosts.
func (l *Lab) all() []*Host {
	out := []*Host{&l.Bastion}
	for i := range l.Hosts {
		out = append(out, &l.Hosts[i])
	}
	return out
}

// host finds a host (the bastion included) by FQDN, short name or IP.
func (l *Lab) host(name string) (*Host, error) {
	for _, h := range l.all() {
		if h.Name == name || h.Short == name || h.IP == name {
			return h, nil
		}
	}
	if name == "bastion" {
		return &l.Bastion, nil
	}
	return nil, fmt.Errorf("lab: no host %q", name)
}

// Host returns the host (the bastion included) named by FQDN, short name or IP.
func (l *Lab) Host(name string) (Host, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.host(name)
	if err != nil {
		return Host{}, false
	}
	return *h, true
}

// save writes the state file in the lab dir and the registry.
func (l *Lab) save() error {
	b, err := json.MarshalIndent(l.st, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(l.Dir, StateFile), b, 0o644); err != nil {
		return fmt.Errorf("lab: write state: %w", err)
	}
	return l.saveRegistry()
}

func (l *Lab) saveRegistry() error {
	b, err := json.MarshalIndent(l.st, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(registryDir, l.st.Prefix+".json"), b, 0o644); err != nil {
		return fmt.Errorf("lab: write registry: %w", err)
	}
	return nil
}

// Load returns the lab recorded in dir's state file, for Stop and the other
// methods from another process (`scalar-tui lab down`).
func Load(dir string) (*Lab, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("lab: no lab in %s (no %s; was it started with `scalar-tui lab up --dir %s`?)", dir, StateFile, dir)
		}
		return nil, fmt.Errorf("lab: %w", err)
	}
	return fromStateJSON(b)
}

func fromStateJSON(b []byte) (*Lab, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("lab: state file is not valid JSON: %w", err)
	}
	l := &Lab{
		Dir: st.Dir, TFRoot: st.TFRoot, User: User, Domain: st.Domain, Network: st.Network,
		KnownHosts: filepath.Join(st.Dir, "known_hosts"), KeyPath: filepath.Join(st.Dir, "id_ed25519"),
		SSHConfig: filepath.Join(st.Dir, "ssh_config"),
		Bastion:   st.Bastion, Hosts: st.Hosts, st: st,
	}
	fix := func(h *Host) { h.uts = filepath.Join(registryDir, st.Prefix, "uts", h.Short) }
	fix(&l.Bastion)
	for i := range l.Hosts {
		fix(&l.Hosts[i])
	}
	l.st.Bastion, l.st.Hosts = l.Bastion, l.Hosts
	if l.Bastion.IP != "" {
		l.BastionAddr = net.JoinHostPort(l.Bastion.IP, "22")
	}
	return l, nil
}

// Prefix is the lab's name prefix.
func (l *Lab) Prefix() string { return l.st.Prefix }

// Stop kills every process the lab started (sshd daemons, their sessions,
// StartProcess processes, anything else in the lab's namespaces), deletes the
// namespaces, the routes and the registry entry. The lab directory is kept,
// without its state file. Stop may be called more than once.
func (l *Lab) Stop() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := teardown(&l.st)
	if l.st.Dir != "" {
		if rerr := os.Remove(filepath.Join(l.st.Dir, StateFile)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// PIDs returns the PIDs of the lab's live tracked processes (sshd daemons and
// StartProcess processes).
func (l *Lab) PIDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, p := range l.st.Procs {
		if alive(p) {
			out = append(out, p.PID)
		}
	}
	return out
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func checkEnv(kv string) error {
	if !envNameRE.MatchString(kv) || strings.ContainsAny(kv, "\"\n") {
		return fmt.Errorf("lab: session env %q: want NAME=VALUE without double quotes or newlines", kv)
	}
	return nil
}
