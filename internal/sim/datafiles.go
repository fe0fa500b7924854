package sim

// The data directory of a simulated Cassandra node is made of real files, so
// that the tools an operator (or a workflow) runs on the node — ls, find,
// du, mv, ln, cp, cksum — are the real ones and behave as on a real data
// directory. The simulator only keeps the bookkeeping that Cassandra would:
// SSTable generations and a content digest, written in the files themselves.
//
// Layout under a host's DataRoot (cassandra.yaml of scalar-terraform:
// data_file_directories /data, commitlog_directory /commitlog):
//
//	DataRoot/data/<keyspace>/<table>-<32 hex id>/md-<gen>-big-{Data.db,Digest.crc32,TOC.txt}
//	DataRoot/data/<keyspace>/<table>-<id>/snapshots/<tag>/{hard links..., manifest.json, schema.cql}
//	DataRoot/data/<keyspace>/<table>-<id>/backups/
//	DataRoot/commitlog/CommitLog-6-<n>.log
//
// Data.db holds one line, "SIMSSTABLE keyspace=K table=T generation=G
// rows=N digest=HEX", where the digest covers keyspace, table, generation
// and rows; Digest.crc32 holds the CRC32 of Data.db in decimal, as
// Cassandra writes it. `systemctl start cassandra` refuses to bring the node
// up when a live Data.db does not match its Digest.crc32 (as Cassandra stops
// on a corrupt SSTable with disk_failure_policy: stop).

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DataTables are the tables a write through Scalar DL advances: the
// ledger's asset and asset_metadata rows and the coordinator's state.
var DataTables = [][2]string{{"scalar", "asset"}, {"scalar", "asset_metadata"}, {"coordinator", "state"}}

// FaultStartFails makes `systemctl start cassandra` exit 0 while the
// process dies at once (systemd shows the unit failed): the node never
// becomes UN.
const FaultStartFails = "start-fails"

func init() { FaultKinds = append(FaultKinds, FaultStartFails) }

// TableID is the 32-hex table id in a table directory's name.
func TableID(keyspace, table string) string {
	s := md5.Sum([]byte(keyspace + "." + table))
	return hex.EncodeToString(s[:])
}

// TableDir is the directory of keyspace.table under dataRoot.
func TableDir(dataRoot, keyspace, table string) string {
	return filepath.Join(dataRoot, "data", keyspace, table+"-"+TableID(keyspace, table))
}

// CommitlogDir is the commit log directory under dataRoot.
func CommitlogDir(dataRoot string) string { return filepath.Join(dataRoot, "commitlog") }

// SSTable is one generation of one table, as read from its Data.db.
type SSTable struct {
	Keyspace   string `json:"keyspace"`
	Table      string `json:"table"`
	Generation int    `json:"generation"`
	Rows       int    `json:"rows"`
	Digest     string `json:"digest"`
}

// Name is the Data.db file name.
func (s SSTable) Name() string { return fmt.Sprintf("md-%d-big-Data.db", s.Generation) }

var dataRE = regexp.MustCompile(`^md-(\d+)-big-Data\.db$`)

func sstableDigest(ks, table string, gen, rows int) string {
	s := sha256.Sum256([]byte(fmt.Sprintf("%s.%s/%d/%d", ks, table, gen, rows)))
	return hex.EncodeToString(s[:16])
}

func dataLine(s SSTable) string {
	return fmt.Sprintf("SIMSSTABLE keyspace=%s table=%s generation=%d rows=%d digest=%s\n", s.Keyspace, s.Table, s.Generation, s.Rows, s.Digest)
}

// writeSSTable writes the components of s into dir.
func writeSSTable(dir string, s SSTable) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data := []byte(dataLine(s))
	base := fmt.Sprintf("md-%d-big-", s.Generation)
	files := []struct {
		name string
		body []byte
	}{
		{base + "Data.db", data},
		{base + "Digest.crc32", []byte(strconv.FormatUint(uint64(crc32.ChecksumIEEE(data)), 10))},
		{base + "TOC.txt", []byte("Data.db\nDigest.crc32\nTOC.txt\n")},
	}
	// TOC last: Cassandra treats an SSTable without its TOC as unfinished.
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.body, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ReadSSTables returns the SSTables whose Data.db is directly in dir
// (a live table directory or a snapshot), sorted by generation. A Data.db
// that does not parse, or whose Digest.crc32 does not match, is an error.
func ReadSSTables(dir string) ([]SSTable, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []SSTable
	for _, e := range ents {
		m := dataRE.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		s, err := readSSTable(dir, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Generation < out[j].Generation })
	return out, nil
}

