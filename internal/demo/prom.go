package demo

// The demo's monitor host runs a Prometheus of Prometheus's own parts: its
// TSDB, its PromQL engine and its rule manager, scraping the simulated
// exporters through the demo's in-process network every few seconds and
// evaluating the deployment's real recording and alert rules. The console's
// Prometheus client reaches it at monitor.<domain>:9090 through the bastion,
// as on a real deployment, so sparklines, `health` and alerts work unchanged.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"gopkg.in/yaml.v3"

	"scalar-tui/internal/labprom"
	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
)

// PromPort is the port the demo's Prometheus answers on, on the monitor host.
const PromPort = 9090

// maxScrapeBody bounds one exporter's answer, as Prometheus's body_size_limit would.
const maxScrapeBody = 8 << 20

// PromOptions tunes the demo's Prometheus; zero fields take the defaults.
type PromOptions struct {
	// ScrapeInterval and EvalInterval default to 2s (the real monitor scrapes
	// every 15s; the demo wants alerts within seconds).
	ScrapeInterval, EvalInterval time.Duration
	// For replaces the real rules' `for:` durations (5m, 1m); default 10s.
	For time.Duration
	// Disabled starts no Prometheus: monitor:9090 refuses connections and
	// the console falls back to scraping the exporters.
	Disabled bool
}

// startProm starts the monitor's Prometheus on the deployment just written
// to d.TFRoot and makes monitor:9090 reach it.
func (d *Demo) startProm(ctx context.Context, o PromOptions) error {
	if o.Disabled {
		return nil
	}
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: d.TFRoot})
	if err != nil {
		return fmt.Errorf("demo prometheus: read the generated state: %w", err)
	}
	var mon *Host
	for i := range d.Hosts {
		if d.Hosts[i].Role == sim.RoleMonitor {
			mon = &d.Hosts[i]
		}
	}
	if mon == nil {
		return nil
	}
	d.am = newDemoAlertmanager(time.Now)
	p, err := startProm(ctx, filepath.Join(d.Dir, "prometheus"), inv, d.bastion.Dial, d.am.notify, o)
	if err != nil {
		return err
	}
	d.prom = p
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		select {
		case <-d.promStart:
			p.scrapeLoop(ctx)
		case <-ctx.Done(): // Start failed later on; Close cancels ctx
		}
	}()
	var extra []string
	if ep := inv.Endpoints.Prometheus; ep != "" {
		extra = append(extra, ep)
		// Alertmanager answers on the same name as Prometheus, on its own port.
		if h, _, err := net.SplitHostPort(ep); err == nil {
			d.serveHTTP(ctx, *mon, AlertmanagerPort, d.am.Handler(), net.JoinHostPort(h, strconv.Itoa(AlertmanagerPort)))
		}
	}
	d.serveHTTP(ctx, *mon, PromPort, p.Handler(), extra...)
	return nil
}

// promTarget is one scrape target of the generated prometheus.yml.
type promTarget struct {
	job, path, addr string
	labels          labels.Labels // job, instance, role
}

// demoProm is the running Prometheus.
type demoProm struct {
	db      *tsdb.DB
	app     *serialAppendable // every write goes through it (see serialAppendable)
	engine  *promql.Engine
	rules   *rules.Manager
	targets []promTarget
	dial    func(ctx context.Context, addr string) (net.Conn, error)
	client  *http.Client
	opts    PromOptions
	ext     labels.Labels

	mu      sync.Mutex
	scrapes int // completed scrape rounds, for Ready
}

