package backend

import (
	"context"
	"strings"
	"sync"
	"time"

	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow/backup"
	"scalar-tui/tui/vm"
)

// Backups lists the nodetool-route backups (snapshot tags) on every
// Cassandra node with their completeness, through backup.List. The size per
// node comes from the same `nodetool listsnapshots` output, recorded on the
// way through.
func (b *Backend) Backups(ctx context.Context) (vm.BackupsView, error) {
	inv, client, err := b.session(ctx)
	if err != nil {
		return vm.BackupsView{}, err
	}
	rec := &recordingRunner{r: client, out: map[string]*strings.Builder{}}
	l, err := backup.List(ctx, rec, inv, 30*time.Second)
	v := vm.BackupsView{Deployment: inv.NetworkName}
	if l != nil {
		v.Errors = l.Errors
	}
	if err != nil {
		return v, err
	}
	// Per node and tag: bytes on disk.
	perNode := map[string]map[string]float64{}
	for host, out := range rec.out {
		snaps, perr := nodetool.ParseListSnapshots(out.String())
		if perr != nil {
			continue
		}
		short := host
		if h, ok := inv.Find(host); ok {
			short = h.Short
		}
		for _, s := range snaps {
			if perNode[s.Name] == nil {
				perNode[s.Name] = map[string]float64{}
			}
			if n, err := nodetool.ParseSize(s.SizeOnDisk); err == nil {
				perNode[s.Name][short] += n
			}
		}
	}
	for _, bk := range l.Backups {
		v.Backups = append(v.Backups, vm.BackupView{Route: backup.ViaNodetool, Tag: bk.Tag, Keyspaces: bk.Keyspaces,
			Nodes: bk.Nodes, Missing: bk.Missing, Total: bk.Total, Tables: bk.Tables, Bytes: bk.Bytes, NodeBytes: perNode[bk.Tag]})
	}
	return v, nil
}

// recordingRunner passes commands to r and keeps each host's stdout.
type recordingRunner struct {
	r   backup.Runner
	mu  sync.Mutex
	out map[string]*strings.Builder
}

func (rr *recordingRunner) Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error) {
	rr.mu.Lock()
	buf := &strings.Builder{}
	rr.out[host] = buf
	rr.mu.Unlock()
	next := opts.Stdout
	opts.Stdout = func(line string) {
		rr.mu.Lock()
		buf.WriteString(line + "\n")
		rr.mu.Unlock()
		if next != nil {
			next(line)
		}
	}
	return rr.r.Run(ctx, host, command, opts)
}
