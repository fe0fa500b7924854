package demo

// The demo's monitor host runs an Alertmanager on :9093 that answers the part
// of API v2 the console uses (silences) and receives the demo Prometheus's
// alerts, so silences can be seen muting them. It refuses what the real
// Alertmanager (Debian's 0.25.0, probed request by request; the lab runs the
// real one) refuses, with the same status codes and messages.

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/rules"
)

// AlertmanagerPort is the monitor's Alertmanager port.
const AlertmanagerPort = 9093

type amMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual *bool  `json:"isEqual,omitempty"`
}

func (m amMatcher) equal() bool { return m.IsEqual == nil || *m.IsEqual }

// matches reports whether the matcher accepts value (a missing label is "").
func (m amMatcher) matches(value string) bool {
	ok := value == m.Value
	if m.IsRegex {
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		ok = err == nil && re.MatchString(value)
	}
	return ok == m.equal()
}

type amSilence struct {
	ID        string      `json:"id"`
	Status    amStatus    `json:"status"`
	UpdatedAt time.Time   `json:"updatedAt"`
	Comment   string      `json:"comment"`
	CreatedBy string      `json:"createdBy"`
	StartsAt  time.Time   `json:"startsAt"`
	EndsAt    time.Time   `json:"endsAt"`
	Matchers  []amMatcher `json:"matchers"`
}

type amStatus struct {
	State string `json:"state"`
}

type amAlert struct {
	labels   map[string]string
	startsAt time.Time
	endsAt   time.Time
}

// demoAlertmanager keeps silences and alerts in memory.
type demoAlertmanager struct {
	now func() time.Time

	mu       sync.Mutex
	silences map[string]*amSilence
	alerts   map[string]*amAlert // by label fingerprint
}

func newDemoAlertmanager(now func() time.Time) *demoAlertmanager {
	return &demoAlertmanager{now: now, silences: map[string]*amSilence{}, alerts: map[string]*amAlert{}}
}

func (a *demoAlertmanager) state(s *amSilence, now time.Time) string {
	switch {
	case !now.Before(s.EndsAt):
		return "expired"
	case now.Before(s.StartsAt):
		return "pending"
	}
	return "active"
}

// Handler serves /api/v2/silences, /api/v2/silence/{id}, /api/v2/alerts and
// /-/ready like Alertmanager.
func (a *demoAlertmanager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "OK") })
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "OK") })
	started := a.now().UTC()
	mux.HandleFunc("/api/v2/status", func(w http.ResponseWriter, r *http.Request) {
		amJSON(w, http.StatusOK, map[string]any{
			"cluster":     map[string]any{"status": "disabled", "peers": []any{}},
			"versionInfo": map[string]string{"version": "0.16.0", "branch": "HEAD", "revision": "demo", "buildUser": "scalar-tui demo", "buildDate": "", "goVersion": ""},
			"config":      map[string]string{"original": "route:\n  receiver: \"null\"\nreceivers:\n- name: \"null\"\n"},
			"uptime":      started,
		})
	})
	mux.HandleFunc("/api/v2/silences", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			a.list(w)
		case http.MethodPost:
			a.post(w, r)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/api/v2/silence/", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/api/v2/silence/")
		if !uuidRE.MatchString(id) {
			amJSON(w, http.StatusUnprocessableEntity, map[string]any{"code": 601, "message": fmt.Sprintf("silenceID in path must be of type uuid: %q", id)})
			return
		}
		switch r.Method {
		case http.MethodGet:
			a.get(w, id)
		case http.MethodDelete:
			a.expire(w, id)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/api/v2/alerts", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		a.listAlerts(w)
	})
	return mux
}

