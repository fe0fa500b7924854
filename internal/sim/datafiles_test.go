package sim

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/ops/nodetool"
)

// dataCluster is newCluster with real data directories on cassandra-1 and -2.
func dataCluster(t *testing.T) (dir string, roots map[string]string) {
	t.Helper()
	dir = newCluster(t)
	roots = map[string]string{}
	for _, h := range []string{cass1, cass2} {
		roots[h] = t.TempDir()
		if err := SetDataRoot(dir, h, roots[h]); err != nil {
			t.Fatal(err)
		}
	}
	// Scalar DL serves once its delay passed.
	if err := Update(dir, func(st *State) error {
		for _, h := range st.HostsByRole("scalardl") {
			h.ScalarContainer().ReadyAt = time.Time{}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return dir, roots
}

func gens(t *testing.T, dir, host, ks, table, tag string) []int {
	t.Helper()
	ss, err := TableFiles(dir, host, ks, table, tag)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, s := range ss {
		out = append(out, s.Generation)
	}
	return out
}

func TestDataFilesWriteSnapshotAndTools(t *testing.T) {
	dir, roots := dataCluster(t)
	now := time.Now()
	if n, err := Write(dir, 5, now); err != nil || n != 2 {
		t.Fatalf("write: %d %v", n, err)
	}
	if g := gens(t, dir, cass1, "scalar", "asset", ""); len(g) != 2 || g[1] != 2 {
		t.Fatalf("asset generations after a write: %v", g)
	}
	// A table no write touches keeps generation 1.
	if g := gens(t, dir, cass1, "scalar", "contract", ""); len(g) != 1 {
		t.Fatalf("contract generations: %v", g)
	}
	if r := run(t, dir, cass1, "nodetool", "snapshot", "-t", "b1", "scalar", "coordinator"); r.rc != 0 {
		t.Fatalf("snapshot: %+v", r)
	}
	if g := gens(t, dir, cass1, "scalar", "asset", "b1"); len(g) != 2 {
		t.Fatalf("snapshot generations: %v", g)
	}
	td := TableDir(roots[cass1], "scalar", "asset")
	snap := filepath.Join(td, "snapshots", "b1")
	// Hard links: same inode as the live file.
	a, _ := os.Stat(filepath.Join(td, "md-2-big-Data.db"))
	b, _ := os.Stat(filepath.Join(snap, "md-2-big-Data.db"))
	if !os.SameFile(a, b) {
		t.Error("the snapshot's Data.db is not a hard link of the live one")
	}
	if _, err := os.Stat(filepath.Join(snap, "manifest.json")); err != nil {
		t.Error(err)
	}
	r := run(t, dir, cass1, "nodetool", "listsnapshots")
	snaps, err := nodetool.ParseListSnapshots(r.stdout)
	if err != nil || len(snaps) != 7 {
		t.Fatalf("listsnapshots: %v %d\n%s", err, len(snaps), r.stdout)
	}
	// Writes after the snapshot do not change it.
	if _, err := Write(dir, 3, now); err != nil {
		t.Fatal(err)
	}
	if g := gens(t, dir, cass1, "scalar", "asset", ""); len(g) != 3 {
		t.Fatalf("live after second write: %v", g)
	}
	if g := gens(t, dir, cass1, "scalar", "asset", "b1"); len(g) != 2 {
		t.Fatalf("snapshot after second write: %v", g)
	}
	// The real tools work on the files: mv aside, ln back.
	aside := t.TempDir()
	out, err := exec.Command("sh", "-c", "set -e; cd "+td+"; mv md-* "+aside+"/; ln snapshots/b1/md-* .; ls").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if g := gens(t, dir, cass1, "scalar", "asset", ""); len(g) != 2 || g[1] != 2 {
		t.Fatalf("live after swap: %v", g)
	}
	// clearsnapshot removes the directory.
	run(t, dir, cass1, "nodetool", "clearsnapshot", "-t", "b1")
	if _, err := os.Stat(snap); !os.IsNotExist(err) {
		t.Errorf("snapshot dir after clearsnapshot: %v", err)
	}
	// df maps the data directory to /data.
	r = runEnv(t, dir, cass1, map[string]string{"HOME": roots[cass1]}, "df", "-Pk", roots[cass1]+"/data")
	if !strings.Contains(r.stdout, " /data") {
		t.Errorf("df of the data dir: %q", r.stdout)
	}
}

func runEnv(t *testing.T, dir, host string, extra map[string]string, args ...string) result {
	t.Helper()
	var o, e strings.Builder
	env := map[string]string{EnvState: dir, EnvHost: host, "PWD": t.TempDir()}
	for k, v := range extra {
		env[k] = v
	}
	rc := Main(t.Context(), args, env, strings.NewReader(""), &o, &e)
	return result{rc, o.String(), e.String()}
}

func TestStartChecksData(t *testing.T) {
	dir, roots := dataCluster(t)
	run(t, dir, cass1, "systemctl", "stop", "cassandra")
	// Corrupt one SSTable: Cassandra refuses to start.
	p := filepath.Join(TableDir(roots[cass1], "scalar", "asset"), "md-1-big-Data.db")
	if err := os.WriteFile(p, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, dir, cass1, "systemctl", "start", "cassandra"); r.rc != 0 {
		t.Fatalf("start: %+v", r)
	}
	if r := run(t, dir, cass1, "systemctl", "is-active", "cassandra"); r.rc == 0 || strings.TrimSpace(r.stdout) != "failed" {
		t.Errorf("is-active after a corrupt start: %+v", r)
	}
	if err := InjectFault(dir, cass2, FaultStartFails, ""); err != nil {
		t.Fatal(err)
	}
	run(t, dir, cass2, "systemctl", "stop", "cassandra")
	run(t, dir, cass2, "systemctl", "start", "cassandra")
	if r := run(t, dir, cass2, "systemctl", "is-active", "cassandra"); r.rc == 0 {
		t.Errorf("start-fails: %+v", r)
	}
	if err := ClearFault(dir, cass2, FaultStartFails); err != nil {
		t.Fatal(err)
	}
	run(t, dir, cass2, "systemctl", "start", "cassandra")
	if r := run(t, dir, cass2, "systemctl", "is-active", "cassandra"); r.rc != 0 {
		t.Errorf("start after clearing the fault: %+v", r)
	}
}