// promConfigFile mirrors the part of prometheus.yml the demo reads back.
type promConfigFile struct {
	Global struct {
		ExternalLabels map[string]string `yaml:"external_labels"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// startProm opens the TSDB under dir, writes the deployment's prometheus.yml
// and rule files there (the same ones the lab's real Prometheus loads), and
// starts scraping and rule evaluation until ctx ends. dial reaches
// "name:port" inside the demo's network as the monitor host would.
func startProm(ctx context.Context, dir string, inv *inventory.Inventory, dial func(context.Context, string) (net.Conn, error),
	notify func(...*rules.Alert), o PromOptions) (*demoProm, error) {
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = 2 * time.Second
	}
	if o.EvalInterval <= 0 {
		o.EvalInterval = 2 * time.Second
	}
	if o.For <= 0 {
		o.For = 10 * time.Second
	}
	ruleDir := filepath.Join(dir, "rules")
	lo := labprom.Options{ScrapeInterval: o.ScrapeInterval, EvaluationInterval: o.EvalInterval, For: o.For, RuleDir: ruleDir,
		Address: func(h inventory.Host, port int) string { return net.JoinHostPort(h.Name, strconv.Itoa(port)) }}
	cfgYAML := labprom.Config(inv, lo)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo prometheus: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), cfgYAML, 0o644); err != nil {
		return nil, fmt.Errorf("demo prometheus: %w", err)
	}
	files, err := labprom.WriteRules(ruleDir, inv, lo)
	if err != nil {
		return nil, fmt.Errorf("demo prometheus: %w", err)
	}
	var cfg promConfigFile
	if err := yaml.Unmarshal(cfgYAML, &cfg); err != nil {
		return nil, fmt.Errorf("demo prometheus: read back prometheus.yml: %w", err)
	}
	p := &demoProm{dial: dial, opts: o, ext: labels.FromMap(cfg.Global.ExternalLabels)}
	for _, sc := range cfg.ScrapeConfigs {
		path := sc.MetricsPath
		if path == "" {
			path = "/metrics"
		}
		for _, st := range sc.StaticConfigs {
			for _, addr := range st.Targets {
				m := map[string]string{"job": sc.JobName, "instance": addr}
				for k, v := range st.Labels {
					m[k] = v
				}
				p.targets = append(p.targets, promTarget{job: sc.JobName, path: path, addr: addr, labels: labels.FromMap(m)})
			}
		}
	}
	p.client = &http.Client{
		Timeout: o.ScrapeInterval,
		Transport: &http.Transport{
			DialContext:         func(ctx context.Context, _, addr string) (net.Conn, error) { return p.dial(ctx, addr) },
			MaxIdleConnsPerHost: 1,
			DisableCompression:  true,
		},
	}

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	topts := tsdb.DefaultOptions()
	topts.RetentionDuration = int64(6 * time.Hour / time.Millisecond)
	if p.db, err = tsdb.Open(filepath.Join(dir, "data"), logger, nil, topts, nil); err != nil {
		return nil, fmt.Errorf("demo prometheus: open the TSDB: %w", err)
	}
	p.engine = promql.NewEngine(promql.EngineOpts{Logger: logger, MaxSamples: 5_000_000, Timeout: 30 * time.Second,
		LookbackDelta: 5 * time.Minute, EnableAtModifier: true, EnableNegativeOffset: true})
	p.app = &serialAppendable{db: p.db}
	p.rules = rules.NewManager(&rules.ManagerOptions{
		AppendableV2: p.app,
		Queryable:    p.db,
		QueryFunc:    rules.EngineQueryFunc(p.engine, p.db),
		NotifyFunc:   func(_ context.Context, _ string, alerts ...*rules.Alert) { notify(alerts...) },
		Context:      ctx,
		Logger:       logger,
	})
	if err := p.rules.Update(o.EvalInterval, files, p.ext, "", nil); err != nil {
		p.db.Close()
		return nil, fmt.Errorf("demo prometheus: load the rules: %w", err)
	}
	go p.rules.Run()
	return p, nil
}

// Close stops rule evaluation and closes the TSDB.
func (p *demoProm) Close() error {
	p.rules.Stop()
	return p.db.Close()
}

// scrapeLoop scrapes one round at once, so the console's first refresh shows
// every host (rates need a second round, seconds later), then one round
// every ScrapeInterval until ctx ends.
func (p *demoProm) scrapeLoop(ctx context.Context) {
	p.scrapeAll(ctx, time.Now())
	t := time.NewTicker(p.opts.ScrapeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.scrapeAll(ctx, time.Now())
	}
}

// scrapeAll scrapes every target at once and appends what each answered,
// with the `up` and `scrape_duration_seconds` series Prometheus adds.
func (p *demoProm) scrapeAll(ctx context.Context, now time.Time) {
	var wg sync.WaitGroup
	for _, t := range p.targets {
		wg.Add(1)
		go func(t promTarget) {
			defer wg.Done()
			begin := time.Now()
			fams, err := p.scrape(ctx, t)
			if ctx.Err() != nil {
				return
			}
			app := p.app.AppenderV2(ctx)
			ts := now.UnixMilli()
			up := 1.0
			if err != nil {
				up = 0
			}
			appendSample(app, t.labels, "up", nil, ts, up)
			appendSample(app, t.labels, "scrape_duration_seconds", nil, ts, time.Since(begin).Seconds())
			for _, f := range fams {
				appendFamily(app, t.labels, f, ts)
			}
			_ = app.Commit()
		}(t)
	}
	wg.Wait()
	p.mu.Lock()
	p.scrapes++
	p.mu.Unlock()
}

func (p *demoProm) scrape(ctx context.Context, t promTarget) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.ScrapeInterval)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.addr+t.path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server returned HTTP status %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(io.LimitReader(resp.Body, maxScrapeBody))
}

// appendSample appends one float sample: the target's labels (job, instance,
// role) under the exposed ones, as honor_labels: false does.
func appendSample(app storage.AppenderV2, target labels.Labels, name string, exposed []*dto.LabelPair, ts int64, v float64) {
	b := labels.NewBuilder(labels.EmptyLabels())
	for _, lp := range exposed {
		b.Set(lp.GetName(), lp.GetValue())
	}
	target.Range(func(l labels.Label) {
		if b.Get(l.Name) != "" {
			b.Set("exported_"+l.Name, b.Get(l.Name))
		}
		b.Set(l.Name, l.Value)
	})
	b.Set(labels.MetricName, name)
	_, _ = app.Append(0, b.Labels(), 0, ts, v, nil, nil, storage.AOptions{MetricFamilyName: name})
}

// appendFamily appends the samples of one metric family, expanding
// summaries and histograms into their classic series.
func appendFamily(app storage.AppenderV2, target labels.Labels, f *dto.MetricFamily, ts int64) {
	name := f.GetName()
	for _, m := range f.Metric {
		lp := m.Label
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			appendSample(app, target, name, lp, ts, m.GetCounter().GetValue())
		case dto.MetricType_GAUGE:
			appendSample(app, target, name, lp, ts, m.GetGauge().GetValue())
		case dto.MetricType_UNTYPED:
			appendSample(app, target, name, lp, ts, m.GetUntyped().GetValue())
		case dto.MetricType_SUMMARY:
			s := m.GetSummary()
			for _, q := range s.Quantile {
				appendSample(app, target, name, withLabel(lp, "quantile", strconv.FormatFloat(q.GetQuantile(), 'f', -1, 64)), ts, q.GetValue())
			}
			appendSample(app, target, name+"_sum", lp, ts, s.GetSampleSum())
			appendSample(app, target, name+"_count", lp, ts, float64(s.GetSampleCount()))
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			for _, b := range h.Bucket {
				appendSample(app, target, name+"_bucket", withLabel(lp, "le", strconv.FormatFloat(b.GetUpperBound(), 'f', -1, 64)), ts, float64(b.GetCumulativeCount()))
			}
			appendSample(app, target, name+"_bucket", withLabel(lp, "le", "+Inf"), ts, float64(h.GetSampleCount()))
			appendSample(app, target, name+"_sum", lp, ts, h.GetSampleSum())
			appendSample(app, target, name+"_count", lp, ts, float64(h.GetSampleCount()))
		}
	}
}

func withLabel(lp []*dto.LabelPair, name, value string) []*dto.LabelPair {
	out := append([]*dto.LabelPair(nil), lp...)
	return append(out, &dto.LabelPair{Name: &name, Value: &value})
}

// Ready reports whether at least one full scrape round has been stored.
func (p *demoProm) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.scrapes > 0
}

// Handler serves the part of Prometheus's HTTP API the console and operators
// use: /api/v1/query, /api/v1/query_range, /api/v1/alerts, /-/ready and
// /-/healthy, in Prometheus's own JSON format.
func (p *demoProm) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "Prometheus Server is Healthy.\n") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !p.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "Service Unavailable")
			return
		}
		io.WriteString(w, "Prometheus Server is Ready.\n")
	})
	mux.HandleFunc("/api/v1/query", p.query)
	mux.HandleFunc("/api/v1/query_range", p.queryRange)
	mux.HandleFunc("/api/v1/alerts", p.alerts)
	return mux
}

type apiError struct {
	status int
	typ    string
	err    error
}

func writeAPI(w http.ResponseWriter, data any, aerr *apiError) {
	w.Header().Set("Content-Type", "application/json")
	if aerr != nil {
		w.WriteHeader(aerr.status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": aerr.typ, "error": aerr.err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}

func badData(err error) *apiError { return &apiError{http.StatusBadRequest, "bad_data", err} }

// parseTime reads Prometheus's time parameter: Unix seconds with a fraction,
// or RFC 3339.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseStep reads a step: seconds (float) or a Prometheus duration.
func parseStep(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("invalid step %q: must be a positive number of seconds", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid step %q", s)
	}
	return time.Duration(d), nil
}

func (p *demoProm) query(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeAPI(w, nil, badData(err))
		return
	}
	ts, err := parseTime(r.FormValue("time"), time.Now())
	if err != nil {
		writeAPI(w, nil, badData(fmt.Errorf("invalid parameter \"time\": %w", err)))
		return
	}
	q, err := p.engine.NewInstantQuery(r.Context(), p.db, nil, r.FormValue("query"), ts)
	if err != nil {
		writeAPI(w, nil, badData(fmt.Errorf("invalid parameter \"query\": %w", err)))
		return
	}
	defer q.Close()
	p.writeResult(w, q.Exec(r.Context()))
}

func (p *demoProm) queryRange(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeAPI(w, nil, badData(err))
		return
	}
	start, err := parseTime(r.FormValue("start"), time.Time{})
	if err == nil && start.IsZero() {
		err = errors.New("missing start")
	}
	if err != nil {
		writeAPI(w, nil, badData(fmt.Errorf("invalid parameter \"start\": %w", err)))
		return
	}
	end, err := parseTime(r.FormValue("end"), time.Time{})
	if err == nil && end.IsZero() {
		err = errors.New("missing end")
	}
	if err != nil {
		writeAPI(w, nil, badData(fmt.Errorf("invalid parameter \"end\": %w", err)))
		return
	}
	if end.Before(start) {
		writeAPI(w, nil, badData(errors.New("end timestamp must not be before start time")))
		return
	}
	step, err := parseStep(r.FormValue("step"))
	if err != nil {
		writeAPI(w, nil, badData(fmt.Errorf("invalid parameter \"step\": %w", err)))
		return
	}
	if end.Sub(start)/step > 11000 {
		writeAPI(w, nil, badData(errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")))
		return
	}
	q, err := p.engine.NewRangeQuery(r.Context(), p.db, nil, r.FormValue("query"), start, end, step)
	if err != nil {
		writeAPI(w, nil, badData(fmt.Errorf("invalid parameter \"query\": %w", err)))
		return
	}
	defer q.Close()
	p.writeResult(w, q.Exec(r.Context()))
}

func (p *demoProm) writeResult(w http.ResponseWriter, res *promql.Result) {
	if res.Err != nil {
		var typ string
		switch res.Err.(type) {
		case promql.ErrQueryCanceled:
			typ = "canceled"
		case promql.ErrQueryTimeout:
			typ = "timeout"
		default:
			typ = "execution"
		}
		writeAPI(w, nil, &apiError{http.StatusUnprocessableEntity, typ, res.Err})
		return
	}
	writeAPI(w, encodeValue(res.Value), nil)
}

// promFloat writes a sample value as Prometheus does: a string, with NaN,
// +Inf and -Inf spelled out.
func promFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func promPoint(t int64, v float64) []any {
	return []any{json.Number(strconv.FormatFloat(float64(t)/1000, 'f', -1, 64)), promFloat(v)}
}

func encodeValue(v any) map[string]any {
	switch x := v.(type) {
	case promql.Vector:
		out := make([]map[string]any, 0, len(x))
		for _, s := range x {
			out = append(out, map[string]any{"metric": s.Metric.Map(), "value": promPoint(s.T, s.F)})
		}
		return map[string]any{"resultType": "vector", "result": out}
	case promql.Matrix:
		out := make([]map[string]any, 0, len(x))
		for _, s := range x {
			pts := make([][]any, 0, len(s.Floats))
			for _, f := range s.Floats {
				pts = append(pts, promPoint(f.T, f.F))
			}
			out = append(out, map[string]any{"metric": s.Metric.Map(), "values": pts})
		}
		return map[string]any{"resultType": "matrix", "result": out}
	case promql.Scalar:
		return map[string]any{"resultType": "scalar", "result": promPoint(x.T, x.V)}
	case promql.String:
		return map[string]any{"resultType": "string", "result": []any{json.Number(strconv.FormatFloat(float64(x.T)/1000, 'f', -1, 64)), x.V}}
	}
	return map[string]any{"resultType": "vector", "result": []any{}}
}

// alerts answers /api/v1/alerts: every pending and firing alert.
func (p *demoProm) alerts(w http.ResponseWriter, _ *http.Request) {
	type alert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		State       string            `json:"state"`
		ActiveAt    *time.Time        `json:"activeAt,omitempty"`
		Value       string            `json:"value"`
	}
	out := []alert{}
	for _, r := range p.rules.AlertingRules() {
		for _, a := range r.ActiveAlerts() {
			at := a.ActiveAt
			out = append(out, alert{Labels: a.Labels.Map(), Annotations: a.Annotations.Map(), State: a.State.String(),
				ActiveAt: &at, Value: promFloat(a.Value)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Labels["alertname"]+out[i].Labels["instance"] < out[j].Labels["alertname"]+out[j].Labels["instance"]
	})
	writeAPI(w, map[string]any{"alerts": out}, nil)
}

// firing lists "alertname instance" of every firing alert (for tests and the
// demo's own checks).
func (p *demoProm) firing() []string {
	var out []string
	for _, r := range p.rules.AlertingRules() {
		for _, a := range r.ActiveAlerts() {
			if a.State == rules.StateFiring {
				out = append(out, strings.TrimSpace(a.Labels.Get("alertname")+" "+a.Labels.Get("instance")))
			}
		}
	}
	sort.Strings(out)
	return out
}

// serveHTTP serves handler on h:port (its name and IP) and on the extra
// addresses, inside the demo's network, until ctx ends. The addresses go
// down with the host (node-down fault).
func (d *Demo) serveHTTP(ctx context.Context, h Host, port int, handler http.Handler, extra ...string) {
	l := sim.NewConnListener(net.JoinHostPort(h.IP, strconv.Itoa(port)))
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	d.wg.Add(2)
	go func() { defer d.wg.Done(); _ = srv.Serve(l) }()
	go func() { defer d.wg.Done(); <-ctx.Done(); srv.Close(); l.Close() }()
	fn := serveOn(l)
	ps := strconv.Itoa(port)
	ts := []target{{addr: net.JoinHostPort(h.Name, ps), fn: fn}, {addr: net.JoinHostPort(h.IP, ps), fn: fn}}
	for _, a := range extra {
		if a != ts[0].addr {
			ts = append(ts, target{addr: a, fn: fn})
		}
	}
	d.mu.Lock()
	d.targets[h.Name] = append(d.targets[h.Name], ts...)
	d.mu.Unlock()
	for _, t := range ts {
		d.bastion.Handle(t.addr, t.fn)
	}
}

// serialAppendable makes every Append into the TSDB one at a time, whoever
// writes (the scrapes, in parallel, and the rule manager's ALERTS series).
// The head allocates a new series' ID and adds it to the in-memory postings
// in two steps; two appends at once can add IDs out of order, and the
// postings repair that order by swapping entries in place, under readers
// that hold the same slice (a data race in Prometheus's head index, seen by
// the race detector while a rule evaluation read the postings). Serialized,
// IDs arrive in order and the postings only grow at their end.
type serialAppendable struct {
	db *tsdb.DB
	mu sync.Mutex
}

func (s *serialAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &serialAppender{AppenderV2: s.db.AppenderV2(ctx), mu: &s.mu}
}

type serialAppender struct {
	storage.AppenderV2
	mu *sync.Mutex
}

func (a *serialAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
}
