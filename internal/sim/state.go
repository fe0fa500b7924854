// Package sim simulates the cluster tools of a scalar-terraform deployment
// (nodetool, systemctl, docker, docker-compose, grpc_health_probe, the envoy
// admin endpoint, cadvisor, the criteo cassandra exporter, node_exporter's
// systemd metrics and the Scalar DL rpc.Admin service) over one cluster model.
//
// The model lives in a JSON file in a state directory and is guarded by
// flock(2) on a lock file, so separate processes on separate lab hosts (and
// goroutines of the in-process demo) see one consistent cluster. Every
// command is: lock, load, mutate, save, unlock. Time-dependent behaviour
// (repair progress, containers becoming SERVING, Cassandra start-up) is
// computed from timestamps stored in the model, so nothing needs a daemon.
//
// Production packages must never import sim; only tests, the lab and the
// demo do.
package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Roles, named like the middle DNS label of scalar-terraform hosts.
const (
	RoleBastion       = "bastion"
	RoleCassandra     = "cassandra"
	RoleCassy         = "cassy"
	RoleReaper        = "reaper"
	RoleScalarDLBlue  = "scalardl-blue"
	RoleScalarDLGreen = "scalardl-green"
	RoleEnvoy         = "envoy"
	RoleMonitor       = "monitor"
)

// Well-known ports of the simulated services (domain.md §2.1).
const (
	PortEnvoyAdmin    = 9001
	PortCadvisor      = 18080
	PortCassExporter  = 7070
	PortNodeExporter  = 9100
	PortScalarAdmin   = 50053
	DefaultScalarImg  = "ghcr.io/scalar-labs/scalar-ledger:2.1.0"
	DefaultEnvoyImage = "envoyproxy/envoy:v1.14.1"
	stateFile         = "cluster.json"
	lockFile          = "cluster.lock"
)

// HostSpec describes one host of the simulated deployment.
type HostSpec struct {
	// Name is the FQDN, e.g. "cassandra-1.internal.scalar-labs.com".
	Name string `json:"name"`
	// Short is the OS hostname, e.g. "cassandra-1".
	Short string `json:"short"`
	// Role is one of the Role* constants.
	Role string `json:"role"`
	// IP is the private IP address.
	IP string `json:"ip"`
	// Rack is the Cassandra rack (cassandra hosts only), e.g. "rack1".
	Rack string `json:"rack,omitempty"`
}

// Duration is a time.Duration that marshals as a Go duration string ("30s").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler; it accepts "30s" or nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: %w", err)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config holds the knobs tests and demos tune (all stored in the state).
type Config struct {
	// RepairDuration is how long one `nodetool repair` command takes in total.
	RepairDuration Duration `json:"repair_duration"`
	// ServingDelay is how long a (re)created Scalar DL container takes to become SERVING.
	ServingDelay Duration `json:"serving_delay"`
	// CassandraStartDelay is how long Cassandra takes after `systemctl start` to be UN.
	CassandraStartDelay Duration `json:"cassandra_start_delay"`
	// PauseDrain is how long Pause{wait_outstanding:true} waits for requests to drain.
	PauseDrain Duration `json:"pause_drain"`
	// SlowFactor multiplies durations on hosts with the "slow" fault (default 5).
	SlowFactor float64 `json:"slow_factor"`
	// ReplicationFactor of the application keyspaces (for "Owns (effective)").
	ReplicationFactor int `json:"replication_factor"`
	// Keyspaces repaired when `nodetool repair` names none.
	Keyspaces []string `json:"keyspaces"`
	// ClusterName is cassandra.yaml's cluster_name.
	ClusterName string `json:"cluster_name"`
	// DockerLogsUnreadable plays Docker before 20.10 with scalar-terraform's
	// fluentd log driver (roles/docker/files/daemon.json): `docker logs`
	// refuses. Docker 20.10+ keeps a local copy (dual logging) and answers.
	DockerLogsUnreadable bool `json:"docker_logs_unreadable,omitempty"`
}

// DefaultConfig returns demo-friendly defaults.
func DefaultConfig() Config {
	return Config{
		RepairDuration:      Duration(20 * time.Second),
		ServingDelay:        Duration(8 * time.Second),
		CassandraStartDelay: Duration(5 * time.Second),
		PauseDrain:          Duration(500 * time.Millisecond),
		SlowFactor:          5,
		ReplicationFactor:   3,
		Keyspaces:           []string{"coordinator", "scalar"},
		ClusterName:         "ScalarDL",
	}
}

