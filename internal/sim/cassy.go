package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"scalar-tui/ops/cassy"
)

// PortCassy is Cassy's gRPC port on the cassy host (rpc.Cassy).
const PortCassy = 20051

// cassyFile holds Cassy's metadata (its SQLite cassy.db: cluster_info and
// backup_history) next to the model. It is read and written only under the
// model's exclusive lock (inside Update).
const cassyFile = "cassy.json"

// DefaultCassyUploadDuration is how long a simulated backup's upload takes
// per node (INITIALIZED for the first quarter, then STARTED, then COMPLETED).
const DefaultCassyUploadDuration = 2 * time.Second

type cassyDB struct {
	Clusters []cassyCluster `json:"clusters,omitempty"`
	Backups  []cassyBackup  `json:"backups,omitempty"`
	Restores []cassyBackup  `json:"restores,omitempty"` // restore_history rows (Type is restore_type)
}

type cassyCluster struct {
	ID        string    `json:"cluster_id"`
	Name      string    `json:"cluster_name"`
	TargetIPs []string  `json:"target_ips"`
	Keyspaces []string  `json:"keyspaces"`
	DataDir   string    `json:"data_dir"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// cassyBackup is one backup_history row: one node of one snapshot.
type cassyBackup struct {
	ClusterID  string    `json:"cluster_id"`
	SnapshotID string    `json:"snapshot_id"`
	TargetIP   string    `json:"target_ip"`
	Type       uint32    `json:"backup_type"`
	Created    time.Time `json:"created"`
	Duration   Duration  `json:"duration"`
	// Fail makes the node FAILED half way through (disk-full, node down).
	Fail bool `json:"fail,omitempty"`
	// Pending rows are INITIALIZED: TakeBackup has not finished with them.
	Pending bool `json:"pending,omitempty"`
	// Aborted rows were set FAILED by TakeBackup itself (a failed pause or
	// unpause), at Started.
	Aborted bool `json:"aborted,omitempty"`
	// Started is when TakeBackup set the row STARTED (or FAILED); the upload
	// runs from there. Zero in files written before it existed: Created.
	Started time.Time `json:"started,omitempty"`
}

// status is the row's status at now: INITIALIZED while TakeBackup runs,
// FAILED at once when TakeBackup failed, else STARTED during the upload
// (Duration from Started) and then COMPLETED, or FAILED half way (Fail).
func (b cassyBackup) status(now time.Time) (cassy.OperationStatus, time.Time) {
	start := b.Started
	if start.IsZero() {
		start = b.Created
	}
	d := b.Duration.D()
	el := now.Sub(start)
	switch {
	case b.Pending:
		return cassy.OperationStatus_INITIALIZED, b.Created
	case b.Aborted:
		return cassy.OperationStatus_FAILED, start
	case b.Fail && el >= d/2:
		return cassy.OperationStatus_FAILED, start.Add(d / 2)
	case el < d:
		return cassy.OperationStatus_STARTED, start
	case b.Fail:
		return cassy.OperationStatus_FAILED, start.Add(d / 2)
	}
	return cassy.OperationStatus_COMPLETED, start.Add(d)
}

func loadCassy(dir string) (*cassyDB, error) {
	b, err := os.ReadFile(filepath.Join(dir, cassyFile))
	if errors.Is(err, os.ErrNotExist) {
		return &cassyDB{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sim cassy: %w", err)
	}
	var db cassyDB
	if err := json.Unmarshal(b, &db); err != nil {
		return nil, fmt.Errorf("sim cassy %s: %w", filepath.Join(dir, cassyFile), err)
	}
	return &db, nil
}

func saveCassy(dir string, db *cassyDB) error {
	b, err := json.MarshalIndent(db, "", "  ")
	if err != nil {
		return fmt.Errorf("sim cassy: %w", err)
	}
	tmp := filepath.Join(dir, ".cassy.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("sim cassy: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, cassyFile)); err != nil {
		return fmt.Errorf("sim cassy: %w", err)
	}
	return nil
}

// updateCassy runs fn on the model and Cassy's metadata under the model's
// exclusive lock and saves both when fn returns nil.
func updateCassy(dir string, fn func(st *State, db *cassyDB) error) error {
	return Update(dir, func(st *State) error {
		db, err := loadCassy(dir)
		if err != nil {
			return err
		}
		if err := fn(st, db); err != nil {
			return err
		}
		return saveCassy(dir, db)
	})
}

// CassyServer implements rpc.Cassy (scalar-labs/cassy) over the model:
// clusters and backups are kept in cassy.json next to the model; TakeBackup
// pauses every Scalar DL host (the pause-refused fault makes it fail like
// Cassy's PauseException), takes a snapshot tagged snapshot_id of the
// cluster's keyspaces on every Cassandra node and unpauses; the per-node
// upload then advances INITIALIZED → STARTED → COMPLETED over
// UploadDuration (scaled by the slow fault). A node with the disk-full fault,
// or down, gets no snapshot and ends FAILED. RestoreBackup and
// ListRestoreStatuses follow v1.2.0 (cassy_restore.go).
type CassyServer struct {
	cassy.UnimplementedCassyServer
	dir string
	// UploadDuration is how long each node's upload takes (default
	// DefaultCassyUploadDuration).
	UploadDuration time.Duration
	// now is the clock (tests).
	now func() time.Time
}

// NewCassyServer returns the rpc.Cassy implementation over the model in dir.
// No cluster is registered until RegisterCluster (or RegisterCassyCluster).
func NewCassyServer(dir string) *CassyServer {
	return &CassyServer{dir: dir, UploadDuration: DefaultCassyUploadDuration, now: time.Now}
}

// NewCassyGRPCServer returns a grpc.Server with rpc.Cassy registered.
func NewCassyGRPCServer(dir string) *grpc.Server {
	s := grpc.NewServer()
	cassy.RegisterCassyServer(s, NewCassyServer(dir))
	return s
}

// RegisterCassyCluster registers the cluster of cassandraHost ("" = the
// first Cassandra host that is up) as an operator would once with grpcurl, and returns
// its cluster_id. It is idempotent: a registered cluster with the same
// target IPs is returned as is. The demo calls it at start.
func RegisterCassyCluster(dir, cassandraHost string) (string, error) {
	var id string
	err := updateCassy(dir, func(st *State, db *cassyDB) error {
		c, err := registerCluster(st, db, cassandraHost, time.Now().UTC())
		if err != nil {
			return err
		}
		id = c.ID
		return nil
	})
	return id, err
}

func registerCluster(st *State, db *cassyDB, cassandraHost string, now time.Time) (*cassyCluster, error) {
	ring := st.HostsByRole(RoleCassandra)
	if len(ring) == 0 {
		return nil, status.Error(codes.FailedPrecondition, "no Cassandra node in the model")
	}
	h := ring[0]
	for _, r := range ring {
		if st.CassandraUp(r, now) {
			h = r
			break
		}
	}
	if cassandraHost != "" {
		h = st.Host(cassandraHost)
		if h == nil || h.Role != RoleCassandra {
			return nil, status.Errorf(codes.Internal, "java.io.IOException: Failed to retrieve RMIServer stub: %s:7199: connection refused", cassandraHost)
		}
	}
	if !st.CassandraUp(h, now) {
		return nil, status.Errorf(codes.Internal, "java.io.IOException: Failed to retrieve RMIServer stub: %s:7199: connection refused", h.IP)
	}
	var ips []string
	for _, r := range ring {
		ips = append(ips, r.IP)
	}
	sort.Slice(ips, func(i, j int) bool { return ipLess(ips[i], ips[j]) })
	for i := range db.Clusters {
		if strings.Join(db.Clusters[i].TargetIPs, ",") == strings.Join(ips, ",") {
			db.Clusters[i].Updated = now
			return &db.Clusters[i], nil
		}
	}
	name := st.Config.ClusterName
	if name == "" {
		name = "ScalarDL"
	}
	kss := append([]string(nil), st.Config.Keyspaces...)
	if len(kss) == 0 {
		kss = []string{"coordinator", "scalar"}
	}
	sort.Strings(kss)
	c := cassyCluster{ID: name + "-" + uuidFrom(fmt.Sprintf("cassy/%s/%d", name, now.UnixNano())), Name: name,
		TargetIPs: ips, Keyspaces: kss, DataDir: "/data", Created: now, Updated: now}
	db.Clusters = append(db.Clusters, c)
	return &db.Clusters[len(db.Clusters)-1], nil
}

var errCassyDown = errors.New("cassy down")

// with runs fn under the lock after checking that Cassy's host and container
// are up, and maps errors to gRPC status codes.
func (s *CassyServer) with(fn func(st *State, db *cassyDB, now time.Time) error) error {
	clock := s.now
	if clock == nil {
		clock = time.Now
	}
	now := clock().UTC()
	err := updateCassy(s.dir, func(st *State, db *cassyDB) error {
		hs := st.HostsByRole(RoleCassy)
		if len(hs) == 0 || hs[0].Down() {
			return errCassyDown
		}
		if c := hs[0].Container("provision_cassy_1"); c != nil && !c.Running {
			return errCassyDown
		}
		return fn(st, db, now)
	})
	if errors.Is(err, errCassyDown) {
		return status.Error(codes.Unavailable, "connection refused")
	}
	if _, ok := status.FromError(err); ok || err == nil {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

func ms(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMilli())
}

// RegisterCluster implements rpc.Cassy.
func (s *CassyServer) RegisterCluster(ctx context.Context, req *cassy.ClusterRegistrationRequest) (*cassy.ClusterRegistrationResponse, error) {
	var out *cassy.ClusterRegistrationResponse
	err := s.with(func(st *State, db *cassyDB, now time.Time) error {
		if req.GetCassandraHost() == "" {
			return status.Error(codes.InvalidArgument, "cassandra_host is required")
		}
		c, err := registerCluster(st, db, req.GetCassandraHost(), now)
		if err != nil {
			return err
		}
		out = &cassy.ClusterRegistrationResponse{ClusterId: c.ID, ClusterName: c.Name, TargetIps: c.TargetIPs, Keyspaces: c.Keyspaces, DataDir: c.DataDir}
		return nil
	})
	return out, err
}

// ListClusters implements rpc.Cassy.
func (s *CassyServer) ListClusters(ctx context.Context, req *cassy.ClusterListingRequest) (*cassy.ClusterListingResponse, error) {
	out := &cassy.ClusterListingResponse{}
	err := s.with(func(st *State, db *cassyDB, now time.Time) error {
		for i := len(db.Clusters) - 1; i >= 0; i-- {
			c := db.Clusters[i]
			if req.GetClusterId() != "" && c.ID != req.GetClusterId() {
				continue
			}
			out.Entries = append(out.Entries, &cassy.ClusterListingResponse_Entry{ClusterId: c.ID, ClusterName: c.Name,
				TargetIps: c.TargetIPs, Keyspaces: c.Keyspaces, DataDir: c.DataDir, CreatedAt: ms(c.Created), UpdatedAt: ms(c.Updated)})
			if l := int(req.GetLimit()); l > 0 && len(out.Entries) >= l {
				break
			}
		}
		return nil
	})
	return out, err
}

// Messages and codes of Cassy's CassyServerController (v1.0.0 to v1.2.0),
// see docs/domain-notes.md.
const (
	cassyNoSnapshotID       = "snapshot_id must be specified when taking incremental backups."
	cassyNonEmptySnapshotID = "snapshot_id must be empty when taking snapshots."
	cassyClusterNotFound    = "The specified cluster cannot be found."
	cassyNodesUnavailable   = "All the required nodes are not available."
)

// ListBackups implements rpc.Cassy like BackupHistory.selectRecentSnapshots:
// by cluster_id and target_ip when both are set, else by snapshot_id alone
// (cluster_id ignored), else by cluster_id; newest created_at first; limit 0
// means all. A request with none of them fails INTERNAL without a
// description (the IllegalArgumentException is attached as the cause only).
func (s *CassyServer) ListBackups(ctx context.Context, req *cassy.BackupListingRequest) (*cassy.BackupListingResponse, error) {
	out := &cassy.BackupListingResponse{}
	err := s.with(func(st *State, db *cassyDB, now time.Time) error {
		var match func(b cassyBackup) bool
		switch {
		case req.GetTargetIp() != "" && req.GetClusterId() != "":
			match = func(b cassyBackup) bool { return b.ClusterID == req.GetClusterId() && b.TargetIP == req.GetTargetIp() }
		case req.GetSnapshotId() != "":
			match = func(b cassyBackup) bool { return b.SnapshotID == req.GetSnapshotId() }
		case req.GetClusterId() != "":
			match = func(b cassyBackup) bool { return b.ClusterID == req.GetClusterId() }
		default:
			return status.Error(codes.Internal, "")
		}
		rows := make([]cassyBackup, 0, len(db.Backups))
		for i := len(db.Backups) - 1; i >= 0; i-- {
			if match(db.Backups[i]) {
				rows = append(rows, db.Backups[i])
			}
		}
		sort.SliceStable(rows, func(i, j int) bool { return ms(rows[i].Created) > ms(rows[j].Created) })
		for _, b := range rows {
			stt, upd := b.status(now)
			out.Entries = append(out.Entries, &cassy.BackupListingResponse_Entry{ClusterId: b.ClusterID, TargetIp: b.TargetIP,
				SnapshotId: b.SnapshotID, CreatedAt: ms(b.Created), UpdatedAt: ms(upd), BackupType: b.Type, Status: stt})
			if l := int(req.GetLimit()); l > 0 && len(out.Entries) >= l {
				break
			}
		}
		return nil
	})
	return out, err
}

// TakeBackup implements rpc.Cassy as CassyServerController.takeBackup of
// v1.0.0 to v1.2.0 does:
//   - INVALID_ARGUMENT when snapshot_id is set for CLUSTER_SNAPSHOT or
//     NODE_SNAPSHOT (Cassy makes the id itself, a random UUID) or missing
//     for NODE_INCREMENTAL; NOT_FOUND for an unknown cluster; UNAVAILABLE
//     when a target is not live (no description when the first target's JMX
//     cannot be reached at all). Nothing is recorded or paused then.
//   - Otherwise one backup_history row per target, INITIALIZED; for a
//     cluster snapshot it pauses every Scalar DL node (the SRV targets), then
//     on every target clears every snapshot of the cluster's keyspaces and
//     takes one tagged with the new snapshot_id, then unpauses. There is no
//     finally: a failed pause (pause-refused, a node down) leaves the nodes
//     that did pause paused, and the rows become FAILED. A snapshot that
//     fails on one node is not noticed (Cassy ignores the task's result):
//     that node's upload ends FAILED instead.
//   - The answer is STARTED with the snapshot_id and created_at, even when
//     the rows are FAILED.
func (s *CassyServer) TakeBackup(ctx context.Context, req *cassy.BackupRequest) (*cassy.BackupResponse, error) {
	typ := req.GetBackupType()
	switch {
	case req.GetSnapshotId() == "" && typ == cassy.BackupTypeNodeIncremental:
		return nil, status.Error(codes.InvalidArgument, cassyNoSnapshotID)
	case req.GetSnapshotId() != "" && typ != cassy.BackupTypeNodeIncremental:
		return nil, status.Error(codes.InvalidArgument, cassyNonEmptySnapshotID)
	}
	snapshotID := req.GetSnapshotId()
	var (
		cluster cassyCluster
		targets []string
		created time.Time
		failed  bool
		drain   time.Duration
	)
	// 1. validate, record INITIALIZED rows, and pause every Scalar DL node
	// (GrpcApplicationPauseClient over the SRV record).
	err := s.with(func(st *State, db *cassyDB, now time.Time) error {
		found := false
		for _, c := range db.Clusters {
			if c.ID == req.GetClusterId() {
				cluster, found = c, true
			}
		}
		if !found {
			return status.Error(codes.NotFound, cassyClusterNotFound)
		}
		if len(cluster.TargetIPs) > 0 {
			if h := st.Host(cluster.TargetIPs[0]); h == nil || !st.CassandraUp(h, now) {
				return status.Error(codes.Unavailable, "")
			}
		}
		for _, ip := range cluster.TargetIPs {
			if h := st.Host(ip); h == nil || !st.CassandraUp(h, now) {
				return status.Error(codes.Unavailable, cassyNodesUnavailable)
			}
		}
		if typ < cassy.BackupTypeClusterSnapshot || typ > cassy.BackupTypeNodeIncremental {
			// BackupType.getByType is null: a NullPointerException escapes the handler.
			return status.Error(codes.Unknown, "")
		}
		if snapshotID == "" {
			snapshotID = uuidFrom(fmt.Sprintf("cassy-snapshot/%s/%d", cluster.ID, now.UnixNano()))
		}
		targets = cluster.TargetIPs
		if len(req.GetTargetIps()) > 0 {
			targets = req.GetTargetIps()
		}
		created = now.Truncate(time.Millisecond)
		d := s.UploadDuration
		if d <= 0 {
			d = DefaultCassyUploadDuration
		}
		for _, ip := range targets {
			dur := d
			if h := st.Host(ip); h != nil {
				dur = st.scale(h, d)
			}
			db.Backups = append(db.Backups, cassyBackup{ClusterID: cluster.ID, SnapshotID: snapshotID, TargetIP: ip, Type: typ,
				Created: created, Duration: Duration(dur), Pending: true})
		}
		if typ != cassy.BackupTypeClusterSnapshot {
			return nil
		}
		for _, h := range st.HostsByRole("scalardl") {
			ct := h.ScalarContainer()
			if h.HasFault(FaultPauseRefused) || h.Down() || ct == nil || !ct.Running || now.Before(ct.ReadyAt) {
				failed = true // PauseException; the others stay paused
				continue
			}
			h.Paused = true
		}
		drain = st.Config.PauseDrain.D()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !failed && drain > 0 && typ == cassy.BackupTypeClusterSnapshot {
		// Cassy's blocking stub has no deadline: it waits for the drain
		// whatever the caller does.
		time.Sleep(drain)
	}
	// 2. snapshot every node (clearSnapshot(null, keyspaces) first), 3.
	// unpause, 4. rows STARTED and the upload (async), or FAILED.
	err = s.with(func(st *State, db *cassyDB, now time.Time) error {
		if typ == cassy.BackupTypeClusterSnapshot {
			for _, h := range st.HostsByRole("scalardl") {
				if h.Paused {
					st.applyContainerRestart(h, now)
				}
			}
		}
		if !failed && typ != cassy.BackupTypeNodeIncremental {
			for _, ip := range targets {
				h := st.Host(ip)
				if h == nil || h.Cassandra == nil || !st.CassandraUp(h, now) || h.HasFault(FaultDiskFull) {
					continue // the snapshot task's exception is never looked at
				}
				kept := h.Cassandra.Snapshots[:0]
				for _, r := range h.Cassandra.Snapshots {
					if !contains(cluster.Keyspaces, r.Keyspace) {
						kept = append(kept, r)
					}
				}
				h.Cassandra.Snapshots = kept
				var sizes map[[2]string]float64
				if h.DataRoot != "" {
					// clearSnapshot(null, keyspaces), takeSnapshot, and the
					// upload's copy in the simulated object storage.
					if err := clearSnapshotFiles(h, "", cluster.Keyspaces); err != nil {
						return err
					}
					var err error
					if sizes, err = snapshotFiles(h, snapshotID, cluster.Keyspaces); err != nil {
						return err
					}
					if err := uploadSnapshot(s.dir, cluster.ID, snapshotID, h); err != nil {
						return err
					}
				}
				for _, ks := range cluster.Keyspaces {
					for i, t := range keyspaceTables[ks] {
						b := 4096 + float64(len(t)*1500+i*777)
						if sizes != nil {
							b = sizes[[2]string{ks, t}]
						}
						h.Cassandra.Snapshots = append(h.Cassandra.Snapshots, SnapshotRec{Tag: snapshotID, Keyspace: ks, Table: t,
							Bytes: b, Created: now})
					}
				}
			}
		}
		if !failed && typ == cassy.BackupTypeClusterSnapshot {
			for _, h := range st.HostsByRole("scalardl") {
				ct := h.ScalarContainer()
				if h.Down() || ct == nil || !ct.Running || now.Before(ct.ReadyAt) {
					failed = true // the unpause of this node fails: PauseException
					continue
				}
				h.Paused = false
			}
		}
		for i := range db.Backups {
			b := &db.Backups[i]
			if b.ClusterID != cluster.ID || b.SnapshotID != snapshotID || !b.Created.Equal(created) || !b.Pending {
				continue
			}
			b.Pending = false
			b.Aborted = failed
			b.Started = now
			if !failed {
				h := st.Host(b.TargetIP)
				b.Fail = h == nil || h.Cassandra == nil || !st.CassandraUp(h, now) || h.HasFault(FaultDiskFull)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &cassy.BackupResponse{Status: cassy.OperationStatus_STARTED, ClusterId: cluster.ID, TargetIps: targets,
		SnapshotId: snapshotID, CreatedAt: ms(created), BackupType: typ}, nil
}
