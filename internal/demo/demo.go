package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"scalar-tui/internal/sim"
	"scalar-tui/internal/sshtest"
	"scalar-tui/internal/tfgen"
)

// User is the SSH user of every demo host, as on scalar-terraform (centos).
const User = "centos"

// Domain is the demo's internal_domain.
const Domain = "internal.scalar-labs.com"

// EnvSimExec is set to "1" by the wrapper scripts in DIR/bin before they run
// `SimBinary sim exec TOOL ...`. Test binaries used as SimBinary check it in
// TestMain to dispatch to the simulator (see RunSimExec).
const EnvSimExec = "SCALAR_DEMO_SIM_EXEC"

// Options configures Start. Zero values take the defaults.
type Options struct {
	// Dir holds the generated files. Empty: a new temporary directory, which
	// Close removes unless Keep is set. A given Dir is never removed, and a
	// demo started again on it continues where the last one stopped: the
	// simulated cluster's state is kept and the bastion listens on the same
	// port when it is free (so the deployment, its journal and its runs are
	// the same ones, and resume works after a restart).
	Dir string
	// Keep leaves a temporary Dir in place after Close (for inspection).
	Keep bool
	// Blue, Green, Cassandra and Envoy are the host counts of those roles
	// (defaults 3, 0, 3, 3; at most 200 each). A deployment also always has
	// one bastion, cassy, reaper and monitor. Blue, Cassandra and Envoy of 0
	// mean the default, so each role has at least one host.
	Blue, Green, Cassandra, Envoy int
	// Fault, when set, is injected at start: "HOST:KIND[:PARAM]" with HOST a
	// short name, FQDN or "*" and KIND one of sim.FaultKinds, e.g.
	// "cassandra-2:cassandra-stopped" or "scalardl-blue-1:bad-tag:2.2.0".
	Fault string
	// SimBinary is the program the wrapper scripts in DIR/bin run as
	// `SimBinary sim exec TOOL ARGS...`; default os.Executable().
	SimBinary string
	// Config changes the simulator's knobs after the demo defaults (repairs
	// of 4s per command, SERVING 3s after a container is recreated,
	// Cassandra UN 3s after `systemctl start`). Optional.
	Config func(*sim.Config)
	// Images are extra images ("name:tag") already loaded on every Scalar DL
	// host, as if the operator had distributed their tarballs, so that an
	// upgrade to those tags can run on the demo without --image-tarball.
	Images []string
	// Prom tunes the monitor's Prometheus (scrape and rule intervals, the
	// rules' `for:`); Prom.Disabled leaves the monitor without one.
	Prom PromOptions
}

// Host is one simulated machine of the demo.
type Host struct {
	// Name is the FQDN, e.g. "cassandra-1.internal.scalar-labs.com".
	Name string
	// Short is the OS hostname, e.g. "cassandra-1".
	Short string
	// Role is the scalar-terraform role (sim.Role* / inventory roles).
	Role string
	// IP is the private IP in the model; it is never dialled.
	IP string
	// Home is the host's HOME directory.
	Home string
}

// Demo is a running simulated deployment. Close it when done.
//
// Caveats: the bastion listens on 127.0.0.1 only; commands run with the
// privileges of the current user (sudo is accepted and ignored); the
// node-down fault removes a host from the bastion within about half a second
// of being injected.
type Demo struct {
	// Dir is the directory holding everything below.
	Dir string
	// TFRoot holds the Terraform roots (pass as --tf-root). It is Dir.
	TFRoot string
	// KnownHosts is the known_hosts file trusting the bastion and every host.
	KnownHosts string
	// Identity is the client's private key (pass as --identity).
	Identity string
	// SimState is the simulator's state directory (SCALAR_SIM_STATE).
	SimState string
	// BastionAddr is the bastion's 127.0.0.1:port.
	BastionAddr string
	// Hosts are the machines, in sim order (sorted by name); the bastion included.
	Hosts []Host
	// Started is how long Start took.
	Started time.Duration

	ownDir    bool
	keep      bool
	bastion   *sshtest.Bastion
	servers   map[string]*sshtest.Host // by FQDN
	shells    map[string]*hostShell    // by FQDN
	procs     *procTable
	prom      *demoProm
	am        *demoAlertmanager
	promStart chan struct{} // closed when the first scrape may start
	devnull   *os.File
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu        sync.Mutex
	targets   map[string][]target // FQDN -> what the bastion forwards for it
	down      map[string]bool
	closeOnce sync.Once
	closeErr  error
}

