package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"scalar-tui/inventory"
	"scalar-tui/ops/fanout"
)

// Ports are the exporter ports scalar-terraform uses; ScrapeOptions can override
// them (the lab runs exporters on other ports).
type Ports struct {
	NodeExporter      int // 9100, every host
	CAdvisor          int // 18080, docker hosts
	CassandraExporter int // 7070, cassandra hosts
	EnvoyAdmin        int // 9001, envoy hosts (/stats/prometheus)
}

// DefaultPorts are scalar-terraform's exporter ports.
var DefaultPorts = Ports{NodeExporter: 9100, CAdvisor: 18080, CassandraExporter: 7070, EnvoyAdmin: 9001}

// WithDefaults fills p's zero ports from DefaultPorts.
func (p Ports) WithDefaults() Ports {
	if p.NodeExporter == 0 {
		p.NodeExporter = DefaultPorts.NodeExporter
	}
	if p.CAdvisor == 0 {
		p.CAdvisor = DefaultPorts.CAdvisor
	}
	if p.CassandraExporter == 0 {
		p.CassandraExporter = DefaultPorts.CassandraExporter
	}
	if p.EnvoyAdmin == 0 {
		p.EnvoyAdmin = DefaultPorts.EnvoyAdmin
	}
	return p
}

// ScrapeOptions configures a ScrapeSource.
type ScrapeOptions struct {
	// Dial opens TCP connections to the exporters (the bastion's DialContext in
	// production); nil means a plain net.Dialer.
	Dial DialFunc
	// Ports override the exporter ports.
	Ports Ports
	// Concurrency bounds the scrapes in flight; default 16.
	Concurrency int
	// Timeout bounds each scrape; default 5s.
	Timeout time.Duration
	// Clock gives the snapshot time and the reference for container ages; default time.Now.
	Clock func() time.Time
	// MaxResponseBytes bounds each exporter's answer; a larger one fails that
	// target with "response larger than N bytes". Default 64 MiB (cadvisor on
	// a busy host answers a few MB).
	MaxResponseBytes int64
	// HistorySamples is how many refreshes of figures the source keeps in
	// memory for History (per host and series); default
	// DefaultHistorySamples, negative keeps none.
	HistorySamples int
	// Via names the path to the exporters for messages, e.g. "bastion
	// 203.0.113.7:22"; when no target answers at all and they timed out, the
	// hosts are unknown and the error says "cannot reach the <Via>".
	Via string
}

// ScrapeSource is the fallback for when Prometheus is down: it scrapes the
// exporters directly, through the same dial function, and computes the same
// HostHealth. What it cannot know:
//
//   - CPU% is a rate, so it needs two scrapes: the first Snapshot has no CPU
//     figure, each later one uses the node_cpu_seconds_total difference since
//     the previous Snapshot (keep the source and call it again, e.g. in --watch).
//   - There are no alerts and no recording rules; the cluster counts are
//     computed from container_last_seen like the rules compute them.
//   - up is 1 when the node exporter answered and 0 when it did not, as in Prometheus.
//
// A ScrapeSource is safe for concurrent use. The inventory must not be changed
// after the source is made.
type ScrapeSource struct {
	inv    *inventory.Inventory
	client *http.Client
	ports  Ports
	conc   int
	clock  func() time.Time
	via    string
	limit  int64

	mu      sync.Mutex
	prevCPU map[string]cpuCounters // by host Name

	hist *scrapeHistory // nil when HistorySamples < 0
}

type cpuCounters struct{ idle, total float64 }

