package lab

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// HostSpec names one private host of the lab as scalar-terraform names it:
// the record "<Role>-<Index>" in the private zone.
type HostSpec struct {
	// Role is the middle DNS label: cassandra, cassy, reaper, scalardl-blue,
	// scalardl-green, envoy or monitor. "bastion" is accepted in host lists
	// and means the lab's bastion, which always exists.
	Role string
	// Index is N in "<role>-N", 1-based.
	Index int
}

// Short is the record name, e.g. "cassandra-1".
func (h HostSpec) Short() string { return fmt.Sprintf("%s-%d", h.Role, h.Index) }

// roleOrder is the order hosts are laid out in (and their subnet).
var roleOrder = []string{"cassandra", "cassy", "reaper", "scalardl-blue", "scalardl-green", "envoy", "monitor"}

// roleSubnet mirrors the scalar-terraform AWS network (domain.md §1.6) inside the
// lab's /16: public .0 (bastion), private .1 (envoy, monitor), cassandra .2
// (cassandra, cassy, reaper), scalardl_blue .3, scalardl_green .4.
var roleSubnet = map[string]int{
	"bastion":        0,
	"envoy":          1,
	"monitor":        1,
	"cassandra":      2,
	"cassy":          2,
	"reaper":         2,
	"scalardl-blue":  3,
	"scalardl-green": 4,
}

// Presets are the named host sets accepted by ParseHosts.
//
//	default  the scalar-terraform defaults: cassandra-1..3, cassy-1, reaper-1,
//	         scalardl-blue-1..3, envoy-1..3, monitor-1 (+ bastion-1 = 13 hosts)
//	small    cassandra-1..3 (+ bastion-1)
var Presets = map[string]string{
	"default": "cassandra=3,cassy=1,reaper=1,scalardl-blue=3,envoy=3,monitor=1",
	"small":   "cassandra=3",
}

// DefaultHosts is the host set of a default scalar-terraform deployment
// (without the bastion, which every lab has).
func DefaultHosts() []HostSpec {
	hs, _ := ParseHosts("default")
	return hs
}

// SmallHosts is a 3-host lab (cassandra-1..3) for quick tests.
func SmallHosts() []HostSpec {
	hs, _ := ParseHosts("small")
	return hs
}

// CassandraHosts returns n cassandra hosts, for fan-out benchmarks.
func CassandraHosts(n int) []HostSpec {
	out := make([]HostSpec, n)
	for i := range out {
		out[i] = HostSpec{Role: "cassandra", Index: i + 1}
	}
	return out
}

var shortRE = regexp.MustCompile(`^([a-z]+(?:-[a-z]+)*)-([0-9]+)$`)

// ParseHosts parses a host set: a preset name ("default", "small"), a bare
// number N (N cassandra hosts), or a comma-separated list whose items are
// "role=count" or a record name such as "cassandra-4". Bastion entries are
// accepted and ignored: the lab always has bastion-1.
func ParseHosts(spec string) ([]HostSpec, error) {
	spec = strings.TrimSpace(spec)
	if p, ok := Presets[spec]; ok {
		spec = p
	}
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 1 || n > 250 {
			return nil, fmt.Errorf("host count %d: want 1..250", n)
		}
		return CassandraHosts(n), nil
	}
	var items []string
	for _, f := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		items = append(items, f)
	}
	return parseItems(items)
}

// ReadHostsFile reads a host set from a file: one item per line ("role=count",
// a record name such as "cassandra-1", or a preset name); blank lines and
// lines starting with '#' are ignored.
func ReadHostsFile(path string) ([]HostSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hosts file: %w", err)
	}
	defer f.Close()
	hs, err := readHosts(f)
	if err != nil {
		return nil, fmt.Errorf("hosts file %s: %w", path, err)
	}
	return hs, nil
}

func readHosts(r io.Reader) ([]HostSpec, error) {
	var items []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		if p, ok := Presets[line]; ok {
			items = append(items, strings.Split(p, ",")...)
			continue
		}
		items = append(items, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return parseItems(items)
}

func parseItems(items []string) ([]HostSpec, error) {
	seen := map[string]bool{}
	var out []HostSpec
	add := func(h HostSpec) error {
		if _, ok := roleSubnet[h.Role]; !ok {
			return fmt.Errorf("unknown role %q (want one of bastion, %s)", h.Role, strings.Join(roleOrder, ", "))
		}
		if h.Index < 1 {
			return fmt.Errorf("%s: index must be >= 1", h.Short())
		}
		if h.Role == "bastion" {
			return nil
		}
		if !seen[h.Short()] {
			seen[h.Short()] = true
			out = append(out, h)
		}
		return nil
	}
	for _, it := range items {
		if role, count, ok := strings.Cut(it, "="); ok {
			n, err := strconv.Atoi(strings.TrimSpace(count))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%q: count must be a number >= 0", it)
			}
			for i := 1; i <= n; i++ {
				if err := add(HostSpec{Role: strings.TrimSpace(role), Index: i}); err != nil {
					return nil, err
				}
			}
			continue
		}
		m := shortRE.FindStringSubmatch(it)
		if m == nil {
			return nil, fmt.Errorf("%q: want role=count or a name like cassandra-1", it)
		}
		idx, _ := strconv.Atoi(m[2])
		if err := add(HostSpec{Role: m[1], Index: idx}); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no hosts (besides the bastion) in the host set")
	}
	if len(out) > 250 {
		return nil, fmt.Errorf("%d hosts: at most 250", len(out))
	}
	sortHosts(out)
	return out, nil
}

func roleRank(r string) int {
	for i, x := range roleOrder {
		if x == r {
			return i
		}
	}
	return len(roleOrder)
}

func sortHosts(hs []HostSpec) {
	sort.SliceStable(hs, func(i, j int) bool {
		if a, b := roleRank(hs[i].Role), roleRank(hs[j].Role); a != b {
			return a < b
		}
		return hs[i].Index < hs[j].Index
	})
}
