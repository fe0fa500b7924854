package sshx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
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
