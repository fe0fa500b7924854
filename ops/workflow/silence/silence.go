// Package silence wraps a workflow plan in an Alertmanager silence: the alerts
// of the hosts the run touches are silenced before its first step and the
// silence is expired when the run ends, whichever way it ends (the expiry is a
// cleanup step, like the backup's unpause). Maintenance then does not page
// the on-call channel (ScalarDLContainerDown has no `for:` and fires 15 s
// after a container is recreated; stopping Cassandra fires
// CassandraProcessStopped), while cluster-wide alerts still page.
//
// It must not import tui/ or internal/.
package silence

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/workflow"
)

// Marker is the journal marker holding the silence's ID while it is active.
// It is a note (workflow.NoteMarkerPrefix), not a cluster state, so a canary
// stop or a pause still happens while the silence lasts.
const Marker = workflow.NoteMarkerPrefix + "alert-silence"

// DefaultWindow is how long a silence lasts when Options.Window is zero; a
// run that takes longer pages again after it, which is the safe side.
const DefaultWindow = 2 * time.Hour

// Options configures Wrap.
type Options struct {
	// Client is the deployment's Alertmanager (monitor.<domain>:9093 through
	// the bastion). Nil wraps nothing (--no-silence).
	Client *alertmanager.Client
	// Hosts are the FQDNs whose alerts are silenced; empty wraps nothing.
	Hosts []string
	// Window is how long the silence lasts from the first step; default
	// DefaultWindow. The silence is expired earlier when the run ends.
	Window time.Duration
	// Clock gives "now"; default time.Now.
	Clock func() time.Time
}

// Wrap adds to p: a preflight check that Alertmanager answers, a first step
// that creates the silence (recorded in the journal as Marker, so a resumed
// run reuses it) and a last cleanup step that expires it.
func Wrap(p *workflow.Plan, o Options) {
	if o.Client == nil || len(o.Hosts) == 0 || p.ReadOnly {
		return
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	now := time.Now
	if o.Clock != nil {
		now = o.Clock
	}
	hosts := append([]string(nil), o.Hosts...)
	sort.Strings(hosts)
	matchers := alertmanager.HostMatchers(hosts)
	shown := shortNames(hosts)
	url := o.Client.URL()

	p.Preflight = append([]workflow.Check{{
		Name: "alertmanager",
		Description: fmt.Sprintf("Alertmanager at %s answers: the run silences the alerts of %s while it runs (--no-silence to run without)",
			url, shown),
		Run: func(ctx context.Context, _ *workflow.Env) error {
			if err := o.Client.Ping(ctx); err != nil {
				return fmt.Errorf("%w; the run would page the on-call channel: fix the monitor, or pass --no-silence to run without a silence", err)
			}
			return nil
		},
	}}, p.Preflight...)

	create := workflow.Step{
		ID:         "silence-alerts",
		Title:      fmt.Sprintf("Silence the alerts of %s for up to %s", shown, o.Window),
		Commands:   []string{fmt.Sprintf("alertmanager POST %s/api/v2/silences instance=~%q, %s, comment \"scalar-tui run %s\"", url, matchers[0].Value, o.Window, p.ID)},
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			if id := env.Markers()[Marker]; id != "" {
				env.Notice("alert silence " + id + " from before the resume is kept")
				return nil
			}
			start := now().UTC()
			id, err := o.Client.Create(ctx, alertmanager.Silence{Matchers: matchers, StartsAt: start, EndsAt: start.Add(o.Window),
				CreatedBy: p.Operator, Comment: "scalar-tui run " + env.RunID() + " (" + p.Workflow + ")"})
			if err != nil {
				return err
			}
			if err := env.SetMarker(Marker, id); err != nil {
				// Not journalled: expire it now rather than leave it unknown.
				_ = o.Client.Expire(context.WithoutCancel(ctx), id)
				return err
			}
			env.Notice(fmt.Sprintf("alerts of %s silenced until %s (silence %s)", shown, start.Add(o.Window).Format("15:04 MST"), id))
			return nil
		},
	}
	expire := workflow.Step{
		ID:       "expire-silence",
		Title:    "Expire the alert silence",
		Commands: []string{fmt.Sprintf("alertmanager DELETE %s/api/v2/silence/<id>", url)},
		Cleanup:  true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			id := env.Markers()[Marker]
			if id == "" {
				return nil
			}
			// A canceled run still expires its silence.
			ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := o.Client.Expire(ectx, id); err != nil {
				return fmt.Errorf("%w (the silence ends by itself at its end time; expire it in Alertmanager's UI to page sooner)", err)
			}
			env.Notice("alert silence " + id + " expired")
			return env.ClearMarker(Marker)
		},
	}
	p.Steps = append(append([]workflow.Step{create}, p.Steps...), expire)
	p.Notes = append(p.Notes, fmt.Sprintf("The alerts of %s are silenced in Alertmanager from the first step until the run ends (at most %s); cluster-wide alerts still page.", shown, o.Window))
}

func shortNames(hosts []string) string {
	s := make([]string, len(hosts))
	for i, h := range hosts {
		s[i], _, _ = strings.Cut(h, ".")
	}
	if len(s) > 4 {
		return strings.Join(s[:3], ", ") + fmt.Sprintf(" and %d more", len(s)-3)
	}
	return strings.Join(s, ", ")
}

// ErrNoAlertmanager is returned by Client when the inventory names no
// Prometheus to derive the monitor's address from.
var ErrNoAlertmanager = errors.New("the inventory names no monitor host (no Prometheus endpoint): no Alertmanager to silence alerts on")

// URL is the deployment's Alertmanager URL: the monitor's Prometheus address
// with Alertmanager's port.
func URL(prometheusEndpoint string) (string, error) {
	host, _, ok := strings.Cut(prometheusEndpoint, ":")
	if prometheusEndpoint == "" || !ok || host == "" {
		return "", ErrNoAlertmanager
	}
	return fmt.Sprintf("http://%s:%d", host, alertmanager.DefaultPort), nil
}

// HostsOf returns the hosts p's steps run on (sorted, without the bastion's
// empty host): the hosts whose alerts a run of p may set off.
func HostsOf(p *workflow.Plan) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Steps {
		if s.Host != "" && !seen[s.Host] {
			seen[s.Host] = true
			out = append(out, s.Host)
		}
	}
	sort.Strings(out)
	return out
}

// Wrapped reports whether a journalled run was wrapped (its steps include the
// silence's), so that Resume rebuilds the same plan.
func Wrapped(st *workflow.RunState) bool {
	for _, s := range st.Steps {
		if s.ID == "silence-alerts" {
			return true
		}
	}
	return false
}
