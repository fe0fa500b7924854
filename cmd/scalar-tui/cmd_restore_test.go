package main

// End-to-end tests of `restore` and `restore --undo` against the in-process
// demo: real SSH through the bastion, the simulator's data directories as
// real files, the demo's Alertmanager for the silence.

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
)

// liveFiles maps host/ks/table-dir/file to content for every Cassandra node.
func (e *repairEnv) liveFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range e.d.Hosts {
		if h.Role != sim.RoleCassandra {
			continue
		}
		tds, _ := filepath.Glob(filepath.Join(h.Home, "data", "*", "*-*"))
		tds = append(tds[:0:0], tds...)
		keep := tds[:0]
		for _, td := range tds {
			if ks := filepath.Base(filepath.Dir(td)); ks == "scalar" || ks == "coordinator" {
				keep = append(keep, td)
			}
		}
		tds = keep
		for _, td := range tds {
			ents, _ := os.ReadDir(td)
			for _, f := range ents {
				if f.Type().IsRegular() {
					b, _ := os.ReadFile(filepath.Join(td, f.Name()))
					rel, _ := filepath.Rel(filepath.Join(h.Home, "data"), filepath.Join(td, f.Name()))
					out[h.Short+"/"+rel] = string(b)
				}
			}
		}
	}
	return out
}

func sameMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRestoreCLIEndToEnd(t *testing.T) {
	e := startOpsEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	inv, lerr := inventory.Load(ctx, inventory.Options{TFRoot: e.d.TFRoot})
	if lerr != nil {
		t.Fatal(lerr)
	}
	name := inv.NetworkName
	time.Sleep(600 * time.Millisecond) // Scalar DL serves after its delay
	if _, err := sim.Write(e.d.SimState, 5, time.Now()); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := e.opsCLI(ctx, "backup", "--tag", "b1", "--yes", "--min-free-percent", "-1"); code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}
	atBackup := e.liveFiles(t)
	if _, err := sim.Write(e.d.SimState, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	before := e.liveFiles(t)
	dirs := []string{"--data-dir", "~/data", "--commitlog-dir", "~/commitlog", "--gate-interval", "200ms", "--gate-deadline", "30s"}

	// Bad input: exit 2 and nothing done.
	for _, bad := range [][]string{
		{"restore", "--yes"},
		{"restore", "--tag", "b1", "--yes"},
		{"restore", "--tag", "b1", "--yes", "--confirm-deployment", "prod"},
		{"restore", "--tag", "a/b", "--dry-run"},
		{"restore", "--undo", "x", "--tag", "b1", "--yes", "--confirm-deployment", name},
	} {
		out, errOut, code := e.opsCLI(ctx, append(bad, dirs...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s\n%s", bad, code, out, errOut)
		}
	}
	if !sameMaps(before, e.liveFiles(t)) {
		t.Fatal("bad input changed the data")
	}
	out, errOut, code := e.opsCLI(ctx, append([]string{"restore", "--tag", "b1", "--dry-run"}, dirs...)...)
	var err error
	if code != 0 || !strings.Contains(out, "confirm-deployment") || !strings.Contains(out, "swap-data") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}

	// At a terminal, "yes" (enough for other workflows) is not: the
	// deployment's name must be typed.
	old := stdinIsTerminal
	stdinIsTerminal = func(io.Reader) bool { return true }
	t.Cleanup(func() { stdinIsTerminal = old })
	restoreArgs := append(append(e.global(), "restore", "--tag", "b1", "--json", "--lock-path", e.lockPath), dirs...)
	out, errOut, err = runCLIIn(ctx, "yes\n", restoreArgs...)
	if code := exitCodeOf(err); code != 1 || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("typed yes: exit %d %v\n%s", code, err, errOut)
	}
	if !sameMaps(before, e.liveFiles(t)) {
		t.Fatal("an unconfirmed restore changed the data")
	}
	out, errOut, err = runCLIIn(ctx, name+"\n", restoreArgs...)
	if code := exitCodeOf(err); code != 0 {
		t.Fatalf("restore: exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	if !strings.Contains(errOut, "Type the deployment's name ("+name+")") {
		t.Errorf("prompt: %q", errOut)
	}
	run, status := finished(t, out)
	if status != "done" || !strings.Contains(out, "alerts of") {
		t.Fatalf("restore %s ended %s (silence wired?)\n%s", run, status, out)
	}
	if !sameMaps(atBackup, e.liveFiles(t)) {
		t.Fatal("after the restore the live files are not the snapshot's")
	}

	out, errOut, code = e.opsCLI(ctx, "restore", "--undo", run, "--yes", "--confirm-deployment", name, "--json", "--gate-interval", "200ms", "--gate-deadline", "30s")
	if code != 0 {
		t.Fatalf("undo: exit %d\n%s\n%s", code, out, errOut)
	}
	if !sameMaps(before, e.liveFiles(t)) {
		t.Fatal("after the undo the live files are not what was there before the restore")
	}
}

// TestRestoreCLIResume: Cassandra fails to start on one node after the
// swap; the run fails naming it; once fixed, `resume RUN` rebuilds the
// restore from its journal (the registered resume builder) and completes.
func TestRestoreCLIResume(t *testing.T) {
	e := startOpsEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: e.d.TFRoot})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := sim.Write(e.d.SimState, 5, time.Now()); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := e.opsCLI(ctx, "backup", "--tag", "b1", "--yes", "--min-free-percent", "-1"); code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}
	atBackup := e.liveFiles(t)
	if _, err := sim.Write(e.d.SimState, 3, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := sim.InjectFault(e.d.SimState, "cassandra-3", sim.FaultStartFails, ""); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.opsCLI(ctx, "restore", "--tag", "b1", "--yes", "--confirm-deployment", inv.NetworkName, "--json",
		"--data-dir", "~/data", "--commitlog-dir", "~/commitlog", "--gate-interval", "200ms", "--gate-deadline", "30s")
	if code != 1 || !strings.Contains(out, "failed to start on cassandra-3") {
		t.Fatalf("restore with cassandra-3 failing: exit %d\n%s\n%s", code, out, errOut)
	}
	run, status := finished(t, out)
	if status != "failed" || !strings.Contains(out, "state cassandra-3: cassandra failed") {
		t.Fatalf("run %s ended %s without the node states:\n%s", run, status, out)
	}
	if err := sim.ClearFault(e.d.SimState, "cassandra-3", sim.FaultStartFails); err != nil {
		t.Fatal(err)
	}
	// Resuming replaces data again: the deployment's name is typed again.
	for _, extra := range [][]string{nil, {"--confirm-deployment", "not-" + inv.NetworkName}} {
		out, errOut, code = e.opsCLI(ctx, append([]string{"resume", run, "--yes", "--json"}, extra...)...)
		if code != exitBadInput || !strings.Contains(errOut, "--confirm-deployment") {
			t.Fatalf("resume %v of a restore: exit %d, want %d naming --confirm-deployment\n%s\n%s", extra, code, exitBadInput, out, errOut)
		}
	}
	out, errOut, code = e.opsCLI(ctx, "resume", run, "--yes", "--json", "--confirm-deployment", inv.NetworkName)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if !sameMaps(atBackup, e.liveFiles(t)) {
		t.Fatal("after the resumed restore the live files are not the snapshot's")
	}
}

// runCLIIn is runCLI with stdin.
func runCLIIn(ctx context.Context, stdin string, args ...string) (string, string, error) {
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}
