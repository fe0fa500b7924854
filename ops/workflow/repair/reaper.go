package repair

// --via reaper: drive Cassandra Reaper's REST API (1.4.8, domain.md §4.3)
// through the bastion instead of running nodetool on each node.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/redact"
	"scalar-tui/ops/workflow"
)

// ReaperOptions configure --via reaper. The zero value talks to
// http://reaper-1.<domain>:8080 as admin/admin (the docker image's
// shiro.ini) and registers the cluster with seed cassandra-1.
type ReaperOptions struct {
	// URL is Reaper's base URL (default http://<first reaper host>:8080).
	URL string `json:"url,omitempty"`
	// User and Password log in (default admin/admin). The password is not
	// journalled: pass it again on Resume; callers should redact it.
	User     string `json:"user,omitempty"`
	Password string `json:"-"`
	// Cluster is Reaper's symbolic cluster name (default "scalardl").
	Cluster string `json:"cluster,omitempty"`
	// PollInterval between GET /repair_run/{id} (default 10 s).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
	// Dial opens TCP connections (the bastion's DialContext); nil dials
	// directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error) `json:"-"`
}

// Reaper repair run states.
const (
	reaperNotStarted = "NOT_STARTED"
	reaperRunning    = "RUNNING"
	reaperPaused     = "PAUSED"
	reaperDone       = "DONE"
)

// reaperRun is the part of GET /repair_run/{id} the workflow reads.
type reaperRun struct {
	ID               string `json:"id"`
	Cluster          string `json:"cluster_name"`
	Keyspace         string `json:"keyspace_name"`
	State            string `json:"state"`
	Cause            string `json:"cause"`
	Owner            string `json:"owner"`
	SegmentsRepaired int    `json:"segments_repaired"`
	TotalSegments    int    `json:"total_segments"`
	LastEvent        string `json:"last_event"`
}

// reaperMaxBody bounds every Reaper answer read: a repair run list of a few
// hundred runs is well under a megabyte.
const reaperMaxBody = 4 << 20

// reaperClient is a logged-in Reaper REST client.
type reaperClient struct {
	base  string
	opts  ReaperOptions
	hc    *http.Client
	token string
}

func (o ReaperOptions) withDefaults(inv *inventory.Inventory) (ReaperOptions, error) {
	if o.URL == "" {
		hs := inv.ByRole(inventory.RoleReaper)
		if len(hs) == 0 {
			return o, errors.New("repair --via reaper: the inventory has no reaper host (is the cassandra root loaded?); give the URL")
		}
		o.URL = "http://" + net.JoinHostPort(hs[0].Name, "8080")
	}
	if err := CheckReaperURL(o.URL); err != nil {
		return o, fmt.Errorf("repair --via reaper: %w", err)
	}
	if o.User == "" {
		o.User = "admin"
	}
	if o.Password == "" {
		o.Password = "admin"
	}
	if o.Cluster == "" {
		o.Cluster = "scalardl"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 10 * time.Second
	}
	return o, nil
}

// CheckReaperURL accepts an http(s) URL with a host and without credentials:
// a password in a URL would end up in journals, logs and printed plans, so
// it must come from a file (ReaperOptions.Password, --reaper-password-file).
func CheckReaperURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad Reaper URL %q: %w", redact.URLs(s), err)
	}
	if u.User != nil {
		return fmt.Errorf("the Reaper URL %s carries credentials: remove user:password@ from it and pass the password with --reaper-password-file FILE (and the user with --reaper-user)", redact.URLs(s))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("bad Reaper URL %q: want http://HOST:PORT or https://HOST:PORT", s)
	}
	return nil
}

func newReaperClient(o ReaperOptions) *reaperClient {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{Proxy: nil, DialContext: o.Dial, MaxIdleConns: 2, IdleConnTimeout: 30 * time.Second}
	return &reaperClient{base: strings.TrimRight(o.URL, "/"), opts: o, hc: &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second}}
}

func (c *reaperClient) close() { c.hc.CloseIdleConnections() }

