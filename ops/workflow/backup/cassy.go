package backup

// The --via cassy route (domain.md §4.2): Cassy on cassy-1:20051, reached
// through the bastion, pauses Scalar DL itself (over the SRV record), takes a
// JMX snapshot on every Cassandra node, unpauses, and uploads the snapshots
// asynchronously. The console therefore never pauses anything here: it asks
// Cassy for a CLUSTER_SNAPSHOT (TakeBackup backup_type 1) and polls
// ListBackups until every node of the snapshot is COMPLETED.
//
// Cassy v1.0.0 to v1.2.0 refuse a snapshot_id for a snapshot (INVALID_ARGUMENT
// "snapshot_id must be empty when taking snapshots.") and make a random UUID
// themselves, returned in the answer (docs/domain-notes.md). So the request
// carries none. Marker MarkerCassySnapshot is journalled before the call with
// the time it was sent and the newest backup Cassy had then; once Cassy
// answers, the snapshot_id is added. A resumed run that finds the marker
// never sends TakeBackup again: if the answer was lost, it finds the backup
// Cassy created after the newest one it had, at about the time the request
// was sent, and continues polling.
//
// Cassy's pause → snapshot → unpause has no finally, and v1.0.0 to v1.2.0
// answer STARTED even when it failed (the rows are FAILED). After any Cassy
// error or FAILED row the console therefore unpauses every rpc.Admin target
// itself, checks with CheckPaused, and says so.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
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
	// NewestBefore is the created_at (ms) of the newest backup of the
	// cluster before TakeBackup was sent (0: none). A backup whose answer was
	// lost is the one created after it.
	NewestBefore uint64 `json:"newest_before_ms,omitempty"`
	// Taken is true once TakeBackup answered or ListBackups showed the snapshot.
	Taken bool `json:"taken,omitempty"`
	// Failed says why Cassy's backup failed, once known.
	Failed string `json:"failed,omitempty"`
}

// clockSkew is how far Cassy's clock (created_at) may be from this
// machine's when a lost TakeBackup answer is looked for.
const clockSkew = 5 * time.Minute

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether s is a UUID in canonical 8-4-4-4-12 form.
func IsUUID(s string) bool { return uuidRE.MatchString(s) }

// RegisterHint is the command domain.md §4.2 gives for registering the
// cluster once: cassyHost is Cassy's host name, cassandraHost a Cassandra node's.
func RegisterHint(cassyHost, cassandraHost string) string {
	return fmt.Sprintf(`ssh -F ssh.cfg -L 20051:localhost:20051 %s, then grpcurl -plaintext -d '{"cassandra_host": "%s"}' localhost:20051 rpc.Cassy.RegisterCluster`, cassyHost, cassandraHost)
}

