package sim

// Cassy's restore, as scalar-labs/cassy v1.2.0 does it
// (src/main/java/com/scalar/cassy/server/CassyServerController.java
// restoreBackup, listRestoreStatuses; service/RestoreServiceMaster.java;
// placer/Placer.java; db/RestoreHistory.java):
//
//   - restore_type CLUSTER(1): the backup_history rows of snapshot_id are
//     read; none → the handler throws (IndexOutOfBounds: UNKNOWN); the oldest
//     one NODE_SNAPSHOT → INVALID_ARGUMENT "The specified backup is not a
//     cluster-wide backup.". Unknown cluster_id → NOT_FOUND.
//   - an unknown restore_type throws out of the handler (UNKNOWN).
//   - one restore_history row per target (the request's target_ips, else
//     the cluster's) with one created_at; INITIALIZED, then cassy-restore
//     runs on every node (download into the data dir's staging directory,
//     Files.move of every file into the live table directory), STARTED, and
//     COMPLETED or FAILED per node by cassy-restore's exit code. The
//     answer is STARTED whatever happened.
//   - Cassy checks nothing on the node: not that Cassandra is stopped, not
//     that the table directories are empty (the docs ask the operator).
//
// The simulated object storage is STATE/cassy-storage/<cluster>/<snapshot>/<ip>/.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"scalar-tui/ops/cassy"
)

const cassyNonClusterBackup = "The specified backup is not a cluster-wide backup."

func storageDir(dir, cluster, snapshot, ip string) string {
	return filepath.Join(dir, "cassy-storage", cluster, snapshot, ip)
}

