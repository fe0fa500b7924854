package cassy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Backup types of BackupRequest.backup_type (Cassy's BackupType).
const (
	BackupTypeClusterSnapshot uint32 = 1
	BackupTypeNodeSnapshot    uint32 = 2
	BackupTypeNodeIncremental uint32 = 3
)

// Port is Cassy's default gRPC port.
const Port = 20051

// Dialer opens a TCP connection to addr ("host:port"), normally through the
// bastion.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// Client calls rpc.Cassy at Addr. It opens a connection per call, so nothing
// is kept alive across an SSH drop.
type Client struct {
	Addr string
	Dial Dialer
}

func (c Client) call(ctx context.Context, method string, f func(context.Context, CassyClient) error) error {
	if c.Dial == nil {
		return errors.New("no dialer for Cassy")
	}
	if c.Addr == "" {
		return errors.New("no Cassy address")
	}
	cc, err := grpc.NewClient("passthrough:///"+c.Addr,
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return c.Dial(ctx, addr) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponseBytes)))
	if err != nil {
		return fmt.Errorf("rpc.Cassy/%s %s: %w", method, c.Addr, err)
	}
	defer cc.Close()
	if err := f(ctx, NewCassyClient(cc)); err != nil {
		if status.Code(err) == codes.ResourceExhausted {
			return fmt.Errorf("rpc.Cassy/%s %s: the answer is larger than scalar-tui reads (%d KiB): %w", method, c.Addr, MaxResponseBytes>>10, err)
		}
		return fmt.Errorf("rpc.Cassy/%s %s: %w", method, c.Addr, err)
	}
	return nil
}

// MaxResponseBytes bounds each Cassy answer read. The workflow lists the
// backups of one snapshot (one entry per node) and the registered clusters:
// a few kilobytes.
const MaxResponseBytes = 1 << 20

// ListClusters returns the registered clusters (limit 0: Cassy's default).
func (c Client) ListClusters(ctx context.Context, req *ClusterListingRequest) ([]*ClusterListingResponse_Entry, error) {
	var out []*ClusterListingResponse_Entry
	err := c.call(ctx, "ListClusters", func(ctx context.Context, cl CassyClient) error {
		r, err := cl.ListClusters(ctx, req)
		out = r.GetEntries()
		return err
	})
	return out, err
}

// RegisterCluster registers the cluster cassandraHost belongs to.
func (c Client) RegisterCluster(ctx context.Context, cassandraHost string) (*ClusterRegistrationResponse, error) {
	var out *ClusterRegistrationResponse
	err := c.call(ctx, "RegisterCluster", func(ctx context.Context, cl CassyClient) error {
		r, err := cl.RegisterCluster(ctx, &ClusterRegistrationRequest{CassandraHost: cassandraHost})
		out = r
		return err
	})
	return out, err
}

// TakeBackup starts a backup; Cassy answers once the snapshots are taken and
// uploads them asynchronously.
func (c Client) TakeBackup(ctx context.Context, req *BackupRequest) (*BackupResponse, error) {
	var out *BackupResponse
	err := c.call(ctx, "TakeBackup", func(ctx context.Context, cl CassyClient) error {
		r, err := cl.TakeBackup(ctx, req)
		out = r
		return err
	})
	return out, err
}

// ListBackups lists backup_history entries (one per node and snapshot).
func (c Client) ListBackups(ctx context.Context, req *BackupListingRequest) ([]*BackupListingResponse_Entry, error) {
	var out []*BackupListingResponse_Entry
	err := c.call(ctx, "ListBackups", func(ctx context.Context, cl CassyClient) error {
		r, err := cl.ListBackups(ctx, req)
		out = r.GetEntries()
		return err
	})
	return out, err
}

