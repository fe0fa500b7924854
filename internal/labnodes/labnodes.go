package labnodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labprom"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
)

// Well-known ports of the lab's nodes.
const (
	PortNodeExporter = sim.PortNodeExporter // the real prometheus-node-exporter
	PortPrometheus   = 9090                 // the real Prometheus on the monitor
	PortAlertmanager = 9093                 // the real Alertmanager on the monitor
	PortCassy        = sim.PortCassy        // the simulator's rpc.Cassy on the cassy host
)

// SimTools are the simulated commands put on every host's PATH. curl is not
// among them: the real curl reaches the simulator's real listeners (and the
// real Prometheus), which the simulated one would not.
var SimTools = []string{"nodetool", "systemctl", "docker", "docker-compose", "grpc_health_probe", "df"}

// DefaultNodeExporterArgs are the collectors the node exporters run: what the
// console's health queries and the lab rules read (cpu, meminfo, filesystem,
// loadavg, textfile) and a few cheap ones, without systemd, whose
// node_systemd_unit_state would clash with the simulator's textfile.
var DefaultNodeExporterArgs = []string{
	"--collector.disable-defaults",
	"--collector.cpu", "--collector.meminfo", "--collector.filesystem", "--collector.loadavg",
	"--collector.textfile", "--collector.stat", "--collector.time", "--collector.uname", "--collector.netdev",
}

// Options configures Start. The zero value of every field but SimBinary has a
// usable default.
type Options struct {
	// SimBinary is a built scalar-sim binary: the simulated tools and
	// `scalar-sim lab node-serve` run from it. Required. A binary under /root is
	// copied into the lab directory first, because the lab mounts each host's
	// home over /root.
	SimBinary string
	// NodeExporter and Prometheus are the binaries; default
	// prometheus-node-exporter and prometheus from PATH.
	NodeExporter string
	Prometheus   string
	// Alertmanager is the binary; default prometheus-alertmanager from PATH.
	// It runs beside Prometheus, which sends it its alerts.
	Alertmanager string
	// NodeExporterArgs replace DefaultNodeExporterArgs (the listen address and
	// the textfile directory are always added).
	NodeExporterArgs []string
	// NoPrometheus leaves Prometheus out (the exporters still run).
	NoPrometheus bool
	// ScrapeInterval and EvaluationInterval of Prometheus; default 1s each.
	ScrapeInterval     time.Duration
	EvaluationInterval time.Duration
	// For replaces the rules' `for:` durations; default 2m. Not shorter:
	// every lab host's node exporter reports the same real machine, so a
	// busy build on it makes InstanceHighCPUUtilization (> 90% for `for`) fire
	// on every host at once, which degrades them all. The rules without a
	// `for` (InstanceDown, CassandraProcessStopped, the *ContainerDown ones)
	// fire at the next evaluation whatever this is.
	For time.Duration
	// ExtraTargets are hosts Prometheus scrapes although the Terraform state
	// does not list them (a machine added by hand, a second bastion): each gets
	// the jobs of its role, with instance="<Name>:<port>", scraping
	// PrivateIP, which names a lab host (IP, short name or FQDN) whose
	// exporters answer. Their series show up in the console's
	// Snapshot.Unmatched.
	ExtraTargets []inventory.Host
	// SimConfig tunes the simulator; default sim.DefaultConfig().
	SimConfig *sim.Config
	// Timeout bounds waiting for every listener; default 30s.
	Timeout time.Duration
}