// do sends one request and decodes a JSON answer into out (when not nil).
func (c *reaperClient) do(ctx context.Context, method, path string, form url.Values, out any) (int, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		slog.Debug("reaper request", "method", method, "url", redact.URLs(c.base+path), "err", err)
		return 0, fmt.Errorf("reaper %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	// Never the form body: it holds the password on /login.
	slog.Debug("reaper request", "method", method, "url", redact.URLs(c.base+path), "status", resp.StatusCode)
	b, err := io.ReadAll(io.LimitReader(resp.Body, reaperMaxBody+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reaper %s %s: %w", method, path, err)
	}
	if len(b) > reaperMaxBody {
		return resp.StatusCode, fmt.Errorf("reaper %s %s: the answer is larger than %d MiB; refusing to read it (is %s really Reaper?)", method, path, reaperMaxBody>>20, redact.URLs(c.base))
	}
	if resp.StatusCode >= 300 {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return resp.StatusCode, fmt.Errorf("reaper %s %s: HTTP %d: %s", method, path, resp.StatusCode, msg)
	}
	if out != nil {
		if s, ok := out.(*string); ok {
			*s = strings.TrimSpace(string(b))
			return resp.StatusCode, nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("reaper %s %s: bad JSON: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// login gets a JWT the way spreaper does: POST /login, then GET /jwt.
func (c *reaperClient) login(ctx context.Context) error {
	if _, err := c.do(ctx, http.MethodGet, "/ping", nil, nil); err != nil {
		return fmt.Errorf("%w (is Reaper up on %s? `ssh -L 8080:localhost:8080 reaper-1` and the web UI tell more)", err, redact.URLs(c.base))
	}
	form := url.Values{"username": {c.opts.User}, "password": {c.opts.Password}}
	code, err := c.do(ctx, http.MethodPost, "/login", form, nil)
	if code == http.StatusNotFound {
		return nil // authentication disabled
	}
	if err != nil {
		return fmt.Errorf("log in to Reaper as %s: %w", c.opts.User, err)
	}
	var tok string
	if _, err := c.do(ctx, http.MethodGet, "/jwt", nil, &tok); err != nil {
		return fmt.Errorf("Reaper JWT: %w", err)
	}
	c.token = tok
	return nil
}

// ensureCluster registers the cluster once, with seed.
func (c *reaperClient) ensureCluster(ctx context.Context, seed string) error {
	code, err := c.do(ctx, http.MethodGet, "/cluster/"+url.PathEscape(c.opts.Cluster), nil, nil)
	if err == nil {
		return nil
	}
	if code != http.StatusNotFound {
		return err
	}
	if _, err := c.do(ctx, http.MethodPost, "/cluster?seedHost="+url.QueryEscape(seed), nil, nil); err != nil {
		return fmt.Errorf("register the cluster in Reaper with seed %s: %w", seed, err)
	}
	return nil
}

// find returns this run's Reaper run of keyspace ks that is not failed.
func (c *reaperClient) find(ctx context.Context, ks, cause string) (*reaperRun, error) {
	var runs []reaperRun
	if _, err := c.do(ctx, http.MethodGet, "/repair_run/cluster/"+url.PathEscape(c.opts.Cluster), nil, &runs); err != nil {
		return nil, err
	}
	for i := range runs {
		r := &runs[i]
		if r.Keyspace == ks && r.Cause == cause {
			switch r.State {
			case reaperNotStarted, reaperRunning, reaperPaused, reaperDone:
				return r, nil
			}
		}
	}
	return nil, nil
}

func (c *reaperClient) create(ctx context.Context, ks, cause string) (*reaperRun, error) {
	q := url.Values{"clusterName": {c.opts.Cluster}, "keyspace": {ks}, "owner": {"scalar-tui"}, "cause": {cause},
		"incrementalRepair": {"false"}}
	var r reaperRun
	if _, err := c.do(ctx, http.MethodPost, "/repair_run?"+q.Encode(), nil, &r); err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, errors.New("reaper POST /repair_run: no run id in the answer")
	}
	return &r, nil
}

func (c *reaperClient) setState(ctx context.Context, id, state string) error {
	_, err := c.do(ctx, http.MethodPut, "/repair_run/"+url.PathEscape(id)+"/state/"+state, nil, nil)
	return err
}

func (c *reaperClient) get(ctx context.Context, id string) (*reaperRun, error) {
	var r reaperRun
	if _, err := c.do(ctx, http.MethodGet, "/repair_run/"+url.PathEscape(id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// reaperCause ties Reaper runs to a scalar-tui run, so that a resumed step
// re-attaches instead of starting a second repair.
func reaperCause(runID string) string { return "scalar-tui run " + runID }

// reaperStep returns the step that repairs keyspace ks through Reaper: it
// re-attaches to this run's Reaper run when one exists (resume), else creates
// one, starts it and follows it to DONE. Cancellation pauses the Reaper run.
func reaperStep(o ReaperOptions, seed, ks string) workflow.Step {
	return workflow.Step{
		ID:    "reaper/repair-" + ks,
		Title: "Reaper repair of keyspace " + ks + " (cluster " + o.Cluster + ")",
		Commands: []string{
			"reaper POST " + redact.URLs(o.URL) + "/repair_run?clusterName=" + o.Cluster + "&keyspace=" + ks + "&owner=scalar-tui&incrementalRepair=false",
			"reaper PUT " + redact.URLs(o.URL) + "/repair_run/{id}/state/RUNNING",
		},
		// Resume finds the Reaper run by its cause: never a second repair.
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			c := newReaperClient(o)
			defer c.close()
			if err := c.login(ctx); err != nil {
				return err
			}
			if err := c.ensureCluster(ctx, seed); err != nil {
				return err
			}
			cause := reaperCause(env.RunID())
			r, err := c.find(ctx, ks, cause)
			if err != nil {
				return err
			}
			if r == nil {
				if r, err = c.create(ctx, ks, cause); err != nil {
					return err
				}
			}
			if r.State == reaperDone {
				env.Progress(100)
				return nil
			}
			if r.State != reaperRunning {
				if err := c.setState(ctx, r.ID, reaperRunning); err != nil {
					return err
				}
			}
			t := time.NewTicker(o.PollInterval)
			defer t.Stop()
			fails := 0
			for {
				select {
				case <-ctx.Done():
					pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
					perr := c.setState(pctx, r.ID, reaperPaused)
					cancel()
					if perr != nil {
						return fmt.Errorf("canceled, and Reaper run %s may still run (%v): %w", r.ID, perr, ctx.Err())
					}
					return fmt.Errorf("canceled; Reaper run %s paused: %w", r.ID, ctx.Err())
				case <-t.C:
				}
				cur, err := c.get(ctx, r.ID)
				if err != nil {
					if fails++; fails < 5 && ctx.Err() == nil {
						continue // a dropped tunnel: Reaper goes on
					}
					return err
				}
				fails = 0
				if cur.TotalSegments > 0 {
					env.Progress(100 * float64(cur.SegmentsRepaired) / float64(cur.TotalSegments))
				}
				switch cur.State {
				case reaperDone:
					return nil
				case reaperRunning, reaperNotStarted:
				case reaperPaused:
					return fmt.Errorf("Reaper run %s of keyspace %s was paused in Reaper; resume it there or `scalar-tui resume %s`", r.ID, ks, env.RunID())
				default:
					return fmt.Errorf("Reaper run %s of keyspace %s is %s: %s", r.ID, ks, cur.State, cur.LastEvent)
				}
			}
		},
	}
}

// reaperPreflight checks that Reaper answers and the login works.
func reaperPreflight(o ReaperOptions) workflow.Check {
	return workflow.Check{
		Name:        "reaper-api",
		Description: "Reaper answers on " + redact.URLs(o.URL) + " and accepts the login of " + o.User,
		Run: func(ctx context.Context, env *workflow.Env) error {
			c := newReaperClient(o)
			defer c.close()
			return c.login(ctx)
		},
	}
}
