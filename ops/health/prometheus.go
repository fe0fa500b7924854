package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"scalar-tui/inventory"
)

// DialFunc opens a connection, like net.Dialer.DialContext. The console passes
// the SSH bastion's DialContext so that private addresses are reached through it.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// namedQuery is one PromQL query of the fixed set.
type namedQuery struct {
	name, expr string
}

const diskSel = `mountpoint=~"/|/data",fstype!~"tmpfs|rootfs"`

// snapshotQueries is the fixed set sent on every refresh, whatever the host count.
var snapshotQueries = []namedQuery{
	{QUp, `up{job="host"}`},
	{QCassandraService, `node_systemd_unit_state{name="cassandra.service",state="active"}`},
	// irate, not rate: the CPU of the last scrape interval, as the scrape
	// source computes it from its last two scrapes. rate over a [1m] window
	// that holds only a few seconds of samples (a Prometheus, or the demo,
	// started under a minute ago) under-extrapolates the idle counter and
	// shows every host near 90% busy; irate needs only two samples.
	{QCPU, `(1 - avg by (instance) (irate(node_cpu_seconds_total{mode="idle"}[1m]))) * 100`},
	{QMemory, `(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100`},
	{QDisk, `node_filesystem_avail_bytes{` + diskSel + `} / node_filesystem_size_bytes{` + diskSel + `} * 100`},
	{QLoad1, `node_load1`},
	{QContainerAge, `time() - container_last_seen{container_label_com_docker_compose_service=~"scalar|envoy|cassy|reaper"}`},
	{QEnvoyHealthy, `envoy_cluster_membership_healthy{envoy_cluster_name="scalar-service"}`},
	{QEnvoyTotal, `envoy_cluster_membership_total{envoy_cluster_name="scalar-service"}`},
	{QCassandraLoad, `cassandra_stats{name="org:apache:cassandra:metrics:storage:load:count"}`},
	{QPendingCompactions, `cassandra_stats{name="org:apache:cassandra:metrics:compaction:pendingtasks:value"}`},
	{QAlerts, `ALERTS{alertstate="firing"}`},
	{QScalarDLBlue, `job:active_scalardl_blue_nodes:count`},
	{QScalarDLGreen, `job:active_scalardl_green_nodes:count`},
	{QEnvoyActive, `job:active_envoy_nodes:count`},
	{QSampleAge, `time() - timestamp(up{job="host"})`},
}

// wireQuery is one PromQL query sent on every refresh. It answers one named
// query, or, when by is set, several (names[i] gets the series whose label by
// is values[i], in the order Prometheus returned them): named queries that
// select one metric with different label values, or different metrics with
// the same matchers, are one selector, so that each refresh pays one request
// and one index lookup for them instead of several. The series are exactly
// those the separate queries select (TestWireQueriesAnswerAsSeparate).
type wireQuery struct {
	expr   string
	names  []string
	by     model.LabelName
	values []model.LabelValue
}

// wireQueries is what Snapshot sends: snapshotQueries, with the Envoy
// membership pair, the two Cassandra stats and the three recording rules
// each merged into one selector.
var wireQueries = mergeQueries(snapshotQueries, []merge{
	{model.MetricNameLabel, `{__name__=~"%s",envoy_cluster_name="scalar-service"}`, []string{QEnvoyHealthy, QEnvoyTotal}, []string{
		"envoy_cluster_membership_healthy", "envoy_cluster_membership_total"}},
	{"name", `cassandra_stats{name=~"%s"}`, []string{QCassandraLoad, QPendingCompactions}, []string{
		"org:apache:cassandra:metrics:storage:load:count", "org:apache:cassandra:metrics:compaction:pendingtasks:value"}},
	{model.MetricNameLabel, `{__name__=~"%s"}`, []string{QScalarDLBlue, QScalarDLGreen, QEnvoyActive}, []string{
		"job:active_scalardl_blue_nodes:count", "job:active_scalardl_green_nodes:count", "job:active_envoy_nodes:count"}},
})

