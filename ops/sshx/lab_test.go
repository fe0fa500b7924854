package sshx_test

// Integration tests of the transport against the lab (internal/lab): real
// OpenSSH sshd hosts in network namespaces, reachable only through a real
// bastion. One lab serves every subtest of TestLab; each subtest undoes the
// faults it injects. The lab needs root, iproute2 and openssh-server: the test
// skips without them, and fails instead when SCALAR_TUI_REQUIRE_LAB=1 (CI).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"scalar-tui/internal/lab"
	"scalar-tui/inventory"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// labTimeout bounds every subtest's SSH calls.
const labTimeout = 60 * time.Second

// labConfig is a key-file client config for l (no agent, short timeouts).
func labConfig(l *lab.Lab) sshx.Config {
	return sshx.Config{
		BastionAddr:    l.BastionAddr,
		User:           l.User,
		IdentityFile:   l.KeyPath,
		KnownHostsFile: l.KnownHosts,
		NoAgent:        true,
		DialTimeout:    5 * time.Second,
		KeepAlive:      5 * time.Second,
	}
}

// labClient returns a fresh client (so no connection is shared between
// subtests), closed at cleanup.
func labClient(t *testing.T, cfg sshx.Config, opts ...sshx.Option) *sshx.Client {
	t.Helper()
	c, err := sshx.New(cfg, opts...)
	if err != nil {
		t.Fatalf("sshx.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// labReset undoes every fault a subtest may have injected: sshd running on
// the bastion and every host, known_hosts holding every current key.
// Forwarding is restored by the subtest that turns it off.
func labReset(t *testing.T, l *lab.Lab) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.StartBastion(ctx); err != nil {
			t.Errorf("reset: start bastion: %v", err)
		}
		for _, h := range l.Hosts {
			if err := l.StartSSH(ctx, h.Short); err != nil {
				t.Errorf("reset: start sshd on %s: %v", h.Short, err)
			}
		}
		if err := l.ResetKnownHosts(); err != nil {
			t.Errorf("reset: known_hosts: %v", err)
		}
	})
}

// hostFingerprint reads the SHA256 fingerprint of a lab host's current key.
func hostFingerprint(t *testing.T, h lab.Host) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Dir, "ssh_host_ed25519_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.FingerprintSHA256(key)
}

// hostProcs lists the command lines of the processes visible from inside a
// lab host (the lab shares the PID namespace, so this includes the host's
// sessions).
func hostProcs(ctx context.Context, t *testing.T, l *lab.Lab, host string) string {
	t.Helper()
	out, err := l.Exec(ctx, host, "sh", "-c", `for p in /proc/[0-9]*; do tr '\0' ' ' <"$p/cmdline" 2>/dev/null && echo; done`)
	if err != nil {
		t.Fatalf("list processes on %s: %v", host, err)
	}
	return string(out)
}

