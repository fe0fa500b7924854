package restore

// --via cassy: Cassy's RestoreBackup inside the console's own stop and start
// steps. What Cassy does and does not do (scalar-labs/cassy v1.2.0,
// CassyServerController.restoreBackup, RestoreServiceMaster, Placer; see
// docs/domain-notes.md):
//
//   - it checks only that the cluster exists and, for restore_type CLUSTER,
//     that the backup is not a NODE_SNAPSHOT; it does not stop Scalar DL or
//     Cassandra, nor check that the data directories are empty, which its
//     docs require ("there should be no data, commitlogs, hints in a node
//     that is being recovered, and the Cassandra daemon should be stopped");
//   - it answers STARTED even when it failed, and places the files
//     asynchronously (cassy-restore on every node, Files.move into the live
//     table directories without REPLACE_EXISTING): the outcome is only in
//     ListRestoreStatuses, per node;
//   - it starts nothing afterwards.
//
// So the console stops Scalar DL and Cassandra, moves the current data and
// commit log aside as on the nodetool route (the directories Cassy writes
// into are then empty), sends RestoreBackup once (journal marker
// MarkerCassySent first: a resumed run never sends it twice), polls
// ListRestoreStatuses until every node is COMPLETED, and then starts
// Cassandra and Scalar DL with the same gates.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"scalar-tui/inventory"
	"scalar-tui/ops/cassy"
	"scalar-tui/ops/workflow"
)

// Dialer opens a TCP connection to addr, normally through the bastion.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// CassyOptions tunes --via cassy.
type CassyOptions struct {
	// ClusterID is Cassy's cluster_id (default: the registered cluster
	// whose target_ips cover every Cassandra node).
	ClusterID string `json:"cluster_id,omitempty"`
	// Deadline bounds the wait for every node's restore (default 2 hours).
	Deadline time.Duration `json:"deadline,omitempty"`
	// PollInterval between ListRestoreStatuses calls (default 10 s).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
}

// MarkerCassySent is journalled just before RestoreBackup is sent: its
// value holds the send time and the cluster. A resumed run never sends
// RestoreBackup again; it polls the restore that was sent.
const MarkerCassySent = "restore-cassy-sent"

type cassySent struct {
	Sent    time.Time `json:"sent"`
	Cluster string    `json:"cluster"`
}

func (r *restorer) cassyClient() cassy.Client {
	return cassy.Client{Addr: r.inv.Endpoints.Cassy, Dial: cassy.Dialer(r.opts.Dial)}
}

func (r *restorer) ringIPs() []string {
	var ips []string
	for _, h := range r.c.ring {
		ips = append(ips, h.PrivateIP)
	}
	return ips
}

// cassyCluster resolves the cluster: the one named, or the one covering the ring.
func (r *restorer) cassyCluster(ctx context.Context) (*cassy.ClusterListingResponse_Entry, error) {
	cl := r.cassyClient()
	entries, err := cl.ListClusters(ctx, &cassy.ClusterListingRequest{ClusterId: r.opts.Cassy.ClusterID})
	if err != nil {
		return nil, err
	}
	if r.opts.Cassy.ClusterID != "" {
		for _, e := range entries {
			if e.GetClusterId() == r.opts.Cassy.ClusterID {
				return e, nil
			}
		}
		return nil, fmt.Errorf("Cassy has no cluster %s", r.opts.Cassy.ClusterID)
	}
	m, _ := cassy.MatchCluster(entries, r.ringIPs())
	if m == nil {
		return nil, fmt.Errorf("no Cassy cluster covers the Cassandra nodes %s (pass --cassy-cluster-id)", strings.Join(r.ringIPs(), ", "))
	}
	return m, nil
}

func (r *restorer) hostOfIP(ip string) string {
	for _, h := range r.c.ring {
		if h.PrivateIP == ip {
			return h.Short
		}
	}
	return ip
}

