package sim

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"scalar-tui/ops/nodetool"
)

const jmxRefused = "nodetool: Failed to connect to '127.0.0.1:7199' - ConnectException: 'Connection refused (Connection refused)'."

// keyspaceTables are the tables the simulator pretends each keyspace has.
var keyspaceTables = map[string][]string{
	"scalar":             {"asset", "asset_metadata", "certificate", "contract", "contract_class", "function"},
	"coordinator":        {"state"},
	"system_auth":        {"role_members", "role_permissions", "roles"},
	"system_distributed": {"parent_repair_history", "repair_history", "view_build_status"},
	"system_traces":      {"events", "sessions"},
}

func (c *call) nodetool(args []string) int {
	// Drop connection options (-h host -p port -u user -pw pass -pwf file).
	var pos []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-h", "--host", "-p", "--port", "-u", "--username", "-pw", "--password", "-pwf", "--password-file":
			i++
			continue
		}
		pos = append(pos, args[i])
	}
	if len(pos) == 0 {
		c.errf("usage: nodetool [(-h <host> | --host <host>)] [(-p <port> | --port <port>)] <command> [<args>]")
		return 1
	}
	cmd, rest := pos[0], pos[1:]
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	h := st.Host(c.host)
	now := time.Now().UTC()
	if h.Cassandra == nil || !st.CassandraUp(h, now) {
		c.errf("%s", jmxRefused)
		return 1
	}
	switch cmd {
	case "status":
		WriteStatus(c.stdout, st, now)
		return 0
	case "repair":
		return c.repair(rest)
	case "snapshot":
		return c.snapshot(rest)
	case "listsnapshots":
		writeListSnapshots(c.stdout, h)
		return 0
	case "clearsnapshot":
		return c.clearSnapshot(rest)
	case "info":
		writeInfo(c.stdout, st, h, now)
		return 0
	case "compactionstats":
		writeCompactionStats(c.stdout, st, h, now)
		return 0
	case "netstats":
		writeNetStats(c.stdout, st, h, now)
		return 0
	case "version":
		fmt.Fprintln(c.stdout, "ReleaseVersion: 3.11.9")
		return 0
	case "statusbinary", "statusgossip":
		fmt.Fprintln(c.stdout, "running")
		return 0
	case "flush", "drain", "cleanup":
		return 0
	}
	c.errf("nodetool: Found unexpected parameters: [%s]\nSee 'nodetool help' or 'nodetool help <command>'.", cmd)
	return 1
}

// WriteStatus renders `nodetool status` in the exact Cassandra 3.11 printf
// layout ("%s%s  %-Ns  %-9s  %-11s  %-16s  %-36s  %s"), addresses sorted.
func WriteStatus(w io.Writer, st *State, now time.Time) {
	nodes := st.HostsByRole(RoleCassandra)
	sort.Slice(nodes, func(i, j int) bool { return ipLess(nodes[i].IP, nodes[j].IP) })
	maxAddr := len("Address")
	for _, n := range nodes {
		if len(n.IP) > maxAddr {
			maxAddr = len(n.IP)
		}
	}
	owns := "?"
	if len(nodes) > 0 {
		p := float64(st.Config.ReplicationFactor) / float64(len(nodes)) * 100
		if p > 100 {
			p = 100
		}
		owns = fmt.Sprintf("%.1f%%", p)
	}
	dc := "dc1"
	head := "Datacenter: " + dc
	fmt.Fprintf(w, "%s\n%s\n", head, strings.Repeat("=", len(head)))
	fmt.Fprintf(w, "Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n")
	format := fmt.Sprintf("%%s%%s  %%-%ds  %%-9s  %%-11s  %%-16s  %%-36s  %%s\n", maxAddr)
	fmt.Fprintf(w, format, "-", "-", "Address", "Load", "Tokens", "Owns (effective)", "Host ID", "Rack")
	for _, n := range nodes {
		status := "D"
		if st.CassandraUp(n, now) {
			status = "U"
		}
		fmt.Fprintf(w, format, status, n.Cassandra.State, n.IP, nodetool.FormatSize(n.Cassandra.LoadBytes),
			fmt.Sprint(n.Cassandra.Tokens), owns, n.Cassandra.HostID, n.Rack)
	}
	fmt.Fprintln(w)
}