// labelNameRE is Alertmanager 0.25's label name rule (the legacy one).
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func amJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (a *demoAlertmanager) post(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID        string      `json:"id"`
		Comment   *string     `json:"comment"`
		CreatedBy *string     `json:"createdBy"`
		StartsAt  *time.Time  `json:"startsAt"`
		EndsAt    *time.Time  `json:"endsAt"`
		Matchers  []amMatcher `json:"matchers"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		amJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "parsing silence body from \"\" failed, because " + err.Error()})
		return
	}
	// The OpenAPI schema's checks come first (HTTP 422), in go-swagger's
	// order (the fields alphabetically); an empty comment or creator passes.
	switch {
	case in.Comment == nil:
		amJSON(w, http.StatusUnprocessableEntity, map[string]any{"code": 602, "message": "comment in body is required"})
		return
	case in.CreatedBy == nil:
		amJSON(w, http.StatusUnprocessableEntity, map[string]any{"code": 602, "message": "createdBy in body is required"})
		return
	case in.EndsAt == nil:
		amJSON(w, http.StatusUnprocessableEntity, map[string]any{"code": 602, "message": "endsAt in body is required"})
		return
	case in.Matchers == nil:
		amJSON(w, http.StatusUnprocessableEntity, map[string]any{"code": 602, "message": "matchers in body is required"})
		return
	case len(in.Matchers) == 0:
		amJSON(w, http.StatusUnprocessableEntity, map[string]any{"code": 612, "message": "matchers in body should have at least 1 items"})
		return
	case in.StartsAt == nil:
		amJSON(w, http.StatusUnprocessableEntity, map[string]any{"code": 602, "message": "startsAt in body is required"})
		return
	}
	now := a.now().UTC()
	if !in.StartsAt.Before(*in.EndsAt) {
		amJSON(w, http.StatusBadRequest, "Failed to create silence: start time must be before end time")
		return
	}
	if in.EndsAt.Before(now) {
		amJSON(w, http.StatusBadRequest, "Failed to create silence: end time can't be in the past")
		return
	}
	allEmpty := true
	for i, m := range in.Matchers {
		if !labelNameRE.MatchString(m.Name) {
			amJSON(w, http.StatusBadRequest, fmt.Sprintf("silence invalid: invalid label matcher %d: invalid label name %q", i, m.Name))
			return
		}
		if m.IsRegex {
			if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
				_, err = regexp.Compile(m.Value)
				amJSON(w, http.StatusBadRequest, fmt.Sprintf("silence invalid: invalid label matcher %d: invalid regular expression %q: %s", i, m.Value, err))
				return
			}
		}
		allEmpty = allEmpty && m.matches("")
	}
	if allEmpty {
		amJSON(w, http.StatusBadRequest, "silence invalid: at least one matcher must not match the empty string")
		return
	}
	s := &amSilence{ID: newUUID(), UpdatedAt: now, Comment: *in.Comment, CreatedBy: *in.CreatedBy, StartsAt: in.StartsAt.UTC(),
		EndsAt: in.EndsAt.UTC(), Matchers: in.Matchers}
	if s.StartsAt.Before(now) {
		s.StartsAt = now
	}
	for i := range s.Matchers {
		if s.Matchers[i].IsEqual == nil {
			t := true
			s.Matchers[i].IsEqual = &t
		}
	}
	a.mu.Lock()
	a.silences[s.ID] = s
	a.mu.Unlock()
	amJSON(w, http.StatusOK, map[string]string{"silenceID": s.ID})
}

func (a *demoAlertmanager) snapshot(s *amSilence, now time.Time) amSilence {
	c := *s
	c.Status.State = a.state(s, now)
	return c
}

func (a *demoAlertmanager) list(w http.ResponseWriter) {
	now := a.now()
	a.mu.Lock()
	out := make([]amSilence, 0, len(a.silences))
	for _, s := range a.silences {
		out = append(out, a.snapshot(s, now))
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].UpdatedAt.Before(out[j].UpdatedAt) })
	amJSON(w, http.StatusOK, out)
}

func (a *demoAlertmanager) get(w http.ResponseWriter, id string) {
	a.mu.Lock()
	s, ok := a.silences[id]
	var c amSilence
	if ok {
		c = a.snapshot(s, a.now())
	}
	a.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	amJSON(w, http.StatusOK, c)
}

func (a *demoAlertmanager) expire(w http.ResponseWriter, id string) {
	now := a.now().UTC()
	a.mu.Lock()
	s, ok := a.silences[id]
	if ok && a.state(s, now) != "expired" {
		s.EndsAt, s.UpdatedAt = now, now
		if s.StartsAt.After(now) {
			s.StartsAt = now
		}
	}
	a.mu.Unlock()
	if !ok {
		amJSON(w, http.StatusInternalServerError, "silence not found")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// notify receives the demo Prometheus's alerts, as POST /api/v2/alerts does.
func (a *demoAlertmanager) notify(alerts ...*rules.Alert) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, al := range alerts {
		ls := al.Labels.Map()
		key := al.Labels.String()
		a.alerts[key] = &amAlert{labels: ls, startsAt: al.FiredAt, endsAt: al.ValidUntil}
		if !al.ResolvedAt.IsZero() {
			a.alerts[key].endsAt = al.ResolvedAt
		}
	}
}

func (a *demoAlertmanager) listAlerts(w http.ResponseWriter) {
	type status struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
		InhibitBy  []string `json:"inhibitedBy"`
	}
	type alert struct {
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
		EndsAt   time.Time         `json:"endsAt"`
		Status   status            `json:"status"`
	}
	now := a.now()
	a.mu.Lock()
	out := []alert{}
	for _, al := range a.alerts {
		if !now.Before(al.endsAt) {
			continue
		}
		st := status{State: "active", SilencedBy: []string{}, InhibitBy: []string{}}
		for _, s := range a.silences {
			if a.state(s, now) != "active" {
				continue
			}
			all := true
			for _, m := range s.Matchers {
				all = all && m.matches(al.labels[m.Name])
			}
			if all {
				st.SilencedBy = append(st.SilencedBy, s.ID)
			}
		}
		if len(st.SilencedBy) > 0 {
			st.State = "suppressed"
		}
		out = append(out, alert{Labels: al.labels, StartsAt: al.startsAt, EndsAt: al.endsAt, Status: st})
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		return out[i].Labels["alertname"]+out[i].Labels["instance"] < out[j].Labels["alertname"]+out[j].Labels["instance"]
	})
	amJSON(w, http.StatusOK, out)
}