// merge says which named queries one selector answers: the one whose label
// by has values[i] is names[i]; format has a %s for the alternation of values.
type merge struct {
	by     model.LabelName
	format string
	names  []string
	values []string
}

// mergeQueries turns the named queries into the wire queries: each merge
// takes the place of the first of its names, the others are sent alone.
func mergeQueries(named []namedQuery, merges []merge) []wireQuery {
	merged := map[string]*merge{}
	for i := range merges {
		for _, n := range merges[i].names {
			merged[n] = &merges[i]
		}
	}
	var out []wireQuery
	for _, q := range named {
		m := merged[q.name]
		if m == nil {
			out = append(out, wireQuery{expr: q.expr, names: []string{q.name}})
			continue
		}
		if m.names[0] != q.name {
			continue
		}
		alt := make([]string, len(m.values))
		w := wireQuery{names: m.names, by: m.by}
		for i, v := range m.values {
			alt[i] = regexp.QuoteMeta(v)
			w.values = append(w.values, model.LabelValue(v))
		}
		w.expr = fmt.Sprintf(m.format, strings.Join(alt, "|"))
		out = append(out, w)
	}
	return out
}

// split hands each series of an answer to the named query it belongs to.
func (w wireQuery) split(vec model.Vector, into map[string]model.Vector) {
	if w.by == "" {
		into[w.names[0]] = vec
		return
	}
	for i, n := range w.names {
		part := model.Vector{}
		for _, s := range vec {
			if s.Metric[w.by] == w.values[i] {
				part = append(part, s)
			}
		}
		into[n] = part
	}
}

// QueryNames returns the names of the fixed query set, in the order they are listed.
func QueryNames() []string {
	out := make([]string, len(snapshotQueries))
	for i, q := range snapshotQueries {
		out[i] = q.name
	}
	return out
}

// QueryExpr returns the PromQL expression sent for a named query, or "". Named
// queries answered by one merged selector have the same expression: their
// series are told apart by QuerySplit.
func QueryExpr(name string) string {
	for _, w := range wireQueries {
		if slices.Contains(w.names, name) {
			return w.expr
		}
	}
	return ""
}

// QuerySplit says, for a named query answered by a merged selector (see
// QueryExpr), which label and value mark its series; ok is false for a query
// sent alone.
func QuerySplit(name string) (label, value string, ok bool) {
	for _, w := range wireQueries {
		if i := slices.Index(w.names, name); i >= 0 && w.by != "" {
			return string(w.by), string(w.values[i]), true
		}
	}
	return "", "", false
}

// PrometheusOptions configures a PrometheusSource. The zero value of every
// field has a usable default.
type PrometheusOptions struct {
	// Dial opens TCP connections; nil means a plain net.Dialer. Pass the SSH
	// bastion's DialContext to reach monitor.<domain>:9090 inside the VPC.
	Dial DialFunc
	// BasicAuthUser and BasicAuthPassword, when the user is set, are sent on every request.
	BasicAuthUser string
	// BasicAuthPassword goes with BasicAuthUser.
	BasicAuthPassword string
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken string
	// CAFile is a PEM bundle to verify Prometheus' TLS certificate with.
	CAFile string
	// InsecureSkipTLSVerify turns off TLS certificate verification. Only for labs.
	InsecureSkipTLSVerify bool
	// Timeout bounds each refresh (all queries run concurrently under it) and is
	// passed to Prometheus as the query timeout. Default 10s.
	Timeout time.Duration
	// Clock gives the evaluation time of the queries; default time.Now. Tests
	// set it to evaluate over backfilled data.
	Clock func() time.Time
	// MaxResponseBytes bounds each Prometheus answer; a larger one fails that
	// query with "response larger than N bytes". Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// EnvoyAdmin also reads every Envoy's admin /clusters page (through Dial,
	// on EnvoyAdminPort, default 9001) on each refresh, for the per-member
	// gRPC health of the Scalar DL nodes that Prometheus' Envoy metrics only
	// count. Set it when Dial reaches the private network (the bastion).
	EnvoyAdmin bool
	// EnvoyAdminPort overrides Envoy's admin port (9001).
	EnvoyAdminPort int
	// StaleAfter is the age of a host's newest sample past which its figures
	// are stale and the host unknown; default DefaultStaleAfter (4 scrapes at
	// the real 15s interval). Negative turns the check off (backfilled tests).
	StaleAfter time.Duration
}

