package backend

import (
	"context"
	"fmt"

	"scalar-tui/ops/workflow/freedisk"
	"scalar-tui/tui/vm"
)

var _ vm.DiskLister = (*Backend)(nil)

// DiskUsage lists what the free-disk runbook can clear on Cassandra node
// host, as `scalar-tui free-disk --host HOST` without a selection does:
// snapshots by tag (oldest first, as the listing orders them) and each
// keyspace's incremental backups. Read-only.
func (b *Backend) DiskUsage(ctx context.Context, host string) (vm.DiskUsage, error) {
	inv, client, err := b.session(ctx)
	if err != nil {
		return vm.DiskUsage{}, err
	}
	dataDir := ""
	if w := b.cfg.Workflows; w != nil && w.Defaults != nil {
		dataDir = w.Defaults(freedisk.Workflow)["data-dir"] // the deployment's layout (config, demo)
	}
	ctx, cancel := context.WithTimeout(ctx, freedisk.ListTimeout) // as the CLI: a hung node ends in an error, not an endless "listing…"
	defer cancel()
	u, err := freedisk.List(ctx, freedisk.ExecOf(client), inv, host, dataDir)
	if err != nil {
		return vm.DiskUsage{}, err
	}
	out := vm.DiskUsage{Host: u.Host.Short, FreePercent: u.FreePercent, ThresholdPercent: u.ThresholdPercent}
	for _, s := range u.Snapshots {
		taken := "taken: unknown"
		if !s.Taken.IsZero() {
			taken = "taken " + s.Taken.UTC().Format("2006-01-02 15:04") + " UTC"
		}
		detail := fmt.Sprintf("snapshot on %s · %s", s.Completeness, taken)
		if why := s.ProtectedAs(); why != "" {
			detail = why + " · " + detail
		}
		out.Items = append(out.Items, vm.DiskItem{Option: "snapshot", Value: s.Tag, Bytes: s.Bytes, Detail: detail, Protected: s.Protected})
	}
	for _, bk := range u.Backups {
		out.Items = append(out.Items, vm.DiskItem{Option: "backups", Value: bk.Keyspace, Bytes: bk.Bytes,
			Detail: fmt.Sprintf("incremental backups of keyspace %s · %d tables", bk.Keyspace, bk.Tables)})
	}
	return out, nil
}
