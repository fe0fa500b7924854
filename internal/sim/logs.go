package sim

// Logs of the simulated hosts, derived from the state and the clock (so they
// keep coming while a workflow runs, and nothing is written to disk):
// Cassandra's /var/log/cassandra/system.log in logback's format
// ("%-5level [%thread] %date{ISO8601} %F:%L - %msg%n", conf/logback.xml of
// Cassandra 3.11), and each container's output for `docker logs`, Envoy's in
// its default format ("[%Y-%m-%d %T.%e][%t][%l][%n] %v"), the JVM services'
// in a log4j-like "date [LEVEL logger] message" [NOT VERIFIED against the
// images' log4j2 configs].

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CassandraSystemLog is the path `tail` serves Cassandra's log at.
const CassandraSystemLog = "/var/log/cassandra/system.log"

// logEvery is the period of the steady-state lines.
const logEvery = 30 * time.Second

// logLine is one line with its time.
type logLine struct {
	at   time.Time
	text string // without the timestamp for docker logs; whole for files
}

// cassandraLog returns h's system.log lines up to now.
func (st *State) cassandraLog(h *Host, now time.Time) []logLine {
	cs := h.Cassandra
	if cs == nil || cs.StartedAt.IsZero() {
		return nil
	}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05,000") }
	var out []logLine
	add := func(t time.Time, level, thread, src, msg string) {
		if t.After(now) {
			return
		}
		out = append(out, logLine{at: t, text: fmt.Sprintf("%-5s [%s] %s %s - %s", level, thread, ts(t), src, msg)})
	}
	s := cs.StartedAt
	add(s, "INFO", "main", "YamlConfigurationLoader.java:89", "Configuration location: file:/etc/cassandra/default.conf/cassandra.yaml")
	add(s.Add(400*time.Millisecond), "INFO", "main", "CassandraDaemon.java:471", "Hostname: "+h.Name)
	add(s.Add(410*time.Millisecond), "INFO", "main", "CassandraDaemon.java:478", "JVM vendor/version: OpenJDK 64-Bit Server VM/1.8.0_275")
	add(s.Add(2*time.Second), "INFO", "main", "StorageService.java:618", "Cassandra version: 3.11.9")
	add(s.Add(2500*time.Millisecond), "INFO", "main", "StorageService.java:1548", "JOINING: Finish joining ring")
	add(s.Add(3*time.Second), "INFO", "main", "Server.java:159", "Starting listening for CQL clients on /"+h.IP+":9042 (unencrypted)...")
	add(s.Add(3100*time.Millisecond), "INFO", "main", "CassandraDaemon.java:556", "Not starting RPC server as requested. Use JMX (StorageService->startRPCServer()) or nodetool (enablethrift) to start it")
	for _, r := range cs.Repairs {
		ks := strings.Join(r.Keyspaces, ", ")
		id := uuidFrom(fmt.Sprintf("%s/repair/%d", h.Name, r.Command))
		add(r.Start, "INFO", "Repair-Task-"+strconv.Itoa(r.Command+1), "RepairRunnable.java:141",
			fmt.Sprintf("Starting repair command #%d (%s), repairing keyspace %s with repair options (parallelism: parallel, primary range: %t, incremental: %t, job threads: 1, ColumnFamilies: [], dataCenters: [], hosts: [], # of ranges: %d, pull repair: false)",
				r.Command, id, ks, r.PR, !r.Full, cs.Tokens))
		end := r.Start.Add(time.Duration(r.Duration))
		switch r.Outcome {
		case "completed":
			add(end, "INFO", "Repair-Task-"+strconv.Itoa(r.Command+1), "RepairRunnable.java:343",
				fmt.Sprintf("Repair command #%d finished in %d seconds", r.Command, int(time.Duration(r.Duration).Seconds())))
		case "failed":
			add(end, "ERROR", "Repair#"+strconv.Itoa(r.Command)+":1", "RepairRunnable.java:177",
				fmt.Sprintf("Repair session %s for range [] failed with error %s", id, r.Error))
		}
	}
	for _, sn := range cs.Snapshots {
		add(sn.Created, "INFO", "RMI TCP Connection(2)-127.0.0.1", "StorageService.java:3470",
			fmt.Sprintf("Snapshot %s taken for keyspace %s table %s", sn.Tag, sn.Keyspace, sn.Table))
	}
	if cs.Active {
		for t := s.Add(logEvery); !t.After(now); t = t.Add(logEvery) {
			add(t, "INFO", "Service Thread", "GCInspector.java:284",
				fmt.Sprintf("ParNew GC in %dms.  CMS Old Gen: 116389432 -> 116512856; Par Eden Space: 83886080 -> 0; Par Survivor Space: 4105368 -> 4190208", 10+int(t.Unix()%17)))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// containerLog returns c's output lines up to now (without timestamps).
func (st *State) containerLog(h *Host, c *Container, now time.Time) []logLine {
	if c == nil || c.StartedAt.IsZero() {
		return nil
	}
	var out []logLine
	add := func(t time.Time, text string) {
		if !t.After(now) && (c.Running || t.Before(c.FinishedAt) || c.FinishedAt.IsZero()) {
			out = append(out, logLine{at: t, text: text})
		}
	}
	j := func(t time.Time, level, logger, msg string) string {
		return fmt.Sprintf("%s [%-5s %s] %s", t.UTC().Format("2006-01-02 15:04:05,000"), level, logger, msg)
	}
	s := c.StartedAt
	switch c.Service {
	case "envoy":
		e := func(t time.Time, level, name, msg string) string {
			return fmt.Sprintf("[%s][1][%s][%s] %s", t.UTC().Format("2006-01-02 15:04:05.000"), level, name, msg)
		}
		add(s, e(s, "info", "main", "[source/server/server.cc:255] initializing epoch 0 (hot restart version=11.104)"))
		add(s.Add(200*time.Millisecond), e(s.Add(200*time.Millisecond), "info", "upstream", "[source/common/upstream/cluster_manager_impl.cc:171] cm init: all clusters initialized"))
		add(s.Add(300*time.Millisecond), e(s.Add(300*time.Millisecond), "info", "main", "[source/server/server.cc:537] starting main dispatch loop"))
		for t := s.Add(logEvery); !t.After(now); t = t.Add(logEvery) {
			add(t, e(t, "info", "upstream", "[source/common/upstream/health_checker_impl.cc:313] health check: scalar-service members healthy"))
		}
	default:
		logger := map[string]string{"scalar": "com.scalar.dl.ledger.server.LedgerServer", "cassy": "com.scalar.cassy.server.CassyServer",
			"reaper": "io.cassandrareaper.ReaperApplication"}[c.Service]
		if logger == "" {
			logger = c.Service
		}
		add(s, j(s, "INFO", logger, "starting "+c.Image))
		ready := c.ReadyAt
		if ready.Before(s) {
			ready = s
		}
		add(ready, j(ready, "INFO", logger, "server started, listening on "+firstPort(c.Ports)))
		if tag, ok := h.Faults[FaultBadTag]; ok && tag == imageTag(c.Image) {
			add(ready, j(ready, "ERROR", logger, "health check failed: NOT_SERVING"))
		}
		for t := s.Add(logEvery); !t.After(now); t = t.Add(logEvery) {
			add(t, j(t, "INFO", logger, "alive"))
		}
	}
	if !c.Running && !c.FinishedAt.IsZero() && !c.FinishedAt.After(now) {
		out = append(out, logLine{at: c.FinishedAt, text: j(c.FinishedAt, "INFO", c.Service, "shutting down")})
	}
	sort.SliceStable(out, func(i, k int) bool { return out[i].at.Before(out[k].at) })
	return out
}

func firstPort(ports string) string {
	if i := strings.Index(ports, ":"); i >= 0 {
		p := ports[i+1:]
		if k := strings.IndexAny(p, "-/"); k >= 0 {
			p = p[:k]
		}
		return p
	}
	return "-"
}

// printLog prints lines (after since, the last tail of them when tail >= 0),
// then, when follow, new ones as they appear until the context ends. read
// returns the current lines and whether the log still exists.
func (c *call) printLog(read func(now time.Time) ([]logLine, bool), since time.Time, tail int, follow, stamps bool) int {
	print := func(l logLine) {
		if stamps {
			fmt.Fprintf(c.stdout, "%s %s\n", l.at.UTC().Format(time.RFC3339Nano), l.text)
		} else {
			fmt.Fprintln(c.stdout, l.text)
		}
	}
	lines, ok := read(time.Now())
	if !ok {
		return 1
	}
	var shown []logLine
	for _, l := range lines {
		if since.IsZero() || !l.at.Before(since) {
			shown = append(shown, l)
		}
	}
	if tail >= 0 && len(shown) > tail {
		shown = shown[len(shown)-tail:]
	}
	for _, l := range shown {
		print(l)
	}
	if !follow {
		return 0
	}
	printed := len(lines)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return 0
		case <-t.C:
		}
		lines, ok := read(time.Now())
		if !ok {
			return 0
		}
		if len(lines) < printed { // restarted: a new log
			printed = 0
		}
		for _, l := range lines[printed:] {
			print(l)
		}
		printed = len(lines)
	}
}

// tail serves `tail [-n N] [-F|-f] FILE` for Cassandra's system.log.
func (c *call) tail(args []string) int {
	ours := false
	for _, a := range args {
		ours = ours || a == CassandraSystemLog
	}
	if !ours {
		return c.realTail(args)
	}
	n, follow := 10, false
	var file string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-F" || a == "-f" || a == "--follow=name" || a == "--retry":
			follow = true
		case a == "-n" && i+1 < len(args):
			i++
			v, err := strconv.Atoi(strings.TrimPrefix(args[i], "+"))
			if err != nil {
				c.errf("tail: invalid number of lines: %s", quoteGNU(args[i]))
				return 1
			}
			n = v
		case strings.HasPrefix(a, "-n"):
			v, err := strconv.Atoi(a[2:])
			if err != nil {
				c.errf("tail: invalid number of lines: %s", quoteGNU(a[2:]))
				return 1
			}
			n = v
		case strings.HasPrefix(a, "-") && a != "-":
			c.errf("tail: invalid option -- '%s'", strings.TrimLeft(a, "-"))
			return 1
		default:
			file = a
		}
	}
	if file != CassandraSystemLog {
		return c.realTail(args)
	}
	read := func(now time.Time) ([]logLine, bool) {
		st, err := Load(c.dir)
		if err != nil {
			return nil, false
		}
		h := st.Host(c.host)
		if h == nil || h.Cassandra == nil {
			return nil, false
		}
		return st.cassandraLog(h, now), true
	}
	if lines, ok := read(time.Now()); !ok {
		c.errf("tail: cannot open %s for reading: No such file or directory", quoteGNU(file))
		return 1
	} else if lines == nil {
		lines = []logLine{}
	}
	return c.printLog(read, time.Time{}, n, follow, false)
}