// DefaultStaleAfter is PrometheusOptions.StaleAfter's default.
const DefaultStaleAfter = time.Minute

// DefaultMaxResponseBytes bounds one Prometheus answer: the fixed queries for
// 1,000 hosts answer in well under 1 MB.
const DefaultMaxResponseBytes = 32 << 20

// PrometheusSource reads health from the deployment's Prometheus (v1 HTTP API).
// Every Snapshot sends the same fixed set of PromQL queries (see QueryNames),
// never one per host, so its cost does not grow with the inventory.
//
// A PrometheusSource is safe for concurrent use. The inventory must not be
// changed after the source is made (make a new source for a new inventory).
type PrometheusSource struct {
	inv     *inventory.Inventory
	index   *hostIndex
	url     string
	client  api.Client
	api     v1.API
	timeout time.Duration
	clock   func() time.Time

	wire []wireQuery // wireQueries; tests compare them with the named queries sent alone

	envoy     *http.Client // nil unless PrometheusOptions.EnvoyAdmin
	envoyPort int
	stale     time.Duration
}

// NewPrometheusSource returns a source querying the Prometheus at baseURL
// (e.g. "http://monitor.internal.scalar-labs.com:9090"; a bare host:port is
// taken as http). If baseURL is "", the inventory's Endpoints.Prometheus is used.
func NewPrometheusSource(inv *inventory.Inventory, baseURL string, opts PrometheusOptions) (*PrometheusSource, error) {
	if baseURL == "" && inv != nil {
		baseURL = inv.Endpoints.Prometheus
	}
	if baseURL == "" {
		return nil, errors.New("no Prometheus address: the inventory has no monitor host; pass --prometheus URL")
	}
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("prometheus address %q is not a URL like http://host:9090", baseURL)
	}
	rt, err := newTransport(opts)
	if err != nil {
		return nil, err
	}
	c, err := api.NewClient(api.Config{Address: baseURL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", baseURL, err)
	}
	var hosts []inventory.Host
	if inv != nil {
		hosts = inv.Hosts
	}
	s := &PrometheusSource{inv: inv, index: newHostIndex(hosts), url: baseURL, client: c, api: v1.NewAPI(c), timeout: opts.Timeout, clock: opts.Clock, wire: wireQueries}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	s.stale = opts.StaleAfter
	if s.stale == 0 {
		s.stale = DefaultStaleAfter
	}
	if opts.EnvoyAdmin {
		dial := opts.Dial
		if dial == nil {
			d := &net.Dialer{Timeout: 10 * time.Second}
			dial = d.DialContext
		}
		// Its own transport: Prometheus' credentials must not go to Envoy.
		s.envoy = &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 2}, Timeout: s.timeout}
		s.envoyPort = opts.EnvoyAdminPort
		if s.envoyPort <= 0 {
			s.envoyPort = DefaultPorts.EnvoyAdmin
		}
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	return s, nil
}

// URL is the Prometheus base URL the source queries.
func (s *PrometheusSource) URL() string { return s.url }

