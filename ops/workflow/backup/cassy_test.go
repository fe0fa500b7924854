package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/cassy"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/backup"
)

const cassyAddr = "cassy-1.internal.scalar-labs.com:20051"

// cassyLab is the lab plus a real rpc.Cassy gRPC server (the simulator's) on
// a loopback listener, reached through the lab's Dialer as cassy-1:20051.
type cassyLab struct {
	*lab
	srv   *grpc.Server
	takes atomic.Int32
	mu    sync.Mutex
	// afterTake, when set, runs after TakeBackup was handled, before the
	// answer is sent.
	afterTake func()
	// failPolls makes ListBackups by snapshot_id fail UNAVAILABLE.
	failPolls atomic.Bool
}

func newCassyLab(t *testing.T, register bool, upload time.Duration) *cassyLab {
	t.Helper()
	cl := &cassyLab{lab: newLab(t, nil)}
	cs := sim.NewCassyServer(cl.simDir)
	cs.UploadDuration = upload
	cl.srv = grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if r, ok := req.(*cassy.BackupListingRequest); ok && r.GetSnapshotId() != "" && cl.failPolls.Load() {
			return nil, status.Error(codes.Unavailable, "connection refused")
		}
		resp, err := h(ctx, req)
		if info.FullMethod == cassy.Cassy_TakeBackup_FullMethodName {
			cl.takes.Add(1)
			cl.mu.Lock()
			f := cl.afterTake
			cl.mu.Unlock()
			if f != nil {
				f()
			}
		}
		return resp, err
	}))
	cassy.RegisterCassyServer(cl.srv, cs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = cl.srv.Serve(ln) }()
	t.Cleanup(cl.srv.Stop)
	cl.admins[cassyAddr] = ln.Addr().String()
	cl.inv.Endpoints.Cassy = cassyAddr
	if register {
		if _, err := sim.RegisterCassyCluster(cl.simDir, ""); err != nil {
			t.Fatal(err)
		}
	}
	return cl
}

func cassyOptions(l *cassyLab) backup.Options {
	return backup.Options{Via: backup.ViaCassy, Dial: l.Dial,
		Cassy: backup.CassyOptions{PollInterval: 50 * time.Millisecond, Deadline: 30 * time.Second}}
}