func repairOptions(full, pr bool) string {
	return fmt.Sprintf("repair options (parallelism: parallel, primary range: %t, incremental: %t, job threads: 1, ColumnFamilies: [], dataCenters: [], hosts: [], # of ranges: %d, pull repair: false)",
		pr, !full, map[bool]int{true: 256, false: 768}[pr])
}

func ts(t time.Time) string { return "[" + t.Local().Format(nodetool.RepairTimeLayout) + "]" }

// repair streams 3.11-style progress for each keyspace (one command each).
func (c *call) repair(args []string) int {
	full, pr := false, false
	var pos []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-full", "--full":
			full = true
		case "-pr", "--partitioner-range":
			pr = true
		case "-dc", "--in-dc", "-hosts", "--in-hosts", "-st", "--start-token", "-et", "--end-token", "-j", "--job-threads":
			i++
		case "--":
		default:
			if strings.HasPrefix(a, "-") {
				continue
			}
			pos = append(pos, a)
		}
	}
	var keyspaces []string
	if len(pos) > 0 {
		keyspaces = pos[:1] // nodetool repair <keyspace> [tables...]
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	if len(keyspaces) == 0 {
		keyspaces = st.Config.Keyspaces
	}
	for _, ks := range keyspaces {
		if _, ok := keyspaceTables[ks]; !ok {
			c.errf("error: Keyspace [%s] does not exist.\n-- StackTrace --\njava.lang.AssertionError: Keyspace [%s] does not exist.", ks, ks)
			return 2
		}
	}
	per := st.Config.RepairDuration.D() / time.Duration(len(keyspaces))
	for _, ks := range keyspaces {
		if rc := c.repairKeyspace(ks, full, pr, per); rc != 0 {
			return rc
		}
	}
	return 0
}

const repairSessions = 10

func (c *call) repairKeyspace(ks string, full, pr bool, per time.Duration) int {
	var (
		rep      Repair
		deadPeer string
	)
	parent := ""
	err := Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		now := time.Now().UTC()
		if !st.CassandraUp(h, now) {
			return errJMX
		}
		for _, o := range st.HostsByRole(RoleCassandra) {
			if o.Name != h.Name && !st.CassandraUp(o, now) {
				deadPeer = o.IP
			}
		}
		rep = Repair{Command: st.NextRepairCommand, Keyspaces: []string{ks}, Full: full, PR: pr, Start: now, Duration: Duration(st.scale(h, per))}
		st.NextRepairCommand++
		if deadPeer != "" {
			rep.Outcome, rep.Error = "failed", fmt.Sprintf("Cannot proceed on repair because a neighbor (/%s) is dead: session failed", deadPeer)
		}
		h.Cassandra.Repairs = append(h.Cassandra.Repairs, rep)
		if n := len(h.Cassandra.Repairs); n > 20 {
			h.Cassandra.Repairs = h.Cassandra.Repairs[n-20:]
		}
		parent = uuidFrom(fmt.Sprintf("%s/repair/%d/%d", h.Name, rep.Command, now.UnixNano()))
		return nil
	})
	if errors.Is(err, errJMX) {
		c.errf("%s", jmxRefused)
		return 1
	}
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	fmt.Fprintf(c.stdout, "%s Starting repair command #%d (%s), repairing keyspace %s with %s\n", ts(rep.Start), rep.Command, parent, ks, repairOptions(full, pr))
	if deadPeer != "" {
		// 3.11 RepairSession throws, RepairRunnable reports the session failure.
		msg := fmt.Sprintf("%s Repair session %s for range %s failed with error %s", ts(time.Now()),
			uuidFrom(parent+"/1"), fakeRanges(1), rep.Error)
		fmt.Fprintln(c.stdout, msg)
		return c.repairFailed(rep, msg)
	}
	tick := rep.Duration.D() / 100
	if tick < 10*time.Millisecond {
		tick = 10 * time.Millisecond
	}
	if tick > 250*time.Millisecond {
		tick = 250 * time.Millisecond
	}
	printed := 0
	for {
		st, err := Load(c.dir)
		if err != nil {
			c.errf("sim: %v", err)
			return 1
		}
		h := st.Host(c.host)
		now := time.Now().UTC()
		if !st.CassandraUp(h, now) {
			msg := fmt.Sprintf("%s JMX connection closed. You should check server log for repair status of keyspace %s(Subsequent keyspaces are not going to be repaired).", ts(now), ks)
			c.markRepair(rep.Command, "failed", msg)
			c.errf("error: %s\n-- StackTrace --\njava.io.IOException: %s", msg, msg)
			return 2
		}
		for _, o := range st.HostsByRole(RoleCassandra) {
			if o.Name != h.Name && !st.CassandraUp(o, now) {
				msg := fmt.Sprintf("%s Repair session %s for range %s failed with error Endpoint /%s died", ts(now),
					uuidFrom(fmt.Sprintf("%s/%d/%d", parent, printed+1, 0)), fakeRanges(printed+1), o.IP)
				fmt.Fprintln(c.stdout, msg)
				return c.repairFailed(rep, msg)
			}
		}
		pct, done := st.RepairProgress(h, currentRepair(h, rep), now)
		due := int(pct / (100 / float64(repairSessions)))
		if h.HasFault(FaultRepairFails) && due >= repairSessions/2 {
			msg := fmt.Sprintf("%s Repair session %s for range %s failed with error Validation failed in /%s", ts(now),
				uuidFrom(fmt.Sprintf("%s/%d", parent, printed+1)), fakeRanges(printed+1), peerIP(st, h))
			fmt.Fprintln(c.stdout, msg)
			return c.repairFailed(rep, msg)
		}
		for printed < due && printed < repairSessions {
			printed++
			fmt.Fprintf(c.stdout, "%s Repair session %s for range %s finished (progress: %d%%)\n", ts(now),
				uuidFrom(fmt.Sprintf("%s/%d", parent, printed)), fakeRanges(printed), printed*100/repairSessions)
		}
		if done {
			c.markRepair(rep.Command, "completed", "")
			fmt.Fprintf(c.stdout, "%s Repair completed successfully\n", ts(now))
			fmt.Fprintf(c.stdout, "%s Repair command #%d finished in %s\n", ts(now), rep.Command, durationWords(now.Sub(rep.Start)))
			return 0
		}
		select {
		case <-c.ctx.Done():
			c.errf("error: %v", c.ctx.Err())
			return 130
		case <-time.After(tick):
		}
	}
}