// cassyState is shared by the plan's checks and steps within one process.
type cassyState struct {
	clusterID string
	targetIPs []string
	keyspaces []string
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
	if opts.Tag != "" {
		return nil, fmt.Errorf("backup --via cassy: --tag %q does not apply: Cassy (v1.0.0 to v1.2.0) refuses a snapshot_id for a snapshot and picks the id itself; it is shown and journalled when Cassy answers", opts.Tag)
	}
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
	if len(opts.Targets) == 0 {
		opts.Targets = adminTargets(inv)
	}
	if opts.UnpauseBudget <= 0 {
		opts.UnpauseBudget = 2 * time.Minute
	}
	cl := cassy.Client{Addr: c.Addr, Dial: cassy.Dialer(opts.Dial)}
	adm := admin{dial: opts.Dial}
	targets := append([]string(nil), opts.Targets...)
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
		skipWhenResumed(cassyRoutesCheck(ring, opts, cl, cs)),
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
				cs.clusterID, cs.targetIPs, cs.keyspaces = r.GetClusterId(), r.GetTargetIps(), r.GetKeyspaces()
				env.Notice(fmt.Sprintf("registered Cassy cluster %s (%s, keyspaces %s, target_ips %s)", r.GetClusterId(), r.GetClusterName(), strings.Join(r.GetKeyspaces(), ","), strings.Join(r.GetTargetIps(), ",")))
				return nil
			},
		})
	}
	tk := &cassyTake{cl: cl, cs: cs, adm: adm, targets: targets, opts: opts}
	unpauseCmds := make([]string, 0, len(targets))
	for _, t := range targets {
		unpauseCmds = append(unpauseCmds, "rpc.Admin/Unpause + CheckPaused "+t+"   # only after a Cassy error or FAILED")
	}
	p.Steps = append(p.Steps, workflow.Step{
		ID: "cassy-take-backup",
		Title: fmt.Sprintf("ask Cassy for a CLUSTER_SNAPSHOT (Cassy clears every snapshot of its keyspaces on every node, pauses Scalar DL, snapshots, unpauses, and picks the snapshot_id; "+
			"journal marker %s set first; Scalar DL containers' start times compared before and after)", MarkerCassySnapshot),
		Commands: append([]string{InspectCommand + "   # on every Scalar DL host, before and after",
			fmt.Sprintf(`rpc.Cassy/TakeBackup {"cluster_id": "<registered>", "backup_type": %d} %s`, cassy.BackupTypeClusterSnapshot, c.Addr)}, unpauseCmds...),
		Timeout: c.TakeTimeout,
		// Safe on Resume: with the marker set it never sends TakeBackup again.
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			return tk.take(ctx, env)
		},
	})
	p.Steps = append(p.Steps, workflow.Step{
		ID:       "cassy-wait-upload",
		Title:    fmt.Sprintf("poll rpc.Cassy/ListBackups every %s until every node of the snapshot is COMPLETED (deadline %s)", c.PollInterval, c.Deadline),
		Commands: []string{fmt.Sprintf(`rpc.Cassy/ListBackups {"cluster_id": "<registered>", "snapshot_id": "<from TakeBackup>"} %s`, c.Addr)},
		Timeout:  c.Deadline,
		// Read-only polling: safe to repeat.
		Idempotent: true,
		Run: func(ctx context.Context, env *workflow.Env) error {
			return tk.wait(ctx, env, c, byIP)
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
				cs.clusterID, cs.targetIPs, cs.keyspaces = e.GetClusterId(), e.GetTargetIps(), e.GetKeyspaces()
				return nil
			}
		}
		return fmt.Errorf("Cassy has no cluster %s registered", c.ClusterID)
	}
	m, partial := cassy.MatchCluster(entries, ringIPs)
	if m != nil {
		cs.clusterID, cs.targetIPs, cs.keyspaces = m.GetClusterId(), m.GetTargetIps(), m.GetKeyspaces()
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

// cassyTake is the TakeBackup and polling steps of one plan.
type cassyTake struct {
	cl      cassy.Client
	cs      *cassyState
	adm     admin
	targets []string // rpc.Admin targets, unpaused by the console after a Cassy failure
	opts    Options
}

func (tk *cassyTake) marker(env *workflow.Env) (cassyMarker, bool, error) {
	v, ok := env.Markers()[MarkerCassySnapshot]
	if !ok {
		return cassyMarker{}, false, nil
	}
	var m cassyMarker
	if err := json.Unmarshal([]byte(v), &m); err != nil || m.ClusterID == "" {
		return m, true, fmt.Errorf("journal marker %s is unreadable (%q): check Cassy's backups by hand and start a new backup", MarkerCassySnapshot, v)
	}
	return m, true, nil
}

// unpause unpauses every rpc.Admin target itself after a Cassy failure,
// verifies, tells the operator and returns the sentence for the error.
func (tk *cassyTake) unpause(ctx context.Context, env *workflow.Env) string {
	if len(tk.targets) == 0 {
		msg := "the inventory names no Scalar DL admin target, so the console could not unpause Scalar DL itself: check it with scalar-admin -c check_paused"
		env.Notice(msg)
		return msg
	}
	failed, unverified := tk.adm.unpauseVerified(ctx, tk.targets, tk.opts.UnpauseBudget)
	msg := "Cassy's pause has no finally, so " + describeUnpause(len(tk.targets), failed, unverified)
	env.Notice(msg)
	return msg
}

// fail records why Cassy's backup failed, unpauses Scalar DL and returns the
// final error.
func (tk *cassyTake) fail(ctx context.Context, env *workflow.Env, m cassyMarker, why string) error {
	m.Failed = why
	_ = setCassyMarker(env, m)
	return finalErr(fmt.Errorf("%s; %s; take a new backup", why, tk.unpause(ctx, env)))
}

// take sends TakeBackup once per run. With the marker already set (a
// resumed run) it only finds the backup Cassy made.
func (tk *cassyTake) take(ctx context.Context, env *workflow.Env) error {
	m, ok, err := tk.marker(env)
	if err != nil {
		return finalErr(err)
	}
	if ok {
		return tk.resume(ctx, env, m)
	}
	cs := tk.cs
	if cs.clusterID == "" {
		return errors.New("no Cassy cluster selected (preflight cassy-cluster did not run?)")
	}
	newest, err := tk.cl.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: cs.clusterID, Limit: 1})
	if err != nil {
		return fmt.Errorf("listing Cassy's backups before TakeBackup (nothing sent yet): %w", err)
	}
	if err := recordContainers(ctx, env, scalarHosts(tk.targets)); err != nil {
		return fmt.Errorf("%w (nothing sent to Cassy yet)", err)
	}
	m = cassyMarker{ClusterID: cs.clusterID, TargetIPs: cs.targetIPs, Requested: time.Now().UTC()}
	if len(newest) > 0 {
		m.NewestBefore = newest[0].GetCreatedAt()
	}
	if err := setCassyMarker(env, m); err != nil {
		return fmt.Errorf("journal the Cassy request (nothing sent yet): %w", err)
	}
	r, err := tk.cl.TakeBackup(ctx, &cassy.BackupRequest{ClusterId: cs.clusterID, BackupType: cassy.BackupTypeClusterSnapshot})
	if err != nil {
		code := status.Code(err)
		if code == codes.InvalidArgument || code == codes.NotFound || code == codes.FailedPrecondition {
			// Cassy validates before it records or pauses anything: nothing
			// was taken, and a resume may ask again.
			_ = env.ClearMarker(MarkerCassySnapshot)
			return fmt.Errorf("Cassy refused the backup: %w; %s", err, tk.unpause(ctx, env))
		}
		settled := tk.settle(ctx, env, m)
		return fmt.Errorf("%w; Cassy may still have started a backup: `scalar-tui resume %s` looks for it and continues without a second TakeBackup; %s%s", err, env.RunID(), settled, tk.unpause(ctx, env))
	}
	m.SnapshotID, m.Taken = r.GetSnapshotId(), true
	if ips := r.GetTargetIps(); len(ips) > 0 {
		m.TargetIPs = ips
		cs.snapshotIPs(ips)
	}
	if err := setCassyMarker(env, m); err != nil {
		return fmt.Errorf("Cassy started backup %s, but the journal could not record it: %w", m.SnapshotID, err)
	}
	if m.SnapshotID == "" {
		return tk.fail(ctx, env, m, "Cassy answered TakeBackup without a snapshot_id")
	}
	env.Notice(fmt.Sprintf("Cassy answered %s for snapshot %s on %d node(s)", r.GetStatus(), m.SnapshotID, len(m.TargetIPs)))
	if r.GetStatus() == cassy.OperationStatus_FAILED {
		return tk.fail(ctx, env, m, fmt.Sprintf("Cassy answered FAILED for backup %s", m.SnapshotID))
	}
	// v1.0.0 to v1.2.0 answer STARTED even when the pause, the snapshots'
	// bookkeeping or the unpause failed: the rows tell.
	if err := tk.checkRows(ctx, env, m); err != nil {
		return err
	}
	return tk.checkContainers(ctx, env, m)
}