// eventually polls cond every 100ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLab(t *testing.T) {
	if testing.Short() && os.Getenv(lab.RequireEnv) != "1" {
		t.Skip("starts a lab of real sshd hosts")
	}
	l := lab.ForTest(t, lab.Config{Hosts: lab.SmallHosts()})
	if len(l.Hosts) < 3 {
		t.Fatalf("lab has %d hosts, want 3", len(l.Hosts))
	}
	host := l.Hosts[0].Name

	t.Run("ExecAllHostsFromInventory", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		inv, err := inventory.Load(ctx, inventory.Options{TFRoot: l.TFRoot})
		if err != nil {
			t.Fatalf("inventory.Load(%s): %v", l.TFRoot, err)
		}
		if inv.BastionAddr() != l.BastionAddr || inv.UserName != l.User || inv.PrivateKeyPath != l.KeyPath {
			t.Fatalf("inventory bastion %s user %q key %s; lab has %s %q %s",
				inv.BastionAddr(), inv.UserName, inv.PrivateKeyPath, l.BastionAddr, l.User, l.KeyPath)
		}
		c := labClient(t, sshx.Config{
			BastionAddr: inv.BastionAddr(), User: inv.UserName, IdentityFile: inv.PrivateKeyPath,
			KnownHostsFile: l.KnownHosts, NoAgent: true, DialTimeout: 5 * time.Second,
		})
		var private int
		var wg sync.WaitGroup
		for _, h := range inv.Hosts {
			if h.Role != inventory.RoleBastion {
				private++
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var got []string
				opts := sshx.RunOptions{Stdout: func(s string) { got = append(got, s) }}
				var res sshx.Result
				var err error
				if h.Role == inventory.RoleBastion {
					res, err = c.RunBastion(ctx, "hostname", opts)
				} else {
					res, err = c.Run(ctx, h.Name, "hostname", opts)
				}
				if err != nil || res.ExitCode != 0 || strings.Join(got, "\n") != h.Short {
					t.Errorf("%s: hostname = %q, exit %d, err %v; want %q", h.Name, got, res.ExitCode, err, h.Short)
				}
			}()
		}
		wg.Wait()
		if private != len(l.Hosts) {
			t.Errorf("inventory has %d private hosts, lab %d", private, len(l.Hosts))
		}
	})

	t.Run("UnreachableDirectlyReachableViaBastion", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		h := l.Hosts[1]
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(h.IP, "22"), 3*time.Second)
		if err == nil {
			conn.Close()
			t.Fatalf("direct TCP connect to %s:22 from the root namespace worked; want it unreachable", h.IP)
		}
		t.Logf("direct connect to %s: %v", h.IP, err)
		c := labClient(t, labConfig(l))
		for _, target := range []string{h.Name, h.IP} {
			var got string
			res, err := c.Run(ctx, target, "hostname", sshx.RunOptions{Stdout: func(s string) { got = s }})
			if err != nil || res.ExitCode != 0 || got != h.Short {
				t.Errorf("via bastion %s: hostname %q, exit %d, err %v; want %q", target, got, res.ExitCode, err, h.Short)
			}
		}
	})

	t.Run("UnknownHostKeyRefusedThenTrusted", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		h := l.Hosts[0]
		if err := l.RemoveKnownHost(h.Short); err != nil {
			t.Fatal(err)
		}
		c := labClient(t, labConfig(l))
		_, err := c.Run(ctx, h.Name, "true", sshx.RunOptions{})
		var unknown *sshx.UnknownHostKeyError
		if !errors.As(err, &unknown) {
			t.Fatalf("err = %v (%T), want *UnknownHostKeyError", err, err)
		}
		want := hostFingerprint(t, h)
		if !strings.HasPrefix(unknown.Fingerprint, "SHA256:") || unknown.Fingerprint != want {
			t.Errorf("fingerprint %q, want %q", unknown.Fingerprint, want)
		}
		if unknown.Bastion || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "scalar-tui trust") {
			t.Errorf("error should name the key and `scalar-tui trust`: %v", err)
		}
		// Trust: fetch the key through the bastion, compare, append.
		key, err := c.HostKey(ctx, h.Name)
		if err != nil {
			t.Fatalf("HostKey: %v", err)
		}
		if fp := ssh.FingerprintSHA256(key); fp != want {
			t.Fatalf("HostKey fingerprint %s, want %s", fp, want)
		}
		if err := sshx.AppendKnownHost(l.KnownHosts, h.Name, key); err != nil {
			t.Fatal(err)
		}
		var got string
		if res, err := c.Run(ctx, h.Name, "hostname", sshx.RunOptions{Stdout: func(s string) { got = s }}); err != nil || res.ExitCode != 0 || got != h.Short {
			t.Fatalf("after trust: %q, exit %d, err %v", got, res.ExitCode, err)
		}
	})

	t.Run("ChangedHostKeyRefused", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		h := l.Hosts[1]
		old := hostFingerprint(t, h)
		if _, err := l.ChangeHostKey(ctx, h.Short); err != nil {
			t.Fatal(err)
		}
		now := hostFingerprint(t, h)
		c := labClient(t, labConfig(l))
		res, err := c.Run(ctx, h.Name, "echo must-not-run", sshx.RunOptions{})
		var changed *sshx.ChangedHostKeyError
		if !errors.As(err, &changed) {
			t.Fatalf("err = %v (%T), want *ChangedHostKeyError", err, err)
		}
		if res.ExitCode != -1 {
			t.Errorf("exit code %d, want -1 (nothing ran)", res.ExitCode)
		}
		if changed.Fingerprint != now || len(changed.Want) == 0 || ssh.FingerprintSHA256(changed.Want[0].Key) != old {
			t.Errorf("changed key error: got %s want-list %v; host key now %s, known %s", changed.Fingerprint, changed.Want, now, old)
		}
		if !strings.Contains(err.Error(), "REMOTE HOST IDENTIFICATION HAS CHANGED") {
			t.Errorf("error lacks the warning: %v", err)
		}
		// trust refuses to paper over a changed key: CheckKnownHost reports it too.
		key, err := c.HostKey(ctx, h.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := sshx.CheckKnownHost(l.KnownHosts, h.Name, key); !errors.As(err, &changed) {
			t.Errorf("CheckKnownHost = %v, want *ChangedHostKeyError", err)
		}
		// Once known_hosts has the new key, the same client connects.
		if err := l.ResetKnownHosts(); err != nil {
			t.Fatal(err)
		}
		if res, err := c.Run(ctx, h.Name, "true", sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
			t.Fatalf("after updating known_hosts: exit %d, %v", res.ExitCode, err)
		}
	})

	t.Run("AgentAuth", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		sock := startSSHAgent(t, ctx, l.KeyPath)
		cfg := labConfig(l)
		cfg.IdentityFile, cfg.NoAgent, cfg.AgentSocket = "", false, sock
		c := labClient(t, cfg)
		var got string
		if res, err := c.Run(ctx, host, "hostname", sshx.RunOptions{Stdout: func(s string) { got = s }}); err != nil || res.ExitCode != 0 || got != l.Hosts[0].Short {
			t.Fatalf("agent auth: %q, exit %d, err %v", got, res.ExitCode, err)
		}
	})

	t.Run("KeyFileAuthNoAgent", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		// SSH_AUTH_SOCK points nowhere: with NoAgent it must not even be dialled.
		t.Setenv("SSH_AUTH_SOCK", "/nonexistent/agent.sock")
		c := labClient(t, labConfig(l))
		if res, err := c.Run(ctx, host, "true", sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
			t.Fatalf("key file auth: exit %d, %v", res.ExitCode, err)
		}
	})

	t.Run("WrongUserRefused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		cfg := labConfig(l)
		cfg.User = "centos" // scalar-terraform's user; the lab logs in as root
		c := labClient(t, cfg)
		_, err := c.Run(ctx, host, "true", sshx.RunOptions{})
		var auth *sshx.AuthError
		if !errors.As(err, &auth) {
			t.Fatalf("err = %v (%T), want *AuthError", err, err)
		}
		if auth.User != "centos" || len(auth.Keys) == 0 || !strings.Contains(err.Error(), `"centos"`) {
			t.Errorf("auth error should name the user and keys offered: %+v: %v", auth, err)
		}
	})

	t.Run("BastionDown", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		if err := l.StopBastion(); err != nil {
			t.Fatal(err)
		}
		c := labClient(t, labConfig(l))
		_, err := c.Run(ctx, host, "true", sshx.RunOptions{})
		if err == nil {
			t.Fatal("Run with the bastion down succeeded")
		}
		if msg := err.Error(); !strings.Contains(msg, "bastion") || !strings.Contains(msg, l.BastionAddr) {
			t.Errorf("error should name the bastion %s: %v", l.BastionAddr, err)
		}
		// Back up: the same client reconnects.
		if err := l.StartBastion(ctx); err != nil {
			t.Fatal(err)
		}
		if res, err := c.Run(ctx, host, "true", sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
			t.Fatalf("after the bastion came back: exit %d, %v", res.ExitCode, err)
		}
	})

	// A wedged bastion (accepts TCP, never speaks SSH) fails every host at
	// once after the connect timeout, and trust --bastion does not hang.
	t.Run("SilentBastion", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		if err := l.FreezeBastion(); err != nil {
			t.Fatal(err)
		}
		thawed := false
		thaw := func() {
			if !thawed {
				thawed = true
				if err := l.ThawBastion(); err != nil {
					t.Error(err)
				}
			}
		}
		defer thaw()
		cfg := labConfig(l)
		cfg.DialTimeout = time.Second
		c := labClient(t, cfg)
		errs := make([]error, len(l.Hosts))
		var wg sync.WaitGroup
		for i, h := range l.Hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = c.Run(ctx, h.Name, "true", sshx.RunOptions{})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			var be *sshx.BastionError
			if !errors.Is(err, sshx.ErrHandshakeTimeout) || !errors.As(err, &be) || ctx.Err() != nil {
				t.Errorf("%s: %v, want a *BastionError with ErrHandshakeTimeout", l.Hosts[i].Short, err)
			}
		}
		if _, err := c.BastionHostKey(ctx); !errors.Is(err, sshx.ErrHandshakeTimeout) || ctx.Err() != nil {
			t.Errorf("BastionHostKey = %v, want ErrHandshakeTimeout", err)
		}
		thaw()
		if res, err := c.Run(ctx, host, "true", sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
			t.Fatalf("after the bastion woke up: exit %d, %v", res.ExitCode, err)
		}
	})

	t.Run("OneHostDown", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		down := l.Hosts[1]
		if err := l.StopSSH(down.Short); err != nil {
			t.Fatal(err)
		}
		c := labClient(t, labConfig(l))
		errs := make([]error, len(l.Hosts))
		var wg sync.WaitGroup
		for i, h := range l.Hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := c.Run(ctx, h.Name, "true", sshx.RunOptions{})
				if err == nil && res.ExitCode != 0 {
					err = fmt.Errorf("exit %d", res.ExitCode)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, h := range l.Hosts {
			switch {
			case h.Name == down.Name && errs[i] == nil:
				t.Errorf("%s (sshd stopped) succeeded", h.Name)
			case h.Name == down.Name && !strings.Contains(errs[i].Error(), down.Name):
				t.Errorf("%s: error should name the host: %v", h.Name, errs[i])
			case h.Name != down.Name && errs[i] != nil:
				t.Errorf("%s: %v (only %s is down)", h.Name, errs[i], down.Name)
			}
		}
		t.Logf("down host: %v", errs[1])
	})

	t.Run("ForwardingRefused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		if err := l.SetBastionForwarding(ctx, false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := l.SetBastionForwarding(ctx, true); err != nil {
				t.Errorf("reset forwarding: %v", err)
			}
		})
		c := labClient(t, labConfig(l))
		_, err := c.Run(ctx, host, "true", sshx.RunOptions{})
		if !errors.Is(err, sshx.ErrForwardingRefused) {
			t.Fatalf("err = %v, want ErrForwardingRefused", err)
		}
		if !strings.Contains(err.Error(), "AllowTcpForwarding") || !strings.Contains(err.Error(), l.BastionAddr) {
			t.Errorf("error should say what to fix and name the bastion: %v", err)
		}
		// The bastion itself still answers: only the jump is refused.
		if res, err := c.RunBastion(ctx, "true", sshx.RunOptions{}); err != nil || res.ExitCode != 0 {
			t.Errorf("RunBastion with forwarding off: exit %d, %v", res.ExitCode, err)
		}
	})

	t.Run("BastionKilledMidCommandThenReconnect", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		c := labClient(t, labConfig(l))
		started := make(chan struct{})
		var once sync.Once
		type outcome struct {
			res sshx.Result
			err error
		}
		done := make(chan outcome, 1)
		begin := time.Now()
		go func() {
			res, err := c.Run(ctx, host, "echo started; sleep 5", sshx.RunOptions{Stdout: func(s string) {
				if s == "started" {
					once.Do(func() { close(started) })
				}
			}})
			done <- outcome{res, err}
		}()
		select {
		case <-started:
		case o := <-done:
			t.Fatalf("command ended before the kill: %+v", o)
		case <-ctx.Done():
			t.Fatal("command never started")
		}
		if err := l.KillConnections(); err != nil {
			t.Fatal(err)
		}
		var o outcome
		select {
		case o = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after the bastion connection was killed")
		}
		var lost *sshx.ConnectionLostError
		if !errors.As(o.err, &lost) {
			t.Fatalf("err = %v (%T), want *ConnectionLostError", o.err, o.err)
		}
		if el := time.Since(begin); el >= 5*time.Second {
			t.Errorf("Run returned after %s: it waited for the command instead of noticing the drop", el)
		}
		if !strings.Contains(o.err.Error(), l.BastionAddr) || !strings.Contains(o.err.Error(), "next call reconnects") {
			t.Errorf("error should name the bastion and say the next call reconnects: %v", o.err)
		}
		var got string
		if res, err := c.Run(ctx, host, "hostname", sshx.RunOptions{Stdout: func(s string) { got = s }}); err != nil || res.ExitCode != 0 || got != l.Hosts[0].Short {
			t.Fatalf("next command after the drop: %q, exit %d, err %v", got, res.ExitCode, err)
		}
	})

	t.Run("DetachedSurvivesKillAndReattaches", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		c := labClient(t, labConfig(l))
		det := workflow.ShellDetacher{R: c}
		d := workflow.DetachedHandle{Host: host, Dir: fmt.Sprintf(".scalar-tui/runs/labtest-%d/step", time.Now().UnixNano()),
			Command: `for i in 1 2 3 4 5 6 7 8; do echo "line $i"; sleep 0.3; done; echo "to stderr" >&2; exit 0`}
		if err := det.Start(ctx, d); err != nil {
			t.Fatal(err)
		}
		// Follow a little, then drop every connection through the bastion.
		var mu sync.Mutex
		var outLines, errLines []string
		opts := sshx.RunOptions{
			Stdout: func(s string) { mu.Lock(); outLines = append(outLines, s); mu.Unlock() },
			Stderr: func(s string) { mu.Lock(); errLines = append(errLines, s); mu.Unlock() },
		}
		followCtx, stopFollow := context.WithTimeout(ctx, 700*time.Millisecond)
		err := det.Follow(followCtx, d, 0, 0, opts)
		stopFollow()
		if err == nil {
			t.Fatal("first Follow returned before its deadline: the command ended too early for the test")
		}
		if err := l.KillConnections(); err != nil {
			t.Fatal(err)
		}
		st, err := det.Status(ctx, d)
		if err != nil {
			t.Fatalf("Status after the drop: %v", err)
		}
		if !st.Running {
			t.Errorf("after the drop the command is %+v, want running", st)
		}
		mu.Lock()
		seen, seenErr := len(outLines), len(errLines)
		mu.Unlock()
		if err := det.Follow(ctx, d, seen, seenErr, opts); err != nil {
			t.Fatalf("follow again: %v", err)
		}
		if st, err := det.Status(ctx, d); err != nil || !st.Exited || st.ExitCode != 0 {
			t.Fatalf("after the end: %+v, %v", st, err)
		}
		var want []string
		for i := 1; i <= 8; i++ {
			want = append(want, fmt.Sprintf("line %d", i))
		}
		if strings.Join(outLines, "|") != strings.Join(want, "|") || strings.Join(errLines, "|") != "to stderr" {
			t.Errorf("output stdout=%q stderr=%q, want %q and [to stderr]", outLines, errLines, want)
		}
		t.Logf("lines before the drop: %d", seen)
	})

	t.Run("DetachedKillStopsProcessGroup", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		c := labClient(t, labConfig(l))
		det := workflow.ShellDetacher{R: c}
		// A unique duration marks our sleep among the machine's processes;
		// it runs as a child of the detached wrapper, in its process group.
		marker := fmt.Sprintf("300.%09d", time.Now().UnixNano()%1e9)
		d := workflow.DetachedHandle{Host: host, Dir: fmt.Sprintf(".scalar-tui/runs/labkill-%d/step", time.Now().UnixNano()),
			Command: shell.Join("sleep", marker) + "; echo never"}
		if err := det.Start(ctx, d); err != nil {
			t.Fatal(err)
		}
		if !eventually(15*time.Second, func() bool { return strings.Contains(hostProcs(ctx, t, l, host), "sleep "+marker) }) {
			t.Fatalf("sleep %s never showed up on %s", marker, host)
		}
		if err := det.Kill(ctx, d); err != nil {
			t.Fatal(err)
		}
		if !eventually(10*time.Second, func() bool { return !strings.Contains(hostProcs(ctx, t, l, host), "sleep "+marker) }) {
			t.Fatalf("sleep %s still runs on %s after Kill", marker, host)
		}
		// The wrapper shell ends (and is reaped) a moment after its child.
		var st workflow.DetachedStatus
		var serr error
		if !eventually(10*time.Second, func() bool { st, serr = det.Status(ctx, d); return serr == nil && !st.Running }) || st.Exited {
			t.Errorf("after Kill: %+v %v, want gone without an exit code", st, serr)
		}
	})

	t.Run("CancelStopsRemoteProcess", func(t *testing.T) {
		labReset(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), labTimeout)
		defer cancel()
		c := labClient(t, labConfig(l), sshx.WithKillGrace(500*time.Millisecond))
		// A unique duration marks our sleep among the machine's processes.
		marker := fmt.Sprintf("300.%09d", time.Now().UnixNano()%1e9)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := c.Run(runCtx, host, shell.Join("sleep", marker), sshx.RunOptions{})
			done <- err
		}()
		if !eventually(15*time.Second, func() bool { return strings.Contains(hostProcs(ctx, t, l, host), "sleep "+marker) }) {
			stop()
			t.Fatalf("sleep %s never showed up on %s", marker, host)
		}
		stop()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want it to wrap context.Canceled", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		if !eventually(10*time.Second, func() bool { return !strings.Contains(hostProcs(ctx, t, l, host), "sleep "+marker) }) {
			t.Fatalf("sleep %s still runs on %s after cancel", marker, host)
		}
	})
}

// startSSHAgent runs a real ssh-agent (foreground, on a socket in a short
// temporary directory), loads key into it with ssh-add, and kills the agent
// by its PID at cleanup.
func startSSHAgent(t *testing.T, ctx context.Context, key string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		if os.Getenv(lab.RequireEnv) == "1" {
			t.Fatalf("ssh-agent missing (package openssh-client): %v", err)
		}
		t.Skipf("ssh-agent missing: %v", err)
	}
	dir, err := os.MkdirTemp("", "sxa") // unix socket paths must stay short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	agent.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	if err := agent.Start(); err != nil {
		t.Fatalf("start ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		_ = agent.Process.Kill()
		_ = agent.Wait()
	})
	if !eventually(5*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }) {
		t.Fatalf("ssh-agent made no socket %s", sock)
	}
	add := exec.CommandContext(ctx, "ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add %s: %v: %s", key, err, out)
	}
	return sock
}