// newTransport builds the HTTP transport: the dial function, TLS and auth.
func newTransport(opts PrometheusOptions) (http.RoundTripper, error) {
	dial := opts.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	tr := &http.Transport{
		DialContext:         dialAsOpError(dial),
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// No Proxy: traffic goes through the dial function (the bastion), never an HTTP proxy.
	}
	if opts.CAFile != "" || opts.InsecureSkipTLSVerify {
		tc := &tls.Config{InsecureSkipVerify: opts.InsecureSkipTLSVerify} //nolint:gosec // explicit operator choice
		if opts.CAFile != "" {
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, fmt.Errorf("prometheus CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("prometheus CA file %s holds no PEM certificate", opts.CAFile)
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	if opts.BasicAuthUser != "" && opts.BearerToken != "" {
		return nil, errors.New("give either basic auth or a bearer token for Prometheus, not both")
	}
	limit := opts.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	return &authTransport{next: &limitTransport{next: tr, limit: limit}, user: opts.BasicAuthUser, password: opts.BasicAuthPassword, token: opts.BearerToken}, nil
}

// dialAsOpError marks every dial failure as a *net.OpError, so that a
// failure inside the SSH tunnel (monitor host down, forwarding refused) is
// recognised as "unreachable" like a refused TCP connect.
func dialAsOpError(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			var oe *net.OpError
			if !errors.As(err, &oe) {
				err = &net.OpError{Op: "dial", Net: network, Err: err}
			}
			return nil, err
		}
		return c, nil
	}
}

// ErrUnauthorized is wrapped by errors for HTTP 401 and 403 answers.
var ErrUnauthorized = errors.New("prometheus refused the credentials")

// ErrUnreachable is wrapped by Snapshot's error when no query got an HTTP answer.
var ErrUnreachable = errors.New("prometheus unreachable")

// httpStatusError is an HTTP answer the API client would only report vaguely.
type httpStatusError struct {
	code int
	url  string
}

// Error says which status came from where.
func (e *httpStatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s from %s", e.code, http.StatusText(e.code), e.url)
}

// Unwrap makes 401 and 403 match ErrUnauthorized.
func (e *httpStatusError) Unwrap() error {
	if e.code == http.StatusUnauthorized || e.code == http.StatusForbidden {
		return ErrUnauthorized
	}
	return nil
}

// authTransport adds credentials and turns 401/403 into a typed error.
type authTransport struct {
	next           http.RoundTripper
	user, password string
	token          string
}

// RoundTrip sends req with the credentials.
func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.user != "" || t.token != "" {
		req = req.Clone(req.Context())
		if t.user != "" {
			req.SetBasicAuth(t.user, t.password)
		} else {
			req.Header.Set("Authorization", "Bearer "+t.token)
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		resp.Body.Close()
		u := *req.URL
		u.RawQuery = ""
		return nil, &httpStatusError{code: resp.StatusCode, url: u.String()}
	}
	return resp, nil
}

// describe turns a query error into a sentence for the operator.
func describe(err error, timeout time.Duration) string {
	var hs *httpStatusError
	var ae *v1.Error
	var ne net.Error
	var le *limitError
	var te *TransportError
	switch {
	case errors.As(err, &te):
		return te.Error()
	case errors.As(err, &le):
		return le.Error()
	case errors.As(err, &hs) && errors.Is(err, ErrUnauthorized):
		return fmt.Sprintf("Prometheus answered HTTP %d: check --prom-user/--prom-password-file or --prom-bearer-file", hs.code)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s (query timed out)", timeout)
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ae):
		switch ae.Type {
		case v1.ErrServer:
			return "Prometheus failed: " + ae.Msg + detail(ae.Detail)
		case v1.ErrBadResponse:
			return "Prometheus sent an answer that is not valid API JSON: " + ae.Msg + detail(ae.Detail)
		case v1.ErrTimeout:
			return "Prometheus timed out evaluating the query: " + ae.Msg
		case v1.ErrBadData:
			return "Prometheus rejected the query: " + ae.Msg
		case v1.ErrClient:
			return "Prometheus refused the request: " + ae.Msg + detail(ae.Detail)
		}
		return ae.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s (query timed out): %v", timeout, err)
	case isConnError(err):
		return "cannot connect: " + err.Error()
	}
	return err.Error()
}

