package backend

import (
	"context"
	"testing"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
	"scalar-tui/tui/vm"
)

// TestAuditShowsShellsAndExec: entries outside a run (exec, ssh, the
// console's shells) name their kind, and a shell says it was one.
func TestAuditShowsShellsAndExec(t *testing.T) {
	state := t.TempDir()
	log := workflow.NewAuditLog(workflow.AuditPath(state), "ops@test", "net@bastion:22", nil)
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range []sshx.AuditRecord{
		{Start: at, Host: "cassandra-1", Kind: sshx.AuditShell, ExitCode: 3},
		{Start: at, Host: "cassandra-1", Kind: sshx.AuditCommand, Command: "hostname"},
	} {
		if err := log.Audit(r); err != nil {
			t.Fatal(err)
		}
	}
	b, err := New(Config{StateDir: state,
		LoadInventory: func(context.Context) (*inventory.Inventory, error) { return nil, nil },
		Connect:       func(*inventory.Inventory) (*sshx.Client, error) { return nil, nil },
		HealthSource:  func(*inventory.Inventory, health.DialFunc) (health.Source, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Audit(context.Background(), vm.AuditQuery{})
	if err != nil || len(got) != 2 {
		t.Fatalf("Audit = %+v, %v", got, err)
	}
	if got[0].Action != "command" || got[0].Command != "hostname" || got[0].Result != "ok" {
		t.Errorf("exec entry %+v", got[0])
	}
	if got[1].Action != "shell" || got[1].Command != "(interactive shell)" || got[1].Result != "exit 3" {
		t.Errorf("shell entry %+v", got[1])
	}
}
