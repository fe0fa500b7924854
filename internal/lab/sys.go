package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tools the lab runs, with the Debian package that provides each.
var tools = [][2]string{
	{"ip", "iproute2"}, {"nsenter", "util-linux"}, {"unshare", "util-linux"},
	{"mount", "mount"}, {"sh", "dash"}, {"ss", "iproute2"}, {sshdPath, "openssh-server"},
}

const sshdPath = "/usr/sbin/sshd"

func checkTools() error {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t[0]); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", t[0], t[1]))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab: missing %s: install with apt-get install -y --no-install-recommends openssh-server iproute2", strings.Join(missing, ", "))
	}
	return nil
}

// run runs a command and returns its combined output; the error includes it.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return runIn(ctx, nil, name, args...)
}

func runIn(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// lockRegistry takes an exclusive flock on the registry so two labs starting
// at once do not pick the same network.
func lockRegistry() (func(), error) {
	f, err := os.OpenFile(filepath.Join(registryDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: registry lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: registry lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// registered returns the states in the registry.
func registered() ([]state, error) {
	ents, err := os.ReadDir(registryDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("lab: registry: %w", err)
	}
	var out []state
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(registryDir, e.Name()))
		if err != nil {
			continue
		}
		var st state
		if json.Unmarshal(b, &st) == nil && st.Prefix != "" {
			out = append(out, st)
		}
	}
	return out, nil
}

// cleanLeftovers tears down a registered lab with this prefix, registered
// ephemeral labs whose owner process is gone, and namespaces named
// "<prefix>-*" that no registry entry explains.
func cleanLeftovers(prefix string) error {
	sts, err := registered()
	if err != nil {
		return err
	}
	var errs []error
	for i := range sts {
		st := &sts[i]
		ownerGone := !alive(proc{PID: st.OwnerPID, Start: st.OwnerStart})
		if st.Prefix == prefix || (st.Ephemeral && ownerGone) {
			if err := teardown(st); err != nil {
				errs = append(errs, err)
			}
			if st.Dir != "" {
				_ = os.Remove(filepath.Join(st.Dir, StateFile))
			}
		}
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			errs = append(errs, deleteNamespace(e.Name()))
		}
	}
	return errors.Join(errs...)
}

// freeNetwork picks the first 10.N.0.0/16 (N in 231..250) no lab and no route uses.
func freeNetwork() (string, error) {
	sts, err := registered()
	if err != nil {
		return "", err
	}
	used := map[string]bool{}
	for _, st := range sts {
		used[st.Network] = true
	}
	for n := 231; n <= 250; n++ {
		cidr := fmt.Sprintf("10.%d.0.0/16", n)
		if used[cidr] {
			continue
		}
		_, ipn, _ := net.ParseCIDR(cidr)
		if inUse, err := networkInUse(ipn); err != nil {
			return "", err
		} else if inUse == "" {
			return cidr, nil
		}
	}
	return "", errors.New("lab: no free network among 10.231.0.0/16..10.250.0.0/16: stop other labs (`scalar-tui lab down`)")
}

// networkInUse reports a route or address of the root namespace overlapping ipn.
func networkInUse(ipn *net.IPNet) (string, error) {
	out, err := run(context.Background(), "ip", "-4", "route", "show", "table", "all")
	if err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if (dst == "unreachable" || dst == "local" || dst == "broadcast" || dst == "blackhole" || dst == "prohibit") && len(f) > 1 {
			dst = f[1]
		}
		if dst == "default" {
			continue
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		_, rn, err := net.ParseCIDR(dst)
		if err != nil {
			continue
		}
		if rn.Contains(ipn.IP) || ipn.Contains(rn.IP) {
			return "route " + sc.Text(), nil
		}
	}
	return "", nil
}

// procStart is field 22 of /proc/PID/stat (start time in clock ticks), or 0.
func procStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// procState is field 3 of /proc/PID/stat ("Z" for a zombie), or "".
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

func alive(p proc) bool {
	st := procStart(p.PID)
	return st != 0 && st == p.Start && procState(p.PID) != "Z"
}

// killWait sends SIGTERM, waits up to d, then SIGKILL, and waits until the
// process is gone (or a zombie of some other parent).
func killWait(pid int, start uint64, d time.Duration) {
	p := proc{PID: pid, Start: start}
	if !alive(p) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(d)
	for alive(p) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(p) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		deadline = time.Now().Add(2 * time.Second)
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// children maps each PID to its children's PIDs.
func children() map[int][]int {
	out := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		out[ppid] = append(out[ppid], pid)
	}
	return out
}

// descendants lists the descendants of pid, deepest last.
func descendants(pid int) []int {
	kids := children()
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range kids[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// nsPIDs lists the processes in a network namespace.
func nsPIDs(ns string) []int {
	out, err := run(context.Background(), "ip", "netns", "pids", ns)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// deleteNamespace kills every process in ns and deletes it.
func deleteNamespace(ns string) error {
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
		return nil
	}
	for i := 0; i < 3; i++ {
		pids := nsPIDs(ns)
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		for _, p := range pids {
			st := procStart(p)
			deadline := time.Now().Add(2 * time.Second)
			for st != 0 && procStart(p) == st && procState(p) != "Z" && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	if _, err := run(context.Background(), "ip", "netns", "del", ns); err != nil {
		return fmt.Errorf("lab: delete namespace %s: %w", ns, err)
	}
	return nil
}

// teardown removes everything st records. It keeps going on errors and
// returns them all; things already gone are not errors.
func teardown(st *state) error {
	var errs []error
	// Tracked processes first (gracefully), then whatever else is in the
	// namespaces (sessions, children) goes with the namespace.
	for _, p := range st.Procs {
		killWait(p.PID, p.Start, 2*time.Second)
	}
	st.Procs = nil
	for _, ns := range st.Namespaces {
		if err := deleteNamespace(ns); err != nil {
			errs = append(errs, err)
		}
	}
	st.Namespaces = nil
	for _, d := range st.EtcNetns {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	st.EtcNetns = nil
	for _, f := range st.UTSFiles {
		if _, err := os.Lstat(f); err != nil {
			continue
		}
		// The file is a bind mount of the UTS namespace while it is pinned.
		_ = syscall.Unmount(f, syscall.MNT_DETACH)
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("lab: remove %s: %w", f, err))
		}
	}
	st.UTSFiles = nil
	if st.Prefix != "" {
		_ = os.RemoveAll(filepath.Join(registryDir, st.Prefix))
	}
	routes, _ := run(context.Background(), "ip", "-4", "route", "show", "table", "all")
	for _, r := range st.Routes {
		f := strings.Fields(r)
		present := false
		for _, line := range strings.Split(string(routes), "\n") {
			lf := strings.Fields(line)
			if len(lf) >= 2 && len(f) >= 2 && lf[0] == f[0] && lf[1] == f[1] {
				present = true
			}
		}
		if !present {
			continue
		}
		if _, err := run(context.Background(), "ip", append([]string{"route", "del"}, f...)...); err != nil {
			errs = append(errs, fmt.Errorf("lab: %w", err))
		}
	}
	st.Routes = nil
	if st.Prefix != "" {
		// The root namespace's end of the bastion's link goes with the
		// bastion's namespace, but the kernel removes it (and its connected
		// route) some milliseconds after `ip netns del` returns. Delete it
		// ourselves and wait until the kernel shows nothing of this lab.
		if linkPresent(st.Prefix + "r") {
			if _, err := run(context.Background(), "ip", "link", "del", st.Prefix+"r"); err != nil && linkPresent(st.Prefix+"r") {
				errs = append(errs, fmt.Errorf("lab: %w", err))
			}
		}
		if err := waitGone(st.Prefix, st.Network, 5*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if st.Prefix != "" {
		if err := os.Remove(filepath.Join(registryDir, st.Prefix+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// linkPresent reports whether the root namespace has a link named name.
func linkPresent(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// waitGone waits until the root namespace holds no link named with prefix
// and no route into network (the lab's CIDR), or d has passed.
func waitGone(prefix, network string, d time.Duration) error {
	_, ipn, _ := net.ParseCIDR(network)
	var left string
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		left = ""
		if ifs, err := net.Interfaces(); err == nil {
			for _, i := range ifs {
				if strings.HasPrefix(i.Name, prefix) {
					left += " link " + i.Name
				}
			}
		}
		if ipn != nil {
			out, _ := run(context.Background(), "ip", "-4", "route", "show", "table", "all")
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				if len(f) == 0 {
					continue
				}
				dst := f[0]
				if len(f) > 1 && (dst == "unreachable" || dst == "local" || dst == "broadcast") {
					dst = f[1]
				}
				ip, _, err := net.ParseCIDR(dst)
				if err != nil {
					ip = net.ParseIP(dst)
				}
				if ip != nil && ipn.Contains(ip) {
					left += " route " + strings.TrimSpace(line) + ";"
				}
			}
		}
		if left == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab %s: still present %s after teardown", prefix, left)
		}
	}
}

// waitBanner dials addr until it answers with an SSH banner.
func waitBanner(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 8)
			n, rerr := c.Read(buf)
			c.Close()
			if rerr == nil && strings.HasPrefix(string(buf[:n]), "SSH-") {
				return nil
			}
			last = fmt.Errorf("no SSH banner (%v)", rerr)
		} else {
			last = err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not answering after %s: %w", timeout, last)
}
