package health

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"scalar-tui/inventory"
)

// State is the health verdict for one host.
type State int

// The states, from best to worst. The zero value is StateUnknown so that a
// HostHealth nobody filled in is never taken for healthy.
const (
	StateUnknown State = iota
	StateHealthy
	StateDegraded
	StateDown
)

// String returns "unknown", "healthy", "degraded" or "down".
func (s State) String() string {
	switch s {
	case StateHealthy:
		return "healthy"
	case StateDegraded:
		return "degraded"
	case StateDown:
		return "down"
	default:
		return "unknown"
	}
}

// MarshalText writes the state as its name, so JSON shows "degraded", not 2.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state name written by MarshalText.
func (s *State) UnmarshalText(b []byte) error {
	switch string(b) {
	case "healthy":
		*s = StateHealthy
	case "degraded":
		*s = StateDegraded
	case "down":
		*s = StateDown
	case "unknown":
		*s = StateUnknown
	default:
		return fmt.Errorf("unknown health state %q", b)
	}
	return nil
}

// ContainerFreshFor is how recently cadvisor must have seen a container for it
// to count as running: the same 15 s the real alert and recording rules use.
const ContainerFreshFor = 15 * time.Second

// DiskFreeMinPercent is the free-space percentage below which any host's "/"
// or "/data" degrades it: the real InstanceDriveSpaceLow alert's 10%. Cassandra's
// /data has a stricter rule (see DiskRules).
const DiskFreeMinPercent = 10.0

// DiskRule is one of the deployment's own disk alert rules: Alert fires when
// Mount on a host of Role ("" for every role) has less than MinFreePercent free.
type DiskRule struct {
	Alert          string
	Role           inventory.Role
	Mount          string
	MinFreePercent float64
}

// DiskRules are the thresholds of scalar-terraform's disk alerts
// (general_alert.rules.yml.j2 and cassandra_alert.rules.yml.j2; the lab copies
// in internal/labprom/rules/ are checked against this table by its test). A
// host is degraded as soon as one of them would fire, without waiting for the
// rule's `for:`.
var DiskRules = []DiskRule{
	{Alert: "InstanceDriveSpaceLow", Mount: "/", MinFreePercent: DiskFreeMinPercent},
	{Alert: "InstanceDriveSpaceLow", Mount: "/data", MinFreePercent: DiskFreeMinPercent},
	{Alert: "CassandraDriveSpaceLow", Role: inventory.RoleCassandra, Mount: "/data", MinFreePercent: 25},
}

// RuleMinFreePercent is the free space Mount on a host of role must keep
// for none of DiskRules to fire: the strictest rule that applies (0 when
// none does). Preflights that check disk space take their default from it.
func RuleMinFreePercent(role inventory.Role, mount string) float64 {
	min := 0.0
	for _, r := range DiskRules {
		if r.Mount == mount && (r.Role == "" || r.Role == role) && r.MinFreePercent > min {
			min = r.MinFreePercent
		}
	}
	return min
}

// DiskRuleFor returns the strictest rule for mount on a host of role (the one
// with the highest MinFreePercent), and false when no rule covers the mount.
// Workflows' free-space preflights use it so they agree with the alerts.
func DiskRuleFor(role inventory.Role, mount string) (DiskRule, bool) {
	var best DiskRule
	found := false
	for _, r := range DiskRules {
		if r.Mount != mount || (r.Role != "" && r.Role != role) {
			continue
		}
		if !found || r.MinFreePercent > best.MinFreePercent {
			best, found = r, true
		}
	}
	return best, found
}

