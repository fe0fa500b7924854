package freedisk_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/demoenv"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/freedisk"
	"scalar-tui/ops/workflow/silence"
)

func TestMain(m *testing.M) {
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

const (
	older  = "scalar-tui-20261101-000000"
	newest = "scalar-tui-20261120-000000"
	manual = "before-migration"
)

// fill gives cassandra-2 a 380 GiB manual snapshot (on it only) and two
// cluster-wide backups, the newer one small: /data falls below 25% free.
func fill(t *testing.T, e *demoenv.Env) {
	t.Helper()
	err := sim.Update(e.D.SimState, func(st *sim.State) error {
		for _, h := range st.HostsByRole(sim.RoleCassandra) {
			add := func(tag string, gib float64) {
				h.Cassandra.Snapshots = append(h.Cassandra.Snapshots, sim.SnapshotRec{Tag: tag, Keyspace: "scalar", Table: "asset", Bytes: gib * (1 << 30)})
			}
			add(older, 50)
			add(newest, 1)
			if h.Short == "cassandra-2" {
				add(manual, 380)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestListAndClear(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1})
	fill(t, e)
	e.WaitFiring(t, freedisk.Alert, "cassandra-2", 40*time.Second)

	u, err := freedisk.List(context.Background(), freedisk.ExecOf(e.Cl), e.Inv, "cassandra-2", "~/data")
	if err != nil {
		t.Fatal(err)
	}
	if u.FreePercent >= 25 || u.ThresholdPercent != 25 {
		t.Errorf("free %.1f%%, threshold %.0f", u.FreePercent, u.ThresholdPercent)
	}
	var got []string
	for _, s := range u.Snapshots {
		got = append(got, s.Tag+" "+s.Completeness+map[bool]string{true: " protected"}[s.Protected])
	}
	// Sorted by age, unknown age first; the manual one is partial.
	want := "before-migration 1/3 nodes|" + older + " 3/3 nodes|" + newest + " 3/3 nodes protected"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("snapshots:\n got %s\nwant %s", g, want)
	}

	run := func(o freedisk.Options) (workflow.Status, error) {
		o.GateInterval, o.GateDeadline, o.DataDir = 200*time.Millisecond, 40*time.Second, "~/data"
		p, err := freedisk.Plan(e.Inv, o)
		if err != nil {
			t.Fatal(err)
		}
		silence.Wrap(p, silence.Options{Client: e.AM, Hosts: []string{e.Host(t, "cassandra-2").Name}})
		return e.Engine(t, nil).Run(context.Background(), p)
	}
	// The newest complete backup is refused without --force.
	if status, err := run(freedisk.Options{Host: "cassandra-2", Snapshots: []string{newest}}); status != workflow.StatusRefused || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("newest: status %s, %v", status, err)
	}
	// Clearing the older backup alone is not enough: the run says so.
	if status, err := run(freedisk.Options{Host: "cassandra-2", Snapshots: []string{older}}); status != workflow.StatusFailed || !strings.Contains(err.Error(), "still") {
		t.Fatalf("older only: status %s, %v", status, err)
	}
	// The big manual snapshot: /data is back above 25% and the alert clears.
	if status, err := run(freedisk.Options{Host: "cassandra-2", Snapshots: []string{manual}, Health: e.Health}); status != workflow.StatusDone {
		t.Fatalf("manual: status %s, %v", status, err)
	}
	var left []string
	for _, s := range e.Sim(t).Host("cassandra-2").Cassandra.Snapshots {
		left = append(left, s.Tag)
	}
	if strings.Join(left, " ") != newest {
		t.Errorf("snapshots left on cassandra-2: %v", left)
	}
	if firing, _ := e.Firing(context.Background(), freedisk.Alert, "cassandra-2"); firing {
		t.Error("alert still firing")
	}
	// The other nodes keep their copies.
	if n := len(e.Sim(t).Host("cassandra-1").Cassandra.Snapshots); n != 2 {
		t.Errorf("cassandra-1 has %d snapshots, want 2", n)
	}
}

func TestParsers(t *testing.T) {
	ages := freedisk.ParseAges("1700000100.5 snapA\n1700000000.25 snapA\nbad line\n1700000200 snapB\n")
	if ages["snapA"].Unix() != 1700000000 || ages["snapB"].Unix() != 1700000200 || len(ages) != 2 {
		t.Errorf("ages %v", ages)
	}
	b := freedisk.ParseBackups("1024\t/data/scalar/asset-1a2b/backups\n2048\t/data/scalar/tx-9f/backups\n4\t/data/coordinator/state-77/backups\nx\t/data/y\n")
	if len(b) != 2 || b[0].Keyspace != "coordinator" || b[1].Tables != 2 || b[1].Bytes != 3072*1024 {
		t.Errorf("backups %+v", b)
	}
	// Any data directory: in a home, with a space in it.
	b = freedisk.ParseBackups("8\t/home/centos/my data/scalar/asset-1a2b/backups\n8\t/home/centos/my data/scalar/tx-9f/backups\n")
	if len(b) != 1 || b[0].Keyspace != "scalar" || b[0].Tables != 2 {
		t.Errorf("backups under a home: %+v", b)
	}
	if tt := freedisk.TagTime("scalar-tui-20261120-153000"); tt.Format(time.RFC3339) != "2026-11-20T15:30:00Z" {
		t.Errorf("tag time %v", tt)
	}
	if tt := freedisk.TagTime("1700000000000"); tt.Unix() != 1700000000 {
		t.Errorf("epoch tag %v", tt)
	}
	if !freedisk.TagTime("manual").IsZero() {
		t.Error("manual tag has a time")
	}
}

func TestPlanBadInput(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 1, Blue: 1, Envoy: 1, Prom: demo.PromOptions{Disabled: true}})
	for _, c := range []struct {
		o    freedisk.Options
		want string
	}{
		{freedisk.Options{}, "--host is required"},
		{freedisk.Options{Host: "cassandra-1"}, "nothing selected"},
		{freedisk.Options{Host: "cassandra-1", Snapshots: []string{"a"}, DataDir: "data"}, "bad directory"},
		{freedisk.Options{Host: "cassandra-1", Snapshots: []string{"a"}, DataDir: "/data/../etc"}, "bad directory"},
		{freedisk.Options{Host: "envoy-1", Snapshots: []string{"a"}}, "not a Cassandra node"},
		{freedisk.Options{Host: "cassandra-1", Backups: []string{"a;rm"}}, "bad keyspace"},
		{freedisk.Options{Host: "cassandra-1", Snapshots: []string{"a b"}}, "tag"},
	} {
		if _, err := freedisk.Plan(e.Inv, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}

// The listing reads the data directory it is given: on the demo the node's
// files are in ~/data, where find dates a snapshot taken there; /data (not
// on the demo's nodes) dates nothing, and the commands never run with an
// unquoted directory.
func TestListReadsTheDataDir(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Prom: demo.PromOptions{Disabled: true}})
	ctx := context.Background()
	c2 := e.Host(t, "cassandra-2")
	if r, err := e.Cl.Run(ctx, c2.Name, "nodetool snapshot -t hand-made scalar", sshx.RunOptions{}); err != nil || r.ExitCode != 0 {
		t.Fatalf("nodetool snapshot: %+v %v", r, err)
	}
	taken := func(dir string) time.Time {
		u, err := freedisk.List(ctx, freedisk.ExecOf(e.Cl), e.Inv, "cassandra-2", dir)
		if err != nil {
			t.Fatalf("List %s: %v", dir, err)
		}
		for _, s := range u.Snapshots {
			if s.Tag == "hand-made" {
				return s.Taken
			}
		}
		t.Fatalf("List %s: no hand-made snapshot in %+v", dir, u.Snapshots)
		return time.Time{}
	}
	if tt := taken("~/data"); tt.IsZero() || time.Since(tt) > time.Hour {
		t.Errorf("~/data: taken %v, want the snapshot directory's time", tt)
	}
	if tt := taken("/data"); !tt.IsZero() {
		t.Errorf("/data is not the demo node's data directory, yet dated the snapshot %v", tt)
	}
	// A quote is allowed in a directory name: it must stay a name. (The
	// demo's hosts run commands on this machine, so the file would appear.)
	pwned := filepath.Join(t.TempDir(), "pwned")
	_, _ = freedisk.List(ctx, freedisk.ExecOf(e.Cl), e.Inv, "cassandra-2", "~/x'; touch "+pwned+"; '")
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("the data directory was run as a command")
	}
	for _, cmd := range []string{freedisk.DFCommand("~/a b"), freedisk.AgesCommand("~/a b"), freedisk.BackupsCommand("~/a b"), freedisk.ClearBackupsCommand("~/a b", "scalar")} {
		if !strings.Contains(cmd, `"$HOME"/'a b'`) {
			t.Errorf("unquoted directory in %s", cmd)
		}
	}
}

