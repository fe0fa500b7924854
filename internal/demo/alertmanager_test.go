package demo

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"io"
)

// startRealAlertmanager runs Debian's prometheus-alertmanager on loopback,
// or returns "" (failing under SCALAR_TUI_REQUIRE_TOOLS=1) when it is missing.
func startRealAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if os.Getenv("SCALAR_TUI_REQUIRE_TOOLS") == "1" {
			t.Fatalf("prometheus-alertmanager required: %v", err)
		}
		t.Skipf("prometheus-alertmanager not installed: %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	os.WriteFile(cfg, []byte("route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n"), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--cluster.listen-address=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return "http://" + addr
			}
		}
	}
	t.Fatal("alertmanager not ready")
	return ""
}

// The demo's Alertmanager answers each request as the real one does: same
// status code, same error text.
func TestDemoAlertmanagerRefusesWhatTheRealOneRefuses(t *testing.T) {
	real := startRealAlertmanager(t)
	demo := httptest.NewServer(newDemoAlertmanager(time.Now).Handler())
	defer demo.Close()
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	longAgo := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	m := `[{"name":"instance","value":"cassandra-1.internal.scalar-labs.com:9100","isRegex":false}]`
	for _, c := range []struct {
		name, method, path, body string
		sameBody                 bool
	}{
		{"ok", "POST", "/api/v2/silences", `{"matchers":` + m + `,"startsAt":"` + past + `","endsAt":"` + future + `","createdBy":"a","comment":"c"}`, false},
		{"no matchers", "POST", "/api/v2/silences", `{"matchers":[],"startsAt":"` + past + `","endsAt":"` + future + `","createdBy":"a","comment":"c"}`, true},
		{"end before start", "POST", "/api/v2/silences", `{"matchers":` + m + `,"startsAt":"` + future + `","endsAt":"` + past + `","createdBy":"a","comment":"c"}`, true},
		{"end in the past", "POST", "/api/v2/silences", `{"matchers":` + m + `,"startsAt":"` + longAgo + `","endsAt":"` + past + `","createdBy":"a","comment":"c"}`, true},
		{"matches everything", "POST", "/api/v2/silences", `{"matchers":[{"name":"instance","value":".*","isRegex":true}],"startsAt":"` + past + `","endsAt":"` + future + `","createdBy":"a","comment":"c"}`, true},
		{"bad regex", "POST", "/api/v2/silences", `{"matchers":[{"name":"instance","value":"(","isRegex":true}],"startsAt":"` + past + `","endsAt":"` + future + `","createdBy":"a","comment":"c"}`, true},
		{"bad label name", "POST", "/api/v2/silences", `{"matchers":[{"name":"1bad","value":"x","isRegex":false}],"startsAt":"` + past + `","endsAt":"` + future + `","createdBy":"a","comment":"c"}`, true},
		{"no comment", "POST", "/api/v2/silences", `{"matchers":` + m + `,"startsAt":"` + past + `","endsAt":"` + future + `","createdBy":"a"}`, true},
		{"no creator, empty comment", "POST", "/api/v2/silences", `{"matchers":` + m + `,"startsAt":"` + past + `","endsAt":"` + future + `","comment":""}`, true},
		{"nothing", "POST", "/api/v2/silences", `{}`, true},
		{"delete unknown", "DELETE", "/api/v2/silence/00000000-0000-0000-0000-000000000000", "", true},
		{"not a uuid", "GET", "/api/v2/silence/nonexist", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			do := func(base string) (int, string) {
				req, _ := http.NewRequest(c.method, base+c.path, bytes.NewBufferString(c.body))
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, strings.TrimSpace(string(b))
			}
			rc, rb := do(real)
			dc, db := do(demo.URL)
			if rc != dc || (c.sameBody && rb != db) {
				t.Errorf("real: %d %s\ndemo: %d %s", rc, rb, dc, db)
			}
		})
	}
}
