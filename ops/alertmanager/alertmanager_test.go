package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// realAlertmanager starts Debian's prometheus-alertmanager on a free
// loopback port with a config that routes everything to a null receiver,
// and returns its base URL. It is killed at cleanup.
func realAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			t.Fatalf("prometheus-alertmanager required (SCALAR_TUI_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skipf("prometheus-alertmanager not installed (Debian package prometheus-alertmanager): %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready within 20s: %v\n%s", err, log.String())
		}
	}
}

// postAlert sends one firing alert to Alertmanager, as Prometheus does.
func postAlert(t *testing.T, base string, labels map[string]string) {
	t.Helper()
	b, _ := json.Marshal([]map[string]any{{"labels": labels, "startsAt": time.Now().UTC().Format(time.RFC3339)}})
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("post alert: HTTP %d", resp.StatusCode)
	}
}

// silencedBy returns, per alertname+instance, the silences that mute it.
func silencedBy(t *testing.T, base string) map[string][]string {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			SilencedBy []string `json:"silencedBy"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, a := range alerts {
		out[a.Labels["alertname"]+" "+a.Labels["instance"]] = a.Status.SilencedBy
	}
	return out
}

func TestSilenceLifecycleOnRealAlertmanager(t *testing.T) {
	for _, v := range []int{0, 1} {
		t.Run(fmt.Sprintf("api-v%d", v), func(t *testing.T) {
			base := realAlertmanager(t)
			c, err := New(base, Options{APIVersion: v, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			const c2 = "cassandra-2.internal.scalar-labs.com"
			postAlert(t, base, map[string]string{"alertname": "CassandraProcessStopped", "instance": c2 + ":9100", "severity": "warning"})
			postAlert(t, base, map[string]string{"alertname": "CassandraProcessStopped", "instance": "cassandra-20.internal.scalar-labs.com:9100"})
			postAlert(t, base, map[string]string{"alertname": "CassandraClusterDown"})
			now := time.Now().UTC()
			id, err := c.Create(ctx, Silence{Matchers: HostMatchers([]string{c2}), StartsAt: now, EndsAt: now.Add(10 * time.Minute),
				CreatedBy: "ops@test", Comment: "scalar-tui run 20261204-1200-restart-cassandra-ab12"})
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.Get(ctx, id)
			if err != nil || s.State != "active" || s.CreatedBy != "ops@test" || len(s.Matchers) != 1 || !s.Matchers[0].IsRegex {
				t.Fatalf("Get = %+v, %v", s, err)
			}
			// Alertmanager applies silences to alerts asynchronously.
			var got map[string][]string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				got = silencedBy(t, base)
				if len(got["CassandraProcessStopped "+c2+":9100"]) == 1 {
					break
				}
			}
			if ids := got["CassandraProcessStopped "+c2+":9100"]; len(ids) != 1 || ids[0] != id {
				t.Errorf("the node's alert is not silenced by %s: %v", id, got)
			}
			if ids := got["CassandraProcessStopped cassandra-20.internal.scalar-labs.com:9100"]; len(ids) != 0 {
				t.Errorf("another node's alert is silenced: %v", got)
			}
			if ids := got["CassandraClusterDown "]; len(ids) != 0 {
				t.Errorf("a cluster-wide alert is silenced: %v", got)
			}
			if err := c.Expire(ctx, id); err != nil {
				t.Fatal(err)
			}
			if s, err := c.Get(ctx, id); err != nil || s.State != "expired" {
				t.Fatalf("after Expire: %+v, %v", s, err)
			}
			if err := c.Expire(ctx, id); err != nil {
				t.Errorf("expiring an expired silence: %v", err)
			}
		})
	}
}

// An Alertmanager before v0.16.0 has no API v2: the client finds v1 by
// itself. Played by the real Alertmanager behind a proxy that answers 404 for
// /api/v2, as those versions do.
func TestFallsBackToAPIv1(t *testing.T) {
	base := realAlertmanager(t)
	u, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(u)
	old := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v2/") {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go old.Serve(l)
	t.Cleanup(func() { old.Close() })
	c, err := New("http://"+l.Addr().String(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	id, err := c.Create(context.Background(), Silence{Matchers: HostMatchers([]string{"envoy-1.internal.scalar-labs.com"}),
		StartsAt: now, EndsAt: now.Add(time.Minute), CreatedBy: "t", Comment: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if c.version != 1 {
		t.Errorf("version = %d, want 1", c.version)
	}
	if err := c.Expire(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableAndBadInput(t *testing.T) {
	if _, err := New("http://user:secret@monitor:9093", Options{}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("credentials in the URL: %v", err)
	}
	for _, bad := range []string{"", "monitor:9093", "ftp://monitor:9093"} {
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	// A port nobody listens on: a clear error, no hang.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c, _ := New("http://"+addr, Options{Timeout: 2 * time.Second})
	now := time.Now()
	if _, err := c.Create(context.Background(), Silence{Matchers: HostMatchers([]string{"h"}), StartsAt: now, EndsAt: now.Add(time.Minute)}); err == nil ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Errorf("unreachable: %v", err)
	}
	if _, err := c.Create(context.Background(), Silence{StartsAt: now, EndsAt: now.Add(time.Minute)}); err == nil {
		t.Error("a silence without matchers was accepted")
	}
}

func TestHostMatchers(t *testing.T) {
	m := HostMatchers([]string{"cassandra-1.internal.scalar-labs.com", "scalardl-blue-2.internal.scalar-labs.com"})
	re := regexp.MustCompile("^(?:" + m[0].Value + ")$") // Alertmanager anchors regex matchers
	for s, want := range map[string]bool{
		"cassandra-1.internal.scalar-labs.com:9100":      true,
		"cassandra-1.internal.scalar-labs.com":           true,
		"scalardl-blue-2.internal.scalar-labs.com:18080": true,
		"cassandra-10.internal.scalar-labs.com:9100":     false,
		"cassandra-1xinternalxscalar-labsxcom:9100":      false,
	} {
		if re.MatchString(s) != want {
			t.Errorf("%s: match %v, want %v", s, !want, want)
		}
	}
	if HostMatchers(nil) != nil {
		t.Error("no hosts must give no matcher (a silence of everything)")
	}
}