func readSSTable(dir, name string) (SSTable, error) {
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return SSTable{}, err
	}
	var s SSTable
	if _, err := fmt.Sscanf(string(b), "SIMSSTABLE keyspace=%s table=%s generation=%d rows=%d digest=%s", &s.Keyspace, &s.Table, &s.Generation, &s.Rows, &s.Digest); err != nil {
		return SSTable{}, fmt.Errorf("corrupt SSTable %s: %v", p, err)
	}
	if s.Digest != sstableDigest(s.Keyspace, s.Table, s.Generation, s.Rows) {
		return SSTable{}, fmt.Errorf("corrupt SSTable %s: digest mismatch", p)
	}
	crc, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(name, "Data.db")+"Digest.crc32"))
	if err != nil {
		return SSTable{}, fmt.Errorf("SSTable %s: %w", p, err)
	}
	if strings.TrimSpace(string(crc)) != strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10) {
		return SSTable{}, fmt.Errorf("corrupt SSTable %s: Digest.crc32 mismatch", p)
	}
	return s, nil
}

// SetDataRoot gives host a data directory of real files at root (created
// with one SSTable of generation 1 per table of Config.Keyspaces) and
// makes nodetool snapshot, clearsnapshot and systemctl start use it. The
// demo uses each Cassandra host's HOME (the node sees ~/data and
// ~/commitlog); the lab the host's home directory.
func SetDataRoot(dir, host, root string) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	return Update(dir, func(st *State) error {
		h := st.Host(host)
		if h == nil || h.Cassandra == nil {
			return fmt.Errorf("sim: %q is not a Cassandra host", host)
		}
		h.DataRoot = abs
		var tables [][2]string
		for _, ks := range st.Config.Keyspaces {
			for _, t := range keyspaceTables[ks] {
				tables = append(tables, [2]string{ks, t})
			}
		}
		for _, t := range tables {
			td := TableDir(abs, t[0], t[1])
			have, err := ReadSSTables(td)
			if err != nil {
				return err
			}
			if len(have) == 0 {
				if err := writeSSTable(td, SSTable{Keyspace: t[0], Table: t[1], Generation: 1, Rows: 10, Digest: sstableDigest(t[0], t[1], 1, 10)}); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(filepath.Join(td, "backups"), 0o755); err != nil {
				return err
			}
		}
		return os.MkdirAll(CommitlogDir(abs), 0o755)
	})
}

// Write plays `rows` rows written through Scalar DL: every Cassandra node
// that is up flushes a new SSTable generation of each table of DataTables
// and appends a commit log segment. It fails like a client would when no
// Scalar DL node serves (stopped or paused) or no Cassandra node is up.
// It returns the number of nodes written.
func Write(dir string, rows int, now time.Time) (int, error) {
	if rows <= 0 {
		rows = 1
	}
	n := 0
	err := Update(dir, func(st *State) error {
		serving := false
		for _, h := range st.HostsByRole("scalardl") {
			if !h.Paused && st.Health(h, h.ScalarContainer(), now) == Serving {
				serving = true
			}
		}
		if !serving {
			return errors.New("UNAVAILABLE: no Scalar DL node serves (stopped or paused)")
		}
		for _, h := range st.HostsByRole(RoleCassandra) {
			if h.DataRoot == "" || !st.CassandraUp(h, now) {
				continue
			}
			for _, t := range DataTables {
				td := TableDir(h.DataRoot, t[0], t[1])
				have, err := ReadSSTables(td)
				if err != nil {
					return err
				}
				gen := 1
				if len(have) > 0 {
					gen = have[len(have)-1].Generation + 1
				}
				if err := writeSSTable(td, SSTable{Keyspace: t[0], Table: t[1], Generation: gen, Rows: rows, Digest: sstableDigest(t[0], t[1], gen, rows)}); err != nil {
					return err
				}
			}
			cl := CommitlogDir(h.DataRoot)
			ents, _ := os.ReadDir(cl)
			seg := filepath.Join(cl, fmt.Sprintf("CommitLog-6-%d.log", now.UnixNano()+int64(len(ents))))
			if err := os.WriteFile(seg, []byte(fmt.Sprintf("rows=%d\n", rows)), 0o644); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return errors.New("UNAVAILABLE: no Cassandra node is up")
		}
		return nil
	})
	return n, err
}

