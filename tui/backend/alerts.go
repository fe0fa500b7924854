package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/tui/vm"
)

// RunbookFunc maps a firing alert to its runbook action; the bool is false
// when nothing is known about the alert. The CLI wires ops/runbook.For
// through it (see RunbookView).
type RunbookFunc func(health.Alert) (vm.Runbook, bool)

// maxAlertsBody bounds Prometheus' /api/v1/alerts answer.
const maxAlertsBody = 4 << 20

// alertDetail is what /api/v1/alerts adds to an ALERTS series: the rule's
// annotations and when the alert became active.
type alertDetail struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    *time.Time        `json:"activeAt"`
}

// enrichAlerts fills in each alert's summary and since (from Prometheus'
// /api/v1/alerts, which the ALERTS series lack) and its runbook. Reading the
// details is best effort: without them the alerts still show, and the
// failure is listed with the snapshot's partial errors.
func (b *Backend) enrichAlerts(ctx context.Context, v *vm.HealthView, snap *health.Snapshot, _ *inventory.Inventory, client *sshx.Client, src health.Source) {
	if snap == nil || !hasAlerts(snap) {
		return
	}
	var details []alertDetail
	if u := prometheusURL(src); u != "" && client != nil {
		d, err := fetchAlertDetails(ctx, u, client.DialContext)
		if err != nil {
			v.Errors = append(v.Errors, "alert details: "+err.Error())
		}
		details = d
	}
	annotateAlerts(v, snap, details, b.cfg.Runbooks)
}

func hasAlerts(s *health.Snapshot) bool {
	if len(s.Alerts) > 0 {
		return true
	}
	for _, h := range s.Hosts {
		if len(h.Alerts) > 0 {
			return true
		}
	}
	return false
}

// prometheusURL is the base URL of the Prometheus that answered the last
// snapshot, or "" when health came from elsewhere (the exporters).
func prometheusURL(src health.Source) string {
	switch s := src.(type) {
	case *health.PrometheusSource:
		return s.URL()
	case *health.FallbackSource:
		if p, ok := s.Primary.(*health.PrometheusSource); ok && s.PrimaryError() == nil {
			return p.URL()
		}
	}
	return ""
}

// fetchAlertDetails reads /api/v1/alerts through dial (the bastion).
func fetchAlertDetails(ctx context.Context, baseURL string, dial health.DialFunc) ([]alertDetail, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+"/api/v1/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s/api/v1/alerts: %w", baseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAlertsBody+1))
	if err != nil {
		return nil, fmt.Errorf("read %s/api/v1/alerts: %w", baseURL, err)
	}
	if len(body) > maxAlertsBody {
		return nil, fmt.Errorf("%s/api/v1/alerts: response larger than %d bytes", baseURL, maxAlertsBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/api/v1/alerts: HTTP %d", baseURL, resp.StatusCode)
	}
	return parseAlertDetails(body)
}

// parseAlertDetails reads Prometheus' /api/v1/alerts answer.
func parseAlertDetails(body []byte) ([]alertDetail, error) {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []alertDetail `json:"alerts"`
		} `json:"data"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("/api/v1/alerts: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("/api/v1/alerts: status %q: %s", r.Status, r.Error)
	}
	return r.Data.Alerts, nil
}

// alertKey identifies an alert by its labels, without ALERTS' alertstate.
func alertKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "alertstate" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + labels[k] + "\x00")
	}
	return b.String()
}

// annotateAlerts fills in the summary, since and runbook of every alert of
// v, which HealthView made from snap (its host rows and their alerts in
// snap's order). It is a pure function.
func annotateAlerts(v *vm.HealthView, snap *health.Snapshot, details []alertDetail, rb RunbookFunc) {
	byKey := make(map[string]alertDetail, len(details))
	for _, d := range details {
		if d.State == "" || d.State == "firing" {
			byKey[alertKey(d.Labels)] = d
		}
	}
	one := func(av *vm.AlertView, a health.Alert) {
		if d, ok := byKey[alertKey(a.Labels)]; ok {
			if s := d.Annotations["summary"]; s != "" {
				av.Summary = s
			} else if s := d.Annotations["description"]; s != "" && av.Summary == "" {
				av.Summary = s
			}
			if d.ActiveAt != nil && !d.ActiveAt.IsZero() {
				av.Since = *d.ActiveAt
			}
		}
		if rb != nil {
			if r, ok := rb(a); ok {
				av.Runbook = &r
			}
		}
	}
	for i := range snap.Hosts {
		if i >= len(v.Hosts) {
			break
		}
		for j := range snap.Hosts[i].Alerts {
			if j < len(v.Hosts[i].Alerts) {
				one(&v.Hosts[i].Alerts[j], snap.Hosts[i].Alerts[j])
			}
		}
	}
	for i := range snap.Alerts {
		if i < len(v.Alerts) {
			one(&v.Alerts[i], snap.Alerts[i])
		}
	}
}

// RunbookAction has the fields of ops/runbook.Action in its order, so the
// CLI converts one with RunbookAction(a) and maps it with RunbookView,
// without this package depending on the runbook table.
type RunbookAction struct {
	Alert      string
	Title      string
	Workflow   string
	HostOption string
	Host       string
	Options    map[string]string
	ReadOnly   bool
	NoSilence  bool
	Doc        string
	Commands   []string
}

// RunbookView maps a runbook action onto the console's view model. The
// workflow's options carry every CLI option by flag name, the host option
// and --no-silence included, so the plan request names everything the CLI
// command would.
func RunbookView(a RunbookAction) vm.Runbook {
	r := vm.Runbook{Title: a.Title, Workflow: vm.WorkflowKind(a.Workflow), Host: a.Host, ReadOnly: a.ReadOnly,
		Doc: a.Doc, Commands: append([]string(nil), a.Commands...)}
	if a.Workflow == "" {
		return r
	}
	opts := map[string]string{}
	for k, v := range a.Options {
		opts[k] = v
	}
	if a.HostOption != "" && a.Host != "" {
		opts[a.HostOption] = a.Host
	}
	if a.NoSilence {
		opts["no-silence"] = "true"
	}
	if len(opts) > 0 {
		r.Options = opts
	}
	return r
}
