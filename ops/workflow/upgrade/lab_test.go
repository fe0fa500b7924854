package upgrade_test

// The lab these tests run on is the in-process demo deployment
// (internal/demo): a real SSH bastion and hosts on loopback, real shells,
// the node simulator's tools, the inventory loaded from generated Terraform
// state, and the console's own sshx client. A hook can fail or observe any
// command before it is sent.

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type lab struct {
	t        *testing.T
	d        *demo.Demo
	simDir   string
	stateDir string
	cl       *sshx.Client
	inv      *inventory.Inventory
	hookMu   sync.Mutex
	hook     func(host, command string) error // runs before each command
	evMu     sync.Mutex
	events   []workflow.Event
}

func newLab(t *testing.T, cfg func(*sim.Config)) *lab {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{Cassandra: 3, Blue: 3, Envoy: 3, SimBinary: exe, Config: func(c *sim.Config) {
		c.ServingDelay = sim.Duration(300 * time.Millisecond)
		if cfg != nil {
			cfg(c)
		}
	}})
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: d.TFRoot})
	if err != nil {
		t.Fatalf("inventory.Load: %v", err)
	}
	cl, err := sshx.New(sshx.Config{BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: inv.PrivateKeyPath,
		KnownHostsFile: d.KnownHosts, NoAgent: true, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("sshx.New: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return &lab{t: t, d: d, simDir: d.SimState, stateDir: t.TempDir(), cl: cl, inv: inv}
}

// home returns the HOME of the host with short name.
func (l *lab) home(short string) string {
	h, ok := l.d.Host(short)
	if !ok {
		l.t.Fatalf("no host %s", short)
	}
	return h.Home
}

func (l *lab) setHook(f func(host, command string) error) {
	l.hookMu.Lock()
	l.hook = f
	l.hookMu.Unlock()
}

// Run implements workflow.Runner over the console's SSH client.
func (l *lab) Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error) {
	l.hookMu.Lock()
	hook := l.hook
	l.hookMu.Unlock()
	if hook != nil {
		if err := hook(host, command); err != nil {
			return sshx.Result{Host: host}, err
		}
	}
	return l.cl.Run(ctx, host, command, opts)
}

// RunBastion implements workflow.Runner.
func (l *lab) RunBastion(ctx context.Context, command string, opts sshx.RunOptions) (sshx.Result, error) {
	return l.cl.RunBastion(ctx, command, opts)
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

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
