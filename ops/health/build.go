package health

import (
	"fmt"
	"math"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"scalar-tui/inventory"
)

// Query names: the keys of the fixed query set, used in QueryError.Query and Series.Query.
const (
	QUp                 = "up"
	QCassandraService   = "cassandra_service"
	QCPU                = "cpu"
	QMemory             = "memory"
	QDisk               = "disk"
	QLoad1              = "load1"
	QContainerAge       = "container_age"
	QEnvoyHealthy       = "envoy_healthy"
	QEnvoyTotal         = "envoy_total"
	QCassandraLoad      = "cassandra_load"
	QPendingCompactions = "pending_compactions"
	QAlerts             = "alerts"
	QScalarDLBlue       = "scalardl_blue"
	QScalarDLGreen      = "scalardl_green"
	QEnvoyActive        = "envoy_active"
	QSampleAge          = "sample_age"
)

// containerService is the docker-compose service each docker role runs.
func containerService(r inventory.Role) string {
	switch r {
	case inventory.RoleScalarDLBlue, inventory.RoleScalarDLGreen:
		return "scalar"
	case inventory.RoleEnvoy:
		return "envoy"
	case inventory.RoleCassy:
		return "cassy"
	case inventory.RoleReaper:
		return "reaper"
	}
	return ""
}

// stateQueries lists, for a role, the queries its state rules depend on: if one
// of them failed the host is unknown.
func stateQueries(r inventory.Role) []string {
	q := []string{QUp, QDisk, QAlerts}
	if r == inventory.RoleCassandra {
		q = append(q, QCassandraService)
	}
	if containerService(r) != "" {
		q = append(q, QContainerAge)
	}
	if r == inventory.RoleEnvoy {
		q = append(q, QEnvoyHealthy, QEnvoyTotal)
	}
	return q
}

// hostIndex matches instance labels to inventory hosts.
type hostIndex struct {
	byKey map[string]int
}

func newHostIndex(hosts []inventory.Host) *hostIndex {
	ix := &hostIndex{byKey: make(map[string]int, 3*len(hosts))}
	// Later keys never override earlier ones, and Name wins over Short and IP.
	add := func(k string, i int) {
		k = normHost(k)
		if k == "" {
			return
		}
		if _, ok := ix.byKey[k]; !ok {
			ix.byKey[k] = i
		}
	}
	for i, h := range hosts {
		add(h.Name, i)
	}
	for i, h := range hosts {
		add(h.PrivateIP, i)
	}
	for i, h := range hosts {
		add(h.Short, i)
	}
	return ix
}

// InstanceHost returns the host part of a Prometheus instance label:
// "cassandra-1.internal.scalar-labs.com:9100" -> "cassandra-1.internal.scalar-labs.com",
// "10.42.2.10:9100" -> "10.42.2.10", "[::1]:9100" -> "::1". A label with no port
// is returned as it is.
func InstanceHost(instance string) string {
	if h, _, err := net.SplitHostPort(instance); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(instance, "["), "]")
}

func normHost(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }

// match returns the index of the host the instance label names.
func (ix *hostIndex) match(instance string) (int, bool) {
	if instance == "" {
		return 0, false
	}
	i, ok := ix.byKey[normHost(InstanceHost(instance))]
	return i, ok
}

// observations are the raw query results a Snapshot is built from. Both sources
// produce them: Prometheus from its answers, the scrape source by synthesizing
// samples with the same labels.
type observations struct {
	vectors map[string]model.Vector
	errors  []QueryError
	// index, when set, is the inventory's prebuilt hostIndex.
	index *hostIndex
	// failed names the queries that gave no answer at all (Prometheus source).
	failed map[string]bool
	// envoys are the Envoy /clusters pages that were read (possibly none).
	envoys []envoyObs
	// staleAfter, when positive, is the sample age past which a host's
	// figures are stale (see PrometheusOptions.StaleAfter).
	staleAfter time.Duration
	// unobserved, when set, is why some hosts could not be observed at all
	// (the bastion failed): their reason says so instead of "not scraped".
	unobserved *TransportError
}

