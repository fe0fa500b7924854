package sshx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

type env struct {
	cl         *sshtest.Cluster
	knownHosts string
	identity   string
	dir        string
}

func newEnv(t testing.TB, o sshtest.ClusterOptions) *env {
	t.Helper()
	cl, err := sshtest.NewCluster(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	dir := t.TempDir()
	kh, id, err := cl.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &env{cl: cl, knownHosts: kh, identity: id, dir: dir}
}

func (e *env) config() sshx.Config {
	return sshx.Config{
		BastionAddr:    e.cl.Bastion.Addr,
		User:           e.cl.User,
		IdentityFile:   e.identity,
		KnownHostsFile: e.knownHosts,
		NoAgent:        true,
		DialTimeout:    5 * time.Second,
	}
}

func (e *env) client(t testing.TB, opts ...sshx.Option) *sshx.Client {
	t.Helper()
	c, err := sshx.New(e.config(), append([]sshx.Option{sshx.WithKillGrace(500 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoHandler answers "echo WORDS" and "exit N", and blocks on "block".
func echoHandler(started chan<- struct{}, cancelled chan<- struct{}) sshtest.Handler {
	return func(ctx context.Context, s sshtest.Session) int {
		switch {
		case strings.HasPrefix(s.Command, "echo "):
			fmt.Fprintln(s.Stdout, strings.TrimPrefix(s.Command, "echo "))
			return 0
		case strings.HasPrefix(s.Command, "exit "):
			var n int
			fmt.Sscan(strings.TrimPrefix(s.Command, "exit "), &n)
			fmt.Fprintln(s.Stderr, "bye")
			return n
		case s.Command == "block":
			if started != nil {
				started <- struct{}{}
			}
			<-ctx.Done()
			if cancelled != nil {
				cancelled <- struct{}{}
			}
			return 143
		}
		fmt.Fprintf(s.Stderr, "unknown command %q\n", s.Command)
		return 127
	}
}

var hosts3 = []string{"cassandra-1.internal", "cassandra-2.internal", "cassandra-3.internal"}

func collect() (func(string), func() []string) {
	var mu sync.Mutex
	var lines []string
	return func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() },
		func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), lines...) }
}

func TestRunOnSeveralHostsOneBastionConnection(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	c := e.client(t)
	ctx := context.Background()
	for round := 0; round < 2; round++ {
		var wg sync.WaitGroup
		for _, h := range hosts3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, lines := collect()
				res, err := c.Run(ctx, h, "echo hello "+h, sshx.RunOptions{Stdout: out})
				if err != nil || res.ExitCode != 0 || res.Host != h {
					t.Errorf("Run on %s: %+v %v", h, res, err)
				}
				if got := lines(); len(got) != 1 || got[0] != "hello "+h {
					t.Errorf("output on %s: %q", h, got)
				}
			}()
		}
		wg.Wait()
	}
	errOut, errLines := collect()
	res, err := c.Run(ctx, hosts3[0], "exit 3", sshx.RunOptions{Stderr: errOut})
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("exit 3: %+v %v", res, err)
	}
	if got := errLines(); len(got) != 1 || got[0] != "bye" {
		t.Errorf("stderr %q (the pgid marker must be hidden)", got)
	}
	if n := e.cl.Bastion.Accepted(); n != 1 {
		t.Errorf("bastion logins = %d, want 1", n)
	}
	for _, h := range hosts3 {
		if n := e.cl.Hosts[h].Accepted(); n != 1 {
			t.Errorf("%s logins = %d, want 1 (connections must be cached)", h, n)
		}
	}
}

func TestRunBastion(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Exec: echoHandler(nil, nil)})
	c := e.client(t)
	out, lines := collect()
	res, err := c.RunBastion(context.Background(), "echo locked", sshx.RunOptions{Stdout: out})
	if err != nil || res.ExitCode != 0 || strings.Join(lines(), "") != "locked" {
		t.Fatalf("%+v %v %q", res, err, lines())
	}
}