// MatchCluster picks the registered cluster whose target_ips include every
// one of ips. Several matches: the most recently created. It returns nil when
// none covers them all, and partial lists the clusters that cover some.
func MatchCluster(entries []*ClusterListingResponse_Entry, ips []string) (match *ClusterListingResponse_Entry, partial []*ClusterListingResponse_Entry) {
	for _, e := range entries {
		have := map[string]bool{}
		for _, ip := range e.GetTargetIps() {
			have[ip] = true
		}
		n := 0
		for _, ip := range ips {
			if have[ip] {
				n++
			}
		}
		switch {
		case n == len(ips) && len(ips) > 0:
			if match == nil || e.GetCreatedAt() > match.GetCreatedAt() {
				match = e
			}
		case n > 0:
			partial = append(partial, e)
		}
	}
	return match, partial
}

// Progress summarizes ListBackups entries of one snapshot against the nodes
// expected (the cluster's target_ips): how many are COMPLETED, which FAILED,
// and which have no entry yet.
type Progress struct {
	Total     int
	Completed int
	Failed    []string // target IPs
	Missing   []string // expected IPs without an entry
	Statuses  map[string]OperationStatus
}

// Done reports whether every expected node is COMPLETED.
func (p Progress) Done() bool { return p.Total > 0 && p.Completed == p.Total }

// String renders "2/3 nodes COMPLETED (10.42.2.12 STARTED)".
func (p Progress) String() string {
	var rest []string
	ips := make([]string, 0, len(p.Statuses))
	for ip := range p.Statuses {
		ips = append(ips, ip)
	}
	sort.Strings(ips)
	for _, ip := range ips {
		if s := p.Statuses[ip]; s != OperationStatus_COMPLETED {
			rest = append(rest, ip+" "+s.String())
		}
	}
	for _, ip := range p.Missing {
		rest = append(rest, ip+" no entry")
	}
	out := fmt.Sprintf("%d/%d nodes COMPLETED", p.Completed, p.Total)
	if len(rest) > 0 {
		out += " (" + strings.Join(rest, ", ") + ")"
	}
	return out
}

// Summarize computes Progress for snapshotID over expected IPs. When expected
// is empty, the IPs of the entries are expected.
func Summarize(entries []*BackupListingResponse_Entry, snapshotID string, expected []string) Progress {
	p := Progress{Statuses: map[string]OperationStatus{}}
	for _, e := range entries {
		if snapshotID != "" && e.GetSnapshotId() != snapshotID {
			continue
		}
		// Several entries for one node: keep the most advanced (FAILED wins).
		if old, ok := p.Statuses[e.GetTargetIp()]; !ok || e.GetStatus() > old {
			p.Statuses[e.GetTargetIp()] = e.GetStatus()
		}
	}
	if len(expected) == 0 {
		for ip := range p.Statuses {
			expected = append(expected, ip)
		}
		sort.Strings(expected)
	}
	p.Total = len(expected)
	for _, ip := range expected {
		s, ok := p.Statuses[ip]
		switch {
		case !ok:
			p.Missing = append(p.Missing, ip)
		case s == OperationStatus_COMPLETED:
			p.Completed++
		case s == OperationStatus_FAILED:
			p.Failed = append(p.Failed, ip)
		}
	}
	return p
}

// Restore types of RestoreRequest.restore_type (Cassy's RestoreType).
const (
	RestoreTypeCluster uint32 = 1
	RestoreTypeNode    uint32 = 2
)

// RestoreBackup starts a restore; Cassy answers STARTED (even when it
// failed) and places the files asynchronously: poll ListRestoreStatuses.
func (c Client) RestoreBackup(ctx context.Context, req *RestoreRequest) (*RestoreResponse, error) {
	var out *RestoreResponse
	err := c.call(ctx, "RestoreBackup", func(ctx context.Context, cl CassyClient) error {
		r, err := cl.RestoreBackup(ctx, req)
		out = r
		return err
	})
	return out, err
}

// ListRestoreStatuses lists restore_history entries (one per node and restore).
func (c Client) ListRestoreStatuses(ctx context.Context, req *RestoreStatusListingRequest) ([]*RestoreStatusListingResponse_Entry, error) {
	var out []*RestoreStatusListingResponse_Entry
	err := c.call(ctx, "ListRestoreStatuses", func(ctx context.Context, cl CassyClient) error {
		r, err := cl.ListRestoreStatuses(ctx, req)
		out = r.GetEntries()
		return err
	})
	return out, err
}
