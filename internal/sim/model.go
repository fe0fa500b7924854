package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Health values of the gRPC health check.
const (
	Serving    = "SERVING"
	NotServing = "NOT_SERVING"
	// Unreachable means the probe cannot connect (container starting, stopped or host down).
	Unreachable = "UNREACHABLE"
)

func uuidFrom(seed string) string {
	s := sha256.Sum256([]byte(seed))
	h := hex.EncodeToString(s[:16])
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

func containerID(host, name string, created time.Time) string {
	s := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", host, name, created.UnixNano())))
	return hex.EncodeToString(s[:])
}

func imageID(ref string) string {
	s := sha256.Sum256([]byte("image:" + ref))
	return "sha256:" + hex.EncodeToString(s[:])
}

func newContainer(host, service, image string, now time.Time, readyDelay time.Duration) *Container {
	c := &Container{
		Name: "provision_" + service + "_1", Service: service, Image: image,
		Created: now, Running: true, StartedAt: now, ReadyAt: now.Add(readyDelay),
	}
	c.ID = containerID(host, c.Name, now)
	switch service {
	case "scalar":
		c.Command = "/scalar/ledger/bin/scalar-ledger --config /scalar/ledger/ledger.properties"
		c.Ports = "0.0.0.0:50051-50053->50051-50053/tcp"
		c.HealthProbe = true
	case "envoy":
		c.Command = "/docker-entrypoint.sh envoy -c /etc/envoy/envoy.yaml"
		c.Ports = "0.0.0.0:9001->9001/tcp, 0.0.0.0:50051-50052->50051-50052/tcp, 10000/tcp"
	case "cassy":
		c.Command = "./bin/cassy --config /cassy/conf/cassy.properties"
		c.Ports = "0.0.0.0:20051->20051/tcp"
	case "reaper":
		c.Command = "/usr/local/bin/entrypoint.sh cassandra-reaper"
		c.Ports = "0.0.0.0:8080-8081->8080-8081/tcp"
	default:
		c.Command = "/entrypoint"
	}
	return c
}

// Container returns the host's container with the given name or ID prefix.
func (h *Host) Container(nameOrID string) *Container {
	if nameOrID == "" {
		return nil
	}
	for _, c := range h.Containers {
		if c.Name == nameOrID || strings.HasPrefix(c.ID, nameOrID) {
			return c
		}
	}
	return nil
}

// ScalarContainer returns provision_scalar_1 or nil.
func (h *Host) ScalarContainer() *Container { return h.Container("provision_scalar_1") }

// HasImage reports whether ref ("name:tag") is loaded on the host.
func (h *Host) HasImage(ref string) bool {
	ref = normalizeRef(ref)
	for _, i := range h.Images {
		if i == ref {
			return true
		}
	}
	return false
}

func normalizeRef(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ref
	}
	slash := strings.LastIndex(ref, "/")
	if !strings.Contains(ref[slash+1:], ":") && !strings.Contains(ref, "@") {
		ref += ":latest"
	}
	return ref
}

func imageTag(ref string) string {
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref[slash+1:], ":"); i >= 0 {
		return ref[slash+1+i+1:]
	}
	return "latest"
}

// Health returns the gRPC health of container c on host h at now:
// Serving, NotServing (bad-tag fault on its tag) or Unreachable.
func (st *State) Health(h *Host, c *Container, now time.Time) string {
	if h.Down() || c == nil || !c.Running {
		return Unreachable
	}
	if now.Before(c.ReadyAt) {
		return Unreachable
	}
	if tag, ok := h.Faults[FaultBadTag]; ok && tag == imageTag(c.Image) {
		return NotServing
	}
	return Serving
}

// CassandraUp reports whether the Cassandra node of h is up (gossip view) at now.
func (st *State) CassandraUp(h *Host, now time.Time) bool {
	c := h.Cassandra
	if c == nil || h.Down() || !c.Active {
		return false
	}
	return !now.Before(c.StartedAt.Add(st.scale(h, st.Config.CassandraStartDelay.D())))
}

// EnvoyMember is one upstream of envoy's scalar-service cluster.
type EnvoyMember struct {
	// IP of the Scalar DL host.
	IP string
	// Healthy is true when the ledger answers SERVING to envoy's gRPC health check.
	Healthy bool
}

// EnvoyMembers returns the scalardl upstreams (the `scalardl` A record holds
// every discoverable blue and green IP) sorted by IP.
func (st *State) EnvoyMembers(now time.Time) []EnvoyMember {
	var out []EnvoyMember
	for _, h := range st.HostsByRole("scalardl") {
		if h.Undiscoverable {
			continue
		}
		out = append(out, EnvoyMember{IP: h.IP, Healthy: st.Health(h, h.ScalarContainer(), now) == Serving})
	}
	sort.Slice(out, func(i, j int) bool { return ipLess(out[i].IP, out[j].IP) })
	return out
}

func ipLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, e1 := strconv.Atoi(pa[i])
		y, e2 := strconv.Atoi(pb[i])
		if e1 != nil || e2 != nil {
			return a < b
		}
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

// RepairProgress returns the progress (0..100) of r at now on host h and
// whether it is finished; hanging repairs stop at 50%.
func (st *State) RepairProgress(h *Host, r Repair, now time.Time) (pct float64, done bool) {
	if r.Outcome != "" {
		return 100, true
	}
	d := r.Duration.D()
	if d <= 0 {
		return 100, true
	}
	p := float64(now.Sub(r.Start)) / float64(d) * 100
	if p < 0 {
		p = 0
	}
	if h.HasFault(FaultRepairHangs) && p > 50 {
		return 50, false
	}
	if p >= 100 {
		return 100, true
	}
	return p, false
}

// ActiveRepairs returns the running repairs coordinated by h.
func (st *State) ActiveRepairs(h *Host, now time.Time) []Repair {
	if h.Cassandra == nil {
		return nil
	}
	var out []Repair
	for _, r := range h.Cassandra.Repairs {
		if _, done := st.RepairProgress(h, r, now); !done {
			out = append(out, r)
		}
	}
	return out
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(strings.TrimSpace(s), 64) }

// humanDuration renders d like docker ("2 hours", "About a minute", "5 seconds").
func humanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	case d.Minutes() < 2:
		return "About a minute"
	case d.Minutes() < 60:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d.Hours() < 2:
		return "About an hour"
	case d.Hours() < 48:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d.Hours() < 24*14:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	default:
		return fmt.Sprintf("%d weeks", int(d.Hours()/24/7))
	}
}

// durationWords renders d like commons-lang formatDurationWords (nodetool's
// "Repair command #1 finished in 1 minute 5 seconds").
func durationWords(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	h, m, sec := s/3600, (s%3600)/60, s%60
	var parts []string
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if h > 0 {
		parts = append(parts, plural(h, "hour"))
	}
	if h > 0 || m > 0 {
		parts = append(parts, plural(m, "minute"))
	}
	parts = append(parts, plural(sec, "second"))
	return strings.Join(parts, " ")
}