func (r *restorer) cassyPreflight() workflow.Check {
	id := r.opts.BackupID
	return workflow.Check{
		Name: "cassy-backup",
		Description: fmt.Sprintf("Cassy (%s) answers, a cluster covers the Cassandra nodes, and backup %s is a CLUSTER_SNAPSHOT COMPLETED on every node (rpc.Cassy/ListBackups)",
			r.inv.Endpoints.Cassy, id),
		Run: func(ctx context.Context, env *workflow.Env) error {
			if r.inv.Endpoints.Cassy == "" {
				return errors.New("the inventory has no Cassy host")
			}
			if r.opts.Dial == nil {
				return errors.New("no dialer for Cassy")
			}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			c, err := r.cassyCluster(cctx)
			if err != nil {
				return err
			}
			rows, err := r.cassyClient().ListBackups(cctx, &cassy.BackupListingRequest{SnapshotId: id})
			if err != nil {
				return err
			}
			got := map[string]*cassy.BackupListingResponse_Entry{}
			for _, b := range rows {
				if b.GetClusterId() != c.GetClusterId() {
					continue
				}
				if b.GetBackupType() != cassy.BackupTypeClusterSnapshot {
					return fmt.Errorf("Cassy backup %s is not a cluster snapshot (backup_type %d): it is not consistent across nodes", id, b.GetBackupType())
				}
				if _, ok := got[b.GetTargetIp()]; !ok {
					got[b.GetTargetIp()] = b
				}
			}
			var bad []string
			for _, ip := range c.GetTargetIps() {
				b, ok := got[ip]
				switch {
				case !ok:
					bad = append(bad, r.hostOfIP(ip)+" has none")
				case b.GetStatus() != cassy.OperationStatus_COMPLETED:
					bad = append(bad, fmt.Sprintf("%s is %s", r.hostOfIP(ip), b.GetStatus()))
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("Cassy backup %s of cluster %s is incomplete: %s", id, c.GetClusterId(), strings.Join(bad, "; "))
			}
			return nil
		},
	}
}

func (r *restorer) cassySteps() ([]workflow.Step, error) {
	if r.opts.Cassy.Deadline <= 0 {
		r.opts.Cassy.Deadline = 2 * time.Hour
	}
	if r.opts.Cassy.PollInterval <= 0 {
		r.opts.Cassy.PollInterval = 10 * time.Second
	}
	var steps []workflow.Step
	for _, h := range r.c.ring {
		h := h
		steps = append(steps, workflow.Step{
			ID:         h.Short + "/move-aside",
			Title:      fmt.Sprintf("move the current SSTables of %s and the commit log into %s (kept): Cassy needs empty table directories", strings.Join(r.opts.Keyspaces, ", "), RunDir(r.opts.DataDir, "<run>")),
			Host:       h.Name,
			Commands:   []string{r.moveScript(r.runDir("<run>"))},
			Timeout:    30 * time.Minute,
			Idempotent: true,
			Run: func(ctx context.Context, env *workflow.Env) error {
				if st := cassandraState(ctx, env, h); st == "active" {
					return fmt.Errorf("%s: Cassandra is running; its files are not touched while it runs", h.Short)
				}
				dir := r.runDir(env.RunID())
				if moved, _ := remoteExists(ctx, env, h, dir+"/.moved"); !moved {
					if err := r.checkSpace(ctx, env, h); err != nil {
						return err
					}
				}
				if err := env.Run(ctx, h.Name, r.moveScript(dir)); err != nil {
					return fmt.Errorf("moving %s's data aside stopped: %w; nothing was deleted: `scalar-tui resume %s --confirm-deployment %s` continues or `scalar-tui restore --undo %s` puts it back", h.Short, err, env.RunID(), r.inv.NetworkName, env.RunID())
				}
				return nil
			},
		})
	}
	steps = append(steps, workflow.Step{
		ID: "cassy-restore",
		Title: fmt.Sprintf("rpc.Cassy/RestoreBackup {snapshot_id %s, restore_type 1 (CLUSTER)} once (journal marker %s first), then poll ListRestoreStatuses until every node is COMPLETED (deadline %s)",
			r.opts.BackupID, MarkerCassySent, r.opts.Cassy.Deadline),
		Commands:   []string{fmt.Sprintf("rpc.Cassy/RestoreBackup {cluster_id, snapshot_id: %q, restore_type: 1} %s", r.opts.BackupID, r.inv.Endpoints.Cassy)},
		Timeout:    r.opts.Cassy.Deadline + time.Minute,
		Idempotent: true, // the marker keeps it from sending twice
		Run:        r.cassyRestore,
	})
	return steps, nil
}

func (r *restorer) cassyRestore(ctx context.Context, env *workflow.Env) error {
	cl := r.cassyClient()
	var sent cassySent
	if v, ok := env.Markers()[MarkerCassySent]; ok {
		if err := json.Unmarshal([]byte(v), &sent); err != nil {
			return fmt.Errorf("journal marker %s: %w", MarkerCassySent, err)
		}
		env.Notice("RestoreBackup was sent at " + sent.Sent.Format(time.RFC3339) + " by this run: polling it, not sending it again")
	} else {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := r.cassyCluster(cctx)
		cancel()
		if err != nil {
			return err
		}
		sent = cassySent{Sent: time.Now().UTC(), Cluster: c.GetClusterId()}
		b, _ := json.Marshal(sent)
		if err := env.SetMarker(MarkerCassySent, string(b)); err != nil {
			return fmt.Errorf("journal (nothing sent): %w", err)
		}
		cctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
		resp, err := cl.RestoreBackup(cctx, &cassy.RestoreRequest{ClusterId: sent.Cluster, SnapshotId: r.opts.BackupID, RestoreType: cassy.RestoreTypeCluster})
		cancel()
		if err != nil {
			switch status.Code(err) {
			case codes.InvalidArgument, codes.NotFound, codes.Unavailable:
				// Refused before anything was recorded: a resume may send again.
				_ = env.ClearMarker(MarkerCassySent)
				return fmt.Errorf("Cassy refused the restore: %w", err)
			}
			return fmt.Errorf("RestoreBackup: %w; Cassy may have started it: `scalar-tui resume %s --confirm-deployment %s` polls its status without sending it again", err, env.RunID(), r.inv.NetworkName)
		}
		env.Notice(fmt.Sprintf("Cassy answered %s for backup %s on %d node(s) (Cassy answers STARTED even when it failed: polling)", resp.GetStatus(), r.opts.BackupID, len(resp.GetTargetIps())))
	}
	deadline := time.Now().Add(r.opts.Cassy.Deadline)
	last := ""
	for {
		done, why, err := r.cassyProgress(ctx, cl, sent)
		if err != nil {
			return err
		}
		if done {
			break
		}
		if why != last {
			env.Notice(why)
			last = why
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Cassy's restore did not complete within %s: %s", r.opts.Cassy.Deadline, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while polling Cassy (%s): %w", why, ctx.Err())
		case <-time.After(r.opts.Cassy.PollInterval):
		}
	}
	for _, h := range r.c.ring {
		if err := env.Run(ctx, h.Name, ": > "+r.runDir(env.RunID())+"/.cassy-placed"); err != nil {
			return err
		}
	}
	return nil
}

// cassyProgress reads the restore rows of this run's RestoreBackup: those
// of the snapshot created since it was sent (5 minutes of clock skew allowed).
func (r *restorer) cassyProgress(ctx context.Context, cl cassy.Client, sent cassySent) (bool, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := cl.ListRestoreStatuses(cctx, &cassy.RestoreStatusListingRequest{SnapshotId: r.opts.BackupID})
	if err != nil {
		return false, "ListRestoreStatuses: " + err.Error(), nil // transient: keep polling
	}
	since := uint64(sent.Sent.Add(-5 * time.Minute).UnixMilli())
	var newest uint64
	for _, e := range rows {
		if e.GetCreatedAt() >= since && e.GetCreatedAt() > newest {
			newest = e.GetCreatedAt()
		}
	}
	if newest == 0 {
		return false, "Cassy lists no restore of " + r.opts.BackupID + " yet", nil
	}
	st := map[string]cassy.OperationStatus{}
	for _, e := range rows {
		if e.GetCreatedAt() == newest {
			st[e.GetTargetIp()] = e.GetStatus()
		}
	}
	var failed, pending []string
	for _, h := range r.c.ring {
		s, ok := st[h.PrivateIP]
		switch {
		case !ok:
			pending = append(pending, h.Short+" (no row)")
		case s == cassy.OperationStatus_FAILED:
			failed = append(failed, h.Short)
		case s != cassy.OperationStatus_COMPLETED:
			pending = append(pending, h.Short+" "+s.String())
		}
	}
	sort.Strings(failed)
	if len(failed) > 0 {
		return false, "", fmt.Errorf("Cassy's restore FAILED on %s (cassy-restore exited non-zero: its files may be partly placed); the data each node had is kept in %s: `scalar-tui restore --undo RUN` puts it back",
			strings.Join(failed, ", "), RunDir(r.opts.DataDir, "RUN"))
	}
	if len(pending) > 0 {
		return false, "waiting for Cassy: " + strings.Join(pending, ", "), nil
	}
	return true, "", nil
}

// cassyExpected is what the live tables must hold after a Cassy restore:
// the node's local snapshot of the backup when Cassy's next backup has not
// cleared it yet; nil when there is none to compare against.
func (r *restorer) cassyExpected(ctx context.Context, env *workflow.Env, h inventory.Host) (map[string]string, error) {
	out, err := execOut(ctx, env, h, r.listCommand(r.opts.BackupID))
	if err != nil {
		return nil, err
	}
	m := parseList(out)
	if len(m) == 0 {
		env.Notice(h.Short + ": no local snapshot " + r.opts.BackupID + " to compare the restored files with (Cassy cleared it): files not compared")
		return nil, nil
	}
	return m, nil
}
