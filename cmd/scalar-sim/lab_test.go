package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"scalar-tui/internal/lab"
)

// runLab runs the command tree with args and returns stdout, stderr and the
// exit code run() would give.
func runLab(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--log-file", filepath.Join(t.TempDir(), "log")}, args...))
	err := root.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		errOut.WriteString(err.Error())
		code = exitBadInput
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), errOut.String(), code
}

func TestLabUpOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       labUpOptions
		n       int
		wantErr string
	}{
		{"default", labUpOptions{dir: "/x", hosts: "default"}, 12, ""},
		{"small", labUpOptions{dir: "/x", hosts: "small"}, 3, ""},
		{"count", labUpOptions{dir: "/x", hosts: "30"}, 30, ""},
		{"file", labUpOptions{dir: "/x", hostsFrom: "../../testdata/lab/hosts.txt"}, 6, ""},
		{"bad role", labUpOptions{dir: "/x", hosts: "db=3"}, 0, `unknown role "db"`},
		{"missing file", labUpOptions{dir: "/x", hostsFrom: "nope.txt"}, 0, "nope.txt"},
		{"no dir", labUpOptions{hosts: "small"}, 0, "--dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.o.config()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(cfg.Hosts) != tc.n {
				t.Fatalf("hosts = %d, err = %v; want %d", len(cfg.Hosts), err, tc.n)
			}
		})
	}
}

func TestLabDownWithoutLab(t *testing.T) {
	_, errOut, code := runLab(t, "lab", "down", "--dir", t.TempDir())
	if code != exitBadInput || !strings.Contains(errOut, "no lab in") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestLabUpDown(t *testing.T) {
	if err := lab.Available(); err != nil {
		if os.Getenv(lab.RequireEnv) == "1" {
			t.Fatalf("lab required: %v", err)
		}
		t.Skipf("lab unavailable: %v", err)
	}
	dir := t.TempDir()
	// A prefix of this run's own: two test runs on one machine never tear
	// down each other's lab ("lab up" replaces a lab with the same prefix).
	prefix := fmt.Sprintf("c%07x", rand.Uint32()&0xfffffff)
	out, errOut, code := runLab(t, "lab", "up", "--dir", dir, "--hosts", "small", "--prefix", prefix)
	if code != exitOK {
		t.Fatalf("lab up: exit %d: %s", code, errOut)
	}
	defer func() {
		if l, err := lab.Load(dir); err == nil {
			_ = l.Stop()
		}
	}()
	for _, want := range []string{
		"--tf-root " + filepath.Join(dir, "tf"), "--known-hosts " + filepath.Join(dir, "known_hosts"),
		"--identity " + filepath.Join(dir, "id_ed25519"), "ssh -F " + filepath.Join(dir, "ssh_config"),
		"scalar-tui lab down --dir " + dir,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lab up output lacks %q:\n%s", want, out)
		}
	}
	ssh := exec.Command("ssh", "-F", filepath.Join(dir, "ssh_config"), "cassandra-2."+lab.DefaultDomain, "hostname")
	if b, err := ssh.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "cassandra-2" {
		t.Errorf("ssh: %q, %v", b, err)
	}
	out, errOut, code = runLab(t, "lab", "down", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "lab "+prefix+" is down") {
		t.Fatalf("lab down: exit %d: %s%s", code, out, errOut)
	}
	if nss, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(nss), prefix+"-") {
		t.Errorf("namespaces left after lab down: %s", nss)
	}
}
