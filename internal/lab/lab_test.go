package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func itoa(i int) string { return strconv.Itoa(i) }

// sshCmd runs the OpenSSH client with the lab's config.
func sshCmd(ctx context.Context, l *Lab, host string, args ...string) *exec.Cmd {
	a := append([]string{"-F", l.SSHConfig, "-o", "ConnectTimeout=5", host}, args...)
	return exec.CommandContext(ctx, "ssh", a...)
}

func sshOut(t *testing.T, l *Lab, host string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := sshCmd(ctx, l, host, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestLabSSHThroughBastion(t *testing.T) {
	l := ForTest(t, Config{Hosts: SmallHosts(), SessionEnv: []string{"SCALAR_SIM_STATE=/a dir/state"}})

	for _, h := range l.Hosts {
		out, err := sshOut(t, l, h.Name, "hostname; echo $SCALAR_SIM_HOST; echo $PATH; pwd; echo $SCALAR_SIM_STATE")
		if err != nil {
			t.Fatalf("ssh %s: %v: %s", h.Name, err, out)
		}
		lines := strings.Split(out, "\n")
		if len(lines) != 5 {
			t.Fatalf("ssh %s: got %q", h.Name, out)
		}
		if lines[0] != h.Short {
			t.Errorf("%s: hostname = %q, want %q", h.Name, lines[0], h.Short)
		}
		if lines[1] != h.Name {
			t.Errorf("%s: SCALAR_SIM_HOST = %q, want %q", h.Name, lines[1], h.Name)
		}
		if !strings.HasPrefix(lines[2], h.BinDir+":") {
			t.Errorf("%s: PATH = %q, want it to start with %s", h.Name, lines[2], h.BinDir)
		}
		if lines[3] != "/root" {
			t.Errorf("%s: pwd = %q, want /root", h.Name, lines[3])
		}
		if lines[4] != "/a dir/state" {
			t.Errorf("%s: SCALAR_SIM_STATE = %q", h.Name, lines[4])
		}
	}

	// A binary in the host's bin dir wins over the system's.
	h := l.Hosts[0]
	if err := os.WriteFile(filepath.Join(h.BinDir, "nodetool"), []byte("#!/bin/sh\necho fake nodetool on $SCALAR_SIM_HOST\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := sshOut(t, l, h.Name, "nodetool status"); err != nil || out != "fake nodetool on "+h.Name {
		t.Errorf("nodetool via PATH: %q, %v", out, err)
	}
	// Each host has its own home.
	if out, err := sshOut(t, l, h.Name, "echo "+h.Short+" > ~/who && cat ~/who"); err != nil || out != h.Short {
		t.Fatalf("write home: %q, %v", out, err)
	}
	if b, err := os.ReadFile(filepath.Join(h.HomeDir, "who")); err != nil || strings.TrimSpace(string(b)) != h.Short {
		t.Errorf("home of %s is not %s: %q, %v", h.Short, h.HomeDir, b, err)
	}
	if out, err := sshOut(t, l, l.Hosts[1].Name, "test -e ~/who && echo shared || echo separate"); err != nil || out != "separate" {
		t.Errorf("homes are shared between hosts: %q, %v", out, err)
	}

	// The bastion resolves the private zone; hosts reach each other.
	if out, err := sshOut(t, l, "bastion", "getent hosts "+h.Name+" cassandra-lb."+l.Domain); err != nil || !strings.Contains(out, h.IP) {
		t.Errorf("bastion resolution: %q, %v", out, err)
	}
	if out, err := l.Exec(context.Background(), l.Hosts[1].Short, "bash", "-c", "exec 3<>/dev/tcp/"+h.Name+"/22 && head -c 4 <&3"); err != nil || string(out) != "SSH-" {
		t.Errorf("host to host: %v: %s", err, out)
	}
}

// goSSH runs cmd on host through the bastion with golang.org/x/crypto/ssh,
// checking host keys against the lab's known_hosts, as the console does.
func goSSH(l *Lab, host, cmd string) (string, error) {
	key, err := os.ReadFile(l.KeyPath)
	if err != nil {
		return "", err
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return "", err
	}
	hk, err := knownhosts.New(l.KnownHosts)
	if err != nil {
		return "", err
	}
	cfg := &ssh.ClientConfig{User: l.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 5 * time.Second}
	bc, err := ssh.Dial("tcp", l.BastionAddr, cfg)
	if err != nil {
		return "", fmt.Errorf("bastion: %w", err)
	}
	defer bc.Close()
	addr := net.JoinHostPort(host, "22")
	conn, err := bc.Dial("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("dial %s via bastion: %w", addr, err)
	}
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return "", fmt.Errorf("%s: %w", addr, err)
	}
	c := ssh.NewClient(cc, chans, reqs)
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return strings.TrimSpace(string(out)), err
}

func TestLabGoClient(t *testing.T) {
	l := ForTest(t, Config{Hosts: SmallHosts()})
	for _, h := range l.Hosts {
		out, err := goSSH(l, h.Name, "hostname")
		if err != nil || out != h.Short {
			t.Errorf("%s: %q, %v", h.Name, out, err)
		}
	}
}

func TestLabTerraformState(t *testing.T) {
	l := ForTest(t, Config{Hosts: SmallHosts()})
	if l.TFRoot == "" {
		t.Fatal("no TFRoot")
	}
	for _, root := range []string{"network", "cassandra", "scalardl", "monitor"} {
		if _, err := os.Stat(filepath.Join(l.TFRoot, root, "terraform.tfstate")); err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(l.TFRoot, "network", "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Outputs map[string]struct{ Value any } `json:"outputs"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"bastion_ip": l.Bastion.IP, "user_name": l.User, "private_key_path": l.KeyPath, "internal_domain": l.Domain} {
		if got := st.Outputs[k].Value; got != want {
			t.Errorf("output %s = %v, want %s", k, got, want)
		}
	}
	c, err := os.ReadFile(filepath.Join(l.TFRoot, "cassandra", "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range l.Hosts {
		if !strings.Contains(string(c), `"`+h.IP+`"`) || !strings.Contains(string(c), h.Name) {
			t.Errorf("cassandra state lacks %s %s", h.Name, h.IP)
		}
	}
}

func TestLabDirectConnectFails(t *testing.T) {
	l := ForTest(t, Config{Hosts: SmallHosts()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh", "-i", l.KeyPath, "-o", "UserKnownHostsFile="+l.KnownHosts,
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@"+l.Hosts[0].IP, "true").CombinedOutput()
	if err == nil {
		t.Fatalf("direct ssh to %s worked; want it unreachable", l.Hosts[0].IP)
	}
	if s := string(out); !strings.Contains(s, "No route to host") && !strings.Contains(s, "unreachable") {
		t.Errorf("direct ssh: %s; want No route to host", s)
	}
	// The bastion itself is reachable directly.
	if out, err := sshOut(t, l, "bastion", "hostname"); err != nil || out != "bastion-1" {
		t.Errorf("ssh bastion: %q, %v", out, err)
	}
}

func TestLabFaults(t *testing.T) {
	l := ForTest(t, Config{Hosts: SmallHosts()})
	ctx := context.Background()
	h := l.Hosts[0]

	// Host down: refused through the bastion; back up: works.
	if err := l.StopSSH(h.Name); err != nil {
		t.Fatal(err)
	}
	if out, err := sshOut(t, l, h.Name, "true"); err == nil {
		t.Errorf("ssh to stopped host worked: %s", out)
	}
	if err := l.StartSSH(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	if out, err := sshOut(t, l, h.Name, "true"); err != nil {
		t.Errorf("ssh after StartSSH: %v: %s", err, out)
	}

	// Forwarding refused.
	if err := l.SetBastionForwarding(ctx, false); err != nil {
		t.Fatal(err)
	}
	if out, err := sshOut(t, l, h.Name, "true"); err == nil || !strings.Contains(out, "stdio forwarding failed") {
		t.Errorf("ssh with forwarding off: %v: %s", err, out)
	}
	if _, err := goSSH(l, h.Name, "true"); err == nil || !strings.Contains(err.Error(), "administratively prohibited") {
		t.Errorf("x/crypto/ssh with forwarding off: %v", err)
	}
	if err := l.SetBastionForwarding(ctx, true); err != nil {
		t.Fatal(err)
	}

	// Changed host key.
	if _, err := l.ChangeHostKey(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	if out, err := sshOut(t, l, h.Name, "true"); err == nil || !strings.Contains(out, "HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ssh after key change: %v: %s", err, out)
	}
	if _, err := goSSH(l, h.Name, "true"); err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("x/crypto/ssh after key change: %v", err)
	}
	if err := l.ResetKnownHosts(); err != nil {
		t.Fatal(err)
	}
	// Unknown host key.
	if err := l.RemoveKnownHost(h.Name); err != nil {
		t.Fatal(err)
	}
	if out, err := sshOut(t, l, h.Name, "true"); err == nil || !strings.Contains(out, "Host key verification failed") {
		t.Errorf("ssh with unknown key: %v: %s", err, out)
	}
	if _, err := goSSH(l, h.Name, "true"); err == nil || !strings.Contains(err.Error(), "key is unknown") {
		t.Errorf("x/crypto/ssh with unknown key: %v", err)
	}
	if err := l.ResetKnownHosts(); err != nil {
		t.Fatal(err)
	}

	// Kill established connections.
	cmd := sshCmd(ctx, l, h.Name, "sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(1500 * time.Millisecond)
	if err := l.KillConnections(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("ssh session survived KillConnections")
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Error("ssh session still running 10s after KillConnections")
	}
	if out, err := sshOut(t, l, h.Name, "true"); err != nil {
		t.Errorf("ssh after KillConnections: %v: %s", err, out)
	}

	// Reset connections from the kernel side.
	cmd = sshCmd(ctx, l, h.Name, "sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(1500 * time.Millisecond)
	if err := l.ResetConnections(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("ssh session survived ResetConnections")
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Error("ssh session still running 10s after ResetConnections")
	}

	// Link down: the host stops answering.
	if err := l.SetLink(ctx, h.Name, false); err != nil {
		t.Fatal(err)
	}
	if out, err := sshOut(t, l, h.Name, "true"); err == nil {
		t.Errorf("ssh to a host with its link down worked: %s", out)
	}
	if err := l.SetLink(ctx, h.Name, true); err != nil {
		t.Fatal(err)
	}
	if out, err := sshOut(t, l, h.Name, "true"); err != nil {
		t.Errorf("ssh after link up: %v: %s", err, out)
	}
}

func TestLabStopCleansUp(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv(RequireEnv) != "1" {
			t.Skip(err)
		}
	}
	dir := t.TempDir()
	ctx := context.Background()
	l, err := Start(ctx, Config{Dir: dir, Hosts: SmallHosts(), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	pid, err := l.StartProcess(l.Hosts[1].Short, []string{"sleep", "300"}, []string{"X=1"})
	if err != nil {
		t.Fatal(err)
	}
	// StartProcess returns once the wrapper shell runs; it execs sleep a moment later.
	want := l.Hosts[1].Short + "\nsleep\n" + l.Hosts[1].Name + "\n"
	var (
		got  []byte
		err2 error
	)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got, err2 = l.Exec(ctx, l.Hosts[1].Short, "sh", "-c", "hostname; cat /proc/"+itoa(pid)+"/comm; echo $SCALAR_SIM_HOST")
		if err2 == nil && string(got) == want {
			break
		}
	}
	if err2 != nil || string(got) != want {
		t.Errorf("process in host: %q, %v", got, err2)
	}
	pids := l.PIDs()
	if len(pids) != 1+len(l.Hosts)+1 {
		t.Errorf("PIDs = %v, want %d", pids, len(l.Hosts)+2)
	}
	// Stop from another "process": through the state file.
	l2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, p := range pids {
		if _, err := os.Stat("/proc/" + itoa(p)); err == nil && procState(p) != "Z" {
			t.Errorf("process %d still alive after Stop", p)
		}
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), l.Prefix()+"-") {
		t.Errorf("namespaces left: %s", out)
	}
	routes, _ := exec.Command("ip", "route", "show", "table", "all").Output()
	if strings.Contains(string(routes), strings.TrimSuffix(l.Network, ".0.0/16")+".") {
		t.Errorf("routes left: %s", routes)
	}
	links, _ := exec.Command("ip", "-br", "link").Output()
	if strings.Contains(string(links), l.Prefix()) {
		t.Errorf("links left: %s", links)
	}
	if _, err := os.Stat(filepath.Join("/etc/netns", l.Bastion.Namespace)); err == nil {
		t.Error("/etc/netns entry left")
	}
	if _, err := os.Stat(filepath.Join(registryDir, l.Prefix()+".json")); err == nil {
		t.Error("registry entry left")
	}
	if _, err := Load(dir); err == nil {
		t.Error("state file left")
	}
	if err := l.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestParseHosts(t *testing.T) {
	for _, tc := range []struct {
		spec string
		n    int
		err  bool
	}{
		{"default", 12, false},
		{"small", 3, false},
		{"30", 30, false},
		{"cassandra=3,envoy=1", 4, false},
		{"cassandra-1, monitor-1 bastion-1", 2, false},
		{"cassandra=x", 0, true},
		{"db=3", 0, true},
		{"bastion=1", 0, true},
		{"0", 0, true},
	} {
		hs, err := ParseHosts(tc.spec)
		if (err != nil) != tc.err || len(hs) != tc.n {
			t.Errorf("ParseHosts(%q) = %d hosts, %v", tc.spec, len(hs), err)
		}
	}
	hs, err := ReadHostsFile("../../testdata/lab/hosts.txt")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hs {
		names = append(names, h.Short())
	}
	if got := strings.Join(names, " "); got != "cassandra-1 cassandra-2 cassandra-3 scalardl-blue-1 envoy-1 monitor-1" {
		t.Errorf("hosts file: %s", got)
	}
}

// BenchmarkStart measures a lab's start and stop: go test -bench Start -benchtime 3x
func BenchmarkStart(b *testing.B) {
	for _, n := range []struct {
		name  string
		hosts []HostSpec
	}{{"13hosts", DefaultHosts()}, {"31hosts", CassandraHosts(30)}} {
		b.Run(n.name, func(b *testing.B) {
			if err := Available(); err != nil {
				b.Skip(err)
			}
			for i := 0; i < b.N; i++ {
				l, err := Start(context.Background(), Config{Dir: b.TempDir(), Hosts: n.hosts, Ephemeral: true})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := l.Stop(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