// uploadSnapshot copies h's snapshot files of snapshotID into the storage.
func uploadSnapshot(dir, cluster, snapshotID string, h *Host) error {
	dst := storageDir(dir, cluster, snapshotID, h.IP)
	src := filepath.Join(h.DataRoot, "data")
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		parts := splitPath(rel)
		// ks/table-id/snapshots/<snapshotID>/file
		if d.IsDir() || len(parts) != 5 || parts[2] != "snapshots" || parts[3] != snapshotID {
			return nil
		}
		if parts[4] == "manifest.json" || parts[4] == "schema.cql" {
			return nil
		}
		to := filepath.Join(dst, parts[0], parts[1], parts[4])
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

func splitPath(p string) []string {
	var out []string
	for p != "." && p != "" && p != "/" {
		d, f := filepath.Split(p)
		out = append([]string{f}, out...)
		p = filepath.Clean(d)
		if d == "" {
			break
		}
	}
	return out
}

// placeRestore is cassy-restore on h: staging, then every file moved into
// the live table directory. It fails when the node has no backup in the
// storage.
func placeRestore(dir, cluster, snapshotID string, h *Host) error {
	src := storageDir(dir, cluster, snapshotID, h.IP)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("no backup of %s in the storage: %w", h.IP, err)
	}
	staging := filepath.Join(h.DataRoot, "data", "cluster-backup")
	if err := os.RemoveAll(staging); err != nil {
		return err
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		to := filepath.Join(staging, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		return err
	}
	err = filepath.WalkDir(staging, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(staging, p)
		to := filepath.Join(h.DataRoot, "data", rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		// Files.move without REPLACE_EXISTING: an existing file fails the node.
		if _, err := os.Lstat(to); err == nil {
			return fmt.Errorf("FileAlreadyExistsException: %s", to)
		}
		return os.Rename(p, to)
	})
	_ = os.RemoveAll(staging) // deleteStagingDirectories (finally)
	return err
}

// RestoreBackup implements rpc.Cassy like v1.2.0 (see the file comment).
func (s *CassyServer) RestoreBackup(ctx context.Context, req *cassy.RestoreRequest) (*cassy.RestoreResponse, error) {
	var out *cassy.RestoreResponse
	err := s.with(func(st *State, db *cassyDB, now time.Time) error {
		if req.GetRestoreType() == 1 {
			var rows []cassyBackup
			for _, b := range db.Backups {
				if b.SnapshotID == req.GetSnapshotId() {
					rows = append(rows, b)
				}
			}
			if len(rows) == 0 {
				return status.Error(codes.Unknown, "") // records.get(-1) throws
			}
			sort.SliceStable(rows, func(i, j int) bool { return rows[i].Created.After(rows[j].Created) })
			if rows[len(rows)-1].Type == cassy.BackupTypeNodeSnapshot {
				return status.Error(codes.InvalidArgument, cassyNonClusterBackup)
			}
		}
		var cluster *cassyCluster
		for i := range db.Clusters {
			if db.Clusters[i].ID == req.GetClusterId() {
				cluster = &db.Clusters[i]
			}
		}
		if cluster == nil {
			return status.Error(codes.NotFound, cassyClusterNotFound)
		}
		typ := req.GetRestoreType()
		if typ != 1 && typ != 2 {
			return status.Error(codes.Unknown, "") // RestoreType.getByType is null
		}
		targets := cluster.TargetIPs
		if len(req.GetTargetIps()) > 0 {
			targets = req.GetTargetIps()
		}
		created := now.Truncate(time.Millisecond)
		d := s.UploadDuration
		if d <= 0 {
			d = DefaultCassyUploadDuration
		}
		for _, ip := range targets {
			h := st.Host(ip)
			row := cassyBackup{ClusterID: cluster.ID, SnapshotID: req.GetSnapshotId(), TargetIP: ip, Type: typ, Created: created, Started: now, Duration: Duration(d)}
			switch {
			case h == nil || h.Down() || h.DataRoot == "":
				row.Fail = true // ssh to the node fails
			default:
				if err := placeRestore(s.dir, cluster.ID, req.GetSnapshotId(), h); err != nil {
					row.Fail = true
				}
				row.Duration = Duration(st.scale(h, d))
			}
			db.Restores = append(db.Restores, row)
		}
		out = &cassy.RestoreResponse{Status: cassy.OperationStatus_STARTED, ClusterId: cluster.ID, TargetIps: targets,
			SnapshotId: req.GetSnapshotId(), RestoreType: typ, SnapshotOnly: req.GetSnapshotOnly()}
		return nil
	})
	return out, err
}

// ListRestoreStatuses implements rpc.Cassy like RestoreHistory.selectRecent:
// cluster_id and target_ip, else snapshot_id, else cluster_id; none is
// INVALID_ARGUMENT without a description. Newest first; limit 0 means all.
func (s *CassyServer) ListRestoreStatuses(ctx context.Context, req *cassy.RestoreStatusListingRequest) (*cassy.RestoreStatusListingResponse, error) {
	out := &cassy.RestoreStatusListingResponse{ClusterId: req.GetClusterId()}
	err := s.with(func(st *State, db *cassyDB, now time.Time) error {
		var match func(b cassyBackup) bool
		switch {
		case req.GetClusterId() != "" && req.GetTargetIp() != "":
			match = func(b cassyBackup) bool { return b.ClusterID == req.GetClusterId() && b.TargetIP == req.GetTargetIp() }
		case req.GetSnapshotId() != "":
			match = func(b cassyBackup) bool { return b.SnapshotID == req.GetSnapshotId() }
		case req.GetClusterId() != "":
			match = func(b cassyBackup) bool { return b.ClusterID == req.GetClusterId() }
		default:
			return status.Error(codes.InvalidArgument, "")
		}
		var rows []cassyBackup
		for _, b := range db.Restores {
			if match(b) {
				rows = append(rows, b)
			}
		}
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Created.After(rows[j].Created) })
		for _, b := range rows {
			stt, upd := b.status(now)
			out.Entries = append(out.Entries, &cassy.RestoreStatusListingResponse_Entry{TargetIp: b.TargetIP, SnapshotId: b.SnapshotID,
				CreatedAt: ms(b.Created), UpdatedAt: ms(upd), RestoreType: b.Type, Status: stt})
			if l := int(req.GetLimit()); l > 0 && len(out.Entries) >= l {
				break
			}
		}
		return nil
	})
	return out, err
}