// Fault kinds understood by InjectFault.
const (
	FaultCassandraStopped = "cassandra-stopped" // cassandra.service is stopped (like systemctl stop)
	FaultNodeDown         = "node-down"         // every service of the host is down (the lab also stops sshd)
	FaultRepairFails      = "repair-fails"      // repairs coordinated by the host fail half way
	FaultRepairHangs      = "repair-hangs"      // repairs coordinated by the host stop progressing at 50%
	FaultImageLoadFails   = "image-load-fails"  // docker load fails on the host
	FaultBadTag           = "bad-tag"           // param TAG: containers running that tag never become SERVING
	FaultPauseRefused     = "pause-refused"     // rpc.Admin/Pause fails on the host
	FaultSlow             = "slow"              // durations on the host are multiplied by Config.SlowFactor (or param)
	FaultDiskFull         = "disk-full"         // the data volume is full: metrics show it, snapshots fail
	// FaultContainerRestart: the Scalar DL container restarts (restart:
	// always) right after it is paused, once, and comes back unpaused.
	FaultContainerRestart = "container-restart"
)

// FaultKinds lists every fault kind, for help texts.
var FaultKinds = []string{FaultCassandraStopped, FaultNodeDown, FaultRepairFails, FaultRepairHangs,
	FaultImageLoadFails, FaultBadTag, FaultPauseRefused, FaultSlow, FaultDiskFull, FaultContainerRestart}

// State is the whole simulated cluster.
type State struct {
	// Version of the file format.
	Version int `json:"version"`
	// Config knobs.
	Config Config `json:"config"`
	// Hosts, sorted by Name.
	Hosts []*Host `json:"hosts"`
	// NextRepairCommand numbers `nodetool repair` commands cluster-wide.
	NextRepairCommand int `json:"next_repair_command"`
	// ReaperRuns are the repair runs Reaper (reaper-1:8080) knows.
	ReaperRuns []ReaperRun `json:"reaper_runs,omitempty"`
	// Seq is incremented by every save, for tests and debugging.
	Seq int64 `json:"seq"`
}

// Host is one simulated machine.
type Host struct {
	HostSpec
	// Faults active on this host: kind → parameter ("" when none).
	Faults map[string]string `json:"faults,omitempty"`
	// Cassandra is set on cassandra hosts.
	Cassandra *Cassandra `json:"cassandra,omitempty"`
	// Containers run by docker on the host (docker-compose project "provision").
	Containers []*Container `json:"containers,omitempty"`
	// Images loaded in the local docker ("name:tag").
	Images []string `json:"images,omitempty"`
	// Paused is the Scalar DL admin pause state (scalardl hosts).
	Paused bool `json:"paused,omitempty"`
	// ComposeImage is the SCALAR_IMAGE last used by docker-compose (scalardl hosts).
	ComposeImage string `json:"compose_image,omitempty"`
	// RegistryLogins are the registries `docker login` holds credentials
	// for (none by default: scalar-terraform loads the image from a tarball).
	RegistryLogins []string `json:"registry_logins,omitempty"`
	// Undiscoverable scalardl hosts are not in the `scalardl` A record that
	// Envoy resolves (their colour's *_discoverable_by_envoy is false).
	Undiscoverable bool `json:"undiscoverable,omitempty"`
	// DataRoot, on Cassandra hosts, is the absolute path of the directory
	// holding the node's data/ and commitlog/ as real files (datafiles.go);
	// empty: the node has no files and snapshots are records only.
	DataRoot string `json:"data_root,omitempty"`
}

// LoggedIn reports whether `docker login` holds credentials for registry.
func (h *Host) LoggedIn(registry string) bool {
	for _, r := range h.RegistryLogins {
		if r == registry {
			return true
		}
	}
	return false
}

