package backup

// The --via cassy route (domain.md §4.2): Cassy on cassy-1:20051, reached
// through the bastion, pauses Scalar DL itself (over the SRV record), takes a
// JMX snapshot on every Cassandra node, unpauses, and uploads the snapshots
// asynchronously. The console therefore never pauses anything here: it asks
// Cassy for a CLUSTER_SNAPSHOT (TakeBackup backup_type 1) and polls
// ListBackups until every node of the snapshot is COMPLETED.
//
// The snapshot_id is chosen by the console before TakeBackup is sent (the
// --tag when it is a UUID, else a fresh random UUID, journalled in Params),
// and marker MarkerCassySnapshot is journalled before the call. A resumed run
// that finds the marker never sends TakeBackup again: it looks the snapshot
// up with ListBackups and continues polling.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"scalar-tui/inventory"
	"scalar-tui/ops/cassy"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/gates"
)

// MarkerCassySnapshot is journalled just before TakeBackup is sent: its value
// (JSON) names the cluster_id and snapshot_id, and whether Cassy confirmed the
// backup. It records a fact (a backup exists or may exist in Cassy), not a
// state to undo, so it has no compensation and stays set after the run.
const MarkerCassySnapshot = "backup-cassy-snapshot"

// CassyOptions tune the --via cassy route.
type CassyOptions struct {
	// Addr is Cassy's gRPC address (default inventory Endpoints.Cassy,
	// cassy-1.<domain>:20051).
	Addr string `json:"addr,omitempty"`
	// ClusterID selects the registered cluster; by default the one whose
	// target_ips cover every Cassandra node of the inventory.
	ClusterID string `json:"cluster_id,omitempty"`
	// Register registers the cluster (RegisterCluster with cassandra-1) when
	// none is registered, as a step of the plan. Without it the run is refused
	// with the grpcurl command to do it by hand.
	Register bool `json:"register,omitempty"`
	// Deadline bounds waiting for every node to be COMPLETED (default 2 hours).
	Deadline time.Duration `json:"deadline,omitempty"`
	// PollInterval is the ListBackups period (default 10 seconds).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
	// TakeTimeout bounds TakeBackup, which returns after Cassy paused Scalar
	// DL, snapshotted every node and unpaused (default 10 minutes).
	TakeTimeout time.Duration `json:"take_timeout,omitempty"`
}