func cassyPlan(t *testing.T, l *cassyLab, o backup.Options) *workflow.Plan {
	t.Helper()
	p, err := backup.Plan(l.inv, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (l *lab) notices() []string {
	l.evMu.Lock()
	defer l.evMu.Unlock()
	var out []string
	for _, e := range l.events {
		if n, ok := e.(*workflow.Notice); ok {
			out = append(out, n.Message)
		}
	}
	return out
}

func (l *lab) sawNotice(sub string) bool {
	for _, n := range l.notices() {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// snapshotOf returns the snapshot_id the run journalled from Cassy's answer.
func snapshotOf(t *testing.T, l *lab, id string) string {
	t.Helper()
	m, ok := journal(t, l, id).Markers[backup.MarkerCassySnapshot]
	if !ok {
		t.Fatalf("no marker %s", backup.MarkerCassySnapshot)
	}
	var v struct {
		SnapshotID string `json:"snapshot_id"`
	}
	if err := json.Unmarshal([]byte(m.Value), &v); err != nil {
		t.Fatal(err)
	}
	return v.SnapshotID
}

func TestCassyBackupSuccess(t *testing.T) {
	l := newCassyLab(t, true, 600*time.Millisecond)
	p := cassyPlan(t, l, cassyOptions(l))
	var b strings.Builder
	_ = p.Render(&b)
	if strings.Contains(b.String(), "rpc.Admin/Pause") || !strings.Contains(b.String(), "rpc.Cassy/TakeBackup") || strings.Contains(b.String(), `"snapshot_id": "`+"0") {
		t.Errorf("plan:\n%s", b.String())
	}
	for _, want := range []string{"clears every snapshot of its keyspaces", "--allow-mixed-routes"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plan does not say %q:\n%s", want, b.String())
		}
	}
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("run: %s %v", st, err)
	}
	tag := snapshotOf(t, l.lab, p.ID)
	if !backup.IsUUID(tag) {
		t.Fatalf("snapshot id %q is not a UUID", tag)
	}
	if n := l.takes.Load(); n != 1 {
		t.Errorf("TakeBackup sent %d times", n)
	}
	if got := l.snapshots(tag); len(got) != 3 {
		t.Errorf("snapshot %s on %v, want the 3 Cassandra nodes", tag, got)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("left paused: %v", got)
	}
	if !l.sawNotice("COMPLETED on all 3 nodes") {
		t.Errorf("no final notice in %q", l.notices())
	}
	var progress []float64
	l.evMu.Lock()
	for _, e := range l.events {
		if pr, ok := e.(*workflow.Progress); ok {
			progress = append(progress, pr.Percent)
		}
	}
	l.evMu.Unlock()
	if len(progress) == 0 || progress[len(progress)-1] != 100 {
		t.Errorf("progress events %v, want ending at 100", progress)
	}
	js := journal(t, l.lab, p.ID)
	m, ok := js.Markers[backup.MarkerCassySnapshot]
	if !ok || !strings.Contains(m.Value, tag) || !strings.Contains(m.Value, `"taken":true`) {
		t.Errorf("marker %s = %+v", backup.MarkerCassySnapshot, m)
	}
}

func TestCassyBackupNodeFailedNamesNode(t *testing.T) {
	l := newCassyLab(t, true, 400*time.Millisecond)
	l.fault("cassandra-2", sim.FaultDiskFull, "")
	st, err := l.engine().Run(testCtx(t, 60*time.Second), cassyPlan(t, l, cassyOptions(l)))
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "FAILED on cassandra-2") {
		t.Fatalf("run: %s %v, want failed naming cassandra-2", st, err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("left paused: %v", got)
	}
}

// Cassy v1.0.0 to v1.2.0 answer STARTED when a pause fails, set the rows
// FAILED and leave the other nodes paused (no finally). The console must see
// the FAILED rows, unpause every node itself, verify and say so.
func TestCassyBackupPauseRefused(t *testing.T) {
	l := newCassyLab(t, true, 400*time.Millisecond)
	l.fault("scalardl-blue-2", sim.FaultPauseRefused, "")
	p := cassyPlan(t, l, cassyOptions(l))
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "answered STARTED, but backup") || !strings.Contains(err.Error(), "FAILED") {
		t.Fatalf("run: %s %v, want the FAILED rows behind Cassy's STARTED", st, err)
	}
	if !strings.Contains(err.Error(), "the console unpaused all 3 Scalar DL admin targets itself and verified") || !l.sawNotice("Cassy's pause has no finally") {
		t.Errorf("the console does not say it unpaused: %v / %q", err, l.notices())
	}
	if !errors.Is(err, backup.ErrNotResumable) {
		t.Errorf("a FAILED Cassy backup is resumable: %v", err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("left paused: %v", got)
	}
	js := journal(t, l.lab, p.ID)
	markers := map[string]string{}
	for k, m := range js.Markers {
		markers[k] = m.Value
	}
	if ok, advice := backup.ResumeAdvice(markers); ok || !strings.Contains(advice, "take a new backup") {
		t.Errorf("resume advice: %v %q", ok, advice)
	}
}

// Whatever error TakeBackup ends with, the console unpauses every rpc.Admin
// target and says so: here Cassy refuses (the cluster was removed from under
// the run), which it does before pausing anything.
func TestCassyBackupErrorUnpauses(t *testing.T) {
	l := newCassyLab(t, true, 400*time.Millisecond)
	if err := sim.Update(l.simDir, func(st *sim.State) error {
		for _, h := range st.HostsByRole("scalardl") {
			h.Paused = true // as a failed Cassy backup of an earlier run left them
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	o := cassyOptions(l)
	o.Cassy.ClusterID = "ScalarDL-gone"
	p := cassyPlan(t, l, o)
	// Preflight would refuse an unknown cluster: skip it and run the steps.
	p.Preflight = nil
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil {
		t.Fatalf("run: %s %v", st, err)
	}
	if got := l.paused(); len(got) != 0 {
		t.Errorf("left paused: %v (%v)", got, err)
	}
	if !strings.Contains(err.Error(), "unpaused all 3 Scalar DL admin targets itself") {
		t.Errorf("error: %v", err)
	}
}

// The console dies (here: is canceled) after Cassy accepted TakeBackup but
// before the answer arrived: the journal cannot tell whether the backup was
// taken. Resume must find it and poll, never send TakeBackup again.
func TestCassyBackupResumeContinuesPolling(t *testing.T) {
	l := newCassyLab(t, true, 800*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l.mu.Lock()
	l.afterTake = func() {
		cancel()
		time.Sleep(300 * time.Millisecond) // the answer is lost
	}
	l.mu.Unlock()
	p := cassyPlan(t, l, cassyOptions(l))
	st, err := l.engine().Run(ctx, p)
	if st != workflow.StatusCanceled || err == nil {
		t.Fatalf("run: %s %v, want canceled", st, err)
	}
	if got := snapshotOf(t, l.lab, p.ID); got != "" {
		t.Fatalf("the journal knows snapshot %q although the answer was lost", got)
	}
	l.mu.Lock()
	l.afterTake = nil
	l.mu.Unlock()

	// Rebuild the plan from the journalled parameters, as `scalar-tui resume` does.
	raw, err := json.Marshal(p.Params)
	if err != nil {
		t.Fatal(err)
	}
	var o backup.Options
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	o.Dial = l.Dial
	st, err = l.engine().Resume(testCtx(t, 60*time.Second), p.ID, cassyPlan(t, l, o))
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("resume: %s %v", st, err)
	}
	if n := l.takes.Load(); n != 1 {
		t.Errorf("TakeBackup sent %d times, want 1", n)
	}
	if !l.sawNotice("not taking a second one") || !l.sawNotice("COMPLETED on all 3 nodes") {
		t.Errorf("notices: %q", l.notices())
	}
	tag := snapshotOf(t, l.lab, p.ID)
	if got := l.snapshots(tag); len(got) != 3 || !backup.IsUUID(tag) {
		t.Errorf("resume adopted snapshot %q on %v, want Cassy's on the 3 nodes", tag, got)
	}
}

func TestCassyBackupResumeAfterTakenPollsOnly(t *testing.T) {
	l := newCassyLab(t, true, 800*time.Millisecond)
	o := cassyOptions(l)
	o.Cassy.Deadline = 200 * time.Millisecond // the first run gives up waiting
	l.failPolls.Store(true)                   // ... because polling fails meanwhile
	p := cassyPlan(t, l, o)
	st, err := l.engine().Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("run: %s %v, want failed at the deadline", st, err)
	}
	l.failPolls.Store(false)
	o.Cassy.Deadline = 30 * time.Second
	p2 := cassyPlan(t, l, o)
	p2.Fingerprint = p.Fingerprint
	st, err = l.engine().Resume(testCtx(t, 60*time.Second), p.ID, p2)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("resume: %s %v", st, err)
	}
	if n := l.takes.Load(); n != 1 {
		t.Errorf("TakeBackup sent %d times, want 1", n)
	}
}

func TestCassyPreflightRefusals(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		l := newCassyLab(t, true, time.Second)
		l.srv.Stop()
		st, err := l.engine().Run(testCtx(t, 30*time.Second), cassyPlan(t, l, cassyOptions(l)))
		var re *workflow.RefusedError
		if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "cassy-reachable" || !strings.Contains(err.Error(), "Cassy on "+cassyAddr+" is not reachable") {
			t.Fatalf("run: %s %v", st, err)
		}
	})
	t.Run("cassy host down", func(t *testing.T) {
		l := newCassyLab(t, true, time.Second)
		l.fault("cassy-1", sim.FaultNodeDown, "")
		st, err := l.engine().Run(testCtx(t, 30*time.Second), cassyPlan(t, l, cassyOptions(l)))
		var re *workflow.RefusedError
		if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "cassy-reachable" {
			t.Fatalf("run: %s %v", st, err)
		}
	})
	t.Run("not registered", func(t *testing.T) {
		l := newCassyLab(t, false, time.Second)
		st, err := l.engine().Run(testCtx(t, 30*time.Second), cassyPlan(t, l, cassyOptions(l)))
		var re *workflow.RefusedError
		if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "cassy-cluster" {
			t.Fatalf("run: %s %v", st, err)
		}
		for _, want := range []string{`grpcurl -plaintext -d '{"cassandra_host": "cassandra-1.internal.scalar-labs.com"}' localhost:20051 rpc.Cassy.RegisterCluster`, "--cassy-register"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal lacks %q: %v", want, err)
			}
		}
		if l.takes.Load() != 0 {
			t.Error("TakeBackup sent")
		}
	})
	t.Run("register flag", func(t *testing.T) {
		l := newCassyLab(t, false, 300*time.Millisecond)
		o := cassyOptions(l)
		o.Cassy.Register = true
		st, err := l.engine().Run(testCtx(t, 60*time.Second), cassyPlan(t, l, o))
		if err != nil || st != workflow.StatusDone {
			t.Fatalf("run: %s %v", st, err)
		}
		if !l.sawNotice("registered Cassy cluster ScalarDL-") {
			t.Errorf("notices: %q", l.notices())
		}
	})
}

