package main

// The audit log against sshd's own session log on the real-sshd lab: every
// session sshd started (LogLevel VERBOSE logs "Starting session: command" or
// "shell") for `exec`, `ssh` and a `repair` run is one audit entry, and the
// run's entries carry its ID. Skips without root, openssh-server, iproute2,
// prometheus and prometheus-node-exporter unless SCALAR_TUI_REQUIRE_LAB=1.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// sshdSession matches sshd's (VERBOSE) log line for a new session.
var sshdSession = regexp.MustCompile(`Starting session: (command|shell|forced-command|subsystem)\S* .*for (\S+) from (\S+) port (\d+) id (\d+)`)

// sshdSessions counts the sessions sshd logged in path after offset, by
// type ("command" or "shell").
func sshdSessions(t *testing.T, path string, offset int64) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range strings.Split(string(b[offset:]), "\n") {
		if m := sshdSession.FindStringSubmatch(l); m != nil {
			out[m[1]]++
		}
	}
	return out
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestLabAuditMatchesSSHDSessions(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	labnodes.SkipUnlessAvailable(t)
	hosts, err := lab.ParseHosts("cassandra=3")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.DefaultConfig()
	cfg.RepairDuration = sim.Duration(time.Second)
	l, _ := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: bin, SimConfig: &cfg})
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	lockPath := labLockPath(t, "audittest")

	all := append([]lab.Host{l.Bastion}, l.Hosts...)
	logs := map[string]string{} // audit host -> sshd.log
	offsets := map[string]int64{}
	for _, h := range all {
		name := h.Name
		if h.Name == l.Bastion.Name {
			name = sshx.BastionHost
		}
		logs[name] = filepath.Join(h.Dir, "sshd.log")
		offsets[name] = fileSize(t, logs[name])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// exec on the bastion itself and on every node.
	if out, errOut, err := runCLI(ctx, append(labGlobalArgs(t, l), "exec", "--role", "bastion", "--role", "cassandra", "--", "hostname")...); err != nil {
		t.Fatalf("exec: %v\n%s%s", err, out, errOut)
	}
	// ssh, through the interactive path (no terminal: no PTY), exits 3.
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetIn(strings.NewReader("echo via-shell; exit 3\n"))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(labGlobalArgs(t, l), "ssh", l.Hosts[0].Short))
	if err := root.ExecuteContext(ctx); exitCodeOf(err) != 3 || !strings.Contains(out.String(), "via-shell") {
		t.Fatalf("ssh: exit %d (%v), want 3\n%s%s", exitCodeOf(err), err, out.String(), errOut.String())
	}
	// A workflow run.
	rout, rerr, err := runCLI(ctx, append(labGlobalArgs(t, l), "repair", "--yes", "--json", "--health-gate", "off", "--lock-path", lockPath)...)
	if err != nil {
		t.Fatalf("repair: %v\n%s%s", err, rout, rerr)
	}
	runID, status := finished(t, rout)
	if status != "done" {
		t.Fatalf("repair run %s ended %s", runID, status)
	}

	linv, err := inventory.Load(ctx, inventory.Options{TFRoot: l.TFRoot})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := workflow.ReadAudit((&globalOptions{}).deploymentOf(linv, "").dir, workflow.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	type count struct{ command, shell int }
	audited := map[string]*count{}
	inRun := 0
	for _, e := range entries {
		if logs[e.Host] == "" {
			t.Errorf("audit entry for a host that is not in the lab: %+v", e)
			continue
		}
		if e.Error != "" || e.ExitCode < 0 {
			t.Errorf("entry without an exit status (no session to compare): %+v", e)
		}
		if e.Operator == "" || !strings.Contains(e.Deployment, l.BastionAddr) || e.Time.IsZero() {
			t.Errorf("entry lacks who or where: %+v", e)
		}
		if audited[e.Host] == nil {
			audited[e.Host] = &count{}
		}
		if e.Kind == "shell" {
			audited[e.Host].shell++
			if e.ExitCode != 3 || e.Host != l.Hosts[0].Name {
				t.Errorf("shell entry %+v, want exit 3 on %s", e, l.Hosts[0].Name)
			}
		} else {
			audited[e.Host].command++
		}
		switch e.Run {
		case runID:
			inRun++
		case "":
		default:
			t.Errorf("entry of another run: %+v", e)
		}
	}
	// sshd has logged each session before its command ran, so before the
	// client saw it end.
	var report []string
	total := 0
	for host, path := range logs {
		got := sshdSessions(t, path, offsets[host])
		a := audited[host]
		if a == nil {
			a = &count{}
		}
		total += got["command"] + got["shell"]
		report = append(report, fmt.Sprintf("%s: sshd %d command + %d shell, audit %d + %d", host, got["command"], got["shell"], a.command, a.shell))
		if got["command"] != a.command || got["shell"] != a.shell || len(got) > 2 {
			t.Errorf("%s: sshd logged %v, the audit log has %d commands and %d shells", host, got, a.command, a.shell)
		}
	}
	sort.Strings(report)
	t.Logf("%d sessions, %d audit entries (%d in run %s):\n%s", total, len(entries), inRun, runID, strings.Join(report, "\n"))
	if total != len(entries) || inRun == 0 || audited[l.Hosts[0].Name] == nil || audited[l.Hosts[0].Name].shell != 1 {
		t.Errorf("sessions %d, entries %d, entries in the run %d", total, len(entries), inRun)
	}
}
