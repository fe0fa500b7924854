package health

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// EnvoyCluster is the Envoy cluster that fronts Scalar DL's client port
// (envoy.yaml.j2 in scalar-terraform).
const EnvoyCluster = "scalar-service"

// How Serving was learnt (HostHealth.ServingFrom).
const (
	ServingFromClusters = "envoy /clusters"
	ServingFromCounts   = "envoy membership counts"
)

// EnvoyFlag is what one Envoy says of one Scalar DL node.
type EnvoyFlag struct {
	// Envoy is the Envoy host's Name.
	Envoy string `json:"envoy"`
	// Member is false when the node is not in Envoy's scalar-service cluster.
	Member bool `json:"member"`
	// Flags is Envoy's health_flags for the member: "healthy", or e.g.
	// "/failed_active_hc" after failed gRPC health checks.
	Flags string `json:"health_flags,omitempty"`
}

// Healthy reports whether Envoy routes to the node.
func (f EnvoyFlag) Healthy() bool { return f.Member && f.Flags == "healthy" }

// EnvoyMember is one upstream host of an Envoy cluster, from the admin /clusters page.
type EnvoyMember struct {
	// IP and Port are the member's address as Envoy resolved it.
	IP   string
	Port string
	// Flags is the health_flags value.
	Flags string
}

// ParseEnvoyClusters reads Envoy's admin /clusters text output and returns the
// members of cluster with their health_flags, in the order listed. Lines look
// like "scalar-service::10.42.3.5:50051::health_flags::healthy". A page with no
// "::" line at all is not /clusters output and is an error.
func ParseEnvoyClusters(r io.Reader, cluster string) ([]EnvoyMember, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var out []EnvoyMember
	seen := false
	prefix := cluster + "::"
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Contains(line, "::") {
			seen = true
		}
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		addr, kv, ok := strings.Cut(rest, "::")
		if !ok {
			continue
		}
		flags, ok := strings.CutPrefix(kv, "health_flags::")
		if !ok {
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			continue // e.g. "default_priority::max_connections"
		}
		out = append(out, EnvoyMember{IP: host, Port: port, Flags: flags})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Envoy /clusters: %w", err)
	}
	if !seen {
		return nil, errors.New("not Envoy admin /clusters output (no cluster::host::stat lines)")
	}
	return out, nil
}

// envoyObs is one Envoy's answer to /clusters, for build.
type envoyObs struct {
	host    int // index of the Envoy host in the inventory
	members []EnvoyMember
}

// ErrTooLarge is wrapped by the error of every answer cut off at its byte limit.
var ErrTooLarge = errors.New("response too large")

// limitError says which limit an answer exceeded.
type limitError struct {
	limit int64
	what  string
}

// Error says "response larger than N bytes from WHAT".
func (e *limitError) Error() string {
	return fmt.Sprintf("response larger than %d bytes from %s (refused; a healthy answer is far smaller)", e.limit, e.what)
}

// Unwrap makes the error match ErrTooLarge.
func (e *limitError) Unwrap() error { return ErrTooLarge }

// limitedBody fails with a *limitError once more than limit bytes were read,
// instead of truncating silently as io.LimitReader does (a truncated page
// may still parse and would then be shown as a full answer).
type limitedBody struct {
	r     io.ReadCloser
	left  int64
	limit int64
	what  string
}

func newLimitedBody(r io.ReadCloser, limit int64, what string) *limitedBody {
	return &limitedBody{r: r, left: limit + 1, limit: limit, what: what}
}

// Read reads from the body and fails past the limit.
func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, &limitError{limit: l.limit, what: l.what}
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left <= 0 {
		return n - 1, &limitError{limit: l.limit, what: l.what}
	}
	return n, err
}

// Close closes the body.
func (l *limitedBody) Close() error { return l.r.Close() }

// limitTransport bounds every response body it returns.
type limitTransport struct {
	next  http.RoundTripper
	limit int64
}

// RoundTrip sends req and wraps the answer's body in a limitedBody.
func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, &limitError{limit: t.limit, what: req.URL.Host}
	}
	resp.Body = newLimitedBody(resp.Body, t.limit, req.URL.Host)
	return resp, nil
}

// getBounded GETs url with client and returns the body, failing on a non-200
// status or a body larger than limit.
func getBounded(ctx context.Context, client *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &httpStatusError{code: resp.StatusCode, url: url}
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, newLimitedBody(resp.Body, limit, url)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