// target is one address the bastion forwards and its handler.
type target struct {
	addr string
	fn   func(net.Conn)
}

// Start builds and starts a demo deployment. It returns once every host is
// reachable through the bastion. ctx bounds the start only; the servers run
// until Close.
func Start(ctx context.Context, o Options) (d *Demo, err error) {
	begin := time.Now()
	specs, err := layout(o)
	if err != nil {
		return nil, err
	}
	if o.SimBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("demo: find the scalar-tui binary for the simulated tools (set SimBinary): %w", err)
		}
		o.SimBinary = exe
	}
	d = &Demo{Dir: o.Dir, keep: o.Keep, servers: map[string]*sshtest.Host{}, shells: map[string]*hostShell{},
		targets: map[string][]target{}, down: map[string]bool{}, promStart: make(chan struct{})}
	if d.Dir == "" {
		if d.Dir, err = os.MkdirTemp("", "scalar-tui-demo-"); err != nil {
			return nil, fmt.Errorf("demo: create a temporary directory: %w", err)
		}
		d.ownDir = true
	} else if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if d.Dir, err = filepath.Abs(d.Dir); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.TFRoot = d.Dir
	d.SimState = filepath.Join(d.Dir, "sim")
	d.procs = newProcTable(d.SimState)
	defer func() {
		if err != nil {
			d.Close()
			d = nil
		}
	}()
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}

	// The model first: every host's tools read it.
	cfg := sim.DefaultConfig()
	cfg.RepairDuration = sim.Duration(4 * time.Second)
	cfg.ServingDelay = sim.Duration(3 * time.Second)
	cfg.CassandraStartDelay = sim.Duration(3 * time.Second)
	if o.Config != nil {
		o.Config(&cfg)
	}
	reused := false
	if !d.ownDir {
		if st, err := sim.Load(d.SimState); err == nil && len(st.Hosts) == len(specs) {
			reused = true
		}
	}
	if !reused {
		if err := sim.InitWithConfig(d.SimState, specs, cfg); err != nil {
			return d, fmt.Errorf("demo: %w", err)
		}
	}
	if len(o.Images) > 0 && !reused {
		err := sim.Update(d.SimState, func(st *sim.State) error {
			for i := range st.Hosts {
				if strings.HasPrefix(st.Hosts[i].Role, "scalardl") {
					st.Hosts[i].Images = append(st.Hosts[i].Images, o.Images...)
				}
			}
			return nil
		})
		if err != nil {
			return d, fmt.Errorf("demo: load images: %w", err)
		}
	}
	if o.Fault != "" {
		host, kind, param, err := ParseFault(o.Fault)
		if err != nil {
			return d, err
		}
		if err := sim.InjectFault(d.SimState, host, kind, param); err != nil {
			return d, fmt.Errorf("demo: fault %q: %w", o.Fault, err)
		}
	}
	binDir := filepath.Join(d.Dir, "bin")
	if err := writeWrappers(binDir, o.SimBinary); err != nil {
		return d, err
	}

	key, err := sshtest.NewClientKey("")
	if err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	d.Identity = filepath.Join(d.Dir, "id_ed25519")
	if err := os.WriteFile(d.Identity, key.PEM, 0o600); err != nil {
		return d, fmt.Errorf("demo: write the client key: %w", err)
	}
	if err := os.WriteFile(d.Identity+".pub", ssh.MarshalAuthorizedKey(key.Signer.PublicKey()), 0o644); err != nil {
		return d, fmt.Errorf("demo: write the client key: %w", err)
	}
	authorized := []ssh.PublicKey{key.Signer.PublicKey()}

	for _, s := range specs {
		home := filepath.Join(d.Dir, "hosts", s.Short)
		if err := makeHome(home, s.Role); err != nil {
			return d, err
		}
		d.Hosts = append(d.Hosts, Host{Name: s.Name, Short: s.Short, Role: s.Role, IP: s.IP, Home: home})
		if s.Role == sim.RoleCassandra {
			// The node's data and commit log are real files in its home:
			// the node sees them as ~/data and ~/commitlog.
			if err := sim.SetDataRoot(d.SimState, s.Name, home); err != nil {
				return d, fmt.Errorf("demo: data directory of %s: %w", s.Short, err)
			}
		}
	}
	var bastionHost Host
	for _, h := range d.Hosts {
		if h.Role == sim.RoleBastion {
			bastionHost = h
		}
	}
	serveCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if d.devnull, err = os.Open(os.DevNull); err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	bsh := newHostShell(serveCtx, d.devnull, bastionHost, d.SimState, binDir, d.procs)
	d.shells[bastionHost.Name] = bsh
	bcfg := sshtest.Config{User: User, AuthorizedKeys: authorized, Exec: bsh.exec, Shell: bsh.interactive}
	addrFile := filepath.Join(d.Dir, "bastion.addr")
	if !d.ownDir {
		if b, err := os.ReadFile(addrFile); err == nil {
			bcfg.Listen = strings.TrimSpace(string(b))
		}
	}
	d.bastion, err = sshtest.NewBastion(bcfg)
	if err != nil && bcfg.Listen != "" {
		// The old port is taken: a new one (resume will see a changed
		// inventory and say so).
		bcfg.Listen = ""
		d.bastion, err = sshtest.NewBastion(bcfg)
	}
	if err != nil {
		return d, fmt.Errorf("demo: start the bastion: %w", err)
	}
	d.BastionAddr = d.bastion.Addr
	if err := os.WriteFile(addrFile, []byte(d.BastionAddr+"\n"), 0o600); err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	known := []string{knownhosts.Line([]string{knownhosts.Normalize(d.bastion.Addr)}, d.bastion.HostKey())}

	for _, h := range d.Hosts {
		if h.Role == sim.RoleBastion {
			d.addEndpoints(serveCtx, h, nil)
			continue
		}
		sh := newHostShell(serveCtx, d.devnull, h, d.SimState, binDir, d.procs)
		d.shells[h.Name] = sh
		srv, err := sshtest.NewHost(h.Name, sshtest.Config{User: User, AuthorizedKeys: authorized, Exec: sh.exec, Shell: sh.interactive})
		if err != nil {
			return d, fmt.Errorf("demo: start %s: %w", h.Short, err)
		}
		d.servers[h.Name] = srv
		known = append(known, knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort(h.Name, "22"))}, srv.HostKey()))
		d.addEndpoints(serveCtx, h, srv)
	}
	d.KnownHosts = filepath.Join(d.Dir, "known_hosts")
	if err := os.WriteFile(d.KnownHosts, []byte(strings.Join(known, "\n")+"\n"), 0o600); err != nil {
		return d, fmt.Errorf("demo: write known_hosts: %w", err)
	}
	if err := tfgen.Write(d.TFRoot, tfSpec(d, specs)); err != nil {
		return d, fmt.Errorf("demo: write the Terraform state: %w", err)
	}
	if err := d.startProm(serveCtx, o.Prom); err != nil {
		return d, err
	}
	if err := d.syncDown(); err != nil {
		return d, err
	}
	close(d.promStart) // after syncDown: a host down at start is never scraped as up
	d.wg.Add(1)
	go d.watchDown(serveCtx)
	if err := d.waitReachable(ctx, key.Signer); err != nil {
		return d, err
	}
	d.Started = time.Since(begin)
	return d, nil
}