// cassyMarker is the value of MarkerCassySnapshot.
type cassyMarker struct {
	ClusterID  string    `json:"cluster_id"`
	SnapshotID string    `json:"snapshot_id"`
	TargetIPs  []string  `json:"target_ips,omitempty"`
	Requested  time.Time `json:"requested"`
	// Taken is true once TakeBackup answered or ListBackups showed the snapshot.
	Taken bool `json:"taken,omitempty"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether s is a UUID in canonical 8-4-4-4-12 form.
func IsUUID(s string) bool { return uuidRE.MatchString(s) }

// NewSnapshotID returns a random (version 4) UUID, like Cassy's own choice.
func NewSnapshotID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// RegisterHint is the command domain.md §4.2 gives for registering the
// cluster once: cassyHost is Cassy's host name, cassandraHost a Cassandra node's.
func RegisterHint(cassyHost, cassandraHost string) string {
	return fmt.Sprintf(`ssh -F ssh.cfg -L 20051:localhost:20051 %s, then grpcurl -plaintext -d '{"cassandra_host": "%s"}' localhost:20051 rpc.Cassy.RegisterCluster`, cassyHost, cassandraHost)
}

// cassyState is shared by the plan's checks and steps within one process.
type cassyState struct {
	clusterID string
	targetIPs []string
}

// planCassy builds the --via cassy plan. opts.Via is ViaCassy.
func planCassy(inv *inventory.Inventory, opts Options, now time.Time) (*workflow.Plan, error) {
	c := &opts.Cassy
	if c.Addr == "" {
		c.Addr = inv.Endpoints.Cassy
	}
	if c.Addr == "" {
		return nil, errors.New("backup --via cassy: the inventory has no Cassy host (cassy-1 is created by the cassandra root when `cassy` is configured; see docs/CassySetup.md); use --via nodetool")
	}
	if len(opts.Keyspaces) > 0 {
		return nil, errors.New("backup --via cassy: --keyspace does not apply: Cassy snapshots the keyspaces recorded when the cluster was registered")
	}
	if opts.Tag == "" {
		opts.Tag = NewSnapshotID()
	} else if !IsUUID(opts.Tag) {
		return nil, fmt.Errorf("backup --via cassy: --tag %q is not a UUID; Cassy's snapshot_id must be one (e.g. %s), or omit --tag to let scalar-tui pick one", opts.Tag, NewSnapshotID())
	}
	opts.Tag = strings.ToLower(opts.Tag)
	if c.Deadline <= 0 {
		c.Deadline = 2 * time.Hour
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 10 * time.Second
	}
	if c.TakeTimeout <= 0 {
		c.TakeTimeout = 10 * time.Minute
	}
	ring := inv.ByRole(inventory.RoleCassandra)
	if len(ring) == 0 {
		return nil, errors.New("backup: the inventory has no Cassandra nodes (is the cassandra root loaded?)")
	}
	var ringIPs []string
	byIP := map[string]string{}
	for _, h := range ring {
		ringIPs = append(ringIPs, h.PrivateIP)
		byIP[h.PrivateIP] = h.Short
	}
	cl := cassy.Client{Addr: c.Addr, Dial: cassy.Dialer(opts.Dial)}
	snapshotID := opts.Tag
	cs := &cassyState{clusterID: c.ClusterID}
	host := hostOf(c.Addr)
	if s, ok := strings.CutSuffix(host, "."+inv.InternalDomain); ok && inv.InternalDomain != "" {
		host = s
	}

	p := workflow.NewPlan(Workflow, inv, now)
	p.Params = opts
	p.Preflight = []workflow.Check{
		skipWhenResumed(gates.RingUNCheck(ring, "a cluster-wide snapshot needs every node up (Cassy snapshots every node)")),
		{
			Name:        "cassy-reachable",
			Description: fmt.Sprintf("Cassy answers rpc.Cassy/ListClusters on %s through the bastion", c.Addr),
			Run: func(ctx context.Context, env *workflow.Env) error {
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				defer cancel()
				if _, err := cl.ListClusters(cctx, &cassy.ClusterListingRequest{}); err != nil {
					return fmt.Errorf("Cassy on %s is not reachable: %w; check that provision_cassy_1 runs on %s (`docker ps`), or use --via nodetool", c.Addr, err, host)
				}
				return nil
			},
		},
		{
			Name:        "cassy-cluster",
			Description: "a Cassy cluster is registered whose target_ips cover every Cassandra node" + map[bool]string{true: " (else step cassy-register registers it)", false: ""}[c.Register],
			Run: func(ctx context.Context, env *workflow.Env) error {
				if v, ok := env.Markers()[MarkerCassySnapshot]; ok {
					var m cassyMarker
					if json.Unmarshal([]byte(v), &m) == nil && m.ClusterID != "" {
						cs.clusterID, cs.targetIPs = m.ClusterID, m.TargetIPs
						return nil
					}
				}
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				defer cancel()
				entries, err := cl.ListClusters(cctx, &cassy.ClusterListingRequest{ClusterId: c.ClusterID})
				if err != nil {
					return err
				}
				return pickCluster(env, cs, c, entries, ringIPs, hostOf(c.Addr), ring[0].Name)
			},
		},
	}

	if c.Register {
		p.Steps = append(p.Steps, workflow.Step{
			ID:         "cassy-register",
			Title:      "register the Cassandra cluster with Cassy unless one is registered",
			Commands:   []string{fmt.Sprintf(`rpc.Cassy/RegisterCluster {"cassandra_host": %q} %s`, ring[0].Name, c.Addr)},
			Timeout:    2 * time.Minute,
			Idempotent: true, // it lists first
			Run: func(ctx context.Context, env *workflow.Env) error {
				if cs.clusterID != "" {
					return nil
				}
				r, err := cl.RegisterCluster(ctx, ring[0].Name)
				if err != nil {
					return err
				}
				m, _ := cassy.MatchCluster([]*cassy.ClusterListingResponse_Entry{{ClusterId: r.GetClusterId(), TargetIps: r.GetTargetIps()}}, ringIPs)
				if m == nil {
					return fmt.Errorf("Cassy registered cluster %s with target_ips %v, which do not cover the inventory's Cassandra nodes %v", r.GetClusterId(), r.GetTargetIps(), ringIPs)
				}
				cs.clusterID, cs.targetIPs = r.GetClusterId(), r.GetTargetIps()
				env.Notice(fmt.Sprintf("registered Cassy cluster %s (%s, keyspaces %s, target_ips %s)", r.GetClusterId(), r.GetClusterName(), strings.Join(r.GetKeyspaces(), ","), strings.Join(r.GetTargetIps(), ",")))
				return nil
			},
		})
	}
	p.Steps = append(p.Steps, workflow.Step{
		ID:    "cassy-take-backup",
		Title: fmt.Sprintf("ask Cassy for a CLUSTER_SNAPSHOT %s (Cassy pauses Scalar DL, snapshots every node, unpauses; journal marker %s set first)", snapshotID, MarkerCassySnapshot),
		Commands: []string{fmt.Sprintf(`rpc.Cassy/TakeBackup {"cluster_id": "<registered>", "backup_type": %d, "snapshot_id": %q} %s`,
			cassy.BackupTypeClusterSnapshot, snapshotID, c.Addr)},
		Timeout: c.TakeTimeout,
		// Safe on Resume: with the marker set it never sends TakeBackup again.
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			return takeCassy(ctx, env, cl, cs, snapshotID)
		},
	})
	p.Steps = append(p.Steps, workflow.Step{
		ID:       "cassy-wait-upload",
		Title:    fmt.Sprintf("poll rpc.Cassy/ListBackups every %s until every node of %s is COMPLETED (deadline %s)", c.PollInterval, snapshotID, c.Deadline),
		Commands: []string{fmt.Sprintf(`rpc.Cassy/ListBackups {"cluster_id": "<registered>", "snapshot_id": %q} %s`, snapshotID, c.Addr)},
		Timeout:  c.Deadline,
		// Read-only polling: safe to repeat.
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			return waitCassy(ctx, env, cl, cs, c, byIP)
		},
	})
	return p, nil
}

// pickCluster selects the cluster for this deployment into cs, or explains
// why there is none.
func pickCluster(env *workflow.Env, cs *cassyState, c *CassyOptions, entries []*cassy.ClusterListingResponse_Entry, ringIPs []string, cassyHost, seed string) error {
	if c.ClusterID != "" {
		for _, e := range entries {
			if e.GetClusterId() == c.ClusterID {
				cs.clusterID, cs.targetIPs = e.GetClusterId(), e.GetTargetIps()
				return nil
			}
		}
		return fmt.Errorf("Cassy has no cluster %s registered", c.ClusterID)
	}
	m, partial := cassy.MatchCluster(entries, ringIPs)
	if m != nil {
		cs.clusterID, cs.targetIPs = m.GetClusterId(), m.GetTargetIps()
		env.Notice(fmt.Sprintf("Cassy cluster %s (%s) covers the %d Cassandra nodes", m.GetClusterId(), m.GetClusterName(), len(ringIPs)))
		return nil
	}
	if len(partial) > 0 {
		var ids []string
		for _, e := range partial {
			ids = append(ids, fmt.Sprintf("%s (target_ips %s)", e.GetClusterId(), strings.Join(e.GetTargetIps(), ",")))
		}
		return fmt.Errorf("the clusters registered with Cassy cover only some of the Cassandra nodes %s: %s; a node was replaced? register the cluster again (%s) and fix backup_history by hand (docs/CassandraOperation.md), or pick one with --cassy-cluster-id",
			strings.Join(ringIPs, ","), strings.Join(ids, "; "), RegisterHint(cassyHost, seed))
	}
	if c.Register {
		env.Notice("no Cassy cluster covers the Cassandra nodes yet: step cassy-register will register it with " + seed)
		return nil
	}
	return fmt.Errorf("no cluster is registered with Cassy for the Cassandra nodes %s; register it once: %s (or rerun with --cassy-register)", strings.Join(ringIPs, ","), RegisterHint(cassyHost, seed))
}

func setCassyMarker(env *workflow.Env, m cassyMarker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return env.SetMarker(MarkerCassySnapshot, string(b))
}

// takeCassy sends TakeBackup once per run. With the marker already set (a
// resumed run) it only confirms through ListBackups that Cassy has the backup.
func takeCassy(ctx context.Context, env *workflow.Env, cl cassy.Client, cs *cassyState, snapshotID string) error {
	if v, ok := env.Markers()[MarkerCassySnapshot]; ok {
		var m cassyMarker
		if err := json.Unmarshal([]byte(v), &m); err != nil || m.ClusterID == "" || m.SnapshotID == "" {
			return fmt.Errorf("journal marker %s is unreadable (%q): check Cassy's backups by hand and start a new backup", MarkerCassySnapshot, v)
		}
		cs.clusterID = m.ClusterID
		cs.snapshotIPs(m.TargetIPs)
		if m.Taken {
			env.Notice(fmt.Sprintf("Cassy backup %s of cluster %s was already taken by this run: not taking a second one", m.SnapshotID, m.ClusterID))
			return nil
		}
		entries, err := cl.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: m.ClusterID, SnapshotId: m.SnapshotID})
		if err != nil {
			return fmt.Errorf("TakeBackup for snapshot %s was sent before the run stopped; checking whether Cassy has it: %w", m.SnapshotID, err)
		}
		if len(entries) == 0 {
			return fmt.Errorf("TakeBackup for snapshot %s was sent before the run stopped, but Cassy lists no backup for it (Cassy may have refused it, e.g. a failed pause); it is not sent twice: check Cassy's log on cassy-1, make sure Scalar DL is not left paused, and start a new backup", m.SnapshotID)
		}
		m.Taken = true
		if len(m.TargetIPs) == 0 {
			for _, e := range entries {
				m.TargetIPs = append(m.TargetIPs, e.GetTargetIp())
			}
			cs.snapshotIPs(m.TargetIPs)
		}
		env.Notice(fmt.Sprintf("Cassy has backup %s (%d node entries): continuing to poll, not taking a second one", m.SnapshotID, len(entries)))
		return setCassyMarker(env, m)
	}
	if cs.clusterID == "" {
		return errors.New("no Cassy cluster selected (preflight cassy-cluster did not run?)")
	}
	m := cassyMarker{ClusterID: cs.clusterID, SnapshotID: snapshotID, TargetIPs: cs.targetIPs, Requested: time.Now().UTC()}
	if err := setCassyMarker(env, m); err != nil {
		return fmt.Errorf("journal the Cassy snapshot (nothing sent yet): %w", err)
	}
	r, err := cl.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: cs.clusterID, SnapshotId: snapshotID, BackupType: cassy.BackupTypeClusterSnapshot})
	if err != nil {
		if code := status.Code(err); code != codes.Unknown && code != codes.Unavailable && code != codes.DeadlineExceeded && code != codes.Canceled && code != codes.OK {
			// Cassy answered with a refusal: nothing was taken, so a resume may try again.
			_ = env.ClearMarker(MarkerCassySnapshot)
			return fmt.Errorf("Cassy refused the backup (Scalar DL is unpaused by Cassy on failure): %w", err)
		}
		return fmt.Errorf("%w; Cassy may still have started backup %s: `scalar-tui resume %s` checks and continues without a second TakeBackup", err, snapshotID, env.RunID())
	}
	if id := r.GetSnapshotId(); id != "" && id != snapshotID {
		env.Notice(fmt.Sprintf("Cassy chose snapshot_id %s instead of %s", id, snapshotID))
		m.SnapshotID = id
	}
	if ips := r.GetTargetIps(); len(ips) > 0 {
		m.TargetIPs = ips
		cs.snapshotIPs(ips)
	}
	m.Taken = true
	if err := setCassyMarker(env, m); err != nil {
		return fmt.Errorf("Cassy started backup %s, but the journal could not record it: %w", m.SnapshotID, err)
	}
	env.Notice(fmt.Sprintf("Cassy took snapshot %s on %d node(s) (status %s); Scalar DL was paused and unpaused by Cassy; the upload continues", m.SnapshotID, len(m.TargetIPs), r.GetStatus()))
	return nil
}

func (cs *cassyState) snapshotIPs(ips []string) {
	if len(ips) > 0 {
		cs.targetIPs = append([]string(nil), ips...)
	}
}

// waitCassy polls ListBackups until every node is COMPLETED, failing at the
// first FAILED node or at the deadline (the step's Timeout).
func waitCassy(ctx context.Context, env *workflow.Env, cl cassy.Client, cs *cassyState, c *CassyOptions, byIP map[string]string) error {
	v, ok := env.Markers()[MarkerCassySnapshot]
	var m cassyMarker
	if !ok || json.Unmarshal([]byte(v), &m) != nil || m.SnapshotID == "" {
		return errors.New("no Cassy backup recorded in the journal: nothing to wait for")
	}
	if len(m.TargetIPs) == 0 {
		m.TargetIPs = cs.targetIPs
	}
	name := func(ip string) string {
		if s, ok := byIP[ip]; ok {
			return fmt.Sprintf("%s (%s)", s, ip)
		}
		return ip
	}
	last := -1
	var lastErr error
	var pr cassy.Progress
	for {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		entries, err := cl.ListBackups(pctx, &cassy.BackupListingRequest{ClusterId: m.ClusterID, SnapshotId: m.SnapshotID})
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			if lastErr == nil {
				env.Notice(fmt.Sprintf("ListBackups failed, retrying every %s: %v", c.PollInterval, err))
			}
			lastErr = err
		case err == nil:
			lastErr = nil
			pr = cassy.Summarize(entries, m.SnapshotID, m.TargetIPs)
			if len(pr.Failed) > 0 {
				var names []string
				for _, ip := range pr.Failed {
					names = append(names, name(ip))
				}
				return fmt.Errorf("Cassy backup %s FAILED on %s (%s); see the cassy-backup log on the node and Cassy's log on cassy-1, then take a new backup", m.SnapshotID, strings.Join(names, ", "), pr)
			}
			if pr.Completed != last {
				last = pr.Completed
				if pr.Total > 0 {
					env.Progress(float64(pr.Completed) / float64(pr.Total) * 100)
				}
				env.Notice(fmt.Sprintf("Cassy backup %s: %s", m.SnapshotID, pr))
			}
			if pr.Done() {
				env.Notice(fmt.Sprintf("Cassy backup %s of cluster %s is COMPLETED on all %d nodes", m.SnapshotID, m.ClusterID, pr.Total))
				return nil
			}
		}
		select {
		case <-ctx.Done():
			why := pr.String()
			if lastErr != nil {
				why = "last ListBackups error: " + lastErr.Error()
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("Cassy backup %s is not COMPLETED on every node after %s (%s); Cassy keeps uploading: `scalar-tui resume %s` polls again without a second TakeBackup", m.SnapshotID, c.Deadline, why, env.RunID())
			}
			return fmt.Errorf("waiting for Cassy backup %s (%s): %w", m.SnapshotID, why, ctx.Err())
		case <-time.After(c.PollInterval):
		}
	}
}

// skipWhenResumed passes c once TakeBackup was sent (the marker is set): a
// resumed run only polls, whatever the ring looks like now.
func skipWhenResumed(c workflow.Check) workflow.Check {
	run := c.Run
	c.Run = func(ctx context.Context, env *workflow.Env) error {
		if _, ok := env.Markers()[MarkerCassySnapshot]; ok {
			return nil
		}
		return run(ctx, env)
	}
	return c
}
