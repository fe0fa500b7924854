package sim

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"scalar-tui/ops/cassy"
)

// cassyClient serves rpc.Cassy on an in-memory listener and returns a client.
func cassyClient(t *testing.T, dir string, upload time.Duration) cassy.CassyClient {
	t.Helper()
	l := NewConnListener("10.42.2.20:20051")
	s := grpc.NewServer()
	cs := NewCassyServer(dir)
	cs.UploadDuration = upload
	cassy.RegisterCassyServer(s, cs)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient("passthrough:///cassy-1:20051", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return l.Dial() }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cassy.NewCassyClient(cc)
}

func TestCassyRegisterTakeList(t *testing.T) {
	dir := newCluster(t)
	if err := SetConfig(dir, func(c *Config) { c.PauseDrain = 0 }); err != nil {
		t.Fatal(err)
	}
	c := cassyClient(t, dir, 800*time.Millisecond)
	ctx := context.Background()
	if r, err := c.ListClusters(ctx, &cassy.ClusterListingRequest{}); err != nil || len(r.GetEntries()) != 0 {
		t.Fatalf("fresh Cassy lists %v %v", r, err)
	}
	reg, err := c.RegisterCluster(ctx, &cassy.ClusterRegistrationRequest{CassandraHost: cass1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(reg.GetClusterId(), "ScalarDL-") || len(reg.GetTargetIps()) != 3 || reg.GetDataDir() != "/data" {
		t.Fatalf("registration %v", reg)
	}
	id, err := RegisterCassyCluster(dir, "")
	if err != nil || id != reg.GetClusterId() {
		t.Fatalf("RegisterCassyCluster is not idempotent: %q %v", id, err)
	}
	if err := InjectFault(dir, cass2, FaultDiskFull, ""); err != nil {
		t.Fatal(err)
	}
	r, err := c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: id, BackupType: cassy.BackupTypeClusterSnapshot})
	if err != nil {
		t.Fatal(err)
	}
	snap := r.GetSnapshotId()
	if r.GetStatus() != cassy.OperationStatus_STARTED || len(snap) != 36 {
		t.Fatalf("TakeBackup %v", r)
	}
	if _, err := c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: id, SnapshotId: snap, BackupType: 1}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("TakeBackup with a snapshot_id: %v", err)
	}
	statuses := func() map[string]cassy.OperationStatus {
		l, err := c.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: id, SnapshotId: snap})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]cassy.OperationStatus{}
		for _, e := range l.GetEntries() {
			out[e.GetTargetIp()] = e.GetStatus()
		}
		return out
	}
	// Cassy sets the rows STARTED before it answers.
	if s := statuses(); len(s) != 3 || s["10.42.2.10"] != cassy.OperationStatus_STARTED {
		t.Errorf("at once: %v", s)
	}
	time.Sleep(500 * time.Millisecond)
	if s := statuses(); s["10.42.2.10"] != cassy.OperationStatus_STARTED || s["10.42.2.11"] != cassy.OperationStatus_FAILED {
		t.Errorf("half way: %v", s)
	}
	time.Sleep(450 * time.Millisecond)
	if s := statuses(); s["10.42.2.10"] != cassy.OperationStatus_COMPLETED || s["10.42.2.12"] != cassy.OperationStatus_COMPLETED || s["10.42.2.11"] != cassy.OperationStatus_FAILED {
		t.Errorf("at the end: %v", s)
	}
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.HostsByRole(RoleCassandra) {
		n := 0
		for _, s := range h.Cassandra.Snapshots {
			if s.Tag == snap {
				n++
			}
		}
		if want := map[bool]int{true: 0, false: 7}[h.HasFault(FaultDiskFull)]; n != want {
			t.Errorf("%s has %d tables in snapshot %s, want %d", h.Short, n, snap, want)
		}
	}
	for _, h := range st.HostsByRole("scalardl") {
		if h.Paused {
			t.Errorf("%s left paused", h.Short)
		}
	}
}

// Cassy v1.0.0 to v1.2.0 answer STARTED when the pause fails, set the rows
// FAILED, and leave the nodes that did pause paused (no finally).
func TestCassyPauseRefusedAndDown(t *testing.T) {
	dir := newCluster(t)
	c := cassyClient(t, dir, time.Second)
	ctx := context.Background()
	id, err := RegisterCassyCluster(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := InjectFault(dir, sdl1, FaultPauseRefused, ""); err != nil {
		t.Fatal(err)
	}
	r, err := c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: id, BackupType: 1})
	if err != nil || r.GetStatus() != cassy.OperationStatus_STARTED || r.GetSnapshotId() == "" {
		t.Fatalf("TakeBackup with pause-refused: %v %v, want STARTED as v1.2.0 answers", r, err)
	}
	l, err := c.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: id})
	if err != nil || len(l.GetEntries()) != 3 {
		t.Fatalf("backups after a refused pause: %v %v", l, err)
	}
	for _, e := range l.GetEntries() {
		if e.GetStatus() != cassy.OperationStatus_FAILED || e.GetSnapshotId() != r.GetSnapshotId() {
			t.Errorf("row %v, want FAILED", e)
		}
	}
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paused []string
	for _, h := range st.HostsByRole("scalardl") {
		if h.Paused {
			paused = append(paused, h.Short)
		}
		if h.Name == sdl1 && h.Paused {
			t.Errorf("%s paused although it refused", h.Short)
		}
	}
	if len(paused) != 2 {
		t.Errorf("paused after the failed TakeBackup: %v, want the 2 nodes that did pause", paused)
	}
	for _, h := range st.HostsByRole(RoleCassandra) {
		for _, s := range h.Cassandra.Snapshots {
			if s.Tag == r.GetSnapshotId() {
				t.Errorf("%s has a snapshot although the pause failed", h.Short)
			}
		}
	}
	if err := InjectFault(dir, "cassy-1", FaultNodeDown, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListClusters(ctx, &cassy.ClusterListingRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("ListClusters with cassy-1 down: %v", err)
	}
}

