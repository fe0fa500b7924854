package sim

// The part of Cassandra Reaper 1.4.8's REST API (on reaper-1:8080) that
// scalar-tui asks before a repair: the login (POST /login, GET /jwt, as
// spreaper does), GET /repair_run?state=... and GET /repair_run/cluster/{name},
// answering RepairRunStatus objects with their snake_case fields. Runs are
// put there by StartReaperRun (a test, or an operator in the web UI).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// PortReaper is Reaper's UI/API port.
const PortReaper = 8080

// ReaperCluster is the symbolic cluster name Reaper gives scalar-terraform's
// cluster (Cluster.toSymbolicName of "ScalarDL").
const ReaperCluster = "scalardl"

// reaperToken is the JWT the simulated Reaper hands out.
const reaperToken = "sim-reaper-jwt"

// ReaperRun is one Reaper repair run.
type ReaperRun struct {
	ID       string `json:"id"`
	Cluster  string `json:"cluster"`
	Keyspace string `json:"keyspace"`
	Owner    string `json:"owner"`
	Cause    string `json:"cause"`
	// State is RUNNING until Start+Duration, then DONE (unless set to
	// PAUSED or ABORTED).
	State    string    `json:"state"`
	Segments int       `json:"segments"`
	Start    time.Time `json:"start"`
	Duration Duration  `json:"duration"`
}

// StartReaperRun adds a RUNNING Reaper run of keyspace that lasts d.
func StartReaperRun(dir, keyspace, owner, cause string, d time.Duration) (ReaperRun, error) {
	var run ReaperRun
	err := Update(dir, func(st *State) error {
		now := time.Now().UTC()
		run = ReaperRun{ID: uuidFrom(fmt.Sprintf("reaper/%s/%d", keyspace, now.UnixNano())), Cluster: ReaperCluster, Keyspace: keyspace,
			Owner: owner, Cause: cause, State: "RUNNING", Segments: 200, Start: now, Duration: Duration(d)}
		st.ReaperRuns = append(st.ReaperRuns, run)
		return nil
	})
	return run, err
}

// status renders r as Reaper's RepairRunStatus at now.
func (r ReaperRun) status(now time.Time) map[string]any {
	state, done := r.State, r.Segments
	if state == "RUNNING" {
		if el := now.Sub(r.Start); el < r.Duration.D() {
			done = int(float64(r.Segments) * float64(el) / float64(r.Duration.D()))
		} else {
			state = "DONE"
		}
	}
	iso := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format("2006-01-02T15:04:05Z")
	}
	var end any
	if state == "DONE" {
		end = iso(r.Start.Add(r.Duration.D()))
	}
	return map[string]any{
		"cause": r.Cause, "owner": r.Owner, "id": r.ID, "cluster_name": r.Cluster, "column_families": []string{},
		"keyspace_name": r.Keyspace, "state": state, "intensity": 0.9, "incremental_repair": false,
		"total_segments": r.Segments, "repair_parallelism": "DATACENTER_AWARE", "segments_repaired": done,
		"last_event": "no events", "duration": nil, "nodes": []string{}, "datacenters": []string{},
		"blacklisted_tables": []string{}, "repair_thread_count": 1,
		"creation_time": iso(r.Start), "start_time": iso(r.Start), "end_time": end, "pause_time": nil,
		"current_time": iso(now), "estimated_time_of_arrival": nil,
	}
}

// serveReaper answers one Reaper API request.
func serveReaper(w http.ResponseWriter, r *http.Request, st *State, now time.Time) {
	switch p := r.URL.Path; {
	case p == "/ping":
		w.WriteHeader(http.StatusNoContent)
		return
	case p == "/login" && r.Method == http.MethodPost:
		// The docker image's shiro.ini: admin = admin, operator.
		if r.FormValue("username") != "admin" || r.FormValue("password") != "admin" {
			http.Error(w, "Invalid credentials", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "sim-session", Path: "/"})
		return
	case p == "/jwt":
		if c, err := r.Cookie("JSESSIONID"); err != nil || c.Value != "sim-session" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, reaperToken)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+reaperToken {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	var list []map[string]any
	switch p := r.URL.Path; {
	case p == "/repair_run" && r.Method == http.MethodGet:
		want := map[string]bool{}
		for _, s := range strings.Split(r.URL.Query().Get("state"), ",") {
			if s = strings.TrimSpace(s); s != "" {
				want[strings.ToUpper(s)] = true
			}
		}
		for _, run := range st.ReaperRuns {
			s := run.status(now)
			if len(want) == 0 || want[s["state"].(string)] {
				list = append(list, s)
			}
		}
	case strings.HasPrefix(p, "/repair_run/cluster/") && r.Method == http.MethodGet:
		name := strings.TrimPrefix(p, "/repair_run/cluster/")
		for _, run := range st.ReaperRuns {
			if run.Cluster == name {
				list = append(list, run.status(now))
			}
		}
	default:
		http.NotFound(w, r)
		return
	}
	if list == nil {
		list = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
