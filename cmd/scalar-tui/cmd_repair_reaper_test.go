package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/demo"
)

// miniReaper is the part of Reaper 1.4.8's REST API that --via reaper uses.
type miniReaper struct {
	mu      sync.Mutex
	seed    string
	runs    []map[string]any
	creates map[string]int
}

func (m *miniReaper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/ping":
		w.WriteHeader(http.StatusNoContent)
		return
	case p == "/login":
		if r.FormValue("username") != "ops" || r.FormValue("password") != "pw-from-file" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "s", Path: "/"})
		return
	case p == "/jwt":
		fmt.Fprint(w, "tok")
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	enc := json.NewEncoder(w)
	switch {
	case p == "/cluster/scalardl":
		if m.seed == "" {
			http.NotFound(w, r)
		}
	case p == "/cluster":
		m.seed = r.URL.Query().Get("seedHost")
	case p == "/repair_run" && r.Method == http.MethodPost:
		ks := r.URL.Query().Get("keyspace")
		m.creates[ks]++
		run := map[string]any{"id": fmt.Sprint(len(m.runs) + 1), "keyspace_name": ks, "state": "NOT_STARTED",
			"cause": r.URL.Query().Get("cause"), "segments_repaired": 0, "total_segments": 3}
		m.runs = append(m.runs, run)
		enc.Encode(run)
	case p == "/repair_run/cluster/scalardl":
		enc.Encode(m.runs)
	case strings.HasPrefix(p, "/repair_run/"):
		parts := strings.Split(p, "/")
		for _, run := range m.runs {
			if run["id"] != parts[2] {
				continue
			}
			if r.Method == http.MethodPut && len(parts) == 5 {
				run["state"] = parts[4]
			} else if run["state"] == "RUNNING" {
				n := run["segments_repaired"].(int) + 1
				run["segments_repaired"] = n
				if n == 3 {
					run["state"] = "DONE"
				}
			}
			enc.Encode(run)
			return
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

// TestRepairViaReaperThroughBastion runs --via reaper against a fake Reaper
// reachable only through the demo's bastion as reaper-1:8080.
func TestRepairViaReaperThroughBastion(t *testing.T) {
	e := startRepairEnv(t, "", time.Second)
	rp := &miniReaper{creates: map[string]int{}}
	srv := httptest.NewServer(rp)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	e.d.Bastion().Handle(net.JoinHostPort("reaper-1."+demo.Domain, "8080"), func(c net.Conn) {
		up, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer up.Close()
		done := make(chan struct{}, 2)
		go func() { io.Copy(up, c); done <- struct{}{} }()
		go func() { io.Copy(c, up); done <- struct{}{} }()
		<-done
	})
	pw := filepath.Join(t.TempDir(), "reaper-pw")
	if err := os.WriteFile(pw, []byte("pw-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code := e.cli(ctx, append(fastRepair, "--health-gate", "off", "--via", "reaper", "--reaper-user", "ops",
		"--reaper-password-file", pw, "--reaper-poll-interval", "50ms")...)
	if code != 0 {
		t.Fatalf("repair --via reaper: exit %d\n%s\n%s", code, out, errOut)
	}
	run, status := finished(t, out)
	if status != "done" || !strings.Contains(out, "preflight reaper-api: ok") {
		t.Fatalf("finished %s %s\n%s", run, status, out)
	}
	rp.mu.Lock()
	if rp.seed != "cassandra-1."+demo.Domain || rp.creates["scalar"] != 1 || rp.creates["coordinator"] != 1 {
		t.Errorf("reaper: seed %q, creates %v", rp.seed, rp.creates)
	}
	for _, r := range rp.runs {
		if r["state"] != "DONE" || r["cause"] != "scalar-tui run "+run {
			t.Errorf("reaper run %v", r)
		}
	}
	rp.mu.Unlock()
	b, _ := os.ReadFile(filepath.Join(e.stateDir(), "runs", run+".json"))
	if strings.Contains(string(b), "pw-from-file") || !strings.Contains(string(b), `"reaper_password_file"`) {
		t.Errorf("journal: %s", b)
	}
	// Reaper did the work: no nodetool repair ran on any node.
	for _, h := range cassandras {
		e.wantRepairs(h, "")
	}
	if e.lockHeld() {
		t.Error("the lock is still held")
	}
}