// HostHealth is what is known about one inventory host. Pointer fields are nil
// when there was no data, which is different from zero.
type HostHealth struct {
	// Host is the inventory host this is about.
	Host inventory.Host `json:"host"`
	// State is the verdict of the state rules (see the package comment).
	State State `json:"state"`
	// Reasons say why State is not healthy, one finding each.
	Reasons []string `json:"reasons,omitempty"`

	// Up is up{job="host"}: whether the node exporter could be scraped.
	Up *bool `json:"up,omitempty"`
	// SampleAge is how old the newest up{job="host"} sample is (Prometheus
	// source): past PrometheusOptions.StaleAfter the host is unknown, since
	// its figures are that old. In JSON it is in nanoseconds.
	SampleAge *time.Duration `json:"sample_age,omitempty"`
	// CPU and Mem are percent used. CPU is 100 - idle%, averaged over CPUs, over the last scrape interval (irate).
	CPU *float64 `json:"cpu_percent,omitempty"`
	Mem *float64 `json:"mem_percent,omitempty"`
	// DiskRoot and DiskData are percent FREE on "/" and "/data" (kept for
	// compatibility; everything the operator reads shows DiskRootUsed and
	// DiskDataUsed, percent USED, the one word for disk).
	DiskRoot *float64 `json:"disk_root_free_percent,omitempty"`
	DiskData *float64 `json:"disk_data_free_percent,omitempty"`
	// DiskRootUsed and DiskDataUsed are percent USED on "/" and "/data".
	DiskRootUsed *float64 `json:"disk_root_used_percent,omitempty"`
	DiskDataUsed *float64 `json:"disk_data_used_percent,omitempty"`
	// Load1 is node_load1, the 1-minute load average.
	Load1 *float64 `json:"load1,omitempty"`

	// CassandraActive is node_systemd_unit_state{name="cassandra.service",state="active"} == 1
	// (cassandra hosts only).
	CassandraActive *bool `json:"cassandra_active,omitempty"`
	// CassandraLoadBytes is the data size the node holds (criteo exporter storage:load).
	CassandraLoadBytes *float64 `json:"cassandra_load_bytes,omitempty"`
	// PendingCompactions is the criteo exporter's compaction:pendingtasks.
	PendingCompactions *float64 `json:"pending_compactions,omitempty"`

	// ContainerService is the docker-compose service this role runs (scalar,
	// envoy, cassy, reaper), or "" for hosts without one.
	ContainerService string `json:"container_service,omitempty"`
	// ContainerAge is time() - container_last_seen for ContainerService.
	// In JSON it is in nanoseconds, like any time.Duration.
	ContainerAge *time.Duration `json:"container_age,omitempty"`
	// ContainerImage is the image ("name:tag") of that container as cadvisor
	// labels it: after an upgrade, the tag actually running.
	ContainerImage string `json:"container_image,omitempty"`
	// ContainerFresh is ContainerAge <= ContainerFreshFor; false (not nil) when the
	// host should run a container and cadvisor has no series for it.
	ContainerFresh *bool `json:"container_fresh,omitempty"`
	// RunningImageTag is the tag of ContainerImage (Scalar DL hosts), and
	// ImageDrift is true when it differs from the tag Terraform state records
	// (Host.ImageTag): after an in-place upgrade, a routine apply would put the
	// recorded tag back.
	RunningImageTag string `json:"running_image_tag,omitempty"`
	ImageDrift      bool   `json:"image_drift,omitempty"`

	// Serving is a Scalar DL node's gRPC health as Envoy sees it: true when
	// every Envoy that answered marks it healthy, false when one marks it
	// failed or it is no member; nil when nothing says. ServingFrom says how it
	// was learnt: "envoy /clusters" (per member) or "envoy membership counts"
	// (every Envoy reports all members healthy, so this one is too).
	Serving     *bool  `json:"serving,omitempty"`
	ServingFrom string `json:"serving_from,omitempty"`
	// EnvoyView is, per Envoy whose admin /clusters answered, what it says of
	// this Scalar DL node.
	EnvoyView []EnvoyFlag `json:"envoy_view,omitempty"`

	// EnvoyHealthyMembers and EnvoyTotalMembers are the scalar-service cluster's
	// membership as this Envoy sees it (envoy hosts only).
	EnvoyHealthyMembers *int `json:"envoy_healthy_members,omitempty"`
	EnvoyTotalMembers   *int `json:"envoy_total_members,omitempty"`

	// Alerts are the firing alerts whose instance is this host.
	Alerts []Alert `json:"alerts,omitempty"`
}

// Cluster holds deployment-wide counts. The *Total fields come from the
// inventory; the *Active fields from Prometheus.
type Cluster struct {
	// CassandraActive counts inventory cassandra hosts whose cassandra.service is active.
	CassandraActive int `json:"cassandra_active"`
	// CassandraTotal counts inventory cassandra hosts.
	CassandraTotal int `json:"cassandra_total"`
	// ScalarDLBlueActive, ScalarDLGreenActive and EnvoyActive are the recording
	// rules job:active_*_nodes:count; when a rule has no series (count() of
	// nothing, or the rules are not loaded) they are computed the same way from
	// container_last_seen, and CountsFrom says so.
	ScalarDLBlueActive  int `json:"scalardl_blue_active"`
	ScalarDLGreenActive int `json:"scalardl_green_active"`
	EnvoyActive         int `json:"envoy_active"`
	// ScalarDLBlueTotal, ScalarDLGreenTotal and EnvoyTotal count inventory hosts of each role.
	ScalarDLBlueTotal  int `json:"scalardl_blue_total"`
	ScalarDLGreenTotal int `json:"scalardl_green_total"`
	EnvoyTotal         int `json:"envoy_total"`
	// CountsFrom is "recording rules", "container_last_seen" or "mixed".
	CountsFrom string `json:"counts_from"`
	// ScalarDLBlueServing and ScalarDLGreenServing count hosts whose Serving
	// is true; the *ServingUnknown fields count hosts whose Serving is nil.
	ScalarDLBlueServing         int `json:"scalardl_blue_serving"`
	ScalarDLGreenServing        int `json:"scalardl_green_serving"`
	ScalarDLBlueServingUnknown  int `json:"scalardl_blue_serving_unknown,omitempty"`
	ScalarDLGreenServingUnknown int `json:"scalardl_green_serving_unknown,omitempty"`
	// Healthy counts healthy hosts.
	Healthy int `json:"healthy"`
	// Degraded counts degraded hosts.
	Degraded int `json:"degraded"`
	// Down counts down hosts.
	Down int `json:"down"`
	// Unknown counts hosts without enough data to judge.
	Unknown int `json:"unknown"`
}