// A node that does not say which snapshots it has (its SSH or nodetool
// hangs) is listed as unanswered within its own bound, not after the whole
// listing's; and a backup on every node that answered may be complete, so
// the newest such one stays protected: before, it counted as incomplete and
// could be cleared without --force, leaving no complete backup.
func TestListWithANodeThatDoesNotAnswer(t *testing.T) {
	e := demoenv.Start(t, demo.Options{Cassandra: 3, Blue: 1, Envoy: 1, Prom: demo.PromOptions{Disabled: true}})
	fill(t, e)
	defer freedisk.SetOtherNodeTimeout(200 * time.Millisecond)()
	exec := freedisk.ExecOf(e.Cl)
	hung := func(ctx context.Context, host, cmd string) (workflow.CommandResult, error) {
		if strings.HasPrefix(host, "cassandra-3.") {
			<-ctx.Done()
			return workflow.CommandResult{}, ctx.Err()
		}
		return exec(ctx, host, cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u, err := freedisk.List(ctx, hung, e.Inv, "cassandra-2", "~/data")
	if err != nil {
		t.Fatalf("List with cassandra-3 hung: %v", err)
	}
	if strings.Join(u.Unanswered, ",") != "cassandra-3" {
		t.Errorf("unanswered %v, want cassandra-3", u.Unanswered)
	}
	by := map[string]freedisk.Snapshot{}
	for _, s := range u.Snapshots {
		by[s.Tag] = s
	}
	if s := by[newest]; s.Complete || !s.MayBeComplete || !s.Protected || !strings.Contains(s.Completeness, "2/3 nodes, cassandra-3 did not answer") {
		t.Errorf("newest backup with a node silent: %+v, want may be complete and protected", s)
	}
	// The newer one may be missing on cassandra-3: then the older one is
	// the newest complete backup. Not knowing, both are protected.
	if s := by[older]; !s.MayBeComplete || !s.Protected {
		t.Errorf("older backup: %+v, want may be complete and protected", s)
	}
	if s := by[manual]; s.MayBeComplete || s.Protected {
		t.Errorf("the snapshot on cassandra-2 only: %+v", s)
	}
}