// realTail runs the system's tail for every file but Cassandra's log: the
// simulator owns only that one (detached runs' output files are real files).
// The absolute path avoids the lab's wrapper of the same name.
func (c *call) realTail(args []string) int {
	bin := ""
	for _, p := range []string{"/usr/bin/tail", "/bin/tail"} {
		if _, err := os.Stat(p); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		c.errf("sim: tail: no system tail in /usr/bin or /bin")
		return exitNotFound
	}
	cmd := exec.CommandContext(c.ctx, bin, args...)
	cmd.Dir = c.env["PWD"]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.stdin, c.stdout, c.stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	case c.ctx.Err() != nil:
		return 143
	}
	c.errf("sim: tail: %v", err)
	return 1
}

func quoteGNU(s string) string { return "'" + s + "'" }

// dockerLogs serves `docker logs [--timestamps|-t] [--since T] [--tail N]
// [--follow|-f] CONTAINER`.
func (c *call) dockerLogs(args []string) int {
	var (
		name          string
		since         time.Time
		tail          = -1
		follow, stamp bool
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, bool) {
			if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
				return v, true
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			return "", false
		}
		switch {
		case a == "-f" || a == "--follow":
			follow = true
		case a == "-t" || a == "--timestamps":
			stamp = true
		case a == "--since" || strings.HasPrefix(a, "--since="):
			v, ok := val()
			t, err := parseDockerSince(v)
			if !ok || err != nil {
				c.errf("invalid value for \"since\": %v", err)
				return 1
			}
			since = t
		case a == "--tail" || a == "-n" || strings.HasPrefix(a, "--tail="):
			v, ok := val()
			if v == "all" {
				tail = -1
				continue
			}
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				tail = -1 // docker treats an unparsable --tail as "all"
				continue
			}
			tail = n
		case strings.HasPrefix(a, "-"):
			c.errf("unknown flag: %s\nSee 'docker logs --help'.", a)
			return 1
		default:
			name = a
		}
	}
	if name == "" {
		c.errf("\"docker logs\" requires exactly 1 argument.\nSee 'docker logs --help'.\n\nUsage:  docker logs [OPTIONS] CONTAINER\n\nFetch the logs of a container")
		return 1
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	if st.Config.DockerLogsUnreadable {
		c.errf("Error response from daemon: configured logging driver does not support reading")
		return 1
	}
	if h := st.Host(c.host); h == nil || h.Container(name) == nil {
		c.errf("Error: No such container: %s", name)
		return 1
	}
	read := func(now time.Time) ([]logLine, bool) {
		st, err := Load(c.dir)
		if err != nil {
			return nil, false
		}
		h := st.Host(c.host)
		if h == nil {
			return nil, false
		}
		ct := h.Container(name)
		if ct == nil {
			return nil, false
		}
		return st.containerLog(h, ct, now), true
	}
	return c.printLog(read, since, tail, follow, stamp)
}

// parseDockerSince reads --since: RFC 3339 (with or without fraction),
// Unix seconds, or a Go duration relative to now ("10m").
func parseDockerSince(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(int64(f), 0), nil
	}
	return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", v)
}
