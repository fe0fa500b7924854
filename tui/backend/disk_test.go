package backend

import (
	"context"
	"strings"
	"testing"

	"scalar-tui/internal/demo"
	"scalar-tui/ops/sshx"
)

// DiskUsage lists, through the demo's bastion, what free-disk can clear on
// a Cassandra node: the snapshot taken on that node alone, with its size
// and completeness, and the volume's free space against the alert's rule.
func TestDiskUsageOnDemo(t *testing.T) {
	b, _ := newDemoBackendWith(t, demo.Options{Prom: demo.PromOptions{Disabled: true}, Fault: "cassandra-1:disk-full"})
	ctx := context.Background()
	inv, cl, err := b.session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := inv.Find("cassandra-2")
	if r, err := cl.Run(ctx, c2.Name, "nodetool snapshot -t old-1 scalar", sshx.RunOptions{}); err != nil || r.ExitCode != 0 {
		t.Fatalf("nodetool snapshot: %+v %v", r, err)
	}
	u, err := b.DiskUsage(ctx, "cassandra-2")
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "cassandra-2" || u.ThresholdPercent != 25 || u.FreePercent <= 25 || len(u.Items) != 1 {
		t.Fatalf("usage %+v", u)
	}
	it := u.Items[0]
	if it.Option != "snapshot" || it.Value != "old-1" || it.Bytes <= 0 || it.Protected || !strings.Contains(it.Detail, "on 1/3 nodes") {
		t.Errorf("item %+v", it)
	}
	if u, err := b.DiskUsage(ctx, "cassandra-1"); err != nil || u.FreePercent >= 25 || len(u.Items) != 0 {
		t.Errorf("the full node: %+v %v", u, err)
	}
	if _, err := b.DiskUsage(ctx, "envoy-1"); err == nil || !strings.Contains(err.Error(), "not a Cassandra node") {
		t.Errorf("envoy-1: %v", err)
	}
}
