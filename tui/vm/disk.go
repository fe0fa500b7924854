package vm

import "context"

// DiskItem is one thing on a Cassandra node's data volume that the
// free-disk runbook can clear: a snapshot tag or a keyspace's incremental
// backups.
type DiskItem struct {
	// Option is the free-disk option that clears it ("snapshot" or
	// "backups") and Value its value there (the tag, the keyspace).
	Option, Value string
	// Bytes is its size on the node.
	Bytes float64
	// Detail says what the operator weighs: when it was taken and on how
	// many nodes the tag is complete, or how many tables hold backups.
	Detail string
	// Protected is the newest backup complete on every node: only the
	// CLI's --force clears it.
	Protected bool
}

// DiskUsage is what fills a Cassandra node's data volume.
type DiskUsage struct {
	Host string
	// FreePercent is the volume's free space; ThresholdPercent the free
	// space below which CassandraDriveSpaceLow fires.
	FreePercent, ThresholdPercent float64
	Items                         []DiskItem
}

// DiskLister lists what the free-disk runbook can clear on a Cassandra node
// (the console's picker of what to clear). Backends that cannot simply omit
// it; the console then asks for the snapshot tags as free text.
type DiskLister interface {
	DiskUsage(ctx context.Context, host string) (DiskUsage, error)
}