// OptionDefaults are the workflow option defaults of the demo's layout, as
// a deployment's config gives them (`options:`): its Cassandra nodes keep
// their data and commit log as real files in their home directories, seen
// as ~/data and ~/commitlog, not at scalar-terraform's /data and
// /commitlog. The demo's console plans with them, so that a restore
// planned from `:backups` checks and moves the files that are there, and
// the free-disk runbook lists (and clears) the node's files, never this
// machine's /data.
func OptionDefaults() map[string]map[string]string {
	return map[string]map[string]string{
		"restore":   {"data-dir": "~/data", "commitlog-dir": "~/commitlog"},
		"free-disk": {"data-dir": "~/data"},
	}
}

// ParseFault splits "HOST:KIND[:PARAM]" and checks KIND.
func ParseFault(s string) (host, kind, param string, err error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("demo: fault %q: want HOST:KIND[:PARAM], e.g. cassandra-2:cassandra-stopped (kinds: %s)", s, strings.Join(sim.FaultKinds, ", "))
	}
	for _, k := range sim.FaultKinds {
		if k == parts[1] {
			if len(parts) == 3 {
				param = parts[2]
			}
			return parts[0], parts[1], param, nil
		}
	}
	return "", "", "", fmt.Errorf("demo: fault %q: unknown kind %q (kinds: %s)", s, parts[1], strings.Join(sim.FaultKinds, ", "))
}

