package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// enterScript runs inside the host's namespaces: it mounts the host's home
// over /root (in the private mount namespace `ip netns exec` made) and execs
// the command, keeping the PID.
const enterScript = `mount --bind "$0" /root && cd /root && exec "$@"`

// enterArgv wraps argv to run in h's network, UTS and mount namespaces with
// h's /etc/hosts and home.
func enterArgv(h *Host, argv []string) []string {
	out := []string{"ip", "netns", "exec", h.Namespace, "nsenter", "--uts=" + h.uts, "--", "sh", "-c", enterScript, h.HomeDir}
	return append(out, argv...)
}

// EnterCommand returns the command line that runs argv on a host as the lab
// does (its network, hostname, /etc/hosts, and home over /root), e.g. for a
// shell: EnterCommand("cassandra-1", "bash").
func (l *Lab) EnterCommand(name string, argv ...string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.host(name)
	if err != nil {
		return nil, err
	}
	return enterArgv(h, argv), nil
}

// sessionEnv is the environment sshd's SetEnv gives h's sessions.
func (l *Lab) sessionEnv(h *Host) []string {
	env := []string{
		"PATH=" + h.BinDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SCALAR_SIM_HOST=" + h.Name, "SCALAR_LAB_DIR=" + l.Dir, "SCALAR_LAB_HOST_DIR=" + h.Dir,
	}
	return append(env, l.st.SessionEnv...)
}

func (h *Host) pidFile() string { return filepath.Join(h.Dir, "sshd.pid") }

// startSSHD starts h's sshd (it daemonizes) and records its PID.
func (l *Lab) startSSHD(ctx context.Context, h *Host) error {
	_ = os.Remove(h.pidFile())
	logf := filepath.Join(h.Dir, "sshd.log")
	argv := enterArgv(h, []string{sshdPath, "-f", filepath.Join(h.Dir, "sshd_config"), "-E", logf})
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("lab: start sshd on %s: %w: %s%s", h.Short, err, strings.TrimSpace(string(out)), logTail(logf))
	}
	// sshd writes its PidFile after it listens.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(h.pidFile())
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				l.mu.Lock()
				l.st.Procs = append(l.st.Procs, proc{Host: h.Short, PID: pid, Start: procStart(pid), Argv: argv[len(argv)-5:], SSHD: true})
				l.mu.Unlock()
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: sshd on %s wrote no PID file in 5s%s", h.Short, logTail(logf))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = s[len(s)-600:]
	}
	return " (" + path + ": " + s + ")"
}

func (l *Lab) startAllSSHD(ctx context.Context, parallel int) error {
	hosts := l.all()
	sem := make(chan struct{}, parallel)
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = l.startSSHD(ctx, h)
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) == 1 {
		return failed[0]
	}
	if len(failed) > 1 {
		return fmt.Errorf("%w (and %d more hosts failed)", failed[0], len(failed)-1)
	}
	return l.saveRegistry()
}

// sshdProc returns the index in st.Procs of h's live sshd listener, or -1.
func (l *Lab) sshdProc(h *Host) int {
	for i, p := range l.st.Procs {
		if p.SSHD && p.Host == h.Short && alive(p) {
			return i
		}
	}
	return -1
}

// stopListener kills h's sshd listener (sessions keep running) and forgets it.
func (l *Lab) stopListener(h *Host) {
	var keep []proc
	for _, p := range l.st.Procs {
		if p.SSHD && p.Host == h.Short {
			killWait(p.PID, p.Start, 2*time.Second)
			continue
		}
		keep = append(keep, p)
	}
	l.st.Procs = keep
}

