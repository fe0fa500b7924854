package restore_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/cassy"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restore"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type env struct {
	d        *demo.Demo
	inv      *inventory.Inventory
	cl       *sshx.Client
	stateDir string

	mu      sync.Mutex
	onStep  map[string]func() // step ID -> run when it is done
	notices []string
}

func start(t *testing.T) *env {
	t.Helper()
	exe, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{SimBinary: exe, Cassandra: 3, Blue: 2, Envoy: 1, Prom: demo.PromOptions{Disabled: true},
		Config: func(c *sim.Config) {
			c.ServingDelay = sim.Duration(300 * time.Millisecond)
			c.CassandraStartDelay = sim.Duration(300 * time.Millisecond)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: d.TFRoot})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sshx.New(sshx.Config{BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: inv.PrivateKeyPath,
		KnownHostsFile: d.KnownHosts, NoAgent: true, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	e := &env{d: d, inv: inv, cl: cl, stateDir: t.TempDir(), onStep: map[string]func(){}}
	// Scalar DL serves from the start.
	if err := sim.Update(d.SimState, func(st *sim.State) error {
		for _, h := range st.HostsByRole("scalardl") {
			h.ScalarContainer().ReadyAt = time.Time{}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) engine() *workflow.Engine {
	return workflow.New(e.cl, e.stateDir, workflow.WithoutLock(), workflow.WithEvents(func(ev workflow.Event) {
		e.mu.Lock()
		defer e.mu.Unlock()
		switch ev := ev.(type) {
		case *workflow.StepDone:
			if f := e.onStep[ev.Step]; f != nil {
				delete(e.onStep, ev.Step)
				f()
			}
		case *workflow.Notice:
			e.notices = append(e.notices, ev.Message)
		}
	}))
}

func (e *env) after(step string, f func()) { e.mu.Lock(); e.onStep[step] = f; e.mu.Unlock() }

func (e *env) states() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, n := range e.notices {
		if strings.HasPrefix(n, "state ") {
			out = append(out, n)
		}
	}
	e.notices = nil
	return out
}

func (e *env) write(t *testing.T, rows int) {
	t.Helper()
	if n, err := sim.Write(e.d.SimState, rows, time.Now()); err != nil || n != 3 {
		t.Fatalf("write: %d nodes, %v", n, err)
	}
}

func (e *env) snapshot(t *testing.T, tag string, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		sh, _ := e.d.Host(h)
		var o, er strings.Builder
		code := sim.Main(context.Background(), []string{"nodetool", "snapshot", "-t", tag, "scalar", "coordinator"},
			map[string]string{sim.EnvState: e.d.SimState, sim.EnvHost: sh.Name}, nil, &o, &er)
		if code != 0 {
			t.Fatalf("snapshot on %s: %s", h, er.String())
		}
	}
}

// files maps "host/ks/table-dir/file" to its content for the live tables.
func (e *env) files(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range e.d.Hosts {
		if h.Role != sim.RoleCassandra {
			continue
		}
		for _, ks := range []string{"scalar", "coordinator"} {
			tds, _ := filepath.Glob(filepath.Join(h.Home, "data", ks, "*"))
			for _, td := range tds {
				ents, _ := os.ReadDir(td)
				for _, f := range ents {
					if f.Type().IsRegular() {
						b, _ := os.ReadFile(filepath.Join(td, f.Name()))
						out[h.Short+"/"+ks+"/"+filepath.Base(td)+"/"+f.Name()] = string(b)
					}
				}
			}
		}
	}
	return out
}

func (e *env) commitlogs(t *testing.T) int {
	n := 0
	for _, h := range e.d.Hosts {
		if h.Role == sim.RoleCassandra {
			ents, _ := os.ReadDir(filepath.Join(h.Home, "commitlog"))
			n += len(ents)
		}
	}
	return n
}

func (e *env) options(tag string) restore.Options {
	return restore.Options{Tag: tag, ConfirmDeployment: e.inv.NetworkName, DataDir: "~/data", CommitlogDir: "~/commitlog",
		GateDeadline: 20 * time.Second, GateInterval: 200 * time.Millisecond}
}

func (e *env) undo(t *testing.T, run string) *workflow.Plan {
	t.Helper()
	orig, err := restore.LoadOriginal(e.stateDir, run)
	if err != nil {
		t.Fatal(err)
	}
	p, err := restore.UndoPlan(e.inv, restore.UndoOptions{Run: run, Original: orig, ConfirmDeployment: e.inv.NetworkName,
		GateDeadline: 20 * time.Second, GateInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameFiles(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	if strings.Join(keys(want), "\n") != strings.Join(keys(got), "\n") {
		t.Fatalf("%s: files differ:\nwant %v\ngot  %v", what, keys(want), keys(got))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %s differs: %q vs %q", what, k, v, got[k])
		}
	}
}

// servingAll reports whether every Scalar DL container runs and serves.
func (e *env) servingAll(t *testing.T) bool {
	st, err := sim.Load(e.d.SimState)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.HostsByRole("scalardl") {
		if st.Health(h, h.ScalarContainer(), time.Now()) != sim.Serving {
			return false
		}
	}
	return true
}

// TestRestoreAndUndo is the "Done when" on the demo: write, back up,
// write more, restore, check, undo, check.
func TestRestoreAndUndo(t *testing.T) {
	e := start(t)
	e.write(t, 5)
	e.snapshot(t, "b1", "cassandra-1", "cassandra-2", "cassandra-3")
	atBackup := e.files(t)
	e.write(t, 7)
	e.write(t, 2)
	before := e.files(t)
	if len(before) <= len(atBackup) || e.commitlogs(t) == 0 {
		t.Fatalf("writes after the backup did not add files: %d vs %d", len(before), len(atBackup))
	}

	p, err := restore.Plan(e.inv, e.options("b1"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.engine().Run(ctxT(t), p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("restore: %s %v\n%s", st, err, strings.Join(e.states(), "\n"))
	}
	sameFiles(t, "after restore", atBackup, e.files(t))
	if n := e.commitlogs(t); n != 0 {
		t.Errorf("%d commit log segments left live (would replay writes made after the backup)", n)
	}
	if !e.servingAll(t) {
		t.Error("Scalar DL does not serve after the restore")
	}
	// The data written after the backup sits in the run's directory.
	c1, _ := e.d.Host("cassandra-1")
	kept := filepath.Join(c1.Home, "data", restore.RunDirName, p.ID)
	ss, err := sim.ReadSSTables(filepath.Join(kept, "data", "scalar", "asset-"+sim.TableID("scalar", "asset")))
	if err != nil || len(ss) != 4 {
		t.Fatalf("kept asset SSTables: %v %v", ss, err)
	}
	if states := e.states(); len(states) != 5 || !strings.Contains(states[0], "restored") {
		t.Errorf("report: %q", states)
	}

	// Write after the restore, then undo: the pre-restore data is back and
	// the post-restore write is kept in the undo directory.
	e.write(t, 1)
	up := e.undo(t, p.ID)
	st, err = e.engine().Run(ctxT(t), up)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("undo: %s %v\n%s", st, err, strings.Join(e.states(), "\n"))
	}
	sameFiles(t, "after undo", before, e.files(t))
	if !e.servingAll(t) {
		t.Error("Scalar DL does not serve after the undo")
	}
	undone, err := sim.ReadSSTables(filepath.Join(kept, "undo-"+up.ID, "data", "scalar", "asset-"+sim.TableID("scalar", "asset")))
	if err != nil || len(undone) != 3 {
		t.Fatalf("restored + post-restore SSTables kept by the undo: %v %v", undone, err)
	}
}

func TestRestoreViaCassy(t *testing.T) {
	e := start(t)
	e.write(t, 5)
	cid, err := sim.RegisterCassyCluster(e.d.SimState, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := sim.NewCassyServer(e.d.SimState)
	srv.UploadDuration = 200 * time.Millisecond
	resp, err := srv.TakeBackup(context.Background(), &cassy.BackupRequest{ClusterId: cid, BackupType: cassy.BackupTypeClusterSnapshot})
	if err != nil {
		t.Fatal(err)
	}
	atBackup := e.files(t)
	time.Sleep(time.Second) // the simulated upload completes
	e.write(t, 7)
	before := e.files(t)

	o := e.options("")
	o.Via, o.BackupID = restore.ViaCassy, resp.GetSnapshotId()
	o.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return e.cl.DialContext(ctx, "tcp", addr) }
	o.Cassy.PollInterval = 200 * time.Millisecond
	// The backup named must exist on Cassy: an unknown id is refused.
	bad := o
	bad.BackupID = "no-such-backup"
	p, err := restore.Plan(e.inv, bad)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := e.engine().Run(ctxT(t), p); st != workflow.StatusRefused || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("unknown backup: %s %v", st, err)
	}
	p, err = restore.Plan(e.inv, o)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.engine().Run(ctxT(t), p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("restore via cassy: %s %v\n%s", st, err, strings.Join(e.states(), "\n"))
	}
	sameFiles(t, "after the Cassy restore", atBackup, e.files(t))
	e.nothingLost(t, before)
	if !e.servingAll(t) {
		t.Error("Scalar DL does not serve after the Cassy restore")
	}
	up := e.undo(t, p.ID)
	if st, err := e.engine().Run(ctxT(t), up); err != nil || st != workflow.StatusDone {
		t.Fatalf("undo: %s %v", st, err)
	}
	sameFiles(t, "after undo", before, e.files(t))
}
