package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalar-tui/ops/health"
)

var updateHealthGolden = flag.Bool("update-health", false, "rewrite testdata/health/health.golden")

func healthFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "health", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRenderHealthGolden renders the snapshot the real Prometheus produced for
// the health package's backfilled scenario (testdata/health/snapshot.json).
func TestRenderHealthGolden(t *testing.T) {
	var snap health.Snapshot
	if err := json.Unmarshal(healthFixture(t, "snapshot.json"), &snap); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	renderHealth(&buf, &snap, snap.At.Add(3*time.Second))
	golden := filepath.Join("..", "..", "testdata", "health", "health.golden")
	if *updateHealthGolden {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-health)", err)
	}
	if buf.String() != string(want) {
		t.Errorf("render differs from %s:\n%s", golden, buf.String())
	}
}

// runHealthCLI runs `scalar-tui health args...` through the root command.
func runHealthCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"health"}, args...))
	err := root.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		errb.WriteString(err.Error())
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else {
			code = exitBadInput
		}
	}
	return out.String(), errb.String(), code
}

func fakePrometheus(t *testing.T) string {
	t.Helper()
	byExpr := map[string]string{}
	for _, n := range health.QueryNames() {
		byExpr[health.QueryExpr(n)] = n
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		switch n := byExpr[r.Form.Get("query")]; n {
		case health.QUp, health.QLoad1, health.QCassandraService:
			w.Write(healthFixture(t, "query_"+n+".json"))
		default:
			w.Write(healthFixture(t, "empty_vector.json"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHealthCmdDirectPrometheus(t *testing.T) {
	url := fakePrometheus(t)
	out, errOut, code := runHealthCLI(t, "--prometheus", url)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "no deployment given") {
		t.Errorf("stderr = %q", errOut)
	}
	for _, want := range []string{"ROLE", "cassandra-1", "ghost-1", "bastion-1", "10.42.1.20", "DOWN", "as of ", "15 queries"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, code = runHealthCLI(t, "--prometheus", url, "--json")
	var snap health.Snapshot
	if code != exitOK || json.Unmarshal([]byte(out), &snap) != nil || len(snap.Hosts) != 5 {
		t.Errorf("--json: exit %d, %d hosts:\n%s", code, len(snap.Hosts), out)
	}
}

func TestHealthCmdUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, errOut, code := runHealthCLI(t, "--prometheus", "http://"+addr, "--timeout", "2s")
	if code != exitFailed || !strings.Contains(errOut, "--source scrape") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestHealthCmdBadFlags(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("\n"), 0o600)
	for _, args := range [][]string{
		{"--source", "carrier-pigeon"},
		{"--prometheus", "http://x:9090", "--prom-user", "u"},
		{"--prometheus", "http://x:9090", "--prom-user", "u", "--prom-password-file", pw},
		{"--prometheus", "http://x:9090", "--prom-user", "u", "--prom-password-file", pw, "--prom-bearer-file", pw},
		{"--source", "scrape", "--prometheus", "http://x:9090"},
		{"--watch", "--interval", "0s", "--prometheus", "http://x:9090"},
		{"--prometheus", "http://x:9090", "--prom-ca", "/nonexistent/ca.pem"},
		{}, // no deployment and no --prometheus
	} {
		_, errOut, code := runHealthCLI(t, args...)
		if code != exitBadInput {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, exitBadInput)
		}
	}
}
