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
	if _, err := c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: id, SnapshotId: snap, BackupType: 1}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("second TakeBackup with the same snapshot_id: %v", err)
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
	if s := statuses(); len(s) != 3 || s["10.42.2.10"] != cassy.OperationStatus_INITIALIZED {
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
	_, err = c.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: id, BackupType: 1})
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "PauseException") {
		t.Fatalf("TakeBackup with pause-refused: %v", err)
	}
	if l, err := c.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: id}); err != nil || len(l.GetEntries()) != 0 {
		t.Errorf("backups after a refused pause: %v %v", l, err)
	}
	if err := InjectFault(dir, "cassy-1", FaultNodeDown, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListClusters(ctx, &cassy.ClusterListingRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("ListClusters with cassy-1 down: %v", err)
	}
}