// NewScrapeSource returns a ScrapeSource over the inventory's hosts.
func NewScrapeSource(inv *inventory.Inventory, opts ScrapeOptions) *ScrapeSource {
	dial := opts.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		dial = d.DialContext
	}
	to := opts.Timeout
	if to <= 0 {
		to = 5 * time.Second
	}
	s := &ScrapeSource{
		inv:     inv,
		client:  &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 2}, Timeout: to},
		ports:   opts.Ports.WithDefaults(),
		conc:    opts.Concurrency,
		clock:   opts.Clock,
		via:     opts.Via,
		limit:   opts.MaxResponseBytes,
		prevCPU: map[string]cpuCounters{},
	}
	if s.limit <= 0 {
		s.limit = maxScrapeBytes
	}
	if n := opts.HistorySamples; n >= 0 {
		if n == 0 {
			n = DefaultHistorySamples
		}
		s.hist = &scrapeHistory{size: n, cpu: map[string]*ring{}, cluster: map[string]*ring{}}
	}
	if s.via == "" {
		s.via = "exporters"
	}
	if s.conc <= 0 {
		s.conc = 16
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	return s
}

// RunsCAdvisor reports whether scalar-terraform runs docker, and so
// cadvisor, on the role's hosts.
func RunsCAdvisor(r inventory.Role) bool {
	switch r {
	case inventory.RoleCassy, inventory.RoleReaper, inventory.RoleScalarDLBlue, inventory.RoleScalarDLGreen,
		inventory.RoleEnvoy, inventory.RoleMonitor:
		return true
	}
	return false
}

type scrapeTarget struct {
	host inventory.Host
	job  string // host, cadvisor, cassandra, envoy, envoy-clusters
	port int
	path string
}

// jobEnvoyClusters reads Envoy's admin /clusters page: per-member health_flags,
// which the /stats/prometheus counts do not name.
const jobEnvoyClusters = "envoy-clusters"

func (t scrapeTarget) instance() string {
	return net.JoinHostPort(t.host.Name, strconv.Itoa(t.port))
}

func (s *ScrapeSource) targets() []scrapeTarget {
	if s.inv == nil {
		return nil
	}
	var out []scrapeTarget
	for _, h := range s.inv.Hosts {
		out = append(out, scrapeTarget{h, "host", s.ports.NodeExporter, "/metrics"})
		if RunsCAdvisor(h.Role) {
			out = append(out, scrapeTarget{h, "cadvisor", s.ports.CAdvisor, "/metrics"})
		}
		if h.Role == inventory.RoleCassandra {
			out = append(out, scrapeTarget{h, "cassandra", s.ports.CassandraExporter, "/metrics"})
		}
		if h.Role == inventory.RoleEnvoy {
			out = append(out, scrapeTarget{h, "envoy", s.ports.EnvoyAdmin, "/stats/prometheus"})
			out = append(out, scrapeTarget{h, jobEnvoyClusters, s.ports.EnvoyAdmin, "/clusters"})
		}
	}
	return out
}