// Cassandra is the simulated Cassandra process of one host.
type Cassandra struct {
	// Active is systemd's view of cassandra.service.
	Active bool `json:"active"`
	// StartedAt is when the service was last started.
	StartedAt time.Time `json:"started_at"`
	// State is N, L, J or M.
	State string `json:"state"`
	// LoadBytes is the data size.
	LoadBytes float64 `json:"load_bytes"`
	// Tokens is num_tokens.
	Tokens int `json:"tokens"`
	// HostID is the node's UUID.
	HostID string `json:"host_id"`
	// Generation is the gossip generation (epoch seconds of the last start).
	Generation int64 `json:"generation"`
	// Snapshots taken with `nodetool snapshot`.
	Snapshots []SnapshotRec `json:"snapshots,omitempty"`
	// Repairs coordinated by this node (finished ones are kept, newest last, max 20).
	Repairs []Repair `json:"repairs,omitempty"`
	// Failed is why the last start failed (systemd: failed), "" otherwise.
	Failed string `json:"failed,omitempty"`
}

// SnapshotRec is one table of one snapshot.
type SnapshotRec struct {
	// Tag is the snapshot name given with -t.
	Tag string `json:"tag"`
	// Keyspace and Table identify the snapshotted table.
	Keyspace string `json:"keyspace"`
	Table    string `json:"table"`
	// Bytes is the size on disk.
	Bytes float64 `json:"bytes"`
	// Created is when the snapshot was taken.
	Created time.Time `json:"created"`
}

// Repair is one `nodetool repair` command.
type Repair struct {
	// Command is the cluster-wide repair command number (#N).
	Command int `json:"command"`
	// Keyspaces repaired (one per command, like real nodetool).
	Keyspaces []string `json:"keyspaces"`
	// Full and PR are the -full and -pr options.
	Full bool `json:"full"`
	PR   bool `json:"pr"`
	// Start and Duration define the progress: elapsed/Duration.
	Start    time.Time `json:"start"`
	Duration Duration  `json:"duration"`
	// Outcome is "", "completed" or "failed" once known.
	Outcome string `json:"outcome,omitempty"`
	// Error is the failure message.
	Error string `json:"error,omitempty"`
}

// Container is one docker container.
type Container struct {
	// Name is the compose v1 name, e.g. "provision_scalar_1".
	Name string `json:"name"`
	// ID is the 64-hex container id.
	ID string `json:"id"`
	// Service is the com.docker.compose.service label, e.g. "scalar".
	Service string `json:"service"`
	// Image is "name:tag".
	Image string `json:"image"`
	// Command and Ports are shown by docker ps.
	Command string `json:"command"`
	Ports   string `json:"ports"`
	// Created is the container creation time.
	Created time.Time `json:"created"`
	// Running is docker's view of the container.
	Running bool `json:"running"`
	// StartedAt / FinishedAt are the last start and stop times.
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	ExitCode   int       `json:"exit_code"`
	// RestartCount counts restarts by the restart policy (docker inspect's
	// .RestartCount).
	RestartCount int `json:"restart_count,omitempty"`
	// ReadyAt is when the gRPC health check starts answering SERVING.
	ReadyAt time.Time `json:"ready_at"`
	// HealthProbe marks containers that have grpc_health_probe (the ledger).
	HealthProbe bool `json:"health_probe,omitempty"`
}

// Init creates a fresh state in dir from a host list, with DefaultConfig.
// It overwrites an existing state.
func Init(dir string, hosts []HostSpec) error {
	return InitWithConfig(dir, hosts, DefaultConfig())
}