func TestUnknownHostKeyRefusedThenTrusted(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	// known_hosts trusting only the bastion.
	if err := os.WriteFile(e.knownHosts, []byte(e.cl.KnownHostsLines()[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	ctx := context.Background()
	h := hosts3[1]
	_, err := c.Run(ctx, h, "echo x", sshx.RunOptions{})
	var u *sshx.UnknownHostKeyError
	if !errors.As(err, &u) {
		t.Fatalf("want UnknownHostKeyError, got %v", err)
	}
	fp := ssh.FingerprintSHA256(e.cl.Hosts[h].HostKey())
	if u.Fingerprint != fp || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "scalar-tui trust "+h) {
		t.Errorf("error %q: want fingerprint %s and the trust command", err, fp)
	}
	key, err := c.HostKey(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if ssh.FingerprintSHA256(key) != fp {
		t.Fatalf("HostKey fingerprint %s, want %s", ssh.FingerprintSHA256(key), fp)
	}
	if err := sshx.CheckKnownHost(e.knownHosts, h, key); !errors.As(err, &u) {
		t.Fatalf("CheckKnownHost before trust: %v", err)
	}
	if err := sshx.AppendKnownHost(e.knownHosts, h, key); err != nil {
		t.Fatal(err)
	}
	if err := sshx.CheckKnownHost(e.knownHosts, h, key); err != nil {
		t.Fatalf("CheckKnownHost after trust: %v", err)
	}
	if res, err := c.Run(ctx, h, "echo x", sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
		t.Fatalf("after trust: %+v %v", res, err)
	}
}

func TestUnknownBastionKey(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Exec: echoHandler(nil, nil)})
	os.Remove(e.knownHosts) // a missing file means nothing is trusted
	c := e.client(t)
	_, err := c.RunBastion(context.Background(), "echo x", sshx.RunOptions{})
	var u *sshx.UnknownHostKeyError
	if !errors.As(err, &u) || !u.Bastion || !strings.Contains(err.Error(), "trust --bastion") {
		t.Fatalf("want bastion UnknownHostKeyError, got %v", err)
	}
	key, err := c.BastionHostKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := sshx.AppendKnownHost(e.knownHosts, e.cl.Bastion.Addr, key); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(e.knownHosts)
	if !strings.HasPrefix(string(b), "[127.0.0.1]:") {
		t.Errorf("known_hosts line %q: want [host]:port form", b)
	}
	if _, err := c.RunBastion(context.Background(), "echo x", sshx.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	k, err := sshtest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e.cl.Hosts[hosts3[0]].SetHostKey(k)
	c := e.client(t)
	_, err = c.Run(context.Background(), hosts3[0], "echo x", sshx.RunOptions{})
	var ch *sshx.ChangedHostKeyError
	if !errors.As(err, &ch) {
		t.Fatalf("want ChangedHostKeyError, got %v", err)
	}
	if !strings.Contains(err.Error(), "REMOTE HOST IDENTIFICATION HAS CHANGED") || !strings.Contains(err.Error(), ssh.FingerprintSHA256(k.PublicKey())) {
		t.Errorf("message: %s", err)
	}
	// Other hosts are unaffected.
	if _, err := c.Run(context.Background(), hosts3[1], "echo x", sshx.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestAgentAuth(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Exec: echoHandler(nil, nil)})
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: e.cl.Key.Private}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(shortTempDir(t), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, conn)
		}
	}()
	cfg := e.config()
	cfg.IdentityFile, cfg.NoAgent = "", false
	t.Setenv("SSH_AUTH_SOCK", sock)
	c, err := sshx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.RunBastion(context.Background(), "echo x", sshx.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

// shortTempDir keeps unix socket paths under the 108-byte limit.
func shortTempDir(t testing.TB) string {
	d, err := os.MkdirTemp("", "sshx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestEncryptedKeyWithoutAgent(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{})
	k, err := sshtest.NewClientKey("secret")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "enc_key")
	os.WriteFile(path, k.PEM, 0o600)
	cfg := e.config()
	cfg.IdentityFile = path
	_, err = sshx.New(cfg)
	if err == nil || !strings.Contains(err.Error(), "ssh-add "+path) {
		t.Fatalf("want an ssh-add hint, got %v", err)
	}
}

func TestNoCredentials(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{})
	cfg := e.config()
	cfg.IdentityFile = ""
	if _, err := sshx.New(cfg); err == nil || !strings.Contains(err.Error(), "ssh-add") {
		t.Fatalf("got %v", err)
	}
}