// Snapshot scrapes every target (bounded concurrency) and builds a Snapshot.
// A target that cannot be scraped is an entry in Errors; a node exporter that
// cannot be scraped also makes its host down (up=0), as in Prometheus.
func (s *ScrapeSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	start := time.Now()
	at := s.clock()
	targets := s.targets()
	type result struct {
		mfs     map[string]*dto.MetricFamily
		members []EnvoyMember
		err     error
	}
	results := make([]result, len(targets))
	fanout.Each(ctx, len(targets), s.conc, func(i int) {
		t := targets[i]
		if t.job == jobEnvoyClusters {
			results[i].members, results[i].err = s.envoyClusters(ctx, t)
			return
		}
		results[i].mfs, results[i].err = s.scrape(ctx, t)
	}, func(i int, err error) { results[i].err = err })
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scrape exporters: %w", err)
	}

	// A path that hangs (a silent bastion) fails every target by timeout, and
	// the timeout may fire before the path's own error: when nothing answered
	// and nothing was refused behind the path, nothing was observed.
	if len(targets) > 0 && s.via != "" {
		allSilent := true
		for _, r := range results {
			if r.err == nil || (transportError(r.err) == nil && !isTimeout(r.err)) {
				allSilent = false
				break
			}
		}
		if allSilent {
			for i := range results {
				if transportError(results[i].err) == nil {
					results[i].err = &TransportError{Via: s.via, Err: fmt.Errorf("no target answered within %s: %w", s.client.Timeout, results[i].err)}
				}
			}
		}
	}

	obs := observations{vectors: map[string]model.Vector{}, failed: map[string]bool{}}
	transportFailed := 0
	hostIdx := map[string]int{}
	if s.inv != nil {
		for i, h := range s.inv.Hosts {
			hostIdx[h.Name] = i
		}
	}
	add := func(q string, m model.Metric, v float64) {
		obs.vectors[q] = append(obs.vectors[q], &model.Sample{Metric: m, Value: model.SampleValue(v)})
	}
	for i, t := range targets {
		r := results[i]
		inst := model.LabelValue(t.instance())
		if r.err != nil {
			obs.errors = append(obs.errors, QueryError{Query: "scrape " + t.job, Target: t.url(), Message: describe(r.err, s.client.Timeout), Err: r.err})
			if te := transportError(r.err); te != nil {
				// Not observed at all: the host stays unknown, never down.
				transportFailed++
				if obs.unobserved == nil {
					obs.unobserved = te
				}
				continue
			}
			if t.job == "host" {
				add(QUp, model.Metric{model.InstanceLabel: inst, model.JobLabel: "host"}, 0)
			}
			continue
		}
		switch t.job {
		case jobEnvoyClusters:
			obs.envoys = append(obs.envoys, envoyObs{host: hostIdx[t.host.Name], members: r.members})
		case "host":
			add(QUp, model.Metric{model.InstanceLabel: inst, model.JobLabel: "host"}, 1)
			s.fromNodeExporter(t, r.mfs, add)
		case "cadvisor":
			for _, m := range metrics(r.mfs, "container_last_seen") {
				svc := label(m, "container_label_com_docker_compose_service")
				if svc != "scalar" && svc != "envoy" && svc != "cassy" && svc != "reaper" {
					continue
				}
				age := float64(at.UnixNano())/1e9 - value(m)
				add(QContainerAge, model.Metric{model.InstanceLabel: inst, "container_label_com_docker_compose_service": model.LabelValue(svc),
					"image": model.LabelValue(label(m, "image"))}, age)
			}
		case "cassandra":
			for _, m := range metrics(r.mfs, "cassandra_stats") {
				switch label(m, "name") {
				case "org:apache:cassandra:metrics:storage:load:count":
					add(QCassandraLoad, model.Metric{model.InstanceLabel: inst}, value(m))
				case "org:apache:cassandra:metrics:compaction:pendingtasks:value":
					add(QPendingCompactions, model.Metric{model.InstanceLabel: inst}, value(m))
				}
			}
		case "envoy":
			for _, pair := range []struct{ q, name string }{
				{QEnvoyHealthy, "envoy_cluster_membership_healthy"}, {QEnvoyTotal, "envoy_cluster_membership_total"},
			} {
				for _, m := range metrics(r.mfs, pair.name) {
					if label(m, "envoy_cluster_name") == "scalar-service" {
						add(pair.q, model.Metric{model.InstanceLabel: inst}, value(m))
					}
				}
			}
		}
	}
	snap := build(s.inv, at, "scrape", obs)
	snap.Queries = len(targets)
	snap.Took = time.Since(start)
	if s.hist != nil && transportFailed < len(targets) {
		s.hist.record(snap)
	}
	if transportFailed > 0 && transportFailed == len(targets) {
		return snap, fmt.Errorf("%w (no host was observed; every host is unknown)", obs.unobserved)
	}
	return snap, nil
}

// History returns the figures this source scraped since it started, oldest
// first, at most HistorySamples refreshes per series: CPU per host (from the
// second refresh on) and the Cassandra and Scalar DL counts. Nil when the
// source keeps no history. It is what the console draws while Prometheus is
// down, labelled as scraped since start.
func (s *ScrapeSource) History() *History {
	if s.hist == nil {
		return nil
	}
	return s.hist.history()
}

// isTimeout reports whether err is a timeout (of the client or of a dial).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func (t scrapeTarget) url() string { return "http://" + t.instance() + t.path }