// snapshotFiles hard-links the live components of every table of keyspaces
// under h.DataRoot into snapshots/<tag>/ with a manifest.json and a
// schema.cql, as `nodetool snapshot` does, and returns the bytes per table.
func snapshotFiles(h *Host, tag string, keyspaces []string) (map[[2]string]float64, error) {
	sizes := map[[2]string]float64{}
	for _, ks := range keyspaces {
		tds, _ := filepath.Glob(filepath.Join(h.DataRoot, "data", ks, "*-*"))
		for _, td := range tds {
			table := filepath.Base(td)
			table = table[:strings.LastIndexByte(table, '-')]
			sd := filepath.Join(td, "snapshots", tag)
			if err := os.MkdirAll(sd, 0o755); err != nil {
				return nil, err
			}
			ents, err := os.ReadDir(td)
			if err != nil {
				return nil, err
			}
			var data []string
			var bytes float64
			for _, e := range ents {
				if !e.Type().IsRegular() {
					continue
				}
				if err := os.Link(filepath.Join(td, e.Name()), filepath.Join(sd, e.Name())); err != nil && !errors.Is(err, fs.ErrExist) {
					return nil, err
				}
				if fi, err := e.Info(); err == nil {
					bytes += float64(fi.Size())
				}
				if dataRE.MatchString(e.Name()) {
					data = append(data, e.Name())
				}
			}
			sort.Strings(data)
			if data == nil {
				data = []string{}
			}
			man, _ := json.Marshal(map[string][]string{"files": data})
			if err := os.WriteFile(filepath.Join(sd, "manifest.json"), man, 0o644); err != nil {
				return nil, err
			}
			schema := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (\n\tid text PRIMARY KEY)\n\tWITH ID = %s;\n", ks, table, TableID(ks, table))
			if err := os.WriteFile(filepath.Join(sd, "schema.cql"), []byte(schema), 0o644); err != nil {
				return nil, err
			}
			sizes[[2]string{ks, table}] = bytes + float64(len(man)+len(schema))
		}
	}
	return sizes, nil
}

// clearSnapshotFiles removes snapshots/<tag> (every tag when tag is "") of
// the tables of keyspaces (all when empty) under h.DataRoot.
func clearSnapshotFiles(h *Host, tag string, keyspaces []string) error {
	pattern := filepath.Join(h.DataRoot, "data", "*", "*-*", "snapshots", "*")
	if tag != "" {
		pattern = filepath.Join(h.DataRoot, "data", "*", "*-*", "snapshots", tag)
	}
	dirs, err := filepath.Glob(pattern)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		rel, _ := filepath.Rel(filepath.Join(h.DataRoot, "data"), d)
		ks, _, _ := strings.Cut(rel, string(filepath.Separator))
		if len(keyspaces) > 0 && !contains(keyspaces, ks) {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

// checkLiveData reads every live SSTable of h (the start-up check).
func checkLiveData(h *Host) error {
	tds, _ := filepath.Glob(filepath.Join(h.DataRoot, "data", "*", "*-*"))
	for _, td := range tds {
		if _, err := ReadSSTables(td); err != nil {
			return err
		}
	}
	return nil
}

// TableFiles lists the SSTables of keyspace.table on host: live ones, or
// the snapshot tag's when tag is not "".
func TableFiles(dir, host, keyspace, table, tag string) ([]SSTable, error) {
	st, err := Load(dir)
	if err != nil {
		return nil, err
	}
	h := st.Host(host)
	if h == nil || h.DataRoot == "" {
		return nil, fmt.Errorf("sim: %q has no data directory", host)
	}
	td := TableDir(h.DataRoot, keyspace, table)
	if tag != "" {
		td = filepath.Join(td, "snapshots", tag)
	}
	return ReadSSTables(td)
}

// removeLive deletes the live files of one table directory (tests: an
// operator emptying a node as Cassy's docs ask).
func removeLive(td string) error {
	ents, err := os.ReadDir(td)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(td, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
