package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"scalar-tui/inventory"
	"scalar-tui/ops/nodetool"
	"scalar-tui/ops/shell"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

// Runner runs a command on a host; workflow.Runner and *sshx.Client satisfy it.
type Runner interface {
	Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error)
}

// Backup is one snapshot tag across the cluster.
type Backup struct {
	Tag       string   `json:"tag"`
	Keyspaces []string `json:"keyspaces"`
	// Nodes holds the short names of the nodes that have the tag; Missing
	// those that answered without it. Nodes that could not be asked are in
	// Listing.Errors and count as missing.
	Nodes   []string `json:"nodes"`
	Missing []string `json:"missing,omitempty"`
	// Total is the number of Cassandra nodes in the inventory.
	Total int `json:"total"`
	// Tables counts snapshotted tables over all nodes.
	Tables int `json:"tables"`
	// Bytes is the sum of "Size on disk" over all nodes.
	Bytes float64 `json:"bytes"`
}

// Complete reports whether every node has the snapshot.
func (b Backup) Complete() bool { return len(b.Nodes) == b.Total }

// Completeness renders "complete on 3/3" or "partial: 2/3 (missing cassandra-3)".
func (b Backup) Completeness() string {
	if b.Complete() {
		return fmt.Sprintf("complete on %d/%d", len(b.Nodes), b.Total)
	}
	return fmt.Sprintf("partial: %d/%d (missing %s)", len(b.Nodes), b.Total, strings.Join(b.Missing, ", "))
}

// Listing is what List found.
type Listing struct {
	Backups []Backup `json:"backups"`
	// Errors maps a node's short name to why it could not be listed.
	Errors map[string]string `json:"errors,omitempty"`
}

// List runs `nodetool listsnapshots` on every Cassandra node of inv (in
// parallel, each bounded by timeout, default 30 s) and groups the rows by
// tag. Nodes that fail are reported in Errors; List fails only when no node
// answered.
func List(ctx context.Context, r Runner, inv *inventory.Inventory, timeout time.Duration) (*Listing, error) {
	if inv == nil {
		return nil, errors.New("backups: no inventory")
	}
	ring := inv.ByRole(inventory.RoleCassandra)
	if len(ring) == 0 {
		return nil, errors.New("backups: the inventory has no Cassandra nodes")
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	type result struct {
		snaps []nodetool.Snapshot
		err   error
	}
	res := make([]result, len(ring))
	var wg sync.WaitGroup
	for i, h := range ring {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			exec := func(ctx context.Context, host, command string) (workflow.CommandResult, error) {
				var out, errb sshx.Tail
				rr, err := r.Run(ctx, host, command, sshx.RunOptions{Stdout: out.Line, Stderr: errb.Line})
				return workflow.CommandResult{Stdout: out.String(), Stderr: errb.String(), ExitCode: rr.ExitCode}, err
			}
			res[i].snaps, res[i].err = listSnapshots(cctx, exec, h)
		}()
	}
	wg.Wait()
	l := &Listing{}
	byTag := map[string]*Backup{}
	has := map[string]map[string]bool{}
	kss := map[string]map[string]bool{}
	answered := 0
	for i, h := range ring {
		if res[i].err != nil {
			if l.Errors == nil {
				l.Errors = map[string]string{}
			}
			l.Errors[h.Short] = res[i].err.Error()
			continue
		}
		answered++
		for _, s := range res[i].snaps {
			b, ok := byTag[s.Name]
			if !ok {
				b = &Backup{Tag: s.Name, Total: len(ring)}
				byTag[s.Name] = b
				has[s.Name] = map[string]bool{}
				kss[s.Name] = map[string]bool{}
			}
			has[s.Name][h.Short] = true
			kss[s.Name][s.Keyspace] = true
			b.Tables++
			if n, err := nodetool.ParseSize(s.SizeOnDisk); err == nil {
				b.Bytes += n
			}
		}
	}
	if answered == 0 {
		return l, fmt.Errorf("backups: no Cassandra node answered: %s", describeErrors(l.Errors))
	}
	for tag, b := range byTag {
		for _, h := range ring {
			if has[tag][h.Short] {
				b.Nodes = append(b.Nodes, h.Short)
			} else {
				b.Missing = append(b.Missing, h.Short)
			}
		}
		b.Keyspaces = sortedKeys(kss[tag])
		l.Backups = append(l.Backups, *b)
	}
	sort.Slice(l.Backups, func(i, j int) bool { return l.Backups[i].Tag < l.Backups[j].Tag })
	return l, nil
}

func describeErrors(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+m[k])
	}
	return strings.Join(parts, "; ")
}

// ClearOptions selects the snapshot to delete.
type ClearOptions struct {
	// Tag is the snapshot name; required (an empty tag would clear every snapshot).
	Tag string `json:"tag"`
}

// ClearPlan builds the plan that runs `nodetool clearsnapshot -t TAG` on every
// Cassandra node. It is dangerous: the snapshot's files are deleted. Preflight
// refuses when no node has the tag (a typo).
func ClearPlan(inv *inventory.Inventory, opts ClearOptions) (*workflow.Plan, error) {
	return ClearPlanAt(inv, opts, time.Now())
}

// ClearPlanAt is ClearPlan with an explicit clock.
func ClearPlanAt(inv *inventory.Inventory, opts ClearOptions, now time.Time) (*workflow.Plan, error) {
	if inv == nil {
		return nil, errors.New("backups clear: no inventory")
	}
	if opts.Tag == "" {
		return nil, errors.New("backups clear: a snapshot tag is required (clearing without one would delete every snapshot)")
	}
	if err := ValidTag(opts.Tag); err != nil {
		return nil, fmt.Errorf("backups clear: %w", err)
	}
	ring := inv.ByRole(inventory.RoleCassandra)
	if len(ring) == 0 {
		return nil, errors.New("backups clear: the inventory has no Cassandra nodes")
	}
	p := workflow.NewPlan(ClearWorkflow, inv, now)
	p.Params = opts
	p.Preflight = []workflow.Check{{
		Name:        "tag-exists",
		Description: fmt.Sprintf("at least one Cassandra node has a snapshot named %s", opts.Tag),
		Run: func(ctx context.Context, env *workflow.Env) error {
			var errs []string
			for _, h := range ring {
				snaps, err := listSnapshots(ctx, env.Exec, h)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				for _, s := range snaps {
					if s.Name == opts.Tag {
						return nil
					}
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("no node that answered has snapshot %s, and some did not answer: %s", opts.Tag, strings.Join(errs, "; "))
			}
			return fmt.Errorf("no Cassandra node has a snapshot named %s (see `scalar-tui backups`)", opts.Tag)
		},
	}}
	for _, h := range ring {
		p.Steps = append(p.Steps, workflow.Step{
			ID:         h.Short + "/clearsnapshot",
			Title:      "delete snapshot " + opts.Tag,
			Host:       h.Name,
			Commands:   []string{shell.Join("nodetool", "clearsnapshot", "-t", opts.Tag)},
			Timeout:    5 * time.Minute,
			Idempotent: true,
		})
	}
	return p, nil
}
