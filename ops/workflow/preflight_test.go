package workflow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scalar-tui/ops/workflow/workflowtest"
)

// TestPreflightOnly runs a plan's checks on real local "hosts" and shows
// that every check reports, the failing one with its reason, and that
// nothing of a run is left behind: no journal, no host logs, no lock, no
// events; the commands are audited under the plan's ID.
func TestPreflightOnly(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, state, rec := newTestEngine(t, lr)
	p := hostPlan("cassandra-1")
	p.Preflight = []Check{
		{Name: "host-answers", Description: "cassandra-1 answers", Run: func(ctx context.Context, env *Env) error {
			return env.Run(ctx, "cassandra-1", "echo up")
		}},
		{Name: "tag-differs", Description: "not already at 2.2.0", Run: func(ctx context.Context, env *Env) error {
			r, err := env.Exec(ctx, "cassandra-1", "echo 2.2.0")
			if err != nil {
				return err
			}
			if strings.TrimSpace(r.Stdout) == "2.2.0" {
				return errors.New("every node already runs 2.2.0")
			}
			return nil
		}},
		{Name: "described-only", Description: "nothing to run"},
	}
	res, err := e.Preflight(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(res), res)
	}
	if res[0].Name != "host-answers" || res[0].Err != nil {
		t.Errorf("first check: %+v", res[0])
	}
	if res[1].Err == nil || res[1].Err.Error() != "every node already runs 2.2.0" {
		t.Errorf("second check: %+v", res[1])
	}
	if !res[2].NotRun || res[2].Err != nil {
		t.Errorf("third check: %+v", res[2])
	}
	if _, err := os.Stat(JournalPath(state, p.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("preflight wrote a journal: %v", err)
	}
	if _, err := os.Stat(RunsDir(state)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("preflight created %s: %v", RunsDir(state), err)
	}
	if _, err := os.Stat(filepath.Join(lr.Dir("bastion"), "scalar-tui.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("preflight took the cluster lock: %v", err)
	}
	if n := len(rec.events()); n != 0 {
		t.Errorf("preflight emitted %d events", n)
	}
	audit, err := ReadAudit(state, AuditFilter{Run: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 2 || audit[0].Host != "cassandra-1" || audit[1].Command != "echo 2.2.0" {
		t.Errorf("audit = %+v, want the two check commands", audit)
	}
	if len(lr.Commands()) != 2 {
		t.Errorf("ran %q, want only the two check commands", lr.Commands())
	}
}

func TestPreflightCanceled(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, _, _ := newTestEngine(t, lr)
	p := hostPlan("cassandra-1")
	ctx, cancel := context.WithCancel(context.Background())
	p.Preflight = []Check{{Name: "slow", Run: func(ctx context.Context, env *Env) error {
		cancel()
		return env.Run(ctx, "cassandra-1", "sleep 5")
	}}}
	if _, err := e.Preflight(ctx, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