func TestWrongUserRefused(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Exec: echoHandler(nil, nil)})
	cfg := e.config()
	cfg.User = "ec2-user"
	c, err := sshx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.RunBastion(context.Background(), "echo x", sshx.RunOptions{})
	var ae *sshx.AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), `"ec2-user"`) {
		t.Fatalf("want AuthError naming the user, got %v", err)
	}
}

func TestBastionDown(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{})
	cfg := e.config()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg.BastionAddr = ln.Addr().String()
	ln.Close()
	c, err := sshx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Run(context.Background(), "cassandra-1.internal", "echo x", sshx.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "bastion "+cfg.BastionAddr) {
		t.Fatalf("want an error naming the bastion, got %v", err)
	}
}

func TestOneHostDown(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	e.cl.Bastion.Remove(hosts3[1] + ":22")
	c := e.client(t)
	for i, h := range hosts3 {
		_, err := c.Run(context.Background(), h, "echo x", sshx.RunOptions{})
		if i == 1 {
			if err == nil || !strings.Contains(err.Error(), "connect failed") || !strings.Contains(err.Error(), h) {
				t.Errorf("down host: %v", err)
			}
		} else if err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}

func TestForwardingRefused(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	e.cl.Bastion.SetForwarding(false)
	c := e.client(t)
	_, err := c.Run(context.Background(), hosts3[0], "echo x", sshx.RunOptions{})
	if !errors.Is(err, sshx.ErrForwardingRefused) || !strings.Contains(err.Error(), "AllowTcpForwarding") {
		t.Fatalf("got %v", err)
	}
}

func TestBastionDropMidCommandThenReconnect(t *testing.T) {
	started := make(chan struct{}, 1)
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(started, nil)})
	c := e.client(t)
	ctx := context.Background()
	if _, err := c.Run(ctx, hosts3[0], "echo warm", sshx.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, hosts3[0], "block", sshx.RunOptions{})
		errc <- err
	}()
	<-started
	e.cl.Bastion.KillConnections()
	err := <-errc
	var lost *sshx.ConnectionLostError
	if !errors.As(err, &lost) || !strings.Contains(err.Error(), e.cl.Bastion.Addr) {
		t.Fatalf("want ConnectionLostError naming the bastion, got %v", err)
	}
	res, err := c.Run(ctx, hosts3[0], "echo again", sshx.RunOptions{})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("after reconnect: %+v %v", res, err)
	}
	if n := e.cl.Bastion.Accepted(); n != 2 {
		t.Errorf("bastion logins = %d, want 2", n)
	}
}

func TestCancelStopsHandler(t *testing.T) {
	started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(started, cancelled)})
	c := e.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, hosts3[0], "block", sshx.RunOptions{})
		errc <- err
	}()
	<-started
	cancel()
	<-cancelled
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3, Exec: echoHandler(nil, nil)})
	c := e.client(t)
	_, err := c.Run(context.Background(), hosts3[0], "block", sshx.RunOptions{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 100ms") {
		t.Fatalf("got %v", err)
	}
}

