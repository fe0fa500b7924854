package backend

import (
	"context"
	"testing"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/tui/vm"

	"scalar-tui/internal/demo"
)

// A snapshot taken on two of the three demo nodes lists as partial, with a
// size for each node that has it and none for the one that does not.
func TestBackendBackupsOnDemo(t *testing.T) {
	b, _ := newDemoBackend(t, demo.PromOptions{Disabled: true})
	ctx := context.Background()
	inv, client, err := b.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ring := inv.ByRole(inventory.RoleCassandra)
	if len(ring) < 3 {
		t.Fatalf("demo has %d Cassandra nodes", len(ring))
	}
	for _, h := range ring[:2] {
		r, err := client.Run(ctx, h.Name, "nodetool snapshot -t console-t1 scalar", sshx.RunOptions{})
		if err != nil || r.ExitCode != 0 {
			t.Fatalf("snapshot on %s: %v exit %d", h.Short, err, r.ExitCode)
		}
	}
	var lister vm.BackupLister = b
	v, err := lister.Backups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Deployment == "" || v.Deployment != inv.NetworkName {
		t.Errorf("deployment %q, want %q", v.Deployment, inv.NetworkName)
	}
	var got *vm.BackupView
	for i := range v.Backups {
		if v.Backups[i].Tag == "console-t1" {
			got = &v.Backups[i]
		}
	}
	if got == nil {
		t.Fatalf("console-t1 not listed: %+v", v.Backups)
	}
	if got.Complete() || len(got.Nodes) != 2 || len(got.Missing) != 1 || got.Missing[0] != ring[2].Short || got.Route != "nodetool" {
		t.Errorf("completeness: %+v", *got)
	}
	for _, h := range ring[:2] {
		if got.NodeBytes[h.Short] <= 0 {
			t.Errorf("no size for %s: %v", h.Short, got.NodeBytes)
		}
	}
	if _, ok := got.NodeBytes[ring[2].Short]; ok {
		t.Errorf("size for %s, which has no snapshot: %v", ring[2].Short, got.NodeBytes)
	}
	if got.Bytes <= 0 {
		t.Errorf("total size %v", got.Bytes)
	}
}
