package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
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

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
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
	for _, want := range []string{"ROLE", "cassandra-1", "ghost-1", "bastion-1", "10.42.1.20", "DOWN", "as of ", "12 queries"} {
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

// TestHealthScrapeBastionUnusable: when the bastion itself cannot be used
// (stopped, silent, a changed host key, a key it refuses), `health --source
// scrape` has observed nothing: it says "cannot reach the bastion", every host
// is unknown (not down) and the command fails. Before, every host came out
// DOWN and the exit status was 0. With a working bastion and no exporters
// behind it, the hosts are down: that is the targets' own failure.
func TestHealthScrapeBastionUnusable(t *testing.T) {
	cl, err := sshtest.NewCluster(sshtest.ClusterOptions{Hosts: []string{"cassandra-1.internal", "scalardl-blue-1.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dir := t.TempDir()
	kh, id, err := cl.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A known_hosts that holds another key for the bastion.
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _ := ssh.NewPublicKey(otherPriv.Public())
	changedKH := filepath.Join(dir, "changed_known_hosts")
	os.WriteFile(changedKH, []byte(knownhosts.Line([]string{knownhosts.Normalize(cl.Bastion.Addr)}, otherPub)+"\n"), 0o600)
	// A key the bastion does not accept.
	stranger, _ := sshtest.NewClientKey("")
	strangerID := filepath.Join(dir, "stranger")
	os.WriteFile(strangerID, stranger.PEM, 0o600)
	// A bastion that accepts TCP and never speaks.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	stopped, _ := net.Listen("tcp", "127.0.0.1:0")
	stoppedAddr := stopped.Addr().String()
	stopped.Close()

	inv := testInventory()
	for _, tc := range []struct {
		name, bastion, knownHosts, identity string
		unusable                            bool
	}{
		{"working bastion, no exporters", cl.Bastion.Addr, kh, id, false},
		{"stopped", stoppedAddr, kh, id, true},
		{"silent", silent.Addr().String(), kh, id, true},
		{"changed host key", cl.Bastion.Addr, changedKH, id, true},
		{"wrong key", cl.Bastion.Addr, kh, strangerID, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := sshx.New(sshx.Config{BastionAddr: tc.bastion, User: "centos", IdentityFile: tc.identity,
				KnownHostsFile: tc.knownHosts, NoAgent: true, DialTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			src := health.NewScrapeSource(inv, health.ScrapeOptions{Dial: healthDial(c.DialContext, tc.bastion), Timeout: 3 * time.Second, Via: "bastion " + tc.bastion})
			snap, err := src.Snapshot(context.Background())
			if snap == nil {
				t.Fatalf("no snapshot: %v", err)
			}
			for _, h := range snap.Hosts {
				want := health.StateDown
				if tc.unusable {
					want = health.StateUnknown
				}
				if h.State != want {
					t.Errorf("%s: %s %q, want %s", h.Host.Short, h.State, h.Reasons, want)
				}
			}
			if !tc.unusable {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "cannot reach the bastion "+tc.bastion+": ") {
				t.Errorf("err = %v", err)
			}
			var te *health.TransportError
			if !errors.As(err, &te) {
				t.Errorf("err is not a TransportError: %v", err)
			}
			if r := snap.Hosts[0].Reasons; len(r) != 1 || !strings.Contains(r[0], "not observed: cannot reach the bastion") {
				t.Errorf("reasons = %q", r)
			}
		})
	}
}

// TestHealthCmdNonFiniteSamples: NaN and ±Inf samples (a broken exporter, a
// recording rule dividing by zero) neither fail `health --json` ("unsupported
// value: +Inf" before) nor print as -9223372036854775808.
func TestHealthCmdNonFiniteSamples(t *testing.T) {
	vec := func(samples ...string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}}`
	}
	// Named queries merged into one selector (health.QuerySplit) share an
	// expression; their series carry the label that tells them apart.
	const e1, c1 = "envoy-1.internal.scalar-labs.com", "cassandra-1.internal.scalar-labs.com"
	samples := func(name string) []string {
		split, value, merged := health.QuerySplit(name)
		smp := func(inst, v string, extra ...string) string {
			labels := `"job":"host"`
			if inst != "" {
				labels += `,"instance":"` + inst + `"`
			}
			if merged {
				extra = append(extra, split, value)
			}
			for i := 0; i+1 < len(extra); i += 2 {
				labels += `,"` + extra[i] + `":"` + extra[i+1] + `"`
			}
			return `{"metric":{` + labels + `},"value":[1767787200,"` + v + `"]}`
		}
		switch name {
		case health.QUp:
			return []string{smp(e1+":9100", "1", "role", "envoy"), smp(c1+":9100", "1", "role", "cassandra")}
		case health.QCPU:
			return []string{smp(e1+":9100", "+Inf"), smp(c1+":9100", "NaN")}
		case health.QDisk:
			return []string{smp(c1+":9100", "-Inf", "mountpoint", "/data")}
		case health.QEnvoyHealthy:
			return []string{smp(e1+":9001", "+Inf")}
		case health.QEnvoyTotal:
			return []string{smp(e1+":9001", "3")}
		case health.QScalarDLBlue:
			return []string{smp("", "NaN")}
		case health.QLoad1:
			return []string{smp("stranger-1.internal.scalar-labs.com:9100", "+Inf")}
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		var answer []string
		for _, n := range health.QueryNames() {
			if health.QueryExpr(n) == r.Form.Get("query") {
				answer = append(answer, samples(n)...)
			}
		}
		body := vec(answer...)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	out, errOut, code := runHealthCLI(t, "--prometheus", srv.URL, "--json")
	if code != exitOK {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	var snap health.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	out, errOut, code = runHealthCLI(t, "--prometheus", srv.URL)
	if code != exitOK || strings.Contains(out, "9223372036854775808") || strings.Contains(out, "Inf") || strings.Contains(out, "NaN") {
		t.Errorf("text: exit %d\n%s%s", code, out, errOut)
	}
}
