package workflow

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
)

func TestRedactSecrets(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"curl https://admin:pa55w0rd@reaper:8080/login", "curl https://admin:***@reaper:8080/login"},
		{"git clone https://user:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/x", "git clone https://user:***@github.com/x"},
		{"ssh://centos@bastion:22", "ssh://centos@bastion:22"},
		{"curl http://localhost:9001/clusters", "curl http://localhost:9001/clusters"},
		{"mysql --password=hunter2 -u root", "mysql --password=*** -u root"},
		{"cqlsh --password 'p w' -u cassandra", "cqlsh --password *** -u cassandra"},
		{"nodetool -u cassandra -pw s3cret status", "nodetool -u cassandra -pw *** status"},
		{"reaper --api-token abc123 run", "reaper --api-token *** run"},
		{"PASSWORD=hunter2 ./start.sh", "PASSWORD=*** ./start.sh"},
		{"export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG ; ls", "export AWS_SECRET_ACCESS_KEY=*** ; ls"},
		{`{"password":"x y","user":"u"}`, `{"password":***,"user":"u"}`},
		{"cassandra_password: verysecret", "cassandra_password: ***"},
		{"curl -d 'user=a&password=b&x=1'", "curl -d 'user=a&password=***&x=1'"},
		{"curl -H 'Authorization: Bearer abc.def.ghi' http://x", "curl -H 'Authorization: Bearer ***' http://x"},
		{"echo AKIAIOSFODNN7EXAMPLE", "echo ***"},
		{"echo eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "echo ***"},
		// Ordinary commands are left alone.
		{"nodetool -h localhost status", "nodetool -h localhost status"},
		{"mkdir -p /tmp/x && docker ps --format '{{.Image}}'", "mkdir -p /tmp/x && docker ps --format '{{.Image}}'"},
		{"cat ~/.ssh/known_hosts; echo $PWD", "cat ~/.ssh/known_hosts; echo $PWD"},
		{"gzip -cd /tmp/scalardl-2.2.0.tar.gz | docker load", "gzip -cd /tmp/scalardl-2.2.0.tar.gz | docker load"},
	} {
		if got := RedactSecrets(tc.in); got != tc.want {
			t.Errorf("RedactSecrets(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

var safeSecret = regexp.MustCompile(`^[A-Za-z0-9]{4,}$`)

func FuzzRedactSecrets(f *testing.F) {
	f.Add("hunter2x", "echo")
	f.Add("AKIAIOSFODNN7EXAMPLE", "curl -v")
	f.Fuzz(func(t *testing.T, secret, prefix string) {
		out := RedactSecrets(prefix + " " + secret)
		if RedactSecrets(out) != out {
			t.Errorf("not idempotent: %q -> %q -> %q", prefix+" "+secret, out, RedactSecrets(out))
		}
		if !safeSecret.MatchString(secret) || strings.Contains(prefix, secret) {
			return
		}
		for _, s := range []string{
			"PASSWORD=" + secret,
			"--password " + secret,
			"https://u:" + secret + "@host/",
			"-H 'Authorization: Bearer " + secret + "'",
		} {
			if got := RedactSecrets(prefix + " " + s); strings.Contains(got, secret) {
				t.Errorf("RedactSecrets(%q) = %q keeps the secret", prefix+" "+s, got)
			}
		}
	})
}

// TestEngineOverAuditedClientLogsEachCommandOnce runs a plan over a real
// sshx client whose auditor writes the engine's audit log: every command,
// the lock's included, is one entry, carrying the run ID and deployment.
func TestEngineOverAuditedClientLogsEachCommandOnce(t *testing.T) {
	hosts := []string{"h1", "h2"}
	cl, err := sshtest.NewCluster(sshtest.ClusterOptions{Hosts: hosts, RealShellDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	dir := t.TempDir()
	kh, id, err := cl.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	c, err := sshx.New(sshx.Config{BastionAddr: cl.Bastion.Addr, User: cl.User, IdentityFile: id, KnownHostsFile: kh, NoAgent: true, DialTimeout: 5 * time.Second},
		sshx.WithAuditor(NewAuditLog(AuditPath(state), "ops@test", "net-1@bastion:22", NewRedactor("s3cr3t"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e := New(c, state, WithOperator("ops@test"), WithLockPath(filepath.Join(dir, "lock")), WithRedactor(NewRedactor("t0psecret")))
	p := hostPlan(hosts...)
	p.Steps[0].Commands = append(p.Steps[0].Commands, "echo t0psecret >/dev/null")
	if status, err := e.Run(context.Background(), p); err != nil || status != StatusDone {
		t.Fatalf("Run = %s, %v", status, err)
	}
	if _, err := e.ForceUnlock(context.Background()); err == nil {
		t.Fatal("ForceUnlock of a free lock succeeded")
	}
	all, err := ReadAudit(state, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	bastion, outside := 0, 0
	for _, a := range all {
		if a.Deployment != "net-1@bastion:22" || a.Kind != "command" || a.Operator != "ops@test" {
			t.Errorf("entry not written by the client's audit log (a double?): %+v", a)
		}
		if strings.Contains(a.Command, "t0psecret") {
			t.Errorf("the engine's secret reached the audit log: %q", a.Command)
		}
		switch {
		case a.Run == "":
			outside++
		case a.Run != p.ID:
			t.Errorf("entry with run %q, want %q: %+v", a.Run, p.ID, a)
		}
		if a.Host == sshx.BastionHost {
			bastion++
		}
		seen[a.Host+" "+a.Command]++
	}
	for _, h := range hosts {
		if n := seen[h+" "+workCmd]; n != 1 {
			t.Errorf("%s: the step's command has %d entries, want 1", h, n)
		}
	}
	if n := seen["h1 echo *** >/dev/null"]; n != 1 {
		t.Errorf("the redacted command has %d entries, want 1: %v", n, seen)
	}
	if bastion < 3 || outside != 1 {
		t.Errorf("bastion entries %d (want take, check, release and the unlock), outside a run %d (want the unlock): %+v", bastion, outside, all)
	}
}

// BenchmarkRedactSecrets: every audit entry's command and error pass through it.
func BenchmarkRedactSecrets(b *testing.B) {
	for name, cmd := range map[string]string{
		"plain":   `d="$HOME"/'.scalar-tui/runs/20261204-1556-repair-6112ac/cassandra-1-repair-0'; mkdir -p "$d" && setsid nohup sh -c 'nodetool repair -full -pr scalar' >/dev/null 2>&1 </dev/null &`,
		"secrets": `curl -s -H 'Authorization: Bearer abc' https://admin:pw@reaper:8080/login --password x PASSWORD=y`,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				RedactSecrets(cmd)
			}
		})
	}
}