// InitWithConfig is Init with explicit knobs.
func InitWithConfig(dir string, hosts []HostSpec, cfg Config) error {
	if len(hosts) == 0 {
		return errors.New("sim init: empty host list")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sim init: %w", err)
	}
	now := time.Now().UTC()
	st := &State{Version: 1, Config: cfg, NextRepairCommand: 1}
	seen := map[string]bool{}
	for i, h := range hosts {
		if h.Name == "" || h.Role == "" {
			return fmt.Errorf("sim init: host %d needs a name and a role", i)
		}
		if seen[h.Name] {
			return fmt.Errorf("sim init: duplicate host %s", h.Name)
		}
		seen[h.Name] = true
		if h.Short == "" {
			h.Short, _, _ = strings.Cut(h.Name, ".")
		}
		host := &Host{HostSpec: h}
		switch {
		case h.Role == RoleCassandra:
			if host.Rack == "" {
				host.Rack = "rack1"
			}
			host.Cassandra = &Cassandra{
				Active: true, StartedAt: now.Add(-24 * time.Hour), State: "N",
				LoadBytes: 1.2*(1<<30) + float64(i)*7.3*(1<<20), Tokens: 256,
				HostID: uuidFrom(h.Name), Generation: now.Add(-24 * time.Hour).Unix(),
			}
		case isScalarDL(h.Role):
			host.Images = []string{DefaultScalarImg}
			host.ComposeImage = DefaultScalarImg
			host.Containers = []*Container{newContainer(h.Name, "scalar", DefaultScalarImg, now.Add(-24*time.Hour), 0)}
		case h.Role == RoleEnvoy:
			host.Images = []string{DefaultEnvoyImage}
			host.Containers = []*Container{newContainer(h.Name, "envoy", DefaultEnvoyImage, now.Add(-24*time.Hour), 0)}
		case h.Role == RoleCassy:
			host.Images = []string{"ghcr.io/scalar-labs/cassy:1.2.0"}
			host.Containers = []*Container{newContainer(h.Name, "cassy", "ghcr.io/scalar-labs/cassy:1.2.0", now.Add(-24*time.Hour), 0)}
		case h.Role == RoleReaper:
			host.Images = []string{"scalar-cassandra-reaper:latest"}
			host.Containers = []*Container{newContainer(h.Name, "reaper", "scalar-cassandra-reaper:latest", now.Add(-24*time.Hour), 0)}
		case h.Role == RoleMonitor:
			for _, c := range [][2]string{{"prometheus", "prom/prometheus:v2.7.1"}, {"alertmanager", "prom/alertmanager:v0.16.0"},
				{"grafana", "grafana/grafana:6.5.2"}, {"nginx", "nginx:1.15.9"}} {
				host.Images = append(host.Images, c[1])
				host.Containers = append(host.Containers, newContainer(h.Name, c[0], c[1], now.Add(-24*time.Hour), 0))
			}
		}
		st.Hosts = append(st.Hosts, host)
	}
	sort.Slice(st.Hosts, func(i, j int) bool { return st.Hosts[i].Name < st.Hosts[j].Name })
	unlock, err := lock(dir, true)
	if err != nil {
		return err
	}
	defer unlock()
	return save(dir, st)
}

func isScalarDL(role string) bool { return strings.HasPrefix(role, "scalardl") }

// DefaultHosts returns the default scalar-terraform AWS layout in domain:
// 1 bastion, 3 cassandra (rack1..3), cassy, reaper, 3 scalardl-blue, 3 envoy
// and 1 monitor, with IPs in the subnets of domain.md §1.6.
func DefaultHosts(domain string) []HostSpec {
	if domain == "" {
		domain = "internal.scalar-labs.com"
	}
	mk := func(short, role, ip, rack string) HostSpec {
		return HostSpec{Name: short + "." + domain, Short: short, Role: role, IP: ip, Rack: rack}
	}
	hs := []HostSpec{mk("bastion-1", RoleBastion, "10.42.0.10", "")}
	for i := 1; i <= 3; i++ {
		hs = append(hs, mk(fmt.Sprintf("cassandra-%d", i), RoleCassandra, fmt.Sprintf("10.42.2.%d", 9+i), fmt.Sprintf("rack%d", i)))
	}
	hs = append(hs, mk("cassy-1", RoleCassy, "10.42.2.20", ""), mk("reaper-1", RoleReaper, "10.42.2.30", ""))
	for i := 1; i <= 3; i++ {
		hs = append(hs, mk(fmt.Sprintf("scalardl-blue-%d", i), RoleScalarDLBlue, fmt.Sprintf("10.42.3.%d", 4+i), ""))
	}
	for i := 1; i <= 3; i++ {
		hs = append(hs, mk(fmt.Sprintf("envoy-%d", i), RoleEnvoy, fmt.Sprintf("10.42.1.%d", 9+i), ""))
	}
	return append(hs, mk("monitor-1", RoleMonitor, "10.42.1.20", ""))
}

