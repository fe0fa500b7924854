package sim

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"scalar-tui/ops/cassy"
)

// TestCassyRestoreFollowsV120 pins what Cassy v1.2.0's restoreBackup and
// listRestoreStatuses refuse and how they report.
func TestCassyRestoreFollowsV120(t *testing.T) {
	dir, roots := dataCluster(t)
	if err := SetConfig(dir, func(c *Config) { c.PauseDrain = 0 }); err != nil {
		t.Fatal(err)
	}
	c := cassyClient(t, dir, 100*time.Millisecond)
	ctx := context.Background()
	reg, err := c.RegisterCluster(ctx, &cassy.ClusterRegistrationRequest{CassandraHost: cass1})
	if err != nil {
		t.Fatal(err)
	}
	cid := reg.GetClusterId()
	code := func(err error) codes.Code { return status.Code(err) }

	// No backup with that id: records.get(size-1) throws (UNKNOWN).
	if _, err := c.RestoreBackup(ctx, &cassy.RestoreRequest{ClusterId: cid, SnapshotId: "nope", RestoreType: 1}); code(err) != codes.Unknown {
		t.Errorf("unknown snapshot: %v", err)
	}
	node, err := c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: cid, BackupType: cassy.BackupTypeNodeSnapshot})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RestoreBackup(ctx, &cassy.RestoreRequest{ClusterId: cid, SnapshotId: node.GetSnapshotId(), RestoreType: 1}); code(err) != codes.InvalidArgument ||
		status.Convert(err).Message() != "The specified backup is not a cluster-wide backup." {
		t.Errorf("node snapshot restored as a cluster: %v", err)
	}
	b, err := c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: cid, BackupType: cassy.BackupTypeClusterSnapshot})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RestoreBackup(ctx, &cassy.RestoreRequest{ClusterId: "nope", SnapshotId: b.GetSnapshotId(), RestoreType: 1}); code(err) != codes.NotFound {
		t.Errorf("unknown cluster: %v", err)
	}
	if _, err := c.RestoreBackup(ctx, &cassy.RestoreRequest{ClusterId: cid, SnapshotId: b.GetSnapshotId(), RestoreType: 7}); code(err) != codes.Unknown {
		t.Errorf("unknown restore type: %v", err)
	}
	if _, err := c.ListRestoreStatuses(ctx, &cassy.RestoreStatusListingRequest{}); code(err) != codes.InvalidArgument {
		t.Errorf("listing without a selector: %v", err)
	}
	// Onto the live directories, which still hold the very files: Cassy
	// checks nothing, answers STARTED, and cassy-restore fails on the nodes
	// with data files (Files.move without REPLACE_EXISTING); cassandra-3
	// has no data directory in this model and fails too.
	resp, err := c.RestoreBackup(ctx, &cassy.RestoreRequest{ClusterId: cid, SnapshotId: b.GetSnapshotId(), RestoreType: 1})
	if err != nil || resp.GetStatus() != cassy.OperationStatus_STARTED || len(resp.GetTargetIps()) != 3 {
		t.Fatalf("restore: %v %v", resp, err)
	}
	time.Sleep(300 * time.Millisecond)
	l, err := c.ListRestoreStatuses(ctx, &cassy.RestoreStatusListingRequest{SnapshotId: b.GetSnapshotId()})
	if err != nil || len(l.GetEntries()) != 3 {
		t.Fatalf("statuses: %v %v", l, err)
	}
	for _, e := range l.GetEntries() {
		if e.GetStatus() != cassy.OperationStatus_FAILED {
			t.Errorf("%s: %s, want FAILED", e.GetTargetIp(), e.GetStatus())
		}
	}
	// Stopped and emptied, as the docs ask: cassandra-1 is restored.
	run(t, dir, cass1, "systemctl", "stop", "cassandra")
	tds, _ := filepath.Glob(filepath.Join(roots[cass1], "data", "*", "*-*"))
	for _, td := range tds {
		if err := removeLive(td); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.RestoreBackup(ctx, &cassy.RestoreRequest{ClusterId: cid, SnapshotId: b.GetSnapshotId(), RestoreType: 2, TargetIps: []string{"10.42.2.10"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	l, err = c.ListRestoreStatuses(ctx, &cassy.RestoreStatusListingRequest{ClusterId: cid, TargetIp: "10.42.2.10", Limit: 1})
	if err != nil || len(l.GetEntries()) != 1 || l.GetEntries()[0].GetStatus() != cassy.OperationStatus_COMPLETED {
		t.Fatalf("node restore: %v %v", l, err)
	}
	if g := gens(t, dir, cass1, "scalar", "asset", ""); len(g) != 1 {
		t.Errorf("restored asset generations: %v", g)
	}
}