// Nodes is the set of node processes of a lab. Its methods are safe for
// concurrent use.
type Nodes struct {
	// Lab is the lab the nodes run in.
	Lab *lab.Lab
	// SimState is the simulator's state directory (SCALAR_SIM_STATE).
	SimState string
	// SimBinary is the scalar-sim binary the hosts run.
	SimBinary string
	// Inventory is the lab's deployment as the console reads it
	// (inventory.Load of Lab.TFRoot).
	Inventory *inventory.Inventory
	// Monitor is the host Prometheus runs on; its Name is "" without Prometheus.
	Monitor lab.Host
	// AlertmanagerURL is http://monitor.<domain>:9093 (through the bastion);
	// "" without Prometheus.
	AlertmanagerURL string
	// PrometheusURL is http://monitor.<domain>:9090, reachable through the
	// bastion (e.g. with ops/sshx's DialContext); "" without Prometheus.
	PrometheusURL string
	// PrometheusConfig is the prometheus.yml Prometheus reads; RuleDir its rules.
	PrometheusConfig string
	RuleDir          string

	opts      Options
	mu        sync.Mutex
	exporters map[string]int // host short name -> PID (0: stopped)
	servers   map[string]int
	prom      int
	am        int
}

// Start initialises the simulator for l's hosts and starts every host's node
// processes and the monitor's Prometheus, then waits until each of them
// listens. Prometheus answers /-/ready when Start returns, but discovers its
// targets only about 5 s later (its discovery manager's first update), so
// poll for the first samples. On error, the processes started so far are
// stopped.
func Start(ctx context.Context, l *lab.Lab, opts Options) (*Nodes, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	simDir := filepath.Join(l.Dir, "sim")
	if err := os.MkdirAll(simDir, 0o755); err != nil {
		return nil, fmt.Errorf("labnodes: %w", err)
	}
	if strings.HasPrefix(o.SimBinary, "/root/") {
		dst := filepath.Join(simDir, "scalar-sim")
		if err := copyFile(o.SimBinary, dst); err != nil {
			return nil, fmt.Errorf("labnodes: copy %s out of /root (hidden on lab hosts): %w", o.SimBinary, err)
		}
		o.SimBinary = dst
	}
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: l.TFRoot})
	if err != nil {
		return nil, fmt.Errorf("labnodes: read the lab's Terraform state: %w", err)
	}
	n := &Nodes{
		Lab: l, SimState: SimState(l.Dir), SimBinary: o.SimBinary, Inventory: inv,
		opts: o, exporters: map[string]int{}, servers: map[string]int{},
	}
	cfg := sim.DefaultConfig()
	if o.SimConfig != nil {
		cfg = *o.SimConfig
	}
	if err := sim.InitWithConfig(n.SimState, simHosts(l), cfg); err != nil {
		return nil, fmt.Errorf("labnodes: simulator state: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			n.stopAll()
		}
	}()
	var waits []string
	for _, h := range n.hosts() {
		if err := n.writeTools(h); err != nil {
			return nil, err
		}
		if err := writeProvision(h, l.Domain); err != nil {
			return nil, err
		}
		if h.Role == sim.RoleCassandra {
			// The node's data and commit log: real files in its home,
			// ~/data and ~/commitlog in its sessions.
			if err := sim.SetDataRoot(n.SimState, h.Name, h.HomeDir); err != nil {
				return nil, fmt.Errorf("labnodes: data directory of %s: %w", h.Short, err)
			}
		}
		if err := os.MkdirAll(textfileDir(h), 0o755); err != nil {
			return nil, fmt.Errorf("labnodes: %w", err)
		}
		pid, err := l.StartProcess(h.Short, n.serveArgv(h), nil)
		if err != nil {
			return nil, fmt.Errorf("labnodes: simulator endpoints on %s: %w", h.Short, err)
		}
		n.servers[h.Short] = pid
		if err := n.startExporter(h); err != nil {
			return nil, err
		}
		waits = append(waits, hostPort(h.IP, PortNodeExporter))
		for _, p := range sim.Ports(h.Role) {
			if p != PortNodeExporter {
				waits = append(waits, hostPort(h.IP, p))
			}
		}
		if h.Role == sim.RoleCassy {
			waits = append(waits, hostPort(h.IP, PortCassy))
		}
	}
	if mon, found := firstMonitor(l); found && !o.NoPrometheus {
		n.Monitor = mon
		n.PrometheusURL = "http://monitor." + l.Domain + ":" + strconv.Itoa(PortPrometheus)
		if err := n.writePrometheusConfig(); err != nil {
			return nil, err
		}
		if err := n.startAlertmanager(); err != nil {
			return nil, err
		}
		n.AlertmanagerURL = "http://monitor." + l.Domain + ":" + strconv.Itoa(PortAlertmanager)
		if err := n.startPrometheus(); err != nil {
			return nil, err
		}
		waits = append(waits, "http://"+hostPort(mon.IP, PortPrometheus)+"/-/ready", "http://"+hostPort(mon.IP, PortAlertmanager)+"/-/ready")
	}
	if err := n.wait(ctx, waits); err != nil {
		return nil, err
	}
	ok = true
	return n, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.SimBinary == "" {
		return o, errors.New("labnodes: Options.SimBinary is required (a built scalar-sim: `make build` puts one in bin/; tests use BuildSimBinary)")
	}
	abs, err := filepath.Abs(o.SimBinary)
	if err != nil {
		return o, fmt.Errorf("labnodes: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return o, fmt.Errorf("labnodes: simulator binary: %w", err)
	}
	o.SimBinary = abs
	look := func(p *string, name, pkg string) error {
		if *p == "" {
			*p = name
		}
		full, err := exec.LookPath(*p)
		if err != nil {
			return fmt.Errorf("labnodes: %s not found (install the Debian package %s)", *p, pkg)
		}
		*p = full
		return nil
	}
	if err := look(&o.NodeExporter, "prometheus-node-exporter", "prometheus-node-exporter"); err != nil {
		return o, err
	}
	if !o.NoPrometheus {
		if err := look(&o.Prometheus, "prometheus", "prometheus"); err != nil {
			return o, err
		}
		if err := look(&o.Alertmanager, "prometheus-alertmanager", "prometheus-alertmanager"); err != nil {
			return o, err
		}
	}
	if o.NodeExporterArgs == nil {
		o.NodeExporterArgs = DefaultNodeExporterArgs
	}
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = time.Second
	}
	if o.EvaluationInterval <= 0 {
		o.EvaluationInterval = time.Second
	}
	if o.For <= 0 {
		o.For = 2 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return o, nil
}