func detail(d string) string {
	d = strings.TrimSpace(d)
	if d == "" {
		return ""
	}
	if len(d) > 120 {
		d = d[:120] + "…"
	}
	return " (" + strings.ReplaceAll(d, "\n", " ") + ")"
}

// isConnError reports whether err happened before any HTTP answer arrived.
func isConnError(err error) bool {
	var oe *net.OpError
	var de *net.DNSError
	var ae *v1.Error
	var hs *httpStatusError
	if errors.As(err, &ae) || errors.As(err, &hs) {
		return false
	}
	return errors.As(err, &oe) || errors.As(err, &de) || strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "EOF")
}

// Snapshot sends the fixed query set concurrently and joins the answers to the
// inventory. A failed query becomes an entry in Snapshot.Errors and leaves the
// other figures intact. If every query failed, Snapshot also returns an error
// saying why (unreachable, credentials, ...), together with the Snapshot.
func (s *PrometheusSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	start := time.Now()
	at := s.clock()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	type answer struct {
		vec model.Vector
		err error
	}
	answers := make([]answer, len(s.wire))
	var wg sync.WaitGroup
	for i, q := range s.wire {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i].vec, answers[i].err = s.query(ctx, q.expr, at)
		}()
	}
	envoys, envoyErrs := s.envoyPages(ctx)
	wg.Wait()

	obs := observations{vectors: map[string]model.Vector{}, failed: map[string]bool{}, index: s.index, envoys: envoys, staleAfter: s.stale}
	var errs []error
	for i, q := range s.wire {
		a := answers[i]
		if a.err != nil {
			for _, n := range q.names {
				obs.failed[n] = true
				obs.errors = append(obs.errors, QueryError{Query: n, Target: q.expr, Message: describe(a.err, s.timeout), Err: a.err})
			}
			errs = append(errs, a.err)
			continue
		}
		q.split(a.vec, obs.vectors)
	}
	obs.errors = append(obs.errors, envoyErrs...)
	snap := build(s.inv, at, "prometheus "+s.url, obs)
	snap.Queries = len(s.wire)
	snap.Took = time.Since(start)
	if len(errs) == len(s.wire) {
		return snap, s.totalFailure(ctx, errs)
	}
	return snap, nil
}

