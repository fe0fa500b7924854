package main

// Issue 17's bad input and faults, on the real lab (internal/lab +
// internal/labnodes, as TestLabRestore): real sshd hosts in network
// namespaces, real mv/ln/find/cksum on each node's data directory, the
// simulator's nodetool, systemctl and docker. In each case nothing is
// deleted, the report says what state each node is in, and undo or resume
// completes. One lab serves every subtest, in order; each starts from a
// healthy cluster with the backup "fb1" complete.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
	"scalar-tui/ops/workflow/restore"
)

// restoreFaultsLab is the lab of TestLabRestoreFaults.
type restoreFaultsLab struct {
	t        *testing.T
	l        *lab.Lab
	n        *labnodes.Nodes
	lockPath string
	state    string // XDG_STATE_HOME of every CLI call, in process or not
}

// args are the global flags, words and the lock path. --connect-timeout is
// short: an unreachable node costs the report one timeout per probe.
func (e *restoreFaultsLab) args(words ...string) []string {
	a := append(labGlobalArgs(e.t, e.l), "--connect-timeout", "3s")
	a = append(a, words...)
	if words[0] != "backups" {
		a = append(a, "--lock-path", e.lockPath)
	}
	return a
}

func (e *restoreFaultsLab) cli(words ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, errOut, err := runCLI(ctx, e.args(words...)...)
	return out, errOut, exitCodeOf(err)
}

// restoreArgs restores tag on the lab's data directories.
func (e *restoreFaultsLab) restoreArgs(tag string, extra ...string) []string {
	return append([]string{"restore", "--tag", tag, "--yes", "--confirm-deployment", e.n.Inventory.NetworkName, "--json",
		"--data-dir", "~/data", "--commitlog-dir", "~/commitlog", "--gate-interval", "300ms", "--gate-deadline", "60s"}, extra...)
}

func (e *restoreFaultsLab) undo(run string) {
	e.t.Helper()
	begin := time.Now()
	out, errOut, code := e.cli("restore", "--undo", run, "--yes", "--confirm-deployment", e.n.Inventory.NetworkName, "--json",
		"--gate-interval", "300ms", "--gate-deadline", "60s")
	e.t.Logf("undo: %s", time.Since(begin).Round(time.Millisecond))
	if _, st := finished(e.t, out); code != exitOK || st != "done" {
		e.t.Fatalf("undo of %s: exit %d, %s\n%s\n%s", run, code, st, out, errOut)
	}
}

// cassandraStopped reports whether Cassandra is stopped on every node (the
// restore's step 3 is done).
func (e *restoreFaultsLab) cassandraStopped() bool {
	st, err := sim.Load(e.n.SimState)
	if err != nil {
		return false
	}
	for _, h := range st.HostsByRole(sim.RoleCassandra) {
		if h.Cassandra.Active {
			return false
		}
	}
	return true
}

// healthy waits until every Cassandra node is up and every Scalar DL node
// serves (the state each subtest starts and ends in).
func (e *restoreFaultsLab) healthy() {
	e.t.Helper()
	var why string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		st, err := sim.Load(e.n.SimState)
		if err != nil {
			why = err.Error()
			continue
		}
		why = ""
		now := time.Now()
		for _, h := range st.HostsByRole(sim.RoleCassandra) {
			if !st.CassandraUp(h, now) {
				why += h.Short + " down; "
			}
		}
		for _, h := range st.HostsByRole("scalardl") {
			if st.Health(h, h.ScalarContainer(), now) != sim.Serving {
				why += h.Short + " not serving; "
			}
		}
		if why == "" {
			return
		}
	}
	e.t.Fatalf("the cluster is not healthy: %s", why)
}

// nodeFiles maps host/relative path to content for every regular file
// under each Cassandra node's data directory, the restore runs' directory
// included: whatever a restore moves aside is still in this map.
func (e *restoreFaultsLab) nodeFiles() map[string]string {
	out := map[string]string{}
	for _, h := range e.l.Hosts {
		if h.Role != sim.RoleCassandra {
			continue
		}
		root := filepath.Join(h.HomeDir, "data")
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[h.Short+"/"+rel] = string(b)
			return nil
		})
	}
	return out
}

