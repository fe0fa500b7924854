package workflow

import (
	"context"
	"os"
	"strings"
	"testing"

	"scalar-tui/ops/workflow/workflowtest"
)

// A URL's user information never reaches the audit log, the journal, the
// host log or the events, even without a Redactor that knows the password.
func TestURLUserinfoRedactedEverywhere(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, rec := newTestEngine(t, lr) // no WithRedactor
	p := hostPlan("h1")
	p.Steps[0].Commands = []string{"echo fetching http://admin:pw-in-url@reaper-1:8080/ping"}
	if status, err := e.Run(context.Background(), p); status != StatusDone {
		t.Fatal(status, err)
	}
	for _, f := range []string{AuditPath(state), JournalPath(state, p.ID), HostLogPath(state, p.ID, "h1")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "pw-in-url") {
			t.Errorf("%s contains the password:\n%s", f, b)
		}
	}
	for _, l := range rec.lines() {
		if strings.Contains(l, "pw-in-url") {
			t.Errorf("event contains the password: %q", l)
		}
	}
	if got := (*Redactor)(nil).Redact("GET http://u:p@h/x"); got != "GET http://***@h/x" {
		t.Errorf("nil Redactor: %q", got)
	}
}
