package sshx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

func TestTailKeepsTheEndAndSaysItWasCut(t *testing.T) {
	tl := sshx.Tail{Limit: 20}
	for i := 1; i <= 10; i++ {
		tl.Line(fmt.Sprintf("line %02d", i)) // 8 bytes with the newline
	}
	got := tl.String()
	want := sshx.CutNotice(64, 20) + "\nline 09\nline 10\n"
	if got != want || tl.Cut() != 64 {
		t.Errorf("String() = %q (cut %d), want %q", got, tl.Cut(), want)
	}
	short := sshx.Tail{}
	short.Line("a")
	short.Line("")
	if s := short.String(); s != "a\n\n" || short.Cut() != 0 {
		t.Errorf("uncut tail = %q, cut %d", s, short.Cut())
	}
	// One line longer than the limit keeps its end.
	one := sshx.Tail{Limit: 4}
	one.Line("abcdefgh")
	if s := one.String(); !strings.HasSuffix(s, "\nfgh\n") || !strings.HasPrefix(s, "[scalar-tui: output cut") {
		t.Errorf("long line = %q", s)
	}
}

// A remote command printing a huge line without a newline reaches the caller
// cut at MaxLineBytes, marked, and the lines after it still arrive.
func TestRunCutsHugeLines(t *testing.T) {
	const huge = 8 << 20
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: func(ctx context.Context, s sshtest.Session) int {
		chunk := strings.Repeat("x", 1<<16)
		for n := 0; n < huge; n += len(chunk) {
			if _, err := s.Stdout.Write([]byte(chunk)); err != nil {
				return 1
			}
		}
		fmt.Fprint(s.Stdout, "\nafter\nlast-without-newline")
		return 0
	}})
	c := e.client(t)
	var lines []string
	res, err := c.Run(context.Background(), hosts3[0], "flood", sshx.RunOptions{Stdout: func(l string) { lines = append(lines, l) }})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	if len(lines[0]) != sshx.MaxLineBytes+len(sshx.LineCutMarker) || !strings.HasSuffix(lines[0], sshx.LineCutMarker) {
		t.Errorf("first line is %d bytes, want %d ending in the cut marker", len(lines[0]), sshx.MaxLineBytes+len(sshx.LineCutMarker))
	}
	if lines[1] != "after" || lines[2] != "last-without-newline" {
		t.Errorf("lines after the cut: %q", lines[1:])
	}
}

// Following a detached command delivers every line, in order, however much
// was written, and a line longer than MaxLineBytes arrives cut.
func TestFollowDeliversLongOutput(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], RealShellDir: t.TempDir()})
	c := e.client(t)
	det := workflow.ShellDetacher{R: c}
	ctx := context.Background()
	cmd := `i=0; while [ $i -lt 300 ]; do echo "line $i $(printf '%040d' $i)"; i=$((i+1)); done; ` +
		`head -c 100000 /dev/zero | tr '\0' x; echo; echo after-long; echo e1 >&2; printf 'no-newline'`
	d := workflow.DetachedHandle{Host: hosts3[0], Dir: ".scalar-tui/runs/r2/step1", Command: cmd}
	if err := det.Start(ctx, d); err != nil {
		t.Fatal(err)
	}
	var out, errs []string
	err := det.Follow(ctx, d, 0, 0, sshx.RunOptions{
		Stdout: func(l string) { out = append(out, l) },
		Stderr: func(l string) { errs = append(errs, l) },
	})
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if st, err := det.Status(ctx, d); err != nil || !st.Exited || st.ExitCode != 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	if len(out) != 303 {
		t.Fatalf("got %d lines, want 303: ...%q", len(out), out[max(0, len(out)-4):])
	}
	for i := 0; i < 300; i++ {
		if want := fmt.Sprintf("line %d %040d", i, i); out[i] != want {
			t.Fatalf("line %d = %q, want %q", i, out[i], want)
		}
	}
	if !strings.HasPrefix(out[300], "xxxxxxxxxx") || !strings.HasSuffix(out[300], sshx.LineCutMarker) || len(out[300]) != sshx.MaxLineBytes+len(sshx.LineCutMarker) {
		t.Errorf("long line: %d bytes, %.20q...", len(out[300]), out[300])
	}
	if out[301] != "after-long" || out[302] != "no-newline" || strings.Join(errs, "|") != "e1" {
		t.Errorf("tail %q, stderr %q", out[301:], errs)
	}
}
