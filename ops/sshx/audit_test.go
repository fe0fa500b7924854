package sshx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
)

// recorder is an Auditor that keeps the records.
type recorder struct {
	mu   sync.Mutex
	recs []sshx.AuditRecord
	fail error
}

func (r *recorder) Audit(rec sshx.AuditRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return r.fail
}

func (r *recorder) all() []sshx.AuditRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sshx.AuditRecord(nil), r.recs...)
}

// tick is a clock that advances one second per reading.
func tick() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func TestAuditEveryKindOfSession(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], RealShellDir: t.TempDir(),
		Shell: func(ctx context.Context, s sshtest.Session) int {
			io.Copy(io.Discard, s.Stdin)
			return 3
		}})
	rec := &recorder{}
	c := e.client(t, sshx.WithAuditor(rec), sshx.WithAuditClock(tick()))
	if !c.Audited() {
		t.Fatal("Audited() = false with an auditor")
	}
	h := hosts3[0]
	ctx := sshx.WithAuditScope(context.Background(), sshx.AuditScope{Run: "run-1",
		Redact: func(s string) string { return strings.ReplaceAll(s, "hunter2", "***") }})

	if res, err := c.Run(ctx, h, "echo hunter2; exit 4", sshx.RunOptions{}); err != nil || res.ExitCode != 4 {
		t.Fatalf("run: %v %v", res, err)
	}
	if _, err := c.RunBastion(context.Background(), "true", sshx.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("x", 10000)
	if _, err := c.Run(ctx, h, "cat > upload.bin", sshx.RunOptions{Stdin: strings.NewReader(payload)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Shell(ctx, h, strings.NewReader("exit 3\n"), io.Discard, io.Discard); err == nil {
		t.Fatal("shell exiting 3 returned nil")
	}

	got := rec.all()
	want := []struct {
		host    string
		kind    sshx.AuditKind
		command string
		run     string
		code    int
		bytes   int64
	}{
		{h, sshx.AuditCommand, "echo ***; exit 4", "run-1", 4, 0},
		{sshx.BastionHost, sshx.AuditCommand, "true", "", 0, 0},
		{h, sshx.AuditUpload, "cat > upload.bin", "run-1", 0, int64(len(payload))},
		{h, sshx.AuditShell, "", "run-1", 3, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Host != w.host || g.Kind != w.kind || g.Command != w.command || g.Run != w.run || g.ExitCode != w.code || g.Bytes != w.bytes || g.Err != "" {
			t.Errorf("record %d = %+v, want %+v", i, g, w)
		}
		if g.Start.IsZero() || g.Duration != time.Second {
			t.Errorf("record %d: start %s duration %s, want the clock's (one tick)", i, g.Start, g.Duration)
		}
	}
	if b, err := os.ReadFile(filepath.Join(e.cl.Shells[h].Home(), "upload.bin")); err != nil || string(b) != payload {
		t.Errorf("upload did not arrive: %d bytes, %v", len(b), err)
	}
}

func TestAuditFailedDialIsRecorded(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], Exec: echoHandler(nil, nil)})
	rec := &recorder{}
	c := e.client(t, sshx.WithAuditor(rec))
	if _, err := c.Run(context.Background(), "nosuchhost.internal", "echo hi", sshx.RunOptions{}); err == nil {
		t.Fatal("run on an unknown host succeeded")
	}
	got := rec.all()
	if len(got) != 1 || got[0].ExitCode != -1 || got[0].Err == "" || got[0].Host != "nosuchhost.internal" {
		t.Fatalf("records %+v, want one with exit -1 and the error", got)
	}
}

func TestAuditFailureFailsTheCall(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], Exec: echoHandler(nil, nil)})
	rec := &recorder{fail: errors.New("disk full")}
	c := e.client(t, sshx.WithAuditor(rec))
	_, err := c.Run(context.Background(), hosts3[0], "echo hi", sshx.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("an unaudited command looked successful: %v", err)
	}
}

// TestAuditCancelRecordsKill: the cancelled command and the session that
// kills its process group are both records, so nothing sshd sees is missing.
func TestAuditCancelRecordsKill(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], RealShellDir: t.TempDir()})
	rec := &recorder{}
	c := e.client(t, sshx.WithAuditor(rec))
	ctx, cancel := context.WithCancel(sshx.WithAuditScope(context.Background(), sshx.AuditScope{Run: "run-9"}))
	_, err := c.Run(ctx, hosts3[0], "echo started; sleep 300", sshx.RunOptions{Stdout: func(l string) {
		if l == "started" {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want canceled, got %v", err)
	}
	var kinds []string
	for _, r := range rec.all() {
		kinds = append(kinds, fmt.Sprintf("%s/%s/%d", r.Kind, r.Run, r.ExitCode))
		if r.Kind == sshx.AuditKill && !strings.Contains(r.Command, "kill -TERM") {
			t.Errorf("kill record command %q", r.Command)
		}
	}
	if len(kinds) != 2 || kinds[0] != "kill/run-9/0" || kinds[1] != "command/run-9/-1" {
		t.Fatalf("records %v, want the kill then the cancelled command", kinds)
	}
}

func TestNoAuditorRecordsNothing(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], Exec: echoHandler(nil, nil)})
	c := e.client(t)
	if c.Audited() {
		t.Fatal("Audited() = true without an auditor")
	}
	if _, err := c.Run(context.Background(), hosts3[0], "echo hi", sshx.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}