var errJMX = errors.New("jmx refused")

func currentRepair(h *Host, r Repair) Repair {
	for _, x := range h.Cassandra.Repairs {
		if x.Command == r.Command {
			return x
		}
	}
	return r
}

func peerIP(st *State, h *Host) string {
	for _, o := range st.HostsByRole(RoleCassandra) {
		if o.Name != h.Name {
			return o.IP
		}
	}
	return h.IP
}

func fakeRanges(i int) string {
	step := int64(^uint64(0)>>1) / repairSessions * 2
	lo := int64(-1<<63) + int64(i-1)*step
	return fmt.Sprintf("[(%d,%d], (%d,%d]]", lo, lo+step/2, lo+step/2, lo+step-1)
}

func (c *call) repairFailed(rep Repair, msg string) int {
	now := time.Now()
	c.markRepair(rep.Command, "failed", msg)
	fmt.Fprintf(c.stdout, "%s Repair command #%d finished with error\n", ts(now), rep.Command)
	c.errf("error: Repair job has failed with the error message: %s\n-- StackTrace --\njava.lang.RuntimeException: Repair job has failed with the error message: %s\n\tat org.apache.cassandra.tools.RepairRunner.progress(RepairRunner.java:116)", msg, msg)
	return 2
}

func (c *call) markRepair(cmd int, outcome, msg string) {
	_ = Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		for i := range h.Cassandra.Repairs {
			if h.Cassandra.Repairs[i].Command == cmd {
				h.Cassandra.Repairs[i].Outcome = outcome
				h.Cassandra.Repairs[i].Error = msg
			}
		}
		return nil
	})
}

