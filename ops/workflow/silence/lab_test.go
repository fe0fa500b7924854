package silence_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"scalar-tui/internal/lab"
	"scalar-tui/internal/labnodes"
	"scalar-tui/inventory"
	"scalar-tui/ops/alertmanager"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/silence"
)

// On the real-sshd lab with the real Prometheus and Alertmanager: a run that
// stops Cassandra on one node fires CassandraProcessStopped in Prometheus,
// and Alertmanager holds it silenced by the run's silence until the run
// ends; afterwards the silence is expired.
func TestLabSilenceMutesRealAlert(t *testing.T) {
	labnodes.SkipUnlessAvailable(t)
	bin, err := labnodes.BuildSimBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := lab.ParseHosts("cassandra=3,monitor=1")
	if err != nil {
		t.Fatal(err)
	}
	l, n := labnodes.ForTest(t, lab.Config{Hosts: hosts}, labnodes.Options{SimBinary: bin, For: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inv, err := inventory.Load(ctx, inventory.Options{TFRoot: l.TFRoot})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sshx.New(sshx.Config{BastionAddr: l.BastionAddr, User: l.User, IdentityFile: l.KeyPath, KnownHostsFile: l.KnownHosts, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	am, err := alertmanager.New(n.AlertmanagerURL, alertmanager.Options{Dial: cl.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	c2 := "cassandra-2." + l.Domain
	p := workflow.NewPlan("test", inv, time.Now())
	var seen string
	p.Steps = []workflow.Step{
		{ID: "stop", Title: "stop cassandra", Host: c2, Commands: []string{"sudo systemctl stop cassandra"}},
		{ID: "wait-alert", Title: "wait for the alert", Run: func(ctx context.Context, env *workflow.Env) error {
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				seen = amAlerts(t, cl, n.AlertmanagerURL)
				if strings.Contains(seen, "CassandraProcessStopped "+c2) {
					return nil
				}
			}
			t.Errorf("the alert never reached Alertmanager: %s", seen)
			return nil
		}},
		{ID: "start", Title: "start cassandra", Host: c2, Commands: []string{"sudo systemctl start cassandra"}, Cleanup: true},
	}
	silence.Wrap(p, silence.Options{Client: am, Hosts: []string{c2}, Window: 10 * time.Minute})
	if status, err := workflow.New(cl, t.TempDir(), workflow.WithoutLock()).Run(ctx, p); status != workflow.StatusDone {
		t.Fatalf("run: %s, %v", status, err)
	}
	if !strings.Contains(seen, "CassandraProcessStopped "+c2+":9100 suppressed") {
		t.Errorf("the node's alert was not suppressed while the run ran: %s", seen)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: cl.DialContext}}
	resp, err := hc.Get(n.AlertmanagerURL + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), p.ID) || strings.Contains(string(b), `"state":"active"`) {
		t.Errorf("after the run the silence must exist and be expired: %s", b)
	}
}

// amAlerts lists Alertmanager's alerts as "alertname instance state" lines.
func amAlerts(t *testing.T, cl *sshx.Client, url string) string {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: cl.DialContext}}
	resp, err := hc.Get(url + "/api/v2/alerts")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var as []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
		return err.Error()
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Labels["alertname"]+" "+a.Labels["instance"]+" "+a.Status.State)
	}
	return strings.Join(out, "\n")
}