func labelsOf(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

func fptr(v float64) *float64 { return &v }
func bptr(v bool) *bool       { return &v }
func iptr(v int) *int         { return &v }

// finite reports whether v is a number a figure can hold: NaN and ±Inf
// samples (a broken exporter, a division by a zero-sized filesystem) are
// treated as no data, never shown and never judged by.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// minInto keeps the smallest value seen (several series for one host and figure
// happen, e.g. two up series; the worst one wins). Non-finite values are skipped.
func minInto(p **float64, v float64) {
	if !finite(v) {
		return
	}
	if *p == nil || v < **p {
		*p = fptr(v)
	}
}

func maxInto(p **float64, v float64) {
	if !finite(v) {
		return
	}
	if *p == nil || v > **p {
		*p = fptr(v)
	}
}

// build joins observations to the inventory and applies the state rules.
func build(inv *inventory.Inventory, at time.Time, source string, obs observations) *Snapshot {
	var hosts []inventory.Host
	if inv != nil {
		hosts = inv.Hosts
	}
	snap := &Snapshot{At: at, Source: source, Errors: obs.errors}
	ix := obs.index
	if ix == nil {
		ix = newHostIndex(hosts)
	}

	type acc struct {
		up, cpu, mem, diskRoot, diskData, load1     *float64
		cassActive, cassLoad, pending, containerAge *float64
		containerImage                              string
		envoyHealthy, envoyTotal                    *float64
		sampleAge                                   *float64
	}
	accs := make([]acc, len(hosts))

	// each calls f for every sample of query q matched to a host; the others go to Unmatched.
	each := func(q string, f func(a *acc, s *model.Sample)) {
		for _, s := range obs.vectors[q] {
			inst := string(s.Metric[model.InstanceLabel])
			if inst == "" {
				continue
			}
			i, ok := ix.match(inst)
			if !ok {
				snap.Unmatched = append(snap.Unmatched, Series{Query: q, Labels: labelsOf(s.Metric), Value: float64(s.Value)})
				continue
			}
			f(&accs[i], s)
		}
	}
	each(QUp, func(a *acc, s *model.Sample) { minInto(&a.up, float64(s.Value)) })
	each(QCPU, func(a *acc, s *model.Sample) { maxInto(&a.cpu, float64(s.Value)) })
	each(QMemory, func(a *acc, s *model.Sample) { maxInto(&a.mem, float64(s.Value)) })
	each(QDisk, func(a *acc, s *model.Sample) {
		switch s.Metric["mountpoint"] {
		case "/":
			minInto(&a.diskRoot, float64(s.Value))
		case "/data":
			minInto(&a.diskData, float64(s.Value))
		}
	})
	each(QLoad1, func(a *acc, s *model.Sample) { maxInto(&a.load1, float64(s.Value)) })
	each(QSampleAge, func(a *acc, s *model.Sample) { maxInto(&a.sampleAge, float64(s.Value)) })
	each(QCassandraService, func(a *acc, s *model.Sample) { minInto(&a.cassActive, float64(s.Value)) })
	each(QCassandraLoad, func(a *acc, s *model.Sample) { maxInto(&a.cassLoad, float64(s.Value)) })
	each(QPendingCompactions, func(a *acc, s *model.Sample) { maxInto(&a.pending, float64(s.Value)) })
	each(QEnvoyHealthy, func(a *acc, s *model.Sample) { minInto(&a.envoyHealthy, float64(s.Value)) })
	each(QEnvoyTotal, func(a *acc, s *model.Sample) { maxInto(&a.envoyTotal, float64(s.Value)) })
	// container_age needs the host's role to pick the service, so it is matched by hand.
	for _, s := range obs.vectors[QContainerAge] {
		inst := string(s.Metric[model.InstanceLabel])
		i, ok := ix.match(inst)
		if !ok {
			if inst != "" {
				snap.Unmatched = append(snap.Unmatched, Series{Query: QContainerAge, Labels: labelsOf(s.Metric), Value: float64(s.Value)})
			}
			continue
		}
		if string(s.Metric["container_label_com_docker_compose_service"]) != containerService(hosts[i].Role) {
			continue
		}
		if a := &accs[i]; finite(float64(s.Value)) && (a.containerAge == nil || float64(s.Value) < *a.containerAge) {
			a.containerImage = string(s.Metric["image"]) // the freshest container's image
		}
		minInto(&accs[i].containerAge, float64(s.Value))
	}

	hostAlerts := make([][]Alert, len(hosts))
	for _, s := range obs.vectors[QAlerts] {
		a := Alert{
			Name:     string(s.Metric[model.AlertNameLabel]),
			Severity: string(s.Metric["severity"]),
			Instance: string(s.Metric[model.InstanceLabel]),
			Labels:   labelsOf(s.Metric),
		}
		delete(a.Labels, model.MetricNameLabel)
		if a.Instance != "" {
			if i, ok := ix.match(a.Instance); ok {
				a.Host = hosts[i].Name
				hostAlerts[i] = append(hostAlerts[i], a)
			} else {
				snap.Unmatched = append(snap.Unmatched, Series{Query: QAlerts, Labels: labelsOf(s.Metric), Value: float64(s.Value)})
			}
		}
		snap.Alerts = append(snap.Alerts, a)
	}
	sort.SliceStable(snap.Alerts, func(i, j int) bool {
		if snap.Alerts[i].Name != snap.Alerts[j].Name {
			return snap.Alerts[i].Name < snap.Alerts[j].Name
		}
		return snap.Alerts[i].Instance < snap.Alerts[j].Instance
	})

	snap.Hosts = make([]HostHealth, len(hosts))
	for i, h := range hosts {
		a := accs[i]
		hh := HostHealth{Host: h, CPU: a.cpu, Mem: a.mem, DiskRoot: a.diskRoot, DiskData: a.diskData, Load1: a.load1,
			DiskRootUsed: usedOf(a.diskRoot), DiskDataUsed: usedOf(a.diskData),
			CassandraLoadBytes: a.cassLoad, PendingCompactions: a.pending, Alerts: hostAlerts[i]}
		if a.up != nil {
			hh.Up = bptr(*a.up == 1)
		}
		if a.sampleAge != nil {
			d := time.Duration(max(*a.sampleAge, 0) * float64(time.Second)).Round(time.Second)
			hh.SampleAge = &d
		}
		if h.Role == inventory.RoleCassandra && a.cassActive != nil {
			hh.CassandraActive = bptr(*a.cassActive == 1)
		}
		if svc := containerService(h.Role); svc != "" {
			hh.ContainerService = svc
			hh.ContainerImage = a.containerImage
			if h.Role.IsScalarDL() {
				hh.RunningImageTag = ImageTag(a.containerImage)
				hh.ImageDrift = hh.RunningImageTag != "" && h.ImageTag != "" && hh.RunningImageTag != h.ImageTag
			}
			if a.containerAge != nil {
				d := time.Duration(*a.containerAge * float64(time.Second))
				hh.ContainerAge = &d
				hh.ContainerFresh = bptr(d <= ContainerFreshFor)
			} else if !obs.failed[QContainerAge] {
				hh.ContainerFresh = bptr(false)
			}
		}
		if h.Role == inventory.RoleEnvoy {
			hh.EnvoyHealthyMembers = countOf(a.envoyHealthy)
			hh.EnvoyTotalMembers = countOf(a.envoyTotal)
		}
		snap.Hosts[i] = hh
	}
	envoyView(snap.Hosts, obs.envoys)
	for i := range snap.Hosts {
		snap.Hosts[i].State, snap.Hosts[i].Reasons = judge(&snap.Hosts[i], obs.failed)
		if hh := &snap.Hosts[i]; obs.staleAfter > 0 && hh.SampleAge != nil && *hh.SampleAge > obs.staleAfter {
			// Prometheus answers an instant query with the last sample of the
			// past 5 minutes: old figures must not pass for current ones.
			hh.State = StateUnknown
			hh.Reasons = append([]string{fmt.Sprintf("last sample %s old (Prometheus has not scraped it since; figures are stale)", *hh.SampleAge)}, hh.Reasons...)
		}
		if hh := &snap.Hosts[i]; hh.Up == nil && obs.unobserved != nil {
			hh.Reasons = []string{"not observed: " + obs.unobserved.Error()}
		}
	}
	snap.Cluster = cluster(snap.Hosts, obs)
	sort.SliceStable(snap.Unmatched, func(i, j int) bool {
		if snap.Unmatched[i].Query != snap.Unmatched[j].Query {
			return snap.Unmatched[i].Query < snap.Unmatched[j].Query
		}
		return snap.Unmatched[i].Labels["instance"] < snap.Unmatched[j].Labels["instance"]
	})
	return snap
}

// judge applies the state rules documented in the package comment.
func judge(h *HostHealth, failed map[string]bool) (State, []string) {
	var failedQ []string
	for _, q := range stateQueries(h.Host.Role) {
		if failed[q] {
			failedQ = append(failedQ, q)
		}
	}
	if h.Up == nil {
		if failed[QUp] {
			return StateUnknown, []string{"the up query failed: no data to judge by"}
		}
		return StateUnknown, []string{`no up{job="host"} series: the node exporter is not scraped`}
	}
	if !*h.Up {
		return StateDown, []string{"node exporter down (up=0)"}
	}
	if len(failedQ) > 0 {
		return StateUnknown, []string{"query failed: " + strings.Join(failedQ, ", ")}
	}
	var r []string
	if h.Host.Role == inventory.RoleCassandra {
		switch {
		case h.CassandraActive == nil:
			r = append(r, "no cassandra.service state (node_systemd_unit_state missing)")
		case !*h.CassandraActive:
			r = append(r, "cassandra.service not active")
		}
	}
	if h.ContainerService != "" {
		switch {
		case h.ContainerAge != nil && !*h.ContainerFresh:
			r = append(r, fmt.Sprintf("container %s last seen %s ago", h.ContainerService, h.ContainerAge.Round(time.Second)))
		case h.ContainerAge == nil:
			r = append(r, fmt.Sprintf("no container_last_seen for %s (container not running or cadvisor not scraped)", h.ContainerService))
		}
	}
	if h.Host.Role == inventory.RoleEnvoy {
		switch {
		case h.EnvoyHealthyMembers == nil || h.EnvoyTotalMembers == nil:
			r = append(r, "no envoy scalar-service membership metrics")
		case *h.EnvoyTotalMembers == 0:
			r = append(r, "envoy has no scalar-service members")
		case *h.EnvoyHealthyMembers < *h.EnvoyTotalMembers:
			r = append(r, fmt.Sprintf("envoy: %d/%d scalar-service members healthy", *h.EnvoyHealthyMembers, *h.EnvoyTotalMembers))
		}
	}
	if h.Host.Role.IsScalarDL() {
		r = append(r, servingReasons(h)...)
	}
	for _, d := range []struct {
		mount string
		free  *float64
	}{{"/", h.DiskRoot}, {"/data", h.DiskData}} {
		rule, ok := DiskRuleFor(h.Host.Role, d.mount)
		if d.free == nil || !ok || *d.free >= rule.MinFreePercent {
			continue
		}
		r = append(r, fmt.Sprintf("%s %.1f%% used (%s fires above %.0f%% used)",
			d.mount, 100-*d.free, rule.Alert, 100-rule.MinFreePercent))
	}
	for _, a := range h.Alerts {
		s := "alert " + a.Name + " firing"
		if a.Severity != "" {
			s += " (" + a.Severity + ")"
		}
		r = append(r, s)
	}
	if len(r) > 0 {
		return StateDegraded, r
	}
	return StateHealthy, nil
}

func cluster(hosts []HostHealth, obs observations) Cluster {
	var c Cluster
	var fresh = map[inventory.Role]int{}
	for _, h := range hosts {
		switch h.State {
		case StateHealthy:
			c.Healthy++
		case StateDegraded:
			c.Degraded++
		case StateDown:
			c.Down++
		default:
			c.Unknown++
		}
		switch h.Host.Role {
		case inventory.RoleCassandra:
			c.CassandraTotal++
			if h.CassandraActive != nil && *h.CassandraActive {
				c.CassandraActive++
			}
		case inventory.RoleScalarDLBlue:
			c.ScalarDLBlueTotal++
		case inventory.RoleScalarDLGreen:
			c.ScalarDLGreenTotal++
		case inventory.RoleEnvoy:
			c.EnvoyTotal++
		}
		if h.ContainerFresh != nil && *h.ContainerFresh {
			fresh[h.Host.Role]++
		}
		if h.Host.Role.IsScalarDL() {
			serving, unknown := &c.ScalarDLBlueServing, &c.ScalarDLBlueServingUnknown
			if h.Host.Role == inventory.RoleScalarDLGreen {
				serving, unknown = &c.ScalarDLGreenServing, &c.ScalarDLGreenServingUnknown
			}
			switch {
			case h.State == StateDown:
				// a down node serves nothing, whatever its last Envoy view
			case h.Serving == nil:
				*unknown++
			case *h.Serving:
				*serving++
			}
		}
	}
	fromRules, computed := 0, 0
	count := func(q string, role inventory.Role) int {
		if v := obs.vectors[q]; len(v) > 0 && finite(float64(v[0].Value)) && math.Abs(float64(v[0].Value)) < 1e9 {
			fromRules++
			return int(v[0].Value)
		}
		computed++
		return fresh[role]
	}
	c.ScalarDLBlueActive = count(QScalarDLBlue, inventory.RoleScalarDLBlue)
	c.ScalarDLGreenActive = count(QScalarDLGreen, inventory.RoleScalarDLGreen)
	c.EnvoyActive = count(QEnvoyActive, inventory.RoleEnvoy)
	switch {
	case computed == 0:
		c.CountsFrom = "recording rules"
	case fromRules == 0:
		c.CountsFrom = "container_last_seen"
	default:
		c.CountsFrom = "mixed"
	}
	return c
}

// HostsFromSeries makes inventory hosts out of the up{job="host"} series of a
// Snapshot's Unmatched list. It is for `--prometheus URL` without a deployment:
// the console then shows every host Prometheus knows, keyed by its instance,
// with the role label as the role.
func HostsFromSeries(series []Series) []inventory.Host {
	seen := map[string]bool{}
	var out []inventory.Host
	for _, s := range series {
		if s.Query != QUp {
			continue
		}
		name := InstanceHost(s.Labels["instance"])
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		short, _, _ := strings.Cut(name, ".")
		if net.ParseIP(name) != nil {
			short = name
		}
		h := inventory.Host{Name: name, Short: short, Role: inventory.Role(s.Labels["role"]), Source: "prometheus"}
		if i := strings.LastIndexByte(short, '-'); i >= 0 {
			fmt.Sscanf(short[i+1:], "%d", &h.Index)
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role < out[j].Role
		}
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// countOf turns a sample into a count; nil for no sample or one no count can be
// (negative, or too large to be a member count).
func countOf(v *float64) *int {
	if v == nil || !finite(*v) || *v < 0 || *v > 1e6 {
		return nil
	}
	return iptr(int(*v))
}

// usedOf turns percent free into percent used.
func usedOf(free *float64) *float64 {
	if free == nil {
		return nil
	}
	return fptr(100 - *free)
}

// ImageTag returns the tag of an image reference ("ghcr.io/x/y:2.1.0" ->
// "2.1.0"), or "" when it has none (a digest, or no tag).
func ImageTag(ref string) string {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i:], "/") || strings.Contains(ref, "@") {
		return ""
	}
	return ref[i+1:]
}

// envoyView sets Serving, ServingFrom and EnvoyView on the Scalar DL hosts:
// per member from the Envoy /clusters pages read, else from the Envoy hosts'
// membership counts (all members healthy on every reporting Envoy means this
// one is too; anything else leaves Serving unknown).
func envoyView(hosts []HostHealth, envoys []envoyObs) {
	reporting, allHealthy := 0, true
	for _, e := range hosts {
		if e.Host.Role != inventory.RoleEnvoy || e.EnvoyHealthyMembers == nil || e.EnvoyTotalMembers == nil {
			continue
		}
		reporting++
		if *e.EnvoyTotalMembers == 0 || *e.EnvoyHealthyMembers < *e.EnvoyTotalMembers {
			allHealthy = false
		}
	}
	for i := range hosts {
		h := &hosts[i]
		if !h.Host.Role.IsScalarDL() {
			continue
		}
		if len(envoys) > 0 && h.Host.PrivateIP != "" {
			ok := true
			for _, e := range envoys {
				f := EnvoyFlag{Envoy: hosts[e.host].Host.Name}
				for _, m := range e.members {
					if m.IP == h.Host.PrivateIP {
						f.Member, f.Flags = true, m.Flags
						break
					}
				}
				h.EnvoyView = append(h.EnvoyView, f)
				ok = ok && f.Healthy()
			}
			h.Serving, h.ServingFrom = bptr(ok), ServingFromClusters
			continue
		}
		if reporting > 0 && allHealthy {
			h.Serving, h.ServingFrom = bptr(true), ServingFromCounts
		}
	}
}

// servingReasons explains a Scalar DL node that Envoy does not serve.
func servingReasons(h *HostHealth) []string {
	if h.Serving == nil || *h.Serving {
		return nil
	}
	var notMember []string
	var flags []string
	byFlags := map[string][]string{}
	for _, f := range h.EnvoyView {
		short, _, _ := strings.Cut(f.Envoy, ".")
		switch {
		case !f.Member:
			notMember = append(notMember, short)
		case !f.Healthy():
			if _, ok := byFlags[f.Flags]; !ok {
				flags = append(flags, f.Flags)
			}
			byFlags[f.Flags] = append(byFlags[f.Flags], short)
		}
	}
	var r []string
	for _, fl := range flags {
		r = append(r, fmt.Sprintf("gRPC health not SERVING: %s mark%s it %s (Envoy sends it no traffic)",
			strings.Join(byFlags[fl], ", "), plural(len(byFlags[fl]) == 1), fl))
	}
	if len(notMember) > 0 {
		r = append(r, fmt.Sprintf("not a member of Envoy's %s cluster on %s (no traffic from there)", EnvoyCluster, strings.Join(notMember, ", ")))
	}
	return r
}

func plural(one bool) string {
	if one {
		return "s"
	}
	return ""
}