func (c *call) snapshot(args []string) int {
	tag := ""
	skipFlush := false
	var keyspaces []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-t" || a == "--tag":
			if i+1 < len(args) {
				tag = args[i+1]
				i++
			}
		case a == "-sf" || a == "--skip-flush":
			skipFlush = true
		case a == "-cf" || a == "--column-family" || a == "--table" || a == "-kt" || a == "--kt-list" || a == "-kc" || a == "--kc.list":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			keyspaces = append(keyspaces, a)
		}
	}
	if tag == "" {
		tag = fmt.Sprint(time.Now().UnixMilli())
	}
	what := "[all keyspaces]"
	if len(keyspaces) > 0 {
		what = "[" + strings.Join(keyspaces, ", ") + "]"
	}
	fmt.Fprintf(c.stdout, "Requested creating snapshot(s) for %s with snapshot name [%s] and options {skipFlush=%t}\n", what, tag, skipFlush)
	var failure string
	err := Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		if h.HasFault(FaultDiskFull) && !skipFlush {
			failure = "java.io.IOError: java.io.IOException: No space left on device"
			return nil
		}
		for _, s := range h.Cassandra.Snapshots {
			if s.Tag == tag {
				failure = "Snapshot " + tag + " already exists."
				return nil
			}
		}
		kss := keyspaces
		if len(kss) == 0 {
			kss = append(append([]string{}, st.Config.Keyspaces...), "system_auth", "system_distributed", "system_traces")
		}
		for _, ks := range kss {
			if _, ok := keyspaceTables[ks]; !ok {
				failure = "Keyspace " + ks + " does not exist"
				return nil
			}
		}
		var sizes map[[2]string]float64
		if h.DataRoot != "" {
			var err error
			if sizes, err = snapshotFiles(h, tag, kss); err != nil {
				failure = "java.io.IOException: " + err.Error()
				return nil
			}
		}
		for _, ks := range kss {
			for i, t := range keyspaceTables[ks] {
				b := 4096 + float64(len(t)*1500+i*777)
				if sizes != nil {
					b = sizes[[2]string{ks, t}]
				}
				h.Cassandra.Snapshots = append(h.Cassandra.Snapshots, SnapshotRec{Tag: tag, Keyspace: ks, Table: t,
					Bytes: b, Created: time.Now().UTC()})
			}
		}
		return nil
	})
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	if failure != "" {
		c.errf("error: %s\n-- StackTrace --\njava.io.IOException: %s", failure, failure)
		return 2
	}
	fmt.Fprintf(c.stdout, "Snapshot directory: %s\n", tag)
	return 0
}