// simHosts lists the bastion and the hosts with their lab names and IPs.
func simHosts(l *lab.Lab) []sim.HostSpec {
	out := []sim.HostSpec{{Name: l.Bastion.Name, Short: l.Bastion.Short, Role: sim.RoleBastion, IP: l.Bastion.IP}}
	for _, h := range l.Hosts {
		s := sim.HostSpec{Name: h.Name, Short: h.Short, Role: h.Role, IP: h.IP}
		if h.Role == sim.RoleCassandra {
			// rack<(i % #AZ)+1> with three availability zones, as the cassandra module does.
			s.Rack = fmt.Sprintf("rack%d", (h.Index-1)%3+1)
		}
		out = append(out, s)
	}
	return out
}

func firstMonitor(l *lab.Lab) (lab.Host, bool) {
	for _, h := range l.Hosts {
		if h.Role == sim.RoleMonitor {
			return h, true
		}
	}
	return lab.Host{}, false
}

// hosts is the bastion followed by the private hosts.
func (n *Nodes) hosts() []lab.Host { return append([]lab.Host{n.Lab.Bastion}, n.Lab.Hosts...) }

func (n *Nodes) host(name string) (lab.Host, error) {
	h, ok := n.Lab.Host(name)
	if !ok {
		return lab.Host{}, fmt.Errorf("labnodes: no host %q", name)
	}
	return h, nil
}

func textfileDir(h lab.Host) string { return filepath.Join(h.Dir, "textfile") }

func hostPort(ip string, port int) string { return ip + ":" + strconv.Itoa(port) }

