package repair

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/ops/workflow"
)

// fakeReaper is Reaper 1.4.8's REST API as far as the workflow uses it.
type fakeReaper struct {
	mu         sync.Mutex
	registered string // seed host
	runs       []*reaperRun
	creates    map[string]int
	fail       map[string]bool // keyspace -> ERROR half way
	states     []string        // PUT state calls "id:STATE"
	logins     int
}

func newFakeReaper(t *testing.T) (*fakeReaper, *httptest.Server) {
	f := &fakeReaper{creates: map[string]int{}, fail: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeReaper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.Path
	switch {
	case path == "/ping":
		w.WriteHeader(http.StatusNoContent)
		return
	case path == "/login" && r.Method == http.MethodPost:
		if r.FormValue("username") != "admin" || r.FormValue("password") != "s3cret" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		f.logins++
		http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "sess", Path: "/"})
		return
	case path == "/jwt":
		if c, err := r.Cookie("JSESSIONID"); err != nil || c.Value != "sess" {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "jwt-123")
		return
	}
	if r.Header.Get("Authorization") != "Bearer jwt-123" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	enc := json.NewEncoder(w)
	switch {
	case path == "/cluster/scalardl" && r.Method == http.MethodGet:
		if f.registered == "" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"name":"scalardl"}`)
	case path == "/cluster" && r.Method == http.MethodPost:
		f.registered = r.URL.Query().Get("seedHost")
		w.WriteHeader(http.StatusCreated)
	case path == "/repair_run" && r.Method == http.MethodPost:
		q := r.URL.Query()
		if q.Get("clusterName") != "scalardl" || q.Get("owner") != "scalar-tui" || q.Get("incrementalRepair") != "false" {
			http.Error(w, "bad query "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		ks := q.Get("keyspace")
		f.creates[ks]++
		run := &reaperRun{ID: fmt.Sprintf("run-%d", len(f.runs)+1), Cluster: "scalardl", Keyspace: ks, State: reaperNotStarted, Cause: q.Get("cause"), TotalSegments: 4}
		f.runs = append(f.runs, run)
		w.WriteHeader(http.StatusCreated)
		enc.Encode(run)
	case path == "/repair_run/cluster/scalardl":
		enc.Encode(f.runs)
	case path == "/repair_run" && r.Method == http.MethodGet:
		// Reaper 1.4.8 listRepairRuns: ?state= is a comma-separated filter.
		want := map[string]bool{}
		for _, s := range strings.Split(r.URL.Query().Get("state"), ",") {
			if s != "" {
				want[s] = true
			}
		}
		out := []*reaperRun{}
		for _, run := range f.runs {
			if len(want) == 0 || want[run.State] {
				out = append(out, run)
			}
		}
		enc.Encode(out)
	case strings.HasPrefix(path, "/repair_run/") && r.Method == http.MethodPut:
		parts := strings.Split(path, "/") // "", repair_run, id, state, STATE
		run := f.find(parts[2])
		if run == nil || len(parts) != 5 {
			http.NotFound(w, r)
			return
		}
		f.states = append(f.states, run.ID+":"+parts[4])
		run.State = parts[4]
		enc.Encode(run)
	case strings.HasPrefix(path, "/repair_run/") && r.Method == http.MethodGet:
		run := f.find(strings.TrimPrefix(path, "/repair_run/"))
		if run == nil {
			http.NotFound(w, r)
			return
		}
		if run.State == reaperRunning {
			run.SegmentsRepaired++
			switch {
			case f.fail[run.Keyspace] && run.SegmentsRepaired == 2:
				run.State, run.LastEvent = "ERROR", "segment failed 3 times"
			case run.SegmentsRepaired == run.TotalSegments:
				run.State = reaperDone
			}
		}
		enc.Encode(run)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeReaper) find(id string) *reaperRun {
	for _, r := range f.runs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func reaperOpts(url string) Options {
	o := fastOpts()
	o.Via = ViaReaper
	o.Reaper = ReaperOptions{URL: url, Password: "s3cret", PollInterval: 5 * time.Millisecond}
	return o
}

func TestReaperRepair(t *testing.T) {
	f, srv := newFakeReaper(t)
	l := newLab(t, ring("UN", "UN", "UN"))
	p, err := PlanAt(testInventory(), reaperOpts(srv.URL), fixedTime)
	must(t, err)
	if len(p.Steps) != 2 || p.Steps[0].ID != "reaper/repair-scalar" || p.Steps[1].ID != "reaper/repair-coordinator" {
		t.Fatalf("steps %+v", p.Steps)
	}
	var b strings.Builder
	must(t, p.Render(&b))
	if strings.Contains(b.String(), "s3cret") || !strings.Contains(b.String(), "reaper-api") {
		t.Errorf("plan:\n%s", b.String())
	}
	status, err := l.e.Run(context.Background(), p)
	if status != workflow.StatusDone || err != nil {
		t.Fatalf("Run = %s, %v", status, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registered != "cassandra-1.internal.scalar-labs.com" {
		t.Errorf("cluster registered with seed %q", f.registered)
	}
	if f.creates["scalar"] != 1 || f.creates["coordinator"] != 1 {
		t.Errorf("creates %v", f.creates)
	}
	for _, r := range f.runs {
		if r.State != reaperDone || r.Cause != "scalar-tui run "+p.ID {
			t.Errorf("reaper run %+v", r)
		}
	}
	if rep := l.repairs(t); rep != "" {
		t.Errorf("nodetool repair ran with --via reaper: %s", rep)
	}
	st, err := workflow.LoadRun(l.state, p.ID)
	must(t, err)
	if st.Steps[0].Percent != 100 {
		t.Errorf("progress %v", st.Steps[0].Percent)
	}
	if strings.Contains(string(st.Params), "s3cret") {
		t.Errorf("the password is journalled: %s", st.Params)
	}
}

func TestReaperRepairFailsThenResumeReattaches(t *testing.T) {
	f, srv := newFakeReaper(t)
	f.fail["coordinator"] = true
	l := newLab(t, ring("UN", "UN", "UN"))
	p, err := PlanAt(testInventory(), reaperOpts(srv.URL), fixedTime)
	must(t, err)
	// A crash left this run's scalar repair running in Reaper.
	f.mu.Lock()
	f.registered = "cassandra-1.internal.scalar-labs.com"
	f.runs = append(f.runs, &reaperRun{ID: "run-0", Cluster: "scalardl", Keyspace: "scalar", State: reaperRunning, Cause: reaperCause(p.ID), TotalSegments: 4, SegmentsRepaired: 1})
	f.mu.Unlock()
	status, err := l.e.Run(context.Background(), p)
	if status != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "segment failed 3 times") {
		t.Fatalf("Run = %s, %v", status, err)
	}
	f.mu.Lock()
	if f.creates["scalar"] != 0 || f.creates["coordinator"] != 1 {
		t.Errorf("creates %v: the running scalar repair was not re-attached", f.creates)
	}
	f.fail["coordinator"] = false
	f.mu.Unlock()
	p2, err := PlanAt(testInventory(), reaperOpts(srv.URL), fixedTime)
	must(t, err)
	status, err = l.e.Resume(context.Background(), p.ID, p2)
	if status != workflow.StatusDone || err != nil {
		t.Fatalf("Resume = %s, %v", status, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.creates["scalar"] != 0 || f.creates["coordinator"] != 2 {
		t.Errorf("creates after resume %v", f.creates)
	}
}

func TestReaperCancelPauses(t *testing.T) {
	f, srv := newFakeReaper(t)
	l := newLab(t, ring("UN", "UN", "UN"))
	o := reaperOpts(srv.URL)
	o.Reaper.PollInterval = time.Hour // never finishes by itself
	p, err := PlanAt(testInventory(), o, fixedTime)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			f.mu.Lock()
			started := len(f.states) > 0
			f.mu.Unlock()
			if started {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	status, err := l.e.Run(ctx, p)
	if status != workflow.StatusCanceled || err == nil {
		t.Fatalf("Run = %s, %v", status, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := strings.Join(f.states, " "); got != "run-1:RUNNING run-1:PAUSED" {
		t.Errorf("state changes %q", got)
	}
}

func TestReaperBadPassword(t *testing.T) {
	_, srv := newFakeReaper(t)
	l := newLab(t, ring("UN", "UN", "UN"))
	o := reaperOpts(srv.URL)
	o.Reaper.Password = "wrong"
	p, err := PlanAt(testInventory(), o, fixedTime)
	must(t, err)
	status, err := l.e.Run(context.Background(), p)
	if status != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "reaper-api") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Run = %s, %v", status, err)
	}
}