// CheckFault checks o.Fault against the hosts the demo of o would have, so
// that a fault naming a host that does not exist is bad input, found before
// anything starts.
func CheckFault(o Options) error {
	if o.Fault == "" {
		return nil
	}
	host, kind, param, err := ParseFault(o.Fault)
	if err != nil {
		return err
	}
	if kind == sim.FaultBadTag && param == "" {
		return fmt.Errorf("demo: fault %q: bad-tag needs the image tag, e.g. scalardl-blue-1:bad-tag:2.2.0", o.Fault)
	}
	hs, err := layout(o)
	if err != nil {
		return err
	}
	if host == "*" || host == "all" {
		return nil
	}
	names := make([]string, 0, len(hs))
	for _, h := range hs {
		if host == h.Short || host == h.Name || host == h.IP {
			return nil
		}
		names = append(names, h.Short)
	}
	return fmt.Errorf("demo: fault %q: no host %q in the demo (hosts: %s)", o.Fault, host, strings.Join(names, ", "))
}

// layout returns the simulated hosts for o, like sim.DefaultHosts but with
// the requested counts.
func layout(o Options) ([]sim.HostSpec, error) {
	def := func(n, d int) int {
		if n <= 0 {
			return d
		}
		return n
	}
	blue, cass, envoy, green := def(o.Blue, 3), def(o.Cassandra, 3), def(o.Envoy, 3), o.Green
	for _, c := range []struct {
		name string
		n    int
	}{{"blue", blue}, {"green", green}, {"cassandra", cass}, {"envoy", envoy}} {
		if c.n > 200 || c.n < 0 {
			return nil, fmt.Errorf("demo: %d %s hosts: want 0..200", c.n, c.name)
		}
	}
	mk := func(short, role, ip, rack string) sim.HostSpec {
		return sim.HostSpec{Name: short + "." + Domain, Short: short, Role: role, IP: ip, Rack: rack}
	}
	hs := []sim.HostSpec{mk("bastion-1", sim.RoleBastion, "10.42.0.10", "")}
	for i := 1; i <= cass; i++ {
		hs = append(hs, mk(fmt.Sprintf("cassandra-%d", i), sim.RoleCassandra, fmt.Sprintf("10.42.2.%d", 9+i), fmt.Sprintf("rack%d", (i-1)%3+1)))
	}
	hs = append(hs, mk("cassy-1", sim.RoleCassy, "10.42.2.220", ""), mk("reaper-1", sim.RoleReaper, "10.42.2.230", ""))
	for i := 1; i <= blue; i++ {
		hs = append(hs, mk(fmt.Sprintf("scalardl-blue-%d", i), sim.RoleScalarDLBlue, fmt.Sprintf("10.42.3.%d", 4+i), ""))
	}
	for i := 1; i <= green; i++ {
		hs = append(hs, mk(fmt.Sprintf("scalardl-green-%d", i), sim.RoleScalarDLGreen, fmt.Sprintf("10.42.4.%d", 9+i), ""))
	}
	for i := 1; i <= envoy; i++ {
		hs = append(hs, mk(fmt.Sprintf("envoy-%d", i), sim.RoleEnvoy, fmt.Sprintf("10.42.1.%d", 9+i), ""))
	}
	return append(hs, mk("monitor-1", sim.RoleMonitor, "10.42.1.220", "")), nil
}

// tfSpec describes the demo as a scalar-terraform AWS deployment whose
// bastion is the in-process one.
func tfSpec(d *Demo, specs []sim.HostSpec) tfgen.Spec {
	_, port, _ := net.SplitHostPort(d.BastionAddr)
	p, _ := strconv.Atoi(port)
	s := tfgen.Spec{Cloud: "aws", NetworkName: "scalar-tui-demo", Domain: Domain, BastionIP: "127.0.0.1", BastionPort: p,
		User: User, KeyPath: d.Identity, NetworkCIDR: "10.42.0.0/16"}
	for _, h := range specs {
		i := strings.LastIndexByte(h.Short, '-')
		idx, _ := strconv.Atoi(h.Short[i+1:])
		th := tfgen.Host{Role: h.Role, Index: idx, IP: h.IP}
		if h.Role == sim.RoleBastion {
			th.PublicIP = "127.0.0.1"
		}
		s.Hosts = append(s.Hosts, th)
	}
	return s
}