// writeTools puts the simulated tools in h's BinDir: a wrapper script per
// tool that names the state and the host and execs a symlink to the binary
// whose name selects the tool (scalar-sim's argv[0] dispatch), and a sudo
// that runs its command as is (sessions are root already).
func (n *Nodes) writeTools(h lab.Host) error {
	links := filepath.Join(h.BinDir, ".sim")
	if err := os.MkdirAll(links, 0o755); err != nil {
		return fmt.Errorf("labnodes: %w", err)
	}
	for _, tool := range SimTools {
		link := filepath.Join(links, tool)
		_ = os.Remove(link)
		if err := os.Symlink(n.SimBinary, link); err != nil {
			return fmt.Errorf("labnodes: %w", err)
		}
		script := fmt.Sprintf(`#!/bin/sh
# scalar-tui lab (internal/labnodes): the simulator's %s on %s.
%s='%s'
%s='%s'
export %s %s
exec '%s' "$@"
`, tool, h.Short, sim.EnvState, n.SimState, sim.EnvHost, h.Name, sim.EnvState, sim.EnvHost, link)
		if err := os.WriteFile(filepath.Join(h.BinDir, tool), []byte(script), 0o755); err != nil {
			return fmt.Errorf("labnodes: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(h.BinDir, "sudo"), []byte(sudoScript), 0o755); err != nil {
		return fmt.Errorf("labnodes: %w", err)
	}
	return nil
}

// sudoScript drops sudo's options and runs the command from PATH, so
// `sudo systemctl stop cassandra` reaches the simulated systemctl (real sudo
// would use secure_path and miss the host's bin directory).
const sudoScript = `#!/bin/sh
# scalar-tui lab (internal/labnodes): sessions are root; run the command as is.
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -u|-g|-p|-C|-h|-r|-t|-U|-T|-D) shift; [ $# -gt 0 ] && shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: sudo COMMAND [ARGS...]" >&2
  exit 1
fi
exec "$@"
`

func (n *Nodes) serveArgv(h lab.Host) []string {
	return []string{n.SimBinary, "--log-file", filepath.Join(h.Dir, "logs", "scalar-sim.log"),
		"lab", "node-serve", "--state", n.SimState, "--host", h.Name, "--listen-ip", "0.0.0.0",
		"--textfile-dir", textfileDir(h), "--skip-port", strconv.Itoa(PortNodeExporter)}
}

func (n *Nodes) startExporter(h lab.Host) error {
	argv := append([]string{n.opts.NodeExporter,
		"--web.listen-address=" + hostPort(h.IP, PortNodeExporter),
		"--collector.textfile.directory=" + textfileDir(h),
	}, n.opts.NodeExporterArgs...)
	pid, err := n.Lab.StartProcess(h.Short, argv, nil)
	if err != nil {
		return fmt.Errorf("labnodes: node exporter on %s: %w", h.Short, err)
	}
	n.exporters[h.Short] = pid
	return nil
}

// labOptions are the labprom.Options of the lab's Prometheus.
func (n *Nodes) labOptions() labprom.Options {
	return labprom.Options{
		ScrapeInterval: n.opts.ScrapeInterval, EvaluationInterval: n.opts.EvaluationInterval,
		For: n.opts.For, RuleDir: n.RuleDir,
		Alertmanagers: []string{hostPort(n.Monitor.IP, PortAlertmanager)},
	}
}

// startAlertmanager runs the real Alertmanager on the monitor, routing every
// alert to a receiver that sends nothing (the lab pages nobody).
func (n *Nodes) startAlertmanager() error {
	dir := filepath.Join(n.Monitor.Dir, "alertmanager")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("labnodes: %w", err)
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("# scalar-tui lab: every alert to a receiver that sends nothing\nroute:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n"), 0o644); err != nil {
		return fmt.Errorf("labnodes: %w", err)
	}
	argv := []string{n.opts.Alertmanager, "--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + hostPort(n.Monitor.IP, PortAlertmanager), "--cluster.listen-address="}
	pid, err := n.Lab.StartProcess(n.Monitor.Short, argv, nil)
	if err != nil {
		return fmt.Errorf("labnodes: alertmanager on %s: %w", n.Monitor.Short, err)
	}
	n.am = pid
	return nil
}

// StopAlertmanager stops the monitor's Alertmanager (its silences stay in
// its data directory).
func (n *Nodes) StopAlertmanager() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.am == 0 {
		return nil
	}
	pid := n.am
	n.am = 0
	return n.Lab.StopProcess(pid)
}

// StartAlertmanager starts the monitor's Alertmanager again after
// StopAlertmanager and waits until it is ready.
func (n *Nodes) StartAlertmanager(ctx context.Context) error {
	if n.Monitor.Name == "" {
		return errors.New("labnodes: this lab runs no Alertmanager (no monitor host, or Options.NoPrometheus)")
	}
	n.mu.Lock()
	if n.am != 0 {
		n.mu.Unlock()
		return nil
	}
	err := n.startAlertmanager()
	n.mu.Unlock()
	if err != nil {
		return err
	}
	return n.wait(ctx, []string{"http://" + hostPort(n.Monitor.IP, PortAlertmanager) + "/-/ready"})
}

func (n *Nodes) writePrometheusConfig() error {
	dir := filepath.Join(n.Monitor.Dir, "prometheus")
	n.RuleDir = filepath.Join(dir, "rules")
	n.PrometheusConfig = filepath.Join(dir, "prometheus.yml")
	// The rules count the deployment's hosts (CassandraClusterDown's
	// threshold), so they see the inventory only; the scrape config also
	// has the extra targets.
	if _, err := labprom.WriteRules(n.RuleDir, n.Inventory, n.labOptions()); err != nil {
		return fmt.Errorf("labnodes: %w", err)
	}
	scraped := *n.Inventory
	scraped.Hosts = append([]inventory.Host(nil), n.Inventory.Hosts...)
	for _, x := range n.opts.ExtraTargets {
		h, ok := n.Lab.Host(x.PrivateIP)
		if !ok {
			return fmt.Errorf("labnodes: extra target %s: PrivateIP %q is no lab host", x.Name, x.PrivateIP)
		}
		x.PrivateIP = h.IP
		scraped.Hosts = append(scraped.Hosts, x)
	}
	if err := os.WriteFile(n.PrometheusConfig, labprom.Config(&scraped, n.labOptions()), 0o644); err != nil {
		return fmt.Errorf("labnodes: %w", err)
	}
	return nil
}

func (n *Nodes) startPrometheus() error {
	dir := filepath.Dir(n.PrometheusConfig)
	argv := []string{n.opts.Prometheus,
		"--config.file=" + n.PrometheusConfig,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1d",
		"--web.listen-address=" + hostPort(n.Monitor.IP, PortPrometheus),
		"--web.enable-lifecycle",
	}
	pid, err := n.Lab.StartProcess(n.Monitor.Short, argv, nil)
	if err != nil {
		return fmt.Errorf("labnodes: prometheus on %s: %w", n.Monitor.Short, err)
	}
	n.prom = pid
	return nil
}

// wait runs `scalar-sim lab wait` in the bastion's namespace, which reaches
// every host, until every address accepts a connection (and every URL
// answers 200).
func (n *Nodes) wait(ctx context.Context, targets []string) error {
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout+5*time.Second)
	defer cancel()
	argv := append([]string{n.SimBinary, "--log-file", "/dev/null", "lab", "wait", "--timeout", n.opts.Timeout.String()}, targets...)
	if _, err := n.Lab.Exec(ctx, n.Lab.Bastion.Short, argv...); err != nil {
		return fmt.Errorf("labnodes: nodes did not come up (logs in %s/hosts/*/logs): %w", n.Lab.Dir, err)
	}
	return nil
}

