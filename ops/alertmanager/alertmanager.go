// Package alertmanager creates and expires silences on a deployment's
// Alertmanager (the monitor host's monitor.<domain>:9093, reached through the
// bastion), so that maintenance does not page the on-call channel.
//
// scalar-terraform's monitor runs Alertmanager v0.16.0, the first release
// with API v2 (/api/v2/silences); older ones answer only API v1
// (/api/v1/silences), which the client falls back to when v2 answers 404.
//
// It must not import tui/ or internal/.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// DefaultPort is Alertmanager's port on the monitor host.
const DefaultPort = 9093

// MaxBody bounds every response body read from Alertmanager.
const MaxBody = 4 << 20

// DialFunc opens TCP connections (the bastion's DialContext).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Matcher matches one label of an alert.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
}

// Silence is one silence. ID and State are filled by Alertmanager.
type Silence struct {
	ID        string    `json:"id,omitempty"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	// State is "active", "pending" or "expired".
	State string `json:"-"`
}

// Client talks to one Alertmanager.
type Client struct {
	base *url.URL
	http *http.Client

	mu      sync.Mutex
	version int // 2 or 1 once known; 0 until the first call
}

// Options configures New.
type Options struct {
	// Dial opens connections; nil is a plain dialer. Pass the bastion's.
	Dial DialFunc
	// Timeout bounds each request; default 10s.
	Timeout time.Duration
	// APIVersion forces API v1 or v2; 0 tries v2, then v1 on 404.
	APIVersion int
}

// New returns a client for baseURL ("http://monitor.internal.scalar-labs.com:9093").
// Credentials in the URL are refused: they would end up in logs and journals.
func New(baseURL string, o Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("alertmanager URL %q: want http://HOST:PORT", baseURL)
	}
	if u.User != nil {
		return nil, errors.New("alertmanager URL: credentials in the URL are not accepted")
	}
	if o.APIVersion != 0 && o.APIVersion != 1 && o.APIVersion != 2 {
		return nil, fmt.Errorf("alertmanager API version %d: want 1 or 2", o.APIVersion)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 1, ResponseHeaderTimeout: o.Timeout}
	if o.Dial != nil {
		tr.DialContext = o.Dial
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, http: &http.Client{Transport: tr, Timeout: o.Timeout}, version: o.APIVersion}, nil
}

// URL is the Alertmanager's base URL.
func (c *Client) URL() string { return c.base.String() }

// APIError is an answer other than success.
type APIError struct {
	Status int
	Body   string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("alertmanager answered HTTP %d: %s", e.Status, e.Body)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("alertmanager %s: %w", c.base.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return fmt.Errorf("alertmanager %s: read the answer: %w", c.base.Host, err)
	}
	if len(b) > MaxBody {
		return fmt.Errorf("alertmanager %s: answer larger than %d bytes", c.base.Host, MaxBody)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return &APIError{Status: resp.StatusCode, Body: msg}
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("alertmanager %s: unreadable answer: %w", c.base.Host, err)
		}
	}
	return nil
}

// api runs fn with the API version to use, learning it on the first call: v2,
// and v1 when v2 answers 404 (Alertmanager before v0.16.0).
func (c *Client) api(ctx context.Context, fn func(v int) error) error {
	c.mu.Lock()
	v := c.version
	c.mu.Unlock()
	if v != 0 {
		return fn(v)
	}
	err := fn(2)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		if err1 := fn(1); err1 == nil {
			c.setVersion(1)
			return nil
		} else if !errors.As(err1, &ae) || ae.Status != http.StatusNotFound {
			return err1
		}
		return err
	}
	if err == nil {
		c.setVersion(2)
	}
	return err
}

func (c *Client) setVersion(v int) {
	c.mu.Lock()
	c.version = v
	c.mu.Unlock()
}

// Ping checks that Alertmanager answers its status endpoint.
func (c *Client) Ping(ctx context.Context) error {
	err := c.api(ctx, func(v int) error {
		return c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v%d/status", v), nil, nil)
	})
	if err != nil {
		return fmt.Errorf("alertmanager at %s: %w", c.base.Host, err)
	}
	return nil
}

// Create adds s and returns its ID.
func (c *Client) Create(ctx context.Context, s Silence) (string, error) {
	if len(s.Matchers) == 0 {
		return "", errors.New("alertmanager: a silence needs at least one matcher")
	}
	if !s.EndsAt.After(s.StartsAt) {
		return "", errors.New("alertmanager: a silence must end after it starts")
	}
	var id string
	err := c.api(ctx, func(v int) error {
		if v == 2 {
			var out struct {
				SilenceID string `json:"silenceID"`
			}
			if err := c.do(ctx, http.MethodPost, "/api/v2/silences", s, &out); err != nil {
				return err
			}
			id = out.SilenceID
			return nil
		}
		var out struct {
			Status string `json:"status"`
			Data   struct {
				SilenceID string `json:"silenceId"`
			} `json:"data"`
		}
		if err := c.do(ctx, http.MethodPost, "/api/v1/silences", s, &out); err != nil {
			return err
		}
		id = out.Data.SilenceID
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("create a silence: %w", err)
	}
	if id == "" {
		return "", errors.New("create a silence: alertmanager returned no silence ID")
	}
	return id, nil
}

// Get returns the silence with id.
func (c *Client) Get(ctx context.Context, id string) (Silence, error) {
	type wire struct {
		Silence
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	var w wire
	err := c.api(ctx, func(v int) error {
		if v == 2 {
			return c.do(ctx, http.MethodGet, "/api/v2/silence/"+url.PathEscape(id), nil, &w)
		}
		var out struct {
			Data wire `json:"data"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/silence/"+url.PathEscape(id), nil, &out); err != nil {
			return err
		}
		w = out.Data
		return nil
	})
	if err != nil {
		return Silence{}, fmt.Errorf("read silence %s: %w", id, err)
	}
	s := w.Silence
	s.State = w.Status.State
	return s, nil
}

// Expire ends the silence with id now. A silence that already expired is not
// an error.
func (c *Client) Expire(ctx context.Context, id string) error {
	err := c.api(ctx, func(v int) error {
		return c.do(ctx, http.MethodDelete, fmt.Sprintf("/api/v%d/silence/%s", v, url.PathEscape(id)), nil, nil)
	})
	var ae *APIError
	if errors.As(err, &ae) && strings.Contains(ae.Body, "already expired") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("expire silence %s: %w", id, err)
	}
	return nil
}

// HostMatchers returns the matcher that silences every alert whose instance
// label is one of hosts ("cassandra-1.internal.scalar-labs.com"), on any port:
// the real rules label alerts with "<fqdn>:<port>" of the exporter that saw it.
// Cluster-wide alerts (no instance) are not matched: maintenance on some hosts
// must still page when the whole cluster goes down.
func HostMatchers(hosts []string) []Matcher {
	if len(hosts) == 0 {
		return nil
	}
	q := make([]string, len(hosts))
	for i, h := range hosts {
		q[i] = regexp.QuoteMeta(h)
	}
	return []Matcher{{Name: "instance", Value: "(" + strings.Join(q, "|") + ")(:[0-9]+)?", IsRegex: true}}
}