// settle waits, after TakeBackup ended without an answer, until Cassy is
// past its pause → snapshot → unpause (its rows leave INITIALIZED), so that
// the console's own unpause does not cut into Cassy's snapshots. It is
// bounded by UnpauseBudget and ignores the caller's cancellation, and
// returns a sentence (ending in "; ") when it matters.
func (tk *cassyTake) settle(ctx context.Context, env *workflow.Env, m cassyMarker) string {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tk.opts.UnpauseBudget)
	defer cancel()
	noRows := 0
	for said := false; ; {
		lctx, lcancel := context.WithTimeout(sctx, 10*time.Second)
		entries, err := tk.cl.ListBackups(lctx, &cassy.BackupListingRequest{ClusterId: m.ClusterID})
		lcancel()
		busy, seen := false, false
		for _, e := range entries {
			if e.GetCreatedAt() > m.NewestBefore && e.GetBackupType() == cassy.BackupTypeClusterSnapshot {
				seen = true
				busy = busy || e.GetStatus() == cassy.OperationStatus_INITIALIZED
			}
		}
		switch {
		case err == nil && seen && !busy:
			return ""
		case err == nil && !seen:
			// Cassy records its rows before it pauses: none after a few
			// looks means it never started.
			if noRows++; noRows >= 5 {
				return ""
			}
		case !said:
			said = true
			env.Notice("waiting for Cassy to finish its pause, snapshots and unpause before the console unpauses Scalar DL itself")
		}
		select {
		case <-sctx.Done():
			_ = env.SetMarker(MarkerInconsistent, fmt.Sprintf("the console unpaused Scalar DL while Cassy's backup after %s may still have been snapshotting", m.Requested.Format(time.RFC3339)))
			return fmt.Sprintf("Cassy's backup was still INITIALIZED after %s, so the console's unpause may have cut into it: it is journalled as suspect (%s); ", tk.opts.UnpauseBudget, MarkerInconsistent)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// checkRows fails when any row of m's snapshot is FAILED.
func (tk *cassyTake) checkRows(ctx context.Context, env *workflow.Env, m cassyMarker) error {
	entries, err := tk.cl.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: m.ClusterID, SnapshotId: m.SnapshotID})
	if err != nil {
		env.Notice(fmt.Sprintf("could not check the rows of Cassy backup %s at once (%v); polling checks them", m.SnapshotID, err))
		return nil
	}
	pr := cassy.Summarize(entries, m.SnapshotID, m.TargetIPs)
	if len(pr.Failed) > 0 {
		why := fmt.Sprintf("Cassy answered STARTED, but backup %s is FAILED on %s (Cassy v1.0.0 to v1.2.0 answer STARTED when pausing, snapshotting or unpausing failed; see Cassy's log on cassy-1)",
			m.SnapshotID, strings.Join(pr.Failed, ", "))
		if _, ok := env.Markers()[MarkerContainers]; ok {
			// A container restarting during the pause is a common cause:
			// Cassy's Unpause to it is refused.
			if changed, err := restartedContainers(ctx, env); err == nil && len(changed) > 0 {
				why += "; a Scalar DL container restarted during Cassy's pause: " + strings.Join(changed, "; ")
			}
		}
		return tk.fail(ctx, env, m, why)
	}
	return nil
}