// Alert is one firing alert (a series of ALERTS{alertstate="firing"}).
type Alert struct {
	// Name is the alertname label.
	Name string `json:"name"`
	// Severity is the severity label (warning, critical) or "".
	Severity string `json:"severity,omitempty"`
	// Instance is the alert's instance label ("" for cluster-wide alerts).
	Instance string `json:"instance,omitempty"`
	// Host is the inventory host's Name the instance matched, or "".
	Host string `json:"host,omitempty"`
	// Labels are all the alert's labels.
	Labels map[string]string `json:"labels"`
}

// Series is one sample of a query result, kept when it matches no inventory host.
type Series struct {
	// Query is the name of the query that returned it (see QueryNames).
	Query string `json:"query"`
	// Labels are the series' labels, instance included.
	Labels map[string]string `json:"labels"`
	// Value is the sample's value at the evaluation time.
	Value float64 `json:"value"`
}

// MarshalJSON writes Value as a number, or as Prometheus writes them in its
// own API ("NaN", "+Inf", "-Inf") when it is not finite: encoding/json
// refuses non-finite numbers, and one odd series must not fail `health --json`.
func (s Series) MarshalJSON() ([]byte, error) {
	type plain Series
	if finite(s.Value) {
		return json.Marshal(plain(s))
	}
	return json.Marshal(struct {
		Query  string            `json:"query"`
		Labels map[string]string `json:"labels"`
		Value  string            `json:"value"`
	}{s.Query, s.Labels, model.SampleValue(s.Value).String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Series) UnmarshalJSON(b []byte) error {
	var raw struct {
		Query  string            `json:"query"`
		Labels map[string]string `json:"labels"`
		Value  json.RawMessage   `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	s.Query, s.Labels, s.Value = raw.Query, raw.Labels, 0
	if len(raw.Value) == 0 || string(raw.Value) == "null" {
		return nil
	}
	if raw.Value[0] == '"' {
		var str string
		if err := json.Unmarshal(raw.Value, &str); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return fmt.Errorf("series value %q: %w", str, err)
		}
		s.Value = v
		return nil
	}
	return json.Unmarshal(raw.Value, &s.Value)
}

// QueryError says why one query (or, for the scrape source, one target) gave
// no data. The other queries' figures are still in the Snapshot.
type QueryError struct {
	// Query is the query name (see QueryNames) or "scrape <job>".
	Query string `json:"query"`
	// Target is the PromQL expression, or the scraped URL.
	Target string `json:"target"`
	// Message is meant for the operator.
	Message string `json:"message"`
	// Err is the underlying error.
	Err error `json:"-"`
}

// Error returns "<query>: <message>".
func (e QueryError) Error() string { return e.Query + ": " + e.Message }

// Unwrap returns the underlying error.
func (e QueryError) Unwrap() error { return e.Err }

// Snapshot is the health of the whole deployment at one moment.
type Snapshot struct {
	// At is the evaluation time of the queries (or of the scrape).
	At time.Time `json:"at"`
	// Source names where the data came from, e.g. "prometheus http://monitor...:9090".
	Source string `json:"source"`
	// Queries is how many requests this refresh sent: constant for Prometheus,
	// the number of scraped targets for the scrape source.
	Queries int `json:"queries"`
	// Took is how long the refresh took.
	Took time.Duration `json:"took"`

	// Hosts has one entry per inventory host, in inventory order.
	Hosts []HostHealth `json:"hosts"`
	// Cluster holds the deployment-wide counts.
	Cluster Cluster `json:"cluster"`
	// Unmatched holds series whose instance label matches no inventory host.
	Unmatched []Series `json:"unmatched,omitempty"`
	// Alerts are all firing alerts, matched to a host or not.
	Alerts []Alert `json:"alerts,omitempty"`
	// Errors has one entry per failed query or target.
	Errors []QueryError `json:"errors,omitempty"`
}

// Age is how old the snapshot is at now.
func (s *Snapshot) Age(now time.Time) time.Duration { return now.Sub(s.At) }

// Host returns the health of the host whose Name, Short or PrivateIP is name.
func (s *Snapshot) Host(name string) (HostHealth, bool) {
	for _, h := range s.Hosts {
		if h.Host.Name == name || h.Host.Short == name || (h.Host.PrivateIP != "" && h.Host.PrivateIP == name) {
			return h, true
		}
	}
	return HostHealth{}, false
}

// HostHealthy reports whether the named host is healthy, and if not, why.
func (s *Snapshot) HostHealthy(name string) (bool, string) {
	h, ok := s.Host(name)
	if !ok {
		return false, fmt.Sprintf("%s is not in the inventory", name)
	}
	if h.State == StateHealthy {
		return true, ""
	}
	return false, fmt.Sprintf("%s is %s: %s", h.Host.Name, h.State, reasonText(h.Reasons))
}

// AllCassandraActive reports whether every inventory cassandra host has an
// active cassandra.service. No cassandra hosts, or no data for one, is false.
func (s *Snapshot) AllCassandraActive() (bool, string) {
	var bad []string
	n := 0
	for _, h := range s.Hosts {
		if h.Host.Role != inventory.RoleCassandra {
			continue
		}
		n++
		switch {
		case h.CassandraActive == nil:
			bad = append(bad, h.Host.Name+" (no data)")
		case !*h.CassandraActive:
			bad = append(bad, h.Host.Name+" (not active)")
		}
	}
	if n == 0 {
		return false, "no cassandra hosts in the inventory"
	}
	if len(bad) > 0 {
		return false, fmt.Sprintf("cassandra.service not active on %d of %d: %s", len(bad), n, strings.Join(bad, ", "))
	}
	return true, ""
}

// ScalarDLServing reports whether the named Scalar DL host can take traffic:
// the node is up, its scalar container was seen by cadvisor within
// ContainerFreshFor, and Envoy serves it. When the snapshot read Envoy's admin
// /clusters (scalar-service::<ip>:50051::health_flags::healthy), that per-member
// answer decides; otherwise every Envoy must report all scalar-service members
// healthy (with at least one Envoy reporting), since the metrics only count
// members and do not name them.
func (s *Snapshot) ScalarDLServing(name string) (bool, string) {
	h, ok := s.Host(name)
	if !ok {
		return false, fmt.Sprintf("%s is not in the inventory", name)
	}
	if !h.Host.Role.IsScalarDL() {
		return false, fmt.Sprintf("%s is a %s host, not Scalar DL", h.Host.Name, h.Host.Role)
	}
	if h.Up == nil || !*h.Up {
		return false, fmt.Sprintf("%s: node exporter not up", h.Host.Name)
	}
	if h.Serving != nil && !*h.Serving {
		return false, fmt.Sprintf("%s: not SERVING as Envoy sees it (%s)", h.Host.Name, reasonText(h.Reasons))
	}
	if h.ContainerFresh == nil || !*h.ContainerFresh {
		if h.ContainerAge != nil {
			return false, fmt.Sprintf("%s: scalar container last seen %s ago", h.Host.Name, h.ContainerAge.Round(time.Second))
		}
		return false, fmt.Sprintf("%s: no container_last_seen for the scalar container", h.Host.Name)
	}
	if h.Serving != nil && h.ServingFrom == ServingFromClusters {
		return true, ""
	}
	envoys := 0
	for _, e := range s.Hosts {
		if e.Host.Role != inventory.RoleEnvoy {
			continue
		}
		if e.EnvoyHealthyMembers == nil || e.EnvoyTotalMembers == nil {
			continue
		}
		envoys++
		if *e.EnvoyHealthyMembers < *e.EnvoyTotalMembers {
			return false, fmt.Sprintf("%s reports %d/%d scalar-service members healthy", e.Host.Name, *e.EnvoyHealthyMembers, *e.EnvoyTotalMembers)
		}
	}
	if envoys == 0 {
		return false, "no Envoy reports scalar-service membership"
	}
	return true, ""
}

func reasonText(r []string) string {
	if len(r) == 0 {
		return "no reason recorded"
	}
	return strings.Join(r, "; ")
}

// Source produces Snapshots. The workflows' gates depend on this interface only.
type Source interface {
	// Snapshot refreshes and returns the deployment's health. On a total failure
	// (Prometheus unreachable, credentials refused) it returns an error; it may
	// return a Snapshot too, with every host unknown and the reasons in Errors.
	Snapshot(ctx context.Context) (*Snapshot, error)
}