func writeListSnapshots(w io.Writer, h *Host) {
	if len(h.Cassandra.Snapshots) == 0 {
		fmt.Fprintln(w, "There are no snapshots")
		return
	}
	rows := [][]string{{"Snapshot name", "Keyspace name", "Column family name", "True size", "Size on disk"}}
	for _, s := range h.Cassandra.Snapshots {
		rows = append(rows, []string{s.Tag, s.Keyspace, s.Table, "0 bytes", nodetool.FormatSize(s.Bytes)})
	}
	widths := make([]int, 5)
	for _, r := range rows {
		for i, cell := range r {
			if len(cell) > widths[i] {
				widths[i] = len(cell)
			}
		}
	}
	fmt.Fprintln(w, "Snapshot Details: ")
	for _, r := range rows {
		for i, cell := range r {
			if i > 0 {
				fmt.Fprint(w, " ")
			}
			fmt.Fprintf(w, "%-*s", widths[i], cell)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nTotal TrueDiskSpaceUsed: 0 bytes\n\n")
}

func (c *call) clearSnapshot(args []string) int {
	tag := ""
	var keyspaces []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-t" || a == "--tag":
			if i+1 < len(args) {
				tag = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "-"):
		default:
			keyspaces = append(keyspaces, a)
		}
	}
	what := "[all keyspaces]"
	if len(keyspaces) > 0 {
		what = "[" + strings.Join(keyspaces, ", ") + "]"
	}
	name := "all snapshots"
	if tag != "" {
		name = "[" + tag + "]"
	}
	fmt.Fprintf(c.stdout, "Requested clearing snapshot(s) for %s with snapshot name %s\n", what, name)
	err := Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		keep := h.Cassandra.Snapshots[:0]
		for _, s := range h.Cassandra.Snapshots {
			match := (tag == "" || s.Tag == tag) && (len(keyspaces) == 0 || contains(keyspaces, s.Keyspace))
			if !match {
				keep = append(keep, s)
			}
		}
		h.Cassandra.Snapshots = keep
		if h.DataRoot != "" {
			return clearSnapshotFiles(h, tag, keyspaces)
		}
		return nil
	})
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeInfo(w io.Writer, st *State, h *Host, now time.Time) {
	cs := h.Cassandra
	line := func(k, v string) { fmt.Fprintf(w, "%-23s: %s\n", k, v) }
	line("ID", cs.HostID)
	line("Gossip active", "true")
	line("Thrift active", "false")
	line("Native Transport active", "true")
	line("Load", nodetool.FormatSize(cs.LoadBytes))
	line("Generation No", fmt.Sprint(cs.Generation))
	line("Uptime (seconds)", fmt.Sprint(int64(now.Sub(cs.StartedAt).Seconds())))
	line("Heap Memory (MB)", "512.33 / 3970.00")
	line("Off Heap Memory (MB)", "12.41")
	line("Data Center", "dc1")
	line("Rack", h.Rack)
	exceptions := "0"
	if h.HasFault(FaultDiskFull) {
		exceptions = "17"
	}
	line("Exceptions", exceptions)
	line("Key Cache", "entries 1200, size 106.03 KiB, capacity 100 MiB, 5321 hits, 6020 requests, 0.884 recent hit rate, 14400 save period in seconds")
	line("Row Cache", "entries 0, size 0 bytes, capacity 0 bytes, 0 hits, 0 requests, NaN recent hit rate, 0 save period in seconds")
	line("Counter Cache", "entries 0, size 0 bytes, capacity 50 MiB, 0 hits, 0 requests, NaN recent hit rate, 7200 save period in seconds")
	line("Chunk Cache", "entries 20, size 1.25 MiB, capacity 480 MiB, 320 misses, 9000 requests, 0.964 recent hit rate, 31.416 microseconds miss latency")
	line("Percent Repaired", "100.0%")
	line("Token", fmt.Sprintf("(invoke with -T/--tokens to see all %d tokens)", cs.Tokens))
}

// pendingCompactions is what compactionstats and the exporter report.
func pendingCompactions(st *State, h *Host, now time.Time) int {
	n := 0
	if h.HasFault(FaultDiskFull) {
		n += 12
	}
	return n + len(st.ActiveRepairs(h, now))
}

// repairInvolvement is one running repair a node takes part in: the
// coordinator's record, and whether this node coordinates it.
type repairInvolvement struct {
	Coordinator *Host
	Repair      Repair
	Pct         float64
}

// RepairsInvolving returns the running repairs whose sessions involve h: the
// ones h coordinates and those of the nodes whose primary range h replicates
// (the coordinator and the next RF-1 nodes in ring order, taken as address
// order). A repair goes on on the server side after its nodetool client is
// killed, until its simulated duration has passed.
func (st *State) repairsInvolving(h *Host, now time.Time) []repairInvolvement {
	ring := st.HostsByRole(RoleCassandra)
	sort.Slice(ring, func(i, j int) bool { return ipLess(ring[i].IP, ring[j].IP) })
	rf := st.Config.ReplicationFactor
	if rf > len(ring) {
		rf = len(ring)
	}
	var out []repairInvolvement
	for i, c := range ring {
		involved := false
		for k := 0; k < rf; k++ {
			if ring[(i+k)%len(ring)].Name == h.Name {
				involved = true
			}
		}
		if !involved || !st.CassandraUp(c, now) {
			continue
		}
		for _, r := range st.ActiveRepairs(c, now) {
			pct, _ := st.RepairProgress(c, r, now)
			out = append(out, repairInvolvement{Coordinator: c, Repair: r, Pct: pct})
		}
	}
	return out
}