// checkContainers fails when a Scalar DL container restarted while Cassy
// had Scalar DL paused: the backup is then inconsistent.
func (tk *cassyTake) checkContainers(ctx context.Context, env *workflow.Env, m cassyMarker) error {
	if len(tk.targets) == 0 {
		return nil
	}
	changed, err := restartedContainers(ctx, env)
	if err != nil {
		return finalErr(fmt.Errorf("cannot tell whether Cassy backup %s is consistent: %w; do not rely on it, take a new backup", m.SnapshotID, err))
	}
	if len(changed) == 0 {
		env.Notice(fmt.Sprintf("no Scalar DL container restarted during Cassy's pause: backup %s is consistent", m.SnapshotID))
		return nil
	}
	why := fmt.Sprintf("Cassy backup %s is inconsistent: a Scalar DL container restarted during Cassy's pause and came back unpaused: %s", m.SnapshotID, strings.Join(changed, "; "))
	_ = env.SetMarker(MarkerInconsistent, why)
	m.Failed = "inconsistent"
	_ = setCassyMarker(env, m)
	return finalErr(fmt.Errorf("%s; Cassy cannot delete a backup: do not restore from %s (journalled as %s), take a new backup", why, m.SnapshotID, MarkerInconsistent))
}

// resume continues after the run stopped with the marker set: it never
// sends TakeBackup again.
func (tk *cassyTake) resume(ctx context.Context, env *workflow.Env, m cassyMarker) error {
	cs := tk.cs
	cs.clusterID = m.ClusterID
	cs.snapshotIPs(m.TargetIPs)
	if m.Failed != "" {
		return finalErr(fmt.Errorf("Cassy backup %s failed (%s); take a new backup", m.SnapshotID, m.Failed))
	}
	if v, ok := env.Markers()[MarkerInconsistent]; ok {
		return finalErr(fmt.Errorf("this run's Cassy backup is not consistent (%s); take a new backup", v))
	}
	if m.Taken && m.SnapshotID != "" {
		env.Notice(fmt.Sprintf("Cassy backup %s of cluster %s was already taken by this run: not taking a second one", m.SnapshotID, m.ClusterID))
		return nil
	}
	// The answer was lost: find the backup Cassy created after the newest one
	// it had when the request was sent, at about the time it was sent.
	entries, err := tk.cl.ListBackups(ctx, &cassy.BackupListingRequest{ClusterId: m.ClusterID})
	if err != nil {
		return fmt.Errorf("TakeBackup was sent at %s before the run stopped; looking for the backup Cassy made: %w", m.Requested.Format(time.RFC3339), err)
	}
	from := m.Requested.Add(-clockSkew)
	to := m.Requested.Add(tk.opts.Cassy.TakeTimeout + clockSkew)
	found := map[string][]*cassy.BackupListingResponse_Entry{}
	for _, e := range entries {
		at := time.UnixMilli(int64(e.GetCreatedAt()))
		if e.GetCreatedAt() <= m.NewestBefore || e.GetBackupType() != cassy.BackupTypeClusterSnapshot || at.Before(from) || at.After(to) {
			continue
		}
		found[e.GetSnapshotId()] = append(found[e.GetSnapshotId()], e)
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	switch len(ids) {
	case 0:
		_ = env.ClearMarker(MarkerCassySnapshot)
		return finalErr(fmt.Errorf("TakeBackup was sent at %s before the run stopped, but Cassy lists no cluster snapshot created since (it refused or never got the request); it is not sent twice; %s; start a new backup",
			m.Requested.Format(time.RFC3339), tk.unpause(ctx, env)))
	case 1:
	default:
		return finalErr(fmt.Errorf("TakeBackup was sent at %s before the run stopped, and Cassy lists %d cluster snapshots created since (%s): cannot tell which is this run's; check them with rpc.Cassy/ListBackups and start a new backup",
			m.Requested.Format(time.RFC3339), len(ids), strings.Join(ids, ", ")))
	}
	m.SnapshotID, m.Taken = ids[0], true
	if len(m.TargetIPs) == 0 {
		for _, e := range found[ids[0]] {
			m.TargetIPs = append(m.TargetIPs, e.GetTargetIp())
		}
		cs.snapshotIPs(m.TargetIPs)
	}
	if err := setCassyMarker(env, m); err != nil {
		return err
	}
	env.Notice(fmt.Sprintf("Cassy has backup %s, created after the request of %s (%d node entries): continuing to poll, not taking a second one", m.SnapshotID, m.Requested.Format(time.RFC3339), len(found[ids[0]])))
	if err := tk.checkRows(ctx, env, m); err != nil {
		return err
	}
	if _, ok := env.Markers()[MarkerContainers]; ok {
		return tk.checkContainers(ctx, env, m)
	}
	return nil
}

func (cs *cassyState) snapshotIPs(ips []string) {
	if len(ips) > 0 {
		cs.targetIPs = append([]string(nil), ips...)
	}
}

// wait polls ListBackups until every node is COMPLETED, failing at the
// first FAILED node or at the deadline (the step's Timeout).
func (tk *cassyTake) wait(ctx context.Context, env *workflow.Env, c *CassyOptions, byIP map[string]string) error {
	m, ok, err := tk.marker(env)
	switch {
	case err != nil:
		return finalErr(err)
	case !ok || m.SnapshotID == "":
		return errors.New("no Cassy backup recorded in the journal: nothing to wait for")
	case m.Failed != "":
		return finalErr(fmt.Errorf("Cassy backup %s failed (%s); take a new backup", m.SnapshotID, m.Failed))
	}
	if len(m.TargetIPs) == 0 {
		m.TargetIPs = tk.cs.targetIPs
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
		entries, err := tk.cl.ListBackups(pctx, &cassy.BackupListingRequest{ClusterId: m.ClusterID, SnapshotId: m.SnapshotID})
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
				return tk.fail(ctx, env, m, fmt.Sprintf("Cassy backup %s FAILED on %s (%s); see the cassy-backup log on the node and Cassy's log on cassy-1", m.SnapshotID, strings.Join(names, ", "), pr))
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

// cassyRoutesCheck refuses a Cassy backup while the nodes hold snapshots of
// Cassy's keyspaces that Cassy did not take: Cassy clears every snapshot of
// its keyspaces on every node before it snapshots
// (JmxManager.clearSnapshot(null, keyspaces)), and those are the nodetool
// route's only copies.
func cassyRoutesCheck(ring []inventory.Host, opts Options, cl cassy.Client, cs *cassyState) workflow.Check {
	return workflow.Check{
		Name: "backup-routes",
		Description: "Cassy first clears every snapshot of its keyspaces on every Cassandra node, so local snapshots taken with --via nodetool " +
			"(hard links, their only copy) are deleted: refused while any exist unless --allow-mixed-routes",
		Run: func(ctx context.Context, env *workflow.Env) error {
			kss := cs.keyspaces
			if len(kss) == 0 {
				kss = DefaultKeyspaces
			}
			ours := map[string]bool{}
			if cs.clusterID != "" {
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				entries, err := cl.ListBackups(cctx, &cassy.BackupListingRequest{ClusterId: cs.clusterID})
				cancel()
				if err != nil {
					return fmt.Errorf("listing Cassy's backups: %w", err)
				}
				for _, e := range entries {
					ours[e.GetSnapshotId()] = true
				}
			}
			doomed := map[string][]string{} // tag → nodes
			for _, h := range ring {
				snaps, err := listSnapshots(ctx, env.Exec, h)
				if err != nil {
					return err
				}
				seen := map[string]bool{}
				for _, s := range snaps {
					if !ours[s.Name] && contains(kss, s.Keyspace) && !seen[s.Name] {
						seen[s.Name] = true
						doomed[s.Name] = append(doomed[s.Name], h.Short)
					}
				}
			}
			if len(doomed) == 0 {
				return nil
			}
			tags := make([]string, 0, len(doomed))
			for t := range doomed {
				tags = append(tags, t)
			}
			sort.Strings(tags)
			var parts []string
			for _, t := range tags {
				parts = append(parts, fmt.Sprintf("%s on %s", t, strings.Join(doomed[t], ", ")))
			}
			msg := fmt.Sprintf("Cassy clears every snapshot of keyspaces %s on every node before it snapshots, so it would delete %s (not Cassy's: taken with --via nodetool or by hand, and a local snapshot is the only copy)",
				strings.Join(kss, ", "), strings.Join(parts, "; "))
			if opts.AllowMixedRoutes {
				env.Notice("--allow-mixed-routes: " + msg)
				return nil
			}
			return fmt.Errorf("%s; copy them off the hosts or clear them (`scalar-tui backups clear TAG`), or pass --allow-mixed-routes", msg)
		},
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
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
