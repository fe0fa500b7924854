package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/demo"
	"scalar-tui/ops/sshx"
)

func TestMain(m *testing.M) {
	// The demo's wrapper scripts run this test binary as
	// `scalar-tui sim exec TOOL ...`: serve that as main does.
	if code, ok := demo.RunSimExec(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// lockedBuffer is a bytes.Buffer safe for a writer and a polling reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCLI runs the root command with args and returns stdout, stderr, error.
func runCLI(ctx context.Context, args ...string) (string, string, error) {
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(&errOut, "scalar-tui:", err) // as main prints it
	}
	return out.String(), errOut.String(), err
}

func TestDemoPrintsCommandAndCleansUp(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, &globalOptions{}, &demoOptions{hosts: 3, noTUI: true}, &out, &errOut)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Press Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("demo returned early: %v\n%s\n%s", err, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not come up:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	text := out.String()
	for _, want := range []string{"ROLE", "cassandra-3.internal.scalar-labs.com", "scalardl-blue-3.internal.scalar-labs.com", "127.0.0.1:"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// --state-dir: the second terminal's commands keep their state in the
	// demo's directory too.
	m := regexp.MustCompile(`scalar-tui (--tf-root (\S+) --known-hosts (\S+) --identity (\S+) --state-dir (\S+)) exec --role cassandra -- nodetool status`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no exec command printed:\n%s", text)
	}
	dir := m[2]
	args := append(strings.Fields(m[1]), "exec", "--role", "cassandra", "--", "nodetool", "status")
	for i := 0; i < 3; i++ { // the first run also dials the bastion and the hosts
		begin := time.Now()
		stdout, stderr, err := runCLI(context.Background(), args...)
		if err != nil {
			t.Fatalf("exec: %v\n%s\n%s", err, stdout, stderr)
		}
		t.Logf("exec --role cassandra -- nodetool status: %s", time.Since(begin))
		if n := strings.Count(stdout, "| UN  "); n != 9 {
			t.Fatalf("want 3 hosts x 3 UN lines, got %d:\n%s", n, stdout)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop after cancel")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo dir %s left behind (%v)", dir, err)
	}
	if !strings.Contains(errOut.String(), "cleaned up") {
		t.Errorf("stderr: %s", errOut.String())
	}
}

func TestDemoRunsConsoleHook(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	old := runConsole
	defer func() { runConsole = old }()
	called := false
	runConsole = func(ctx context.Context, g *globalOptions) error {
		called = true
		// The hook sees an ordinary deployment through the global options.
		inv, err := g.loadSSHInventory(ctx)
		if err != nil {
			return err
		}
		cl, err := g.sshClient(inv)
		if err != nil {
			return err
		}
		defer cl.Close()
		var out strings.Builder
		res, err := cl.Run(ctx, "scalardl-blue-1."+demo.Domain, "cat ~/provision/env", sshx.RunOptions{Stdout: func(l string) { out.WriteString(l) }})
		if err != nil || res.ExitCode != 0 {
			return errors.Join(err, errors.New("cat env failed"))
		}
		if !strings.Contains(out.String(), "scalar-ledger:2.1.0") {
			return errors.New("env: " + out.String())
		}
		return nil
	}
	var out, errOut bytes.Buffer
	if err := runDemo(context.Background(), &globalOptions{}, &demoOptions{hosts: 1}, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	if !called {
		t.Fatal("runConsole was not called")
	}
}

func TestDemoBadInput(t *testing.T) {
	for _, args := range [][]string{{"demo", "--hosts", "0"}, {"demo", "--fault", "cassandra-1:nope"}, {"--tf-root", "/x", "demo"}} {
		_, _, err := runCLI(context.Background(), args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitBadInput {
			t.Errorf("%v: %v, want a bad-input error", args, err)
		}
	}
}