// writeCompactionStats prints 3.11's CompactionStats: "pending tasks", the
// "- ks.table: N" lines, an empty line, then (only when something runs) the
// TableBuilder table and the remaining-time line. A running repair shows as a
// Validation compaction of its keyspace's first table on every replica.
func writeCompactionStats(w io.Writer, st *State, h *Host, now time.Time) {
	fmt.Fprintf(w, "pending tasks: %d\n", pendingCompactions(st, h, now))
	for _, r := range st.ActiveRepairs(h, now) {
		fmt.Fprintf(w, "- %s.%s: 1\n", r.Keyspaces[0], keyspaceTables[r.Keyspaces[0]][0])
	}
	fmt.Fprintln(w)
	involved := st.repairsInvolving(h, now)
	if len(involved) == 0 {
		return
	}
	rows := [][]string{{"id", "compaction type", "keyspace", "table", "completed", "total", "unit", "progress"}}
	for _, in := range involved {
		ks := in.Repair.Keyspaces[0]
		total := int64(104857600)
		rows = append(rows, []string{uuidFrom(fmt.Sprintf("validation/%s/%d/%s", in.Coordinator.Name, in.Repair.Command, h.Name)), "Validation", ks, keyspaceTables[ks][0],
			fmt.Sprint(int64(float64(total) * in.Pct / 100)), fmt.Sprint(total), "bytes", fmt.Sprintf("%.2f%%", in.Pct)})
	}
	writeTable(w, rows)
	// Only "Compaction" rows count towards the remaining time; the default
	// compaction_throughput_mb_per_sec is 16, so it is never n/a.
	fmt.Fprintf(w, "%25s%10s\n", "Active compaction remaining time : ", "0h00m00s")
}

// writeTable is nodetool's TableBuilder: every cell padded to its column's
// width, columns separated by one space.
func writeTable(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			if len(c) > widths[i] {
				widths[i] = len(c)
			}
		}
	}
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(w, " ")
			}
			fmt.Fprintf(w, "%-*s", widths[i], c)
		}
		fmt.Fprintln(w)
	}
}

// writeNetStats prints 3.11's NetStats: the mode, then one "Repair <plan id>"
// stream plan per running repair that involves h, with the other replicas as
// peers (receiving from and sending to each, in proportion to the repair's
// progress), then the read repair and message pool figures.
func writeNetStats(w io.Writer, st *State, h *Host, now time.Time) {
	fmt.Fprintln(w, "Mode: NORMAL")
	involved := st.repairsInvolving(h, now)
	if len(involved) == 0 {
		fmt.Fprintln(w, "Not sending any streams.")
	}
	for _, in := range involved {
		fmt.Fprintf(w, "Repair %s\n", uuidFrom(fmt.Sprintf("stream/%s/%d", in.Coordinator.Name, in.Repair.Command)))
		ks := in.Repair.Keyspaces[0]
		table := keyspaceTables[ks][0]
		for _, peer := range st.HostsByRole(RoleCassandra) {
			if peer.Name == h.Name {
				continue
			}
			if peer.Name != in.Coordinator.Name && h.Name != in.Coordinator.Name {
				continue // sessions run between the coordinator and each replica
			}
			const file = int64(2097152)
			done := int64(float64(2*file) * in.Pct / 100)
			fmt.Fprintf(w, "    /%s\n", peer.IP)
			fmt.Fprintf(w, "        Receiving 2 files, %d bytes total. Already received %d files, %d bytes total\n", 2*file, done/file, done)
			fmt.Fprintf(w, "            /var/lib/cassandra/data/%s/%s-%s/mc-%d-big-Data.db %d/%d bytes(%d%%) received from idx:0/%s\n",
				ks, table, strings.ReplaceAll(uuidFrom(ks+"/"+table), "-", ""), in.Repair.Command, done%file, file, (done%file)*100/file, peer.IP)
			fmt.Fprintf(w, "        Sending 2 files, %d bytes total. Already sent %d files, %d bytes total\n", 2*file, done/file, done)
		}
	}
	fmt.Fprintf(w, "Read Repair Statistics:\nAttempted: 0\nMismatch (Blocking): 0\nMismatch (Background): 0\n")
	fmt.Fprintf(w, "%-25s%10s%10s%15s%10s\n", "Pool Name", "Active", "Pending", "Completed", "Dropped")
	fmt.Fprintf(w, "%-25s%10s%10d%15d%10d\n", "Large messages", "n/a", 0, 52, 0)
	fmt.Fprintf(w, "%-25s%10s%10d%15d%10d\n", "Small messages", "n/a", 0, 163092, 0)
	fmt.Fprintf(w, "%-25s%10s%10d%15d%10d\n", "Gossip messages", "n/a", 0, 27548, 0)
}