// query runs one instant query (a POST, as client_golang sends it). A
// successful answer is decoded in one pass by decodeVectorAnswer; any other
// answer (an error, an unusual shape) is handed to client_golang's own
// decoding, so that it is read, and its error worded, exactly as before.
func (s *PrometheusSource) query(ctx context.Context, expr string, at time.Time) (model.Vector, error) {
	args := url.Values{}
	args.Set("timeout", s.timeout.String())
	args.Set("query", expr)
	if !at.IsZero() {
		args.Set("time", strconv.FormatFloat(float64(at.Unix())+float64(at.Nanosecond())/1e9, 'f', -1, 64))
	}
	req, err := http.NewRequest(http.MethodPost, s.client.URL("/api/v1/query", nil).String(), strings.NewReader(args.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Idempotency-Key"] = nil // retried on a dropped keep-alive connection, like a GET
	resp, body, err := s.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 && resp.StatusCode != http.StatusNoContent {
		if vec, ok := decodeVectorAnswer(body); ok {
			return vec, nil
		}
	}
	v, _, _, err := v1.NewAPI(&replayClient{Client: s.client, resp: resp, body: body}).Query(ctx, expr, at, v1.WithTimeout(s.timeout))
	if err != nil {
		return nil, err
	}
	return vectorOf(v)
}

// vectorOf turns an instant query's result into a vector without nil
// samples. An answer with no result at all is an error, not a panic.
func vectorOf(v model.Value) (model.Vector, error) {
	switch v := v.(type) {
	case model.Vector:
		return slices.DeleteFunc(v, func(s *model.Sample) bool { return s == nil }), nil
	case *model.Scalar:
		if v == nil {
			return nil, errNoResult
		}
		return model.Vector{&model.Sample{Value: v.Value, Timestamp: v.Timestamp, Metric: model.Metric{}}}, nil
	case nil:
		return nil, errNoResult
	default:
		return nil, fmt.Errorf("unexpected result type %s", v.Type())
	}
}

// errNoResult is an answer that says success but holds no result.
var errNoResult = &v1.Error{Type: v1.ErrBadResponse, Msg: "the answer holds no result"}

// replayClient answers client_golang's first request with a response
// already read, and sends any further one (the GET it falls back to after a
// 405) for real.
type replayClient struct {
	api.Client
	resp *http.Response
	body []byte
	used bool
}

// Do replays the recorded response once, then passes requests on.
func (c *replayClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	if !c.used {
		c.used = true
		return c.resp, c.body, nil
	}
	return c.Client.Do(ctx, req)
}

// envoyPages reads every Envoy's /clusters concurrently (when EnvoyAdmin is
// set), bounded by ctx. A failed page is an error entry; the Scalar DL nodes
// are then judged by the pages that answered, or by the membership counts.
func (s *PrometheusSource) envoyPages(ctx context.Context) ([]envoyObs, []QueryError) {
	if s.envoy == nil || s.inv == nil {
		return nil, nil
	}
	type page struct {
		obs envoyObs
		url string
		err error
	}
	var pages []*page
	var wg sync.WaitGroup
	for i, h := range s.inv.Hosts {
		if h.Role != inventory.RoleEnvoy {
			continue
		}
		p := &page{obs: envoyObs{host: i}, url: "http://" + net.JoinHostPort(h.Name, strconv.Itoa(s.envoyPort)) + "/clusters"}
		pages = append(pages, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := getBounded(ctx, s.envoy, p.url, maxEnvoyClustersBytes)
			if err == nil {
				p.obs.members, err = ParseEnvoyClusters(bytes.NewReader(b), EnvoyCluster)
			}
			p.err = err
		}()
	}
	wg.Wait()
	var obs []envoyObs
	var errs []QueryError
	for _, p := range pages {
		if p.err != nil {
			errs = append(errs, QueryError{Query: "envoy /clusters", Target: p.url, Message: describe(p.err, s.timeout), Err: p.err})
			continue
		}
		obs = append(obs, p.obs)
	}
	return obs, errs
}

// totalFailure explains why no query got an answer.
func (s *PrometheusSource) totalFailure(ctx context.Context, errs []error) error {
	first := errs[0]
	for _, e := range errs {
		if te := transportError(e); te != nil {
			return fmt.Errorf("prometheus at %s: %w (no host was observed; every host is unknown)", s.url, te)
		}
	}
	for _, e := range errs {
		if errors.Is(e, ErrUnauthorized) {
			return fmt.Errorf("prometheus at %s: %w: %s", s.url, ErrUnauthorized, describe(e, s.timeout))
		}
	}
	if ctx.Err() == context.Canceled {
		return fmt.Errorf("prometheus at %s: %w", s.url, context.Canceled)
	}
	allConn := true
	for _, e := range errs {
		if !isConnError(e) && !errors.Is(e, context.DeadlineExceeded) {
			allConn = false
		}
	}
	if allConn {
		return fmt.Errorf("%w: %s: %s; if the monitor host is down, read the exporters directly with --source scrape",
			ErrUnreachable, s.url, describe(first, s.timeout))
	}
	return fmt.Errorf("prometheus at %s answered no query: %s; try --source scrape", s.url, describe(first, s.timeout))
}

// Point is one sample of a history series.
type Point struct {
	// T is the sample's time.
	T time.Time `json:"t"`
	// V is the sample's value.
	V float64 `json:"v"`
}

// History holds series for sparklines over a window.
type History struct {
	// Start and End bound the window; Step is the resolution.
	Start, End time.Time
	// Step is the resolution of every series.
	Step time.Duration
	// CPU is percent used per host, keyed by the inventory host's Name.
	CPU map[string][]Point `json:"cpu"`
	// CassandraActive counts active cassandra.service units.
	CassandraActive []Point `json:"cassandra_active"`
	// ScalarDLBlue and ScalarDLGreen are the recording rules' counts.
	ScalarDLBlue []Point `json:"scalardl_blue"`
	// ScalarDLGreen is job:active_scalardl_green_nodes:count.
	ScalarDLGreen []Point `json:"scalardl_green"`
	// Queries is the number of range queries sent (constant).
	Queries int `json:"queries"`
	// Errors has one entry per failed range query.
	Errors []QueryError `json:"errors,omitempty"`
	// Scraped is true for the scrape source's own history: the samples it
	// took since it started (Start), at its refreshes, not Prometheus'.
	Scraped bool `json:"scraped,omitempty"`
}

var historyQueries = []namedQuery{
	{QCPU, snapshotQueries[2].expr},
	{"cassandra_active_count", `count(node_systemd_unit_state{name="cassandra.service",state="active"} == 1)`},
	{QScalarDLBlue, `job:active_scalardl_blue_nodes:count`},
	{QScalarDLGreen, `job:active_scalardl_green_nodes:count`},
}

// History runs a fixed set of range queries over the window ending at the
// source's clock (default window 15m, step window/60): CPU per host, and the
// Cassandra and Scalar DL counts. Failed queries are reported in Errors.
func (s *PrometheusSource) History(ctx context.Context, window, step time.Duration) (*History, error) {
	if window <= 0 {
		window = 15 * time.Minute
	}
	if step <= 0 {
		step = window / 60
	}
	end := s.clock()
	r := v1.Range{Start: end.Add(-window), End: end, Step: step}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	h := &History{Start: r.Start, End: r.End, Step: step, CPU: map[string][]Point{}, Queries: len(historyQueries)}
	results := make([]model.Matrix, len(historyQueries))
	errs := make([]error, len(historyQueries))
	var wg sync.WaitGroup
	for i, q := range historyQueries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, _, _, err := s.api.QueryRange(ctx, q.expr, r, v1.WithTimeout(s.timeout))
			if err != nil {
				errs[i] = err
				return
			}
			m, ok := v.(model.Matrix)
			if !ok {
				if v == nil {
					errs[i] = errNoResult
				} else {
					errs[i] = fmt.Errorf("unexpected result type %s", v.Type())
				}
				return
			}
			results[i] = slices.DeleteFunc(m, func(ss *model.SampleStream) bool { return ss == nil })
		}()
	}
	wg.Wait()
	failed := 0
	for i, q := range historyQueries {
		if errs[i] != nil {
			failed++
			h.Errors = append(h.Errors, QueryError{Query: q.name, Target: q.expr, Message: describe(errs[i], s.timeout), Err: errs[i]})
		}
	}
	if failed == len(historyQueries) {
		return h, s.totalFailure(ctx, errs)
	}
	var hosts []inventory.Host
	if s.inv != nil {
		hosts = s.inv.Hosts
	}
	ix := newHostIndex(hosts)
	for _, ss := range results[0] {
		if i, ok := ix.match(string(ss.Metric[model.InstanceLabel])); ok {
			h.CPU[hosts[i].Name] = points(ss.Values)
		}
	}
	one := func(m model.Matrix) []Point {
		if len(m) == 0 {
			return nil
		}
		return points(m[0].Values)
	}
	h.CassandraActive = one(results[1])
	h.ScalarDLBlue = one(results[2])
	h.ScalarDLGreen = one(results[3])
	return h, nil
}

func points(v []model.SamplePair) []Point {
	out := make([]Point, len(v))
	for i, p := range v {
		out[i] = Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out
}