// killSessions kills the per-connection sshd processes of h (and what they
// run). The listener stays.
func (l *Lab) killSessions(h *Host) {
	i := l.sshdProc(h)
	if i < 0 {
		return
	}
	ds := descendants(l.st.Procs[i].PID)
	for _, pid := range ds {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range ds {
		st := procStart(pid)
		deadline := time.Now().Add(2 * time.Second)
		for st != 0 && procStart(pid) == st && procState(pid) != "Z" && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// StopSSH stops a host's sshd and kills its open sessions: from then on the
// bastion's connection to it is refused, and open connections drop. name is
// an FQDN, short name or IP; the bastion's name stops the bastion.
func (l *Lab) StopSSH(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.host(name)
	if err != nil {
		return err
	}
	l.killSessions(h)
	l.stopListener(h)
	return l.save()
}

// StartSSH starts a host's sshd again after StopSSH (no-op when running).
func (l *Lab) StartSSH(ctx context.Context, name string) error {
	l.mu.Lock()
	h, err := l.host(name)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	running := l.sshdProc(h) >= 0
	l.mu.Unlock()
	if running {
		return nil
	}
	if err := l.startSSHD(ctx, h); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.save()
}

// restartListener restarts h's sshd listener to pick up a new config or key;
// established sessions are not touched.
func (l *Lab) restartListener(ctx context.Context, h *Host) error {
	l.mu.Lock()
	l.stopListener(h)
	l.mu.Unlock()
	if err := l.startSSHD(ctx, h); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.save()
}

// FreezeBastion stops the bastion's sshd listener with SIGSTOP: the kernel
// still accepts TCP connections into its backlog, but nothing answers them,
// like a wedged sshd. ThawBastion (SIGCONT) undoes it; call it before the
// lab is reset or stopped.
func (l *Lab) FreezeBastion() error { return l.signalListener(l.Bastion.Short, syscall.SIGSTOP) }

// ThawBastion resumes a bastion frozen by FreezeBastion.
func (l *Lab) ThawBastion() error { return l.signalListener(l.Bastion.Short, syscall.SIGCONT) }

func (l *Lab) signalListener(name string, sig syscall.Signal) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.host(name)
	if err != nil {
		return err
	}
	i := l.sshdProc(h)
	if i < 0 {
		return fmt.Errorf("lab: sshd on %s is not running", h.Short)
	}
	if err := syscall.Kill(l.st.Procs[i].PID, sig); err != nil {
		return fmt.Errorf("lab: signal sshd on %s: %w", h.Short, err)
	}
	return nil
}

// StopBastion stops the bastion's sshd and drops every connection through it.
func (l *Lab) StopBastion() error { return l.StopSSH(l.Bastion.Short) }

// StartBastion starts the bastion's sshd again after StopBastion.
func (l *Lab) StartBastion(ctx context.Context) error { return l.StartSSH(ctx, l.Bastion.Short) }

// KillConnections drops every established SSH connection to the bastion
// (and so every connection forwarded through it) by killing the bastion's
// per-connection sshd processes; clients see the TCP connection close. The
// bastion keeps accepting new connections.
func (l *Lab) KillConnections() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.killSessions(&l.Bastion)
	return nil
}

// ResetConnections aborts every established TCP connection to the bastion's
// sshd from the kernel side (`ss -K`, which needs CONFIG_INET_DIAG_DESTROY):
// clients see a reset ("Broken pipe", "connection reset by peer") rather than
// the orderly close KillConnections gives. The sshd processes then exit.
func (l *Lab) ResetConnections(ctx context.Context) error {
	l.mu.Lock()
	ns := l.Bastion.Namespace
	l.mu.Unlock()
	if _, err := run(ctx, "ip", "netns", "exec", ns, "ss", "-K", "-tn", "state", "established", "( sport = :22 )"); err != nil {
		return fmt.Errorf("lab: reset connections (ss -K): %w", err)
	}
	return nil
}

// SetBastionForwarding turns the bastion's AllowTcpForwarding on or off and
// restarts its listener. Connections opened before keep their setting; new
// ones through a bastion with forwarding off fail with "administratively
// prohibited".
func (l *Lab) SetBastionForwarding(ctx context.Context, on bool) error {
	l.mu.Lock()
	l.st.Forwarding = on
	err := l.writeSSHDConfig(&l.Bastion)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return l.restartListener(ctx, &l.Bastion)
}

// ChangeHostKey gives a host a new host key and restarts its sshd, leaving
// known_hosts with the old key (the "host key changed" case). It returns the
// new public key ("ssh-ed25519 AAAA..."). ResetKnownHosts trusts it.
func (l *Lab) ChangeHostKey(ctx context.Context, name string) (string, error) {
	l.mu.Lock()
	h, err := l.host(name)
	if err == nil {
		_, err = genKey(h.keyPath(), "root@"+h.Short)
	}
	l.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("lab: change host key of %s: %w", name, err)
	}
	if err := l.restartListener(ctx, h); err != nil {
		return "", err
	}
	return h.hostPub()
}

// AddECDSAHostKey gives a host a second host key, ECDSA P-256 (as a cloud
// image has several), and restarts its sshd, leaving known_hosts as it is
// (with the ed25519 key). It returns the new public key ("ecdsa-sha2-nistp256
// AAAA..."), e.g. for a known_hosts that knows only that key.
func (l *Lab) AddECDSAHostKey(ctx context.Context, name string) (string, error) {
	l.mu.Lock()
	h, err := l.host(name)
	l.mu.Unlock()
	if err != nil {
		return "", err
	}
	path := h.ecdsaKeyPath()
	_ = os.Remove(path)
	_ = os.Remove(path + ".pub")
	if _, err := run(ctx, "ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-C", "root@"+h.Short, "-f", path); err != nil {
		return "", fmt.Errorf("lab: ECDSA host key for %s: %w", h.Short, err)
	}
	l.mu.Lock()
	err = l.writeSSHDConfig(h)
	l.mu.Unlock()
	if err != nil {
		return "", err
	}
	if err := l.restartListener(ctx, h); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path + ".pub")
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return "", fmt.Errorf("lab: %s.pub: not a public key", path)
	}
	return f[0] + " " + f[1], nil
}