// The refusals of CassyServerController v1.0.0 to v1.2.0, with their codes
// and messages; none records a row or pauses anything.
func TestCassyTakeBackupRefusals(t *testing.T) {
	dir := newCluster(t)
	c := cassyClient(t, dir, time.Second)
	ctx := context.Background()
	id, err := RegisterCassyCluster(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	uuid := "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	for _, tc := range []struct {
		name string
		req  *cassy.BackupRequest
		down bool
		code codes.Code
		msg  string
	}{
		{"cluster snapshot with snapshot_id", &cassy.BackupRequest{ClusterId: id, SnapshotId: uuid, BackupType: 1}, false, codes.InvalidArgument, "snapshot_id must be empty when taking snapshots."},
		{"node snapshot with snapshot_id", &cassy.BackupRequest{ClusterId: id, SnapshotId: uuid, BackupType: 2}, false, codes.InvalidArgument, "snapshot_id must be empty when taking snapshots."},
		{"incremental without snapshot_id", &cassy.BackupRequest{ClusterId: id, BackupType: 3}, false, codes.InvalidArgument, "snapshot_id must be specified when taking incremental backups."},
		{"snapshot_id checked before the cluster", &cassy.BackupRequest{ClusterId: "nope", SnapshotId: uuid, BackupType: 1}, false, codes.InvalidArgument, "snapshot_id must be empty when taking snapshots."},
		{"unknown cluster", &cassy.BackupRequest{ClusterId: "nope", BackupType: 1}, false, codes.NotFound, "The specified cluster cannot be found."},
		{"a node down", &cassy.BackupRequest{ClusterId: id, BackupType: 1}, true, codes.Unavailable, "All the required nodes are not available."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.down {
				if err := InjectFault(dir, cass2, FaultCassandraStopped, ""); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = ClearFault(dir, cass2, FaultCassandraStopped) }()
			}
			_, err := c.TakeBackup(ctx, tc.req)
			if s, _ := status.FromError(err); s.Code() != tc.code || s.Message() != tc.msg {
				t.Fatalf("TakeBackup: %v, want %s %q", err, tc.code, tc.msg)
			}
			l, err := c.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: id})
			if err != nil || len(l.GetEntries()) != 0 {
				t.Errorf("rows after a refusal: %v %v", l, err)
			}
			st, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range st.HostsByRole("scalardl") {
				if h.Paused {
					t.Errorf("%s paused by a refused TakeBackup", h.Short)
				}
			}
		})
	}
}

// ListBackups selects like BackupHistory.selectRecentSnapshots.
func TestCassyListBackupsSelection(t *testing.T) {
	dir := newCluster(t)
	if err := SetConfig(dir, func(c *Config) { c.PauseDrain = 0 }); err != nil {
		t.Fatal(err)
	}
	c := cassyClient(t, dir, time.Millisecond)
	ctx := context.Background()
	id, err := RegisterCassyCluster(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: id, BackupType: 1})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // distinct created_at (milliseconds)
	r2, err := c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: id, BackupType: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r1.GetSnapshotId() == r2.GetSnapshotId() {
		t.Fatal("Cassy reused a snapshot_id")
	}
	all, err := c.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: id})
	if err != nil || len(all.GetEntries()) != 6 || all.GetEntries()[0].GetSnapshotId() != r2.GetSnapshotId() {
		t.Fatalf("by cluster: %v %v, want 6 rows, newest first", all, err)
	}
	if l, err := c.ListBackups(ctx, &cassy.BackupListingRequest{SnapshotId: r1.GetSnapshotId()}); err != nil || len(l.GetEntries()) != 3 {
		t.Errorf("by snapshot_id alone: %v %v", l, err)
	}
	if l, err := c.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: "other", SnapshotId: r1.GetSnapshotId()}); err != nil || len(l.GetEntries()) != 3 {
		t.Errorf("snapshot_id wins over cluster_id: %v %v", l, err)
	}
	if l, err := c.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: id, TargetIp: "10.42.2.10", SnapshotId: r1.GetSnapshotId()}); err != nil || len(l.GetEntries()) != 2 {
		t.Errorf("cluster_id+target_ip ignore snapshot_id: %v %v", l, err)
	}
	if l, err := c.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: id, Limit: 1}); err != nil || len(l.GetEntries()) != 1 {
		t.Errorf("limit 1: %v %v", l, err)
	}
	if _, err := c.ListBackups(ctx, &cassy.BackupListingRequest{}); status.Code(err) != codes.Internal {
		t.Errorf("no selector: %v, want INTERNAL", err)
	}
}