// stopAll stops every process Start started (used when Start fails; lab.Stop
// does it otherwise).
func (n *Nodes) stopAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range []map[string]int{n.exporters, n.servers} {
		for k, pid := range m {
			if pid > 0 {
				_ = n.Lab.StopProcess(pid)
			}
			delete(m, k)
		}
	}
	if n.prom > 0 {
		_ = n.Lab.StopProcess(n.prom)
		n.prom = 0
	}
	if n.am > 0 {
		_ = n.Lab.StopProcess(n.am)
		n.am = 0
	}
}

// InjectFault activates a simulator fault on a host (FQDN, short name, IP or
// "*"), like `scalar-sim fault`. node-down also takes the host's network
// link down (lab.SetLink), so its node exporter stops answering as on a dead
// instance.
func (n *Nodes) InjectFault(ctx context.Context, host, kind, param string) error {
	return injectFault(ctx, n.Lab, n.SimState, host, kind, param)
}

// ClearFault removes a simulator fault (kind "" clears all of the host's);
// clearing node-down brings the link back up.
func (n *Nodes) ClearFault(ctx context.Context, host, kind string) error {
	return clearFault(ctx, n.Lab, n.SimState, host, kind)
}

// SimState is the simulator state directory of the nodes of the lab in dir.
func SimState(dir string) string { return filepath.Join(dir, "sim", "state") }