// TestCancelKillsRealProcessGroup uses a real sh that, like sshd, does not
// kill the command when the session closes: only the kill sent by the
// client stops it and its children.
func TestCancelKillsRealProcessGroup(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], RealShellDir: t.TempDir()})
	c := e.client(t)
	home := e.cl.Shells[hosts3[0]].Home()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, hosts3[0], `sleep 300 & echo $! > child.pid; echo started; wait`, sshx.RunOptions{
			Stdout: func(l string) {
				if l == "started" {
					cancel()
				}
			},
		})
		errc <- err
	}()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	b, err := os.ReadFile(filepath.Join(home, "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child sleep %s still running after cancel", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs and is not a zombie.
func alive(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// The workflow's one detached runner over a real SSH transport: the command
// survives every connection being dropped, Follow picks up from the lines
// already seen, and the exit code lands in the run directory.
func TestDetachedSurvivesDropAndFollowResumes(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], RealShellDir: t.TempDir()})
	c := e.client(t)
	det := workflow.ShellDetacher{R: c}
	ctx := context.Background()
	h := hosts3[0]
	home := e.cl.Shells[h].Home()
	// The command waits for a go file so the test controls its progress.
	cmd := `for i in 1 2 3; do echo line$i; done; echo err1 >&2; while [ ! -f "$HOME/go" ]; do sleep 0.05; done; printf 'tail-no-newline'; exit 7`
	d := workflow.DetachedHandle{Host: h, Dir: ".scalar-tui/runs/r1/step1", Command: cmd}
	if err := det.Start(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := det.Start(ctx, workflow.DetachedHandle{Host: h, Dir: d.Dir, Command: "true"}); !errors.Is(err, workflow.ErrAlreadyStarted) {
		t.Errorf("a second start in the same run dir: %v, want ErrAlreadyStarted", err)
	}
	waitFor(t, func() bool { st, err := det.Status(ctx, d); return err == nil && st.Running })

	var mu sync.Mutex
	var out, errs []string
	opts := sshx.RunOptions{
		Stdout: func(l string) { mu.Lock(); out = append(out, l); mu.Unlock() },
		Stderr: func(l string) { mu.Lock(); errs = append(errs, l); mu.Unlock() },
	}
	done := make(chan error, 1)
	// Pretend line1 was seen before a restart.
	go func() { done <- det.Follow(ctx, d, 1, 0, opts) }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(out) == 2 && len(errs) == 1 })
	// Drop every connection: the remote work must go on and Follow must end
	// with an error (the engine follows again).
	e.cl.Bastion.KillConnections()
	if err := <-done; err == nil {
		t.Fatal("Follow returned nil although its connection was dropped")
	}
	if st, err := det.Status(ctx, d); err != nil || !st.Running {
		t.Fatalf("after drop: %+v %v", st, err)
	}
	os.WriteFile(filepath.Join(home, "go"), nil, 0o600)
	mu.Lock()
	seenOut, seenErr := len(out)+1, len(errs)
	mu.Unlock()
	if err := det.Follow(ctx, d, seenOut, seenErr, opts); err != nil {
		t.Fatalf("follow again: %v", err)
	}
	want := []string{"line2", "line3", "tail-no-newline"}
	if strings.Join(out, "|") != strings.Join(want, "|") || strings.Join(errs, "|") != "err1" {
		t.Fatalf("stdout %q stderr %q", out, errs)
	}
	if st, err := det.Status(ctx, d); err != nil || !st.Exited || st.ExitCode != 7 {
		t.Fatalf("final status %+v %v", st, err)
	}
	// The on-disk format the journal and resume depend on.
	for _, f := range []string{"cmd.sh", "pid", "stdout", "stderr", "rc"} {
		if _, err := os.Stat(filepath.Join(home, d.Dir, f)); err != nil {
			t.Errorf("run directory lacks %s: %v", f, err)
		}
	}
}