// makeHome creates a host's HOME; docker hosts get ~/provision/ as
// scalar-terraform leaves it.
func makeHome(home, role string) error {
	if err := os.MkdirAll(home, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return sim.WriteProvision(home, role, Domain)
}

// writeWrappers writes DIR/bin/<tool> for every simulated tool.
func writeWrappers(dir, bin string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, tool := range sim.Commands {
		body := "#!/bin/sh\n# Written by `scalar-tui demo`: the simulated " + tool + ".\n" +
			EnvSimExec + "=1; export " + EnvSimExec + "\nexec " + shQuote(bin) + " sim exec " + tool + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(body), 0o755); err != nil {
			return fmt.Errorf("demo: write %s wrapper: %w", tool, err)
		}
	}
	return nil
}

// shQuote quotes s for /bin/sh.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// waitReachable logs in to every host through the bastion once, checking
// host keys against the written known_hosts, so Start returns only when
// everything answers.
func (d *Demo) waitReachable(ctx context.Context, signer ssh.Signer) error {
	hk, err := knownhosts.New(d.KnownHosts)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg := &ssh.ClientConfig{User: User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 10 * time.Second}
	bc, err := ssh.Dial("tcp", d.BastionAddr, cfg)
	if err != nil {
		return fmt.Errorf("demo: log in to the bastion %s: %w", d.BastionAddr, err)
	}
	defer bc.Close()
	d.mu.Lock()
	var names []string
	for name := range d.servers {
		if !d.down[name] {
			names = append(names, name)
		}
	}
	d.mu.Unlock()
	errs := make(chan error, len(names))
	sem := make(chan struct{}, 8)
	for _, name := range names {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- func() error {
				if err := ctx.Err(); err != nil {
					return err
				}
				addr := net.JoinHostPort(name, "22")
				conn, err := bc.Dial("tcp", addr)
				if err != nil {
					return fmt.Errorf("demo: reach %s through the bastion: %w", addr, err)
				}
				c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
				if err != nil {
					conn.Close()
					return fmt.Errorf("demo: log in to %s: %w", addr, err)
				}
				return ssh.NewClient(c, chans, reqs).Close()
			}()
		}()
	}
	var all []error
	for range names {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// Close stops the servers, kills every process the hosts' shells started that
// is still running (detached ones included), and removes Dir when Start
// created it (unless Options.Keep). It is safe to call more than once.
func (d *Demo) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		if d.cancel != nil {
			d.cancel()
		}
		if d.bastion != nil {
			errs = append(errs, d.bastion.Close())
		}
		for _, s := range d.servers {
			errs = append(errs, s.Close())
		}
		d.wg.Wait()
		if d.prom != nil {
			errs = append(errs, d.prom.Close())
		}
		if d.procs != nil {
			errs = append(errs, d.procs.killAll())
		}
		if d.devnull != nil {
			d.devnull.Close()
		}
		if d.ownDir && !d.keep && d.Dir != "" {
			if err := os.RemoveAll(d.Dir); err != nil {
				errs = append(errs, fmt.Errorf("demo: remove %s: %w", d.Dir, err))
			}
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// Host returns the host named by FQDN or short name.
func (d *Demo) Host(name string) (Host, bool) {
	for _, h := range d.Hosts {
		if h.Name == name || h.Short == name {
			return h, true
		}
	}
	return Host{}, false
}

// Bastion returns the in-process bastion, for tests that drop connections
// (KillConnections) or turn forwarding off.
func (d *Demo) Bastion() *sshtest.Bastion { return d.bastion }

// Server returns the SSH server of a host (FQDN or short name), for tests.
func (d *Demo) Server(name string) (*sshtest.Host, bool) {
	h, ok := d.Host(name)
	if !ok {
		return nil, false
	}
	s, ok := d.servers[h.Name]
	return s, ok
}

// Processes returns the PIDs of the real processes the demo's shells started
// that are still running (detached ones included).
func (d *Demo) Processes() []int { return d.procs.alive() }

// RunSimExec lets a test binary stand in for scalar-tui as Options.SimBinary:
// call it first thing in TestMain with os.Args[1:]. When the process was
// started by a wrapper script (EnvSimExec is "1" and args are
// "sim exec TOOL ARGS..."), it runs the simulated tool and returns its exit
// status and true; otherwise it returns false and does nothing.
func RunSimExec(args []string) (int, bool) {
	if os.Getenv(EnvSimExec) != "1" || len(args) < 3 || args[0] != "sim" || args[1] != "exec" {
		return 0, false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	return sim.Main(ctx, args[2:], nil, os.Stdin, os.Stdout, os.Stderr), true
}