// InjectFault is (*Nodes).InjectFault for a lab loaded from its directory
// (lab.Load), e.g. by `scalar-sim lab fault` in another process than the one
// that started the nodes.
func InjectFault(ctx context.Context, l *lab.Lab, host, kind, param string) error {
	return injectFault(ctx, l, SimState(l.Dir), host, kind, param)
}

// ClearFault is (*Nodes).ClearFault for a lab loaded from its directory.
func ClearFault(ctx context.Context, l *lab.Lab, host, kind string) error {
	return clearFault(ctx, l, SimState(l.Dir), host, kind)
}

func injectFault(ctx context.Context, l *lab.Lab, state, host, kind, param string) error {
	if err := sim.InjectFault(state, host, kind, param); err != nil {
		return err
	}
	if kind == sim.FaultNodeDown && host != "*" {
		return l.SetLink(ctx, host, false)
	}
	return nil
}

func clearFault(ctx context.Context, l *lab.Lab, state, host, kind string) error {
	if err := sim.ClearFault(state, host, kind); err != nil {
		return err
	}
	if (kind == sim.FaultNodeDown || kind == "") && host != "*" {
		return l.SetLink(ctx, host, true)
	}
	return nil
}

// StopNodeExporter stops a host's node exporter: Prometheus' up{job="host"}
// for it becomes 0 at the next scrape.
func (n *Nodes) StopNodeExporter(host string) error {
	h, err := n.host(host)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	pid := n.exporters[h.Short]
	if pid == 0 {
		return nil
	}
	n.exporters[h.Short] = 0
	return n.Lab.StopProcess(pid)
}

// StartNodeExporter starts a host's node exporter again after
// StopNodeExporter and waits until it listens.
func (n *Nodes) StartNodeExporter(ctx context.Context, host string) error {
	h, err := n.host(host)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.exporters[h.Short] != 0 {
		n.mu.Unlock()
		return nil
	}
	err = n.startExporter(h)
	n.mu.Unlock()
	if err != nil {
		return err
	}
	return n.wait(ctx, []string{hostPort(h.IP, PortNodeExporter)})
}

// StopPrometheus stops the monitor's Prometheus (its data stays).
func (n *Nodes) StopPrometheus() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.prom == 0 {
		return nil
	}
	pid := n.prom
	n.prom = 0
	return n.Lab.StopProcess(pid)
}

// StartPrometheus starts the monitor's Prometheus again after StopPrometheus
// and waits until it is ready.
func (n *Nodes) StartPrometheus(ctx context.Context) error {
	if n.Monitor.Name == "" {
		return errors.New("labnodes: this lab runs no Prometheus (no monitor host, or Options.NoPrometheus)")
	}
	n.mu.Lock()
	if n.prom != 0 {
		n.mu.Unlock()
		return nil
	}
	err := n.startPrometheus()
	n.mu.Unlock()
	if err != nil {
		return err
	}
	return n.wait(ctx, []string{"http://" + hostPort(n.Monitor.IP, PortPrometheus) + "/-/ready"})
}

// PrometheusPID returns the PID of the running Prometheus, or 0.
func (n *Nodes) PrometheusPID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.prom
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// writeProvision gives docker hosts the ~/provision/ directory the upgrade
// workflow edits (see sim.WriteProvision).
func writeProvision(h lab.Host, domain string) error {
	return sim.WriteProvision(h.HomeDir, h.Role, domain)
}