// RemoveKnownHost removes a host's line from known_hosts (the "unknown host
// key" case).
func (l *Lab) RemoveKnownHost(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.host(name)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(l.KnownHosts)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	var keep []string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.Fields(line)
		drop := false
		if len(f) > 0 {
			for _, pat := range strings.Split(f[0], ",") {
				if pat == h.Name || pat == h.Short || pat == h.IP || pat == "["+h.IP+"]:22" {
					drop = true
				}
			}
		}
		if !drop && line != "" {
			keep = append(keep, line)
		}
	}
	out := strings.Join(keep, "\n")
	if out != "" {
		out += "\n"
	}
	if err := os.WriteFile(l.KnownHosts, []byte(out), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// ResetKnownHosts rewrites known_hosts with every host's current key.
func (l *Lab) ResetKnownHosts() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writeKnownHosts()
}

// SetLink brings a host's network interface down (up=false) or up again:
// connections to it then time out ("no route to host") instead of being
// refused, as for an instance that stopped answering.
func (l *Lab) SetLink(ctx context.Context, name string, up bool) error {
	l.mu.Lock()
	h, err := l.host(name)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if h == &l.Bastion {
		return errors.New("lab: SetLink is for private hosts; use StopBastion for the bastion")
	}
	state := "down"
	if up {
		state = "up"
	}
	cmds := []string{"link set eth0 " + state}
	if up {
		cmds = append(cmds, fmt.Sprintf("route replace default via %s", l.subnetAddr(roleSubnet[h.Role], 1)))
	}
	return ipBatch(ctx, h.Namespace, cmds)
}

// Exec runs argv inside a host's namespaces (network, hostname, /etc/hosts,
// home over /root) with the environment an SSH session there gets (PATH
// starting with the host's bin dir, SCALAR_SIM_HOST, ...), and returns its
// combined output. The error includes the output when the command fails.
func (l *Lab) Exec(ctx context.Context, name string, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("lab: Exec: empty command")
	}
	l.mu.Lock()
	h, err := l.host(name)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	full := enterArgv(h, argv)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env = append(os.Environ(), l.sessionEnv(h)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("lab: %s on %s: %w: %s", strings.Join(argv, " "), h.Short, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// StartProcess starts a long-running process inside a host's namespaces (a
// simulator daemon, a node exporter) and returns its PID. It gets this
// process's environment, then the host's session environment (as Exec), then
// env. Output goes to DIR/hosts/<name>/logs/. The
// process survives this process (it gets its own session); Stop, StopProcess
// and `scalar-tui lab down` kill it.
func (l *Lab) StartProcess(name string, argv, env []string) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("lab: StartProcess: empty command")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.host(name)
	if err != nil {
		return 0, err
	}
	logName := fmt.Sprintf("%s-%d.log", filepath.Base(argv[0]), time.Now().UnixNano())
	logf, err := os.OpenFile(filepath.Join(h.Dir, "logs", logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("lab: %w", err)
	}
	defer logf.Close()
	full := enterArgv(h, argv)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = append(append(os.Environ(), l.sessionEnv(h)...), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("lab: start %s on %s: %w", argv[0], h.Short, err)
	}
	pid := cmd.Process.Pid
	// Reap it when it exits so it does not linger as a zombie of this process.
	go func() { _ = cmd.Wait() }()
	l.st.Procs = append(l.st.Procs, proc{Host: h.Short, PID: pid, Start: procStart(pid), Argv: argv})
	if err := l.save(); err != nil {
		return pid, err
	}
	return pid, nil
}

// StopProcess kills a process started with StartProcess (SIGTERM, then
// SIGKILL after 2 s).
func (l *Lab) StopProcess(pid int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keep []proc
	found := false
	for _, p := range l.st.Procs {
		if p.PID == pid && !p.SSHD {
			killWait(p.PID, p.Start, 2*time.Second)
			found = true
			continue
		}
		keep = append(keep, p)
	}
	if !found {
		return fmt.Errorf("lab: no process %d started by this lab", pid)
	}
	l.st.Procs = keep
	return l.save()
}
