package redact

import (
	"regexp"
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"curl https://admin:pa55w0rd@reaper:8080/login", "curl https://***@reaper:8080/login"},
		{"git clone https://user:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/x", "git clone https://***@github.com/x"},
		{"ssh://centos@bastion:22", "ssh://***@bastion:22"},
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
		if got := Secrets(tc.in); got != tc.want {
			t.Errorf("Secrets(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

var safeSecret = regexp.MustCompile(`^[A-Za-z0-9]{4,}$`)

func FuzzSecrets(f *testing.F) {
	f.Add("hunter2x", "echo")
	f.Add("AKIAIOSFODNN7EXAMPLE", "curl -v")
	f.Fuzz(func(t *testing.T, secret, prefix string) {
		out := Secrets(prefix + " " + secret)
		if Secrets(out) != out {
			t.Errorf("not idempotent: %q -> %q -> %q", prefix+" "+secret, out, Secrets(out))
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
			if got := Secrets(prefix + " " + s); strings.Contains(got, secret) {
				t.Errorf("Secrets(%q) = %q keeps the secret", prefix+" "+s, got)
			}
		}
	})
}

// BenchmarkSecrets: every audit entry's command and error pass through it.
func BenchmarkSecrets(b *testing.B) {
	for name, cmd := range map[string]string{
		"plain":   `d="$HOME"/'.scalar-tui/runs/20261204-1556-repair-6112ac/cassandra-1-repair-0'; mkdir -p "$d" && setsid nohup sh -c 'nodetool repair -full -pr scalar' >/dev/null 2>&1 </dev/null &`,
		"secrets": `curl -s -H 'Authorization: Bearer abc' https://admin:pw@reaper:8080/login --password x PASSWORD=y`,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Secrets(cmd)
			}
		})
	}
}