func TestCassyPlanInputs(t *testing.T) {
	l := newCassyLab(t, true, time.Second)
	for _, o := range []backup.Options{
		{Via: backup.ViaCassy, Tag: "before-upgrade"},
		// Cassy v1.0.0-v1.2.0 refuse any snapshot_id for a snapshot.
		{Via: backup.ViaCassy, Tag: "3F2504E0-4F89-41D3-9A0C-0305E82C3301"},
		{Via: backup.ViaCassy, Keyspaces: []string{"scalar"}},
	} {
		if _, err := backup.Plan(l.inv, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	p, err := backup.Plan(l.inv, backup.Options{Via: backup.ViaCassy})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Params.(backup.Options).Tag; got != "" {
		t.Errorf("the plan chose snapshot id %q; Cassy chooses it", got)
	}
	l.inv.Endpoints.Cassy = ""
	if _, err := backup.Plan(l.inv, backup.Options{Via: backup.ViaCassy}); err == nil || !strings.Contains(err.Error(), "no Cassy host") {
		t.Errorf("no cassy host: %v", err)
	}
}

// End to end through the demo: the console's SSH client as the runner, and
// rpc.Cassy on cassy-1:20051 reached by a direct-tcpip channel through the
// in-process bastion, with the cluster the demo registered at start.
func TestCassyBackupThroughDemoBastion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 2*time.Minute)
	d, err := demo.Start(ctx, demo.Options{SimBinary: exe})
	if err != nil {
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: d.TFRoot})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Endpoints.Cassy == "" {
		t.Fatal("the demo inventory has no Cassy endpoint")
	}
	cl, err := sshx.New(sshx.Config{BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: inv.PrivateKeyPath,
		KnownHostsFile: d.KnownHosts, NoAgent: true, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	o := backup.Options{Via: backup.ViaCassy, Cassy: backup.CassyOptions{PollInterval: 200 * time.Millisecond, Deadline: time.Minute},
		Dial: func(ctx context.Context, addr string) (net.Conn, error) { return cl.DialContext(ctx, "tcp", addr) }}
	p, err := backup.Plan(inv, o)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	var mu sync.Mutex
	eng := workflow.New(cl, t.TempDir(), workflow.WithoutLock(), workflow.WithEvents(func(e workflow.Event) {
		if n, ok := e.(*workflow.Notice); ok {
			mu.Lock()
			notes = append(notes, n.Message)
			mu.Unlock()
		}
	}))
	st, err := eng.Run(ctx, p)
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("run: %s %v", st, err)
	}
	tag := ""
	mu.Lock()
	for _, n := range notes {
		if _, rest, ok := strings.Cut(n, "for snapshot "); ok {
			tag, _, _ = strings.Cut(rest, " ")
		}
	}
	mu.Unlock()
	if !backup.IsUUID(tag) {
		t.Fatalf("no snapshot id from Cassy in the notices %q", notes)
	}
	sst, err := sim.Load(d.SimState)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range sst.HostsByRole(sim.RoleCassandra) {
		found := false
		for _, s := range h.Cassandra.Snapshots {
			found = found || s.Tag == tag
		}
		if !found {
			t.Errorf("%s has no snapshot %s", h.Short, tag)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(notes, "\n"), "COMPLETED on all 3 nodes") {
		t.Errorf("notices: %q", notes)
	}
}