func (s *ScrapeSource) fromNodeExporter(t scrapeTarget, mfs map[string]*dto.MetricFamily, add func(string, model.Metric, float64)) {
	inst := model.LabelValue(t.instance())
	im := model.Metric{model.InstanceLabel: inst}
	for _, m := range metrics(mfs, "node_systemd_unit_state") {
		if label(m, "name") == "cassandra.service" && label(m, "state") == "active" {
			add(QCassandraService, im, value(m))
		}
	}
	if l := metrics(mfs, "node_load1"); len(l) > 0 {
		add(QLoad1, im, value(l[0]))
	}
	var avail, total float64
	var haveA, haveT bool
	for _, m := range metrics(mfs, "node_memory_MemAvailable_bytes") {
		avail, haveA = value(m), true
	}
	for _, m := range metrics(mfs, "node_memory_MemTotal_bytes") {
		total, haveT = value(m), true
	}
	if haveA && haveT && total > 0 {
		add(QMemory, im, (1-avail/total)*100)
	}
	size := map[string]float64{}
	for _, m := range metrics(mfs, "node_filesystem_size_bytes") {
		if mp := label(m, "mountpoint"); (mp == "/" || mp == "/data") && !isTmpfs(label(m, "fstype")) {
			size[mp+"\x00"+label(m, "device")] = value(m)
		}
	}
	for _, m := range metrics(mfs, "node_filesystem_avail_bytes") {
		mp := label(m, "mountpoint")
		if sz, ok := size[mp+"\x00"+label(m, "device")]; ok && sz > 0 {
			add(QDisk, model.Metric{model.InstanceLabel: inst, "mountpoint": model.LabelValue(mp)}, value(m)/sz*100)
		}
	}
	var c cpuCounters
	for _, m := range metrics(mfs, "node_cpu_seconds_total") {
		v := value(m)
		c.total += v
		if label(m, "mode") == "idle" {
			c.idle += v
		}
	}
	if c.total == 0 {
		return
	}
	s.mu.Lock()
	prev, ok := s.prevCPU[t.host.Name]
	s.prevCPU[t.host.Name] = c
	s.mu.Unlock()
	if ok {
		if dt := c.total - prev.total; dt > 0 && c.idle >= prev.idle {
			add(QCPU, im, (1-(c.idle-prev.idle)/dt)*100)
		}
	}
}

func isTmpfs(fstype string) bool { return fstype == "tmpfs" || fstype == "rootfs" }

func metrics(mfs map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if mf, ok := mfs[name]; ok {
		return mf.GetMetric()
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// maxScrapeBytes bounds one exporter's answer (cadvisor on a busy host is a few MB).
const maxScrapeBytes = 64 << 20

// maxEnvoyClustersBytes bounds Envoy's /clusters page (about 1 KB per member).
const maxEnvoyClustersBytes = 4 << 20

// envoyClusters reads the scalar-service members from Envoy's admin /clusters.
func (s *ScrapeSource) envoyClusters(ctx context.Context, t scrapeTarget) ([]EnvoyMember, error) {
	b, err := getBounded(ctx, s.client, t.url(), min(s.limit, maxEnvoyClustersBytes))
	if err != nil {
		return nil, err
	}
	m, err := ParseEnvoyClusters(bytes.NewReader(b), EnvoyCluster)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.url(), err)
	}
	return m, nil
}

func (s *ScrapeSource) scrape(ctx context.Context, t scrapeTarget) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &httpStatusError{code: resp.StatusCode, url: t.url()}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	if resp.ContentLength > s.limit {
		return nil, &limitError{limit: s.limit, what: t.url()}
	}
	body := newLimitedBody(resp.Body, s.limit, t.url())
	mfs, err := p.TextToMetricFamilies(body)
	if err != nil {
		if body.left <= 0 { // the parser may not pass the reader's error on
			return nil, &limitError{limit: s.limit, what: t.url()}
		}
		return nil, fmt.Errorf("parse metrics from %s: %w", t.url(), err)
	}
	return mfs, nil
}