// missing lists the SSTable files of live (host/ks/table/file → content)
// whose content is nowhere on their host any more: the files a restore
// would have deleted.
func (e *restoreFaultsLab) missing(live map[string]string) []string {
	all := e.nodeFiles()
	have := map[string]bool{}
	for k, v := range all {
		have[strings.SplitN(k, "/", 2)[0]+"\x00"+filepath.Base(k)+"\x00"+v] = true
	}
	var out []string
	for k, v := range live {
		if !have[strings.SplitN(k, "/", 2)[0]+"\x00"+filepath.Base(k)+"\x00"+v] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// states returns the report's "state HOST: …" notices.
func states(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, ev := range events(t, out) {
		msg, _ := ev["message"].(string)
		if ev["type"] == "notice" && strings.HasPrefix(msg, "state ") {
			if host, rest, ok := strings.Cut(strings.TrimPrefix(msg, "state "), ": "); ok {
				m[host] = rest
			}
		}
	}
	return m
}

// wantStates fails unless the report gave the state of every Cassandra and
// Scalar DL node.
func (e *restoreFaultsLab) wantStates(out string) map[string]string {
	e.t.Helper()
	m := states(e.t, out)
	for _, h := range e.l.Hosts {
		if h.Role != sim.RoleCassandra && !strings.HasPrefix(h.Role, "scalardl") {
			continue
		}
		if m[h.Short] == "" {
			e.t.Errorf("the report lacks the state of %s; states: %v", h.Short, m)
		}
	}
	return m
}

func TestLabRestoreFaults(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	hosts, err := lab.ParseHosts("cassandra=3,scalardl-blue=2,envoy=1,monitor=1")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.ServingDelay = sim.Duration(500 * time.Millisecond)
	cfg.CassandraStartDelay = sim.Duration(500 * time.Millisecond)
	cfg.PauseDrain = sim.Duration(100 * time.Millisecond)
	begin := time.Now()
	l, n := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: bin, SimConfig: &cfg})
	t.Logf("lab of %d hosts with nodes up in %s", len(l.Hosts)+1, time.Since(begin).Round(time.Millisecond))
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	e := &restoreFaultsLab{t: t, l: l, n: n, lockPath: labLockPath(t, "rflab"), state: state}
	e.healthy()
	if _, err := sim.Write(n.SimState, 5, time.Now()); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := e.cli("backup", "--tag", "fb1", "--yes", "--min-free-percent", "-1"); code != exitOK {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}
	atBackup := labLiveFiles(t, l)
	// Data written after the backup: what a restore moves aside and undo
	// puts back.
	if _, err := sim.Write(n.SimState, 4, time.Now()); err != nil {
		t.Fatal(err)
	}
	name := n.Inventory.NetworkName

	// A tag with shell metacharacters is refused before anything runs; the
	// live files are untouched and no run holds the lock.
	t.Run("TagWithShellMetacharacters", func(t *testing.T) {
		e.t = t
		before := labLiveFiles(t, l)
		marker := filepath.Join(t.TempDir(), "pwned")
		for _, tag := range []string{"fb1; touch " + marker, "$(touch " + marker + ")", "`touch " + marker + "`", "fb1' || touch '" + marker, "../fb1"} {
			out, errOut, code := e.cli(e.restoreArgs(tag)...)
			if code != exitBadInput {
				t.Errorf("tag %q: exit %d, want %d\n%s\n%s", tag, code, exitBadInput, out, errOut)
			}
			if strings.Contains(errOut, "panic") || !strings.Contains(errOut, "tag") {
				t.Errorf("tag %q: the refusal does not say what is wrong with the tag:\n%s", tag, errOut)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("a tag's shell metacharacters ran a command")
		}
		if !sameMaps(before, labLiveFiles(t, l)) {
			t.Error("the live files changed")
		}
		if _, err := os.Stat(e.lockPath); err == nil {
			t.Error("the cluster lock is held after the refusals")
		}
	})

	// cassandra-3 unreachable before the restore: preflight refuses it,
	// naming the node; nothing moved.
	t.Run("NodeUnreachableBefore", func(t *testing.T) {
		e.t = t
		before := labLiveFiles(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.InjectFault(ctx, "cassandra-3", sim.FaultNodeDown, ""); err != nil {
			t.Fatal(err)
		}
		cleared := false
		defer func() {
			if !cleared {
				_ = n.ClearFault(context.Background(), "cassandra-3", sim.FaultNodeDown)
			}
		}()
		out, errOut, code := e.cli(e.restoreArgs("fb1")...)
		_, st := finished(t, out)
		if code == exitOK || (st != "" && st != "refused") {
			t.Fatalf("restore with cassandra-3 unreachable: exit %d, %s\n%s\n%s", code, st, out, errOut)
		}
		if !strings.Contains(out+errOut, "cassandra-3") {
			t.Errorf("the refusal does not name cassandra-3:\n%s\n%s", out, errOut)
		}
		if !sameMaps(before, labLiveFiles(t, l)) {
			t.Error("a refused restore changed the live files")
		}
		if err := n.ClearFault(ctx, "cassandra-3", sim.FaultNodeDown); err != nil {
			t.Fatal(err)
		}
		cleared = true
		e.healthy()
	})

	// cassandra-3 becomes unreachable once every node is stopped (between
	// steps 3 and 4/5): the run stops, the report gives every node's state
	// (cassandra-3 unreachable), nothing is deleted; once it is back, undo
	// puts every node's previous data back.
	t.Run("NodeUnreachableMidRestore", func(t *testing.T) {
		e.t = t
		before := labLiveFiles(t, l)
		type result struct {
			out, errOut string
			code        int
		}
		done := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out, errOut, err := runCLI(ctx, e.args(e.restoreArgs("fb1")...)...)
			done <- result{out, errOut, exitCodeOf(err)}
		}()
		injected := false
		var r result
	wait:
		for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
			select {
			case r = <-done:
				break wait
			default:
			}
			if !injected && e.cassandraStopped() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := n.InjectFault(ctx, "cassandra-3", sim.FaultNodeDown, "")
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				injected = true
				t.Cleanup(func() { _ = n.ClearFault(context.Background(), "cassandra-3", sim.FaultNodeDown) })
			}
			if time.Now().After(deadline) {
				t.Fatal("the restore did not end within 3 minutes")
			}
		}
		if !injected {
			t.Fatalf("the restore ended before Cassandra was stopped everywhere:\n%s\n%s", r.out, r.errOut)
		}
		run, st := finished(t, r.out)
		if r.code != 1 || st != "failed" {
			t.Fatalf("restore with cassandra-3 lost mid-way: exit %d, %s\n%s\n%s", r.code, st, r.out, r.errOut)
		}
		sts := e.wantStates(r.out)
		t.Logf("states after the loss: %v", sts)
		if !strings.Contains(sts["cassandra-3"], "unreachable") {
			t.Errorf("cassandra-3's state is %q, want unreachable", sts["cassandra-3"])
		}
		if m := e.missing(before); len(m) != 0 {
			t.Errorf("files deleted by the failed restore: %v", m)
		}
		if err := n.ClearFault(context.Background(), "cassandra-3", sim.FaultNodeDown); err != nil {
			t.Fatal(err)
		}
		e.undo(run)
		if !sameMaps(before, labLiveFiles(t, l)) {
			t.Error("after the undo the live files are not the pre-restore ones")
		}
		e.healthy()
	})

	// Cassandra fails to start on cassandra-2 after the swap: the run fails
	// with every node's state; resume is refused without the deployment's
	// name typed again; undo puts the kept data back.
	t.Run("StartFailsAfterSwapThenUndo", func(t *testing.T) {
		e.t = t
		before := labLiveFiles(t, l)
		if err := sim.InjectFault(n.SimState, "cassandra-2", sim.FaultStartFails, ""); err != nil {
			t.Fatal(err)
		}
		cleared := false
		defer func() {
			if !cleared {
				_ = sim.ClearFault(n.SimState, "cassandra-2", sim.FaultStartFails)
			}
		}()
		out, errOut, code := e.cli(e.restoreArgs("fb1")...)
		run, st := finished(t, out)
		if code != 1 || st != "failed" || !strings.Contains(out, "failed to start on cassandra-2") {
			t.Fatalf("restore with cassandra-2 failing to start: exit %d, %s\n%s\n%s", code, st, out, errOut)
		}
		sts := e.wantStates(out)
		if !strings.Contains(sts["cassandra-2"], "cassandra failed") {
			t.Errorf("cassandra-2's state is %q, want cassandra failed", sts["cassandra-2"])
		}
		if m := e.missing(before); len(m) != 0 {
			t.Errorf("files deleted by the failed restore: %v", m)
		}
		if err := sim.ClearFault(n.SimState, "cassandra-2", sim.FaultStartFails); err != nil {
			t.Fatal(err)
		}
		cleared = true
		for _, extra := range [][]string{nil, {"--confirm-deployment", name + "-other"}} {
			if out, errOut, code := e.cli(append([]string{"resume", run, "--yes", "--json"}, extra...)...); code != exitBadInput || !strings.Contains(errOut, "--confirm-deployment") {
				t.Errorf("resume %v of the failed restore: exit %d, want %d naming --confirm-deployment\n%s\n%s", extra, code, exitBadInput, out, errOut)
			}
		}
		e.undo(run)
		if !sameMaps(before, labLiveFiles(t, l)) {
			t.Error("after the undo the live files are not the pre-restore ones")
		}
		e.healthy()
	})

	// The console (here the CLI, its own process) is killed with SIGKILL
	// once Cassandra is stopped everywhere (between steps 3 and 5); resume
	// with the deployment's name completes the restore: every node holds the
	// snapshot's files and the cluster is healthy.
	t.Run("KilledBetweenStepsThenResumed", func(t *testing.T) {
		e.t = t
		if testing.Short() {
			t.Skip("builds the binary")
		}
		cli := cliBinary(t)
		cmd := exec.Command(cli, e.args(e.restoreArgs("fb1")...)...)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+e.state)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &subprocess{cmd: cmd, done: make(chan struct{})}
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			for sc.Scan() {
				p.mu.Lock()
				p.lines = append(p.lines, sc.Text())
				p.mu.Unlock()
			}
			_ = cmd.Wait()
			close(p.done)
		}()
		waitFor(t, 3*time.Minute, "Cassandra stopped on every node", func() bool {
			select {
			case <-p.done:
				t.Fatalf("the restore ended before it was killed:\n%s", p.output())
			default:
			}
			return e.cassandraStopped()
		})
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t, 30*time.Second); code != 128+int(syscall.SIGKILL) {
			t.Fatalf("exit %d after SIGKILL", code)
		}
		run := ""
		for _, ev := range events(t, p.output()) {
			if ev["type"] == "plan" {
				run, _ = ev["run"].(string)
			}
		}
		if run == "" {
			t.Fatalf("no plan event before the kill:\n%s", p.output())
		}
		t.Logf("killed %s after: %s", run, lastStep(t, p.output()))
		begin := time.Now()
		out, errOut, code := e.cli("resume", run, "--yes", "--json", "--confirm-deployment", name)
		t.Logf("resume: %s", time.Since(begin).Round(time.Millisecond))
		if _, st := finished(t, out); code != exitOK || st != "done" {
			t.Fatalf("resume after SIGKILL: exit %d, %s\n%s\n%s", code, st, out, errOut)
		}
		if got := labLiveFiles(t, l); !sameMaps(atBackup, got) {
			t.Errorf("after the resumed restore the live files are not the snapshot's (%d vs %d files)", len(got), len(atBackup))
		}
		// The data written after the backup sits in the run's directory.
		for _, h := range l.Hosts {
			if h.Role != sim.RoleCassandra {
				continue
			}
			kept := filepath.Join(h.HomeDir, "data", restore.RunDirName, run, "data", "scalar", "asset-"+sim.TableID("scalar", "asset"))
			if ss, err := sim.ReadSSTables(kept); err != nil || len(ss) == 0 {
				t.Errorf("%s keeps no asset SSTables in %s (%v)", h.Short, kept, err)
			}
		}
		e.healthy()
	})
}

// lastStep names the last step_started event of out, for the log.
func lastStep(t *testing.T, out string) string {
	s := "(none)"
	for _, ev := range events(t, out) {
		if ev["type"] == "step_started" {
			s = fmt.Sprint(ev["step"])
		}
	}
	return s
}
