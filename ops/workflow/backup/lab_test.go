package backup_test

// The lab these tests run on: the node simulator (internal/sim) behind a
// workflowtest.LocalRunner, one directory (HOME) per host, wrapper scripts
// that run this test binary as `sim exec TOOL`, and one real rpc.Admin gRPC
// server per Scalar DL host on a loopback listener, reached through a Dialer
// that maps the inventory's admin address to it (and can be "dropped").

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/workflowtest"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type lab struct {
	t        *testing.T
	simDir   string
	stateDir string
	local    *workflowtest.LocalRunner
	inv      *inventory.Inventory
	admins   map[string]string // inventory admin address -> loopback address
	dropped  atomic.Bool       // the "SSH connection" is down: dials and commands fail
	hookMu   sync.Mutex
	hook     func(host, command string) error // runs before each command
	evMu     sync.Mutex
	events   []workflow.Event
}

func newLab(t *testing.T, cfg func(*sim.Config)) *lab {
	t.Helper()
	base := t.TempDir()
	l := &lab{t: t, simDir: filepath.Join(base, "sim"), stateDir: filepath.Join(base, "state"),
		local: &workflowtest.LocalRunner{Root: filepath.Join(base, "hosts")}, admins: map[string]string{}}
	c := sim.DefaultConfig()
	c.ServingDelay = sim.Duration(300 * time.Millisecond)
	c.PauseDrain = sim.Duration(100 * time.Millisecond)
	if cfg != nil {
		cfg(&c)
	}
	specs := sim.DefaultHosts("internal.scalar-labs.com")
	if err := sim.InitWithConfig(l.simDir, specs, c); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(l.local.Root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range sim.Commands {
		script := fmt.Sprintf("#!/bin/sh\n%s=1 %s=\"$HOST\" %s=%s exec %s sim exec %s \"$@\"\n",
			demo.EnvSimExec, sim.EnvHost, sim.EnvState, shq(l.simDir), shq(exe), tool)
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l.setDF("", 40)
	inv := &inventory.Inventory{NetworkName: "lab", BastionIP: "127.0.0.1", BastionPort: 22, UserName: "centos", InternalDomain: "internal.scalar-labs.com"}
	for _, s := range specs {
		idx, _ := strconv.Atoi(s.Short[strings.LastIndex(s.Short, "-")+1:])
		inv.Hosts = append(inv.Hosts, inventory.Host{Name: s.Name, Short: s.Short, Role: inventory.Role(s.Role), Index: idx, PrivateIP: s.IP})
		home := l.local.Dir(s.Name)
		switch {
		case strings.HasPrefix(s.Role, "scalardl"):
			addr := net.JoinHostPort(s.Name, "50053")
			inv.Endpoints.ScalarDLAdmin = append(inv.Endpoints.ScalarDLAdmin, addr)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := sim.NewAdminGRPCServer(l.simDir, s.Name)
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(srv.Stop)
			l.admins[addr] = ln.Addr().String()
			_ = os.MkdirAll(filepath.Join(home, "provision"), 0o755)
			_ = os.WriteFile(filepath.Join(home, "provision", "env"), []byte("export SCALAR_IMAGE="+sim.DefaultScalarImg+"\n"), 0o644)
			_ = os.WriteFile(filepath.Join(home, "provision", "docker-compose.yml"), []byte("version: '3'\n"), 0o644)
		case s.Role == "envoy":
			inv.Endpoints.EnvoyAdmin = append(inv.Endpoints.EnvoyAdmin, net.JoinHostPort(s.Name, "9001"))
		}
	}
	l.inv = inv
	return l
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// setDF installs a fake `df` for host ("" = every host) reporting pct% free on /data.
func (l *lab) setDF(host string, pct int) {
	dir := filepath.Join(l.local.Root, "bin")
	if host != "" {
		dir = filepath.Join(l.local.Dir(host), "bin")
	}
	_ = os.MkdirAll(dir, 0o755)
	total := 100000000
	avail := total * pct / 100
	script := fmt.Sprintf("#!/bin/sh\necho 'Filesystem     1024-blocks      Used Available Capacity Mounted on'\necho '/dev/nvme1n1 %d %d %d %d%% /data'\n", total, total-avail, avail, 100-pct)
	if err := os.WriteFile(filepath.Join(dir, "df"), []byte(script), 0o755); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) setHook(f func(host, command string) error) {
	l.hookMu.Lock()
	l.hook = f
	l.hookMu.Unlock()
}

// Run implements workflow.Runner: HOME is the host's directory, as over SSH.
func (l *lab) Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error) {
	l.hookMu.Lock()
	hook := l.hook
	l.hookMu.Unlock()
	if hook != nil {
		if err := hook(host, command); err != nil {
			return sshx.Result{Host: host}, err
		}
	}
	if l.dropped.Load() {
		return sshx.Result{Host: host}, errors.New("ssh: connection to bastion lost")
	}
	return l.local.Run(ctx, host, "HOME=$PWD; export HOME\n"+command, opts)
}

// RunBastion implements workflow.Runner.
func (l *lab) RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error) {
	return l.Run(ctx, "bastion", command, opts)
}

// Dial is the backup Dialer: the admin address mapped to its loopback server.
func (l *lab) Dial(ctx context.Context, addr string) (net.Conn, error) {
	if l.dropped.Load() {
		return nil, errors.New("ssh: connection to bastion lost")
	}
	real, ok := l.admins[addr]
	if !ok {
		return nil, fmt.Errorf("no route to %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", real)
}

func (l *lab) engine(opts ...workflow.Option) *workflow.Engine {
	opts = append([]workflow.Option{workflow.WithoutLock(), workflow.WithEvents(func(e workflow.Event) {
		l.evMu.Lock()
		l.events = append(l.events, e)
		l.evMu.Unlock()
		if testing.Verbose() {
			l.t.Log(workflow.FormatEvent(e))
		}
	})}, opts...)
	return workflow.New(l, l.stateDir, opts...)
}

func (l *lab) fault(host, kind, param string) {
	l.t.Helper()
	if err := sim.InjectFault(l.simDir, host, kind, param); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) state() *sim.State {
	l.t.Helper()
	st, err := sim.Load(l.simDir)
	if err != nil {
		l.t.Fatal(err)
	}
	return st
}

// paused returns the Scalar DL hosts the simulator shows paused.
func (l *lab) paused() []string {
	var out []string
	for _, h := range l.state().HostsByRole("scalardl") {
		if h.Paused {
			out = append(out, h.Short)
		}
	}
	return out
}

// snapshots returns, per Cassandra short name, whether it has tag.
func (l *lab) snapshots(tag string) map[string]bool {
	out := map[string]bool{}
	for _, h := range l.state().HostsByRole(sim.RoleCassandra) {
		for _, s := range h.Cassandra.Snapshots {
			if s.Tag == tag {
				out[h.Short] = true
			}
		}
	}
	return out
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