// A run directory that does not exist is missing; a command killed with
// SIGKILL is gone without an exit code; Kill stops the whole process group.
func TestDetachedStatusMissingGoneAndKill(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], RealShellDir: t.TempDir()})
	c := e.client(t)
	det := workflow.ShellDetacher{R: c}
	ctx := context.Background()
	h := hosts3[0]
	home := e.cl.Shells[h].Home()
	st, err := det.Status(ctx, workflow.DetachedHandle{Host: h, Dir: "nothing here"})
	if err != nil || st.Exists {
		t.Fatalf("%+v %v", st, err)
	}
	pidOf := func(d workflow.DetachedHandle) int {
		var pid int
		waitFor(t, func() bool {
			b, err := os.ReadFile(filepath.Join(home, d.Dir, "pid"))
			if err != nil {
				return false
			}
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
			return err == nil
		})
		return pid
	}

	lost := workflow.DetachedHandle{Host: h, Dir: "runs/lost", Command: "sleep 300"}
	if err := det.Start(ctx, lost); err != nil {
		t.Fatal(err)
	}
	// Kill it the hard way: no exit code gets written.
	if _, err := c.Run(ctx, h, shell.KillGroup("KILL", pidOf(lost)), sshx.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		st, err := det.Status(ctx, lost)
		return err == nil && st.Exists && !st.Running && !st.Exited
	})
	if err := det.Follow(ctx, lost, 0, 0, sshx.RunOptions{}); err != nil {
		t.Fatalf("Follow on a lost command: %v", err)
	}

	// Kill: the wrapper and its children (the process group) end.
	grp := workflow.DetachedHandle{Host: h, Dir: "runs/kill", Command: `sleep 300 & echo $! > child.pid; wait`}
	if err := det.Start(ctx, grp); err != nil {
		t.Fatal(err)
	}
	pid := pidOf(grp)
	var child string
	waitFor(t, func() bool {
		b, err := os.ReadFile(filepath.Join(home, grp.Dir, "child.pid"))
		child = strings.TrimSpace(string(b))
		return err == nil && child != ""
	})
	if err := det.Kill(ctx, grp); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !alive(strconv.Itoa(pid)) && !alive(child) })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDialContext(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{})
	e.cl.Bastion.Handle("monitor.internal:9090", func(conn net.Conn) {
		defer conn.Close()
		buf := make([]byte, 4)
		n, _ := conn.Read(buf)
		conn.Write([]byte("pong:" + string(buf[:n])))
	})
	c := e.client(t)
	conn, err := c.DialContext(context.Background(), "tcp", "monitor.internal:9090")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("ping"))
	b := make([]byte, 9)
	if _, err := io.ReadFull(conn, b); err != nil || string(b) != "pong:ping" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := c.DialContext(context.Background(), "tcp", "monitor.internal:9999"); err == nil {
		t.Fatal("dial to an unregistered port succeeded")
	}
}

func TestShellWithoutTerminal(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], Shell: func(ctx context.Context, s sshtest.Session) int {
		b, _ := io.ReadAll(s.Stdin)
		fmt.Fprintf(s.Stdout, "you said %s", b)
		return 2
	}})
	c := e.client(t)
	var out strings.Builder
	err := c.Shell(context.Background(), hosts3[0], strings.NewReader("hi"), &out, io.Discard)
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 2 || out.String() != "you said hi" {
		t.Fatalf("%q %v", out.String(), err)
	}
}

func TestClosedClient(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Exec: echoHandler(nil, nil)})
	c := e.client(t)
	c.Close()
	if _, err := c.RunBastion(context.Background(), "echo x", sshx.RunOptions{}); !errors.Is(err, sshx.ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

// TestNoInsecureHostKeyCallback keeps host key checking on everywhere.
func TestNoInsecureHostKeyCallback(t *testing.T) {
	banned := "Insecure" + "IgnoreHostKey"
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".tools" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), banned) {
			t.Errorf("%s uses %s: verify host keys with known_hosts instead", p, banned)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunStdin(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], RealShellDir: t.TempDir()})
	c := e.client(t)
	out, lines := collect()
	res, err := c.Run(context.Background(), hosts3[0], "tr a-z A-Z", sshx.RunOptions{Stdin: strings.NewReader("hello\nworld"), Stdout: out})
	if err != nil || res.ExitCode != 0 || strings.Join(lines(), ",") != "HELLO,WORLD" {
		t.Fatalf("%+v %v %q", res, err, lines())
	}
	// A reader that never ends must not hold Run after the command exits.
	pr, pw := io.Pipe()
	defer pw.Close()
	if _, err := c.Run(context.Background(), hosts3[0], "exit 0", sshx.RunOptions{Stdin: pr}); err != nil {
		t.Fatal(err)
	}
}

func TestSignalledCommand(t *testing.T) {
	e := newEnv(t, sshtest.ClusterOptions{Hosts: hosts3[:1], RealShellDir: t.TempDir()})
	c := e.client(t)
	res, err := c.Run(context.Background(), hosts3[0], "kill -KILL $$", sshx.RunOptions{})
	if err == nil || res.ExitCode != -1 || !strings.Contains(err.Error(), "SIGKILL") {
		t.Fatalf("%+v %v", res, err)
	}
}

func marshalAuthorized(k *sshtest.ClientKey) []byte {
	return ssh.MarshalAuthorizedKey(k.Signer.PublicKey())
}