// Load returns a snapshot of the state (under a shared lock).
func Load(dir string) (*State, error) {
	unlock, err := lock(dir, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return load(dir)
}

// Update runs fn on the state under an exclusive lock and saves it when fn
// returns nil. This is the only way the simulator mutates the model.
func Update(dir string, fn func(*State) error) error {
	unlock, err := lock(dir, true)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := load(dir)
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return save(dir, st)
}

// SetConfig replaces the knobs of an existing state.
func SetConfig(dir string, fn func(*Config)) error {
	return Update(dir, func(st *State) error { fn(&st.Config); return nil })
}

func lock(dir string, exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sim state lock in %s: %w (run `scalar-tui sim init` first?)", dir, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sim state lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func load(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("sim state: %w (run `scalar-tui sim init` first?)", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("sim state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}

func save(dir string, st *State) error {
	st.Seq++
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("sim state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".cluster-*.json")
	if err != nil {
		return fmt.Errorf("sim state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("sim state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("sim state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("sim state: %w", err)
	}
	return nil
}

// Host finds a host by FQDN, short name or IP.
func (st *State) Host(id string) *Host {
	for _, h := range st.Hosts {
		if h.Name == id || h.Short == id || h.IP == id {
			return h
		}
	}
	return nil
}

// HostsByRole returns the hosts whose role matches (prefix "scalardl" matches both colours).
func (st *State) HostsByRole(role string) []*Host {
	var out []*Host
	for _, h := range st.Hosts {
		if h.Role == role || (role == "scalardl" && isScalarDL(h.Role)) {
			out = append(out, h)
		}
	}
	return out
}

// InjectFault activates a fault on host (FQDN, short name or IP; "*" means
// every host). For bad-tag, param is the image tag; for slow, an optional
// factor. cassandra-stopped also stops the service, like `systemctl stop`.
func InjectFault(dir, host, kind, param string) error {
	if !validFault(kind) {
		return fmt.Errorf("unknown fault %q (known: %s)", kind, strings.Join(FaultKinds, ", "))
	}
	if kind == FaultBadTag && param == "" {
		return errors.New("fault bad-tag needs the image tag as parameter")
	}
	return Update(dir, func(st *State) error {
		hosts, err := st.match(host)
		if err != nil {
			return err
		}
		for _, h := range hosts {
			if h.Faults == nil {
				h.Faults = map[string]string{}
			}
			h.Faults[kind] = param
			if kind == FaultCassandraStopped && h.Cassandra != nil {
				h.Cassandra.Active = false
			}
		}
		return nil
	})
}

// ClearFault removes a fault from host ("*" for every host; kind "" clears
// all faults). Clearing cassandra-stopped does not start Cassandra: that is
// the operator's `systemctl start`. Clearing node-down brings the host back
// with Cassandra starting (as systemd would at boot).
func ClearFault(dir, host, kind string) error {
	if kind != "" && !validFault(kind) {
		return fmt.Errorf("unknown fault %q (known: %s)", kind, strings.Join(FaultKinds, ", "))
	}
	return Update(dir, func(st *State) error {
		hosts, err := st.match(host)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		for _, h := range hosts {
			if _, down := h.Faults[FaultNodeDown]; down && (kind == "" || kind == FaultNodeDown) && h.Cassandra != nil && h.Cassandra.Active {
				h.Cassandra.StartedAt = now
				h.Cassandra.Generation = now.Unix()
			}
			if kind == "" {
				h.Faults = nil
			} else {
				delete(h.Faults, kind)
			}
		}
		return nil
	})
}

func validFault(kind string) bool {
	for _, k := range FaultKinds {
		if k == kind {
			return true
		}
	}
	return false
}

func (st *State) match(host string) ([]*Host, error) {
	if host == "*" || host == "all" {
		return st.Hosts, nil
	}
	h := st.Host(host)
	if h == nil {
		return nil, fmt.Errorf("unknown host %q", host)
	}
	return []*Host{h}, nil
}

// HasFault reports whether the host has the fault.
func (h *Host) HasFault(kind string) bool {
	_, ok := h.Faults[kind]
	return ok
}

// Down reports whether the whole host is down (node-down fault).
func (h *Host) Down() bool { return h.HasFault(FaultNodeDown) }

// scale applies the slow fault to a duration.
func (st *State) scale(h *Host, d time.Duration) time.Duration {
	p, ok := h.Faults[FaultSlow]
	if !ok {
		return d
	}
	f := st.Config.SlowFactor
	if v, err := parseFloat(p); err == nil && v > 0 {
		f = v
	}
	if f <= 0 {
		f = 5
	}
	return time.Duration(float64(d) * f)
}
