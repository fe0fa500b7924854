// Package health reads the live health of a scalar-terraform deployment and
// joins it to the inventory: one HostHealth per inventory host, cluster counts,
// firing alerts, series that match no host, and per-query errors.
//
// Two sources produce the same Snapshot:
//
//   - PrometheusSource asks the monitor host's Prometheus a fixed set of batched
//     PromQL queries (the same number whatever the host count), concurrently.
//   - ScrapeSource, the fallback when Prometheus itself is down, scrapes the
//     exporters directly (node exporter, cadvisor, cassandra exporter, Envoy admin).
//
// Both dial through a caller-supplied dial function, so the SSH bastion dialer
// of ops/sshx can be plugged in; the package itself knows nothing of SSH.
//
// # Joining series to hosts
//
// Prometheus' instance label is "<fqdn>:<port>" on scalar-terraform (targets come
// from DNS SRV records). The port is stripped and the rest is matched against the
// inventory host's Name (FQDN), then Short, then PrivateIP; an instance label with
// no port is matched the same way. A series whose instance matches no host is kept
// in Snapshot.Unmatched, never dropped.
//
// # State rules
//
// A host's State is the worst of everything known about it. It is decided in
// this order (the first that applies wins for down and unknown; degraded
// collects every reason, and every state carries its reasons):
//
//  1. unknown: no up{job="host"} series for the host (it is not scraped, or
//     Prometheus has no data, or the path to it, the bastion, failed: see
//     TransportError), or a query that one of the host's state rules
//     depends on failed. Fail closed: unknown is never healthy.
//  2. down: up{job="host"} == 0 (the node exporter cannot be scraped, which is
//     what the real InstanceDown alert fires on). Only this makes a host down.
//  3. degraded, with one reason per finding:
//     - a cassandra host whose cassandra.service is not active, or has no
//     node_systemd_unit_state series at all;
//     - a docker host (cassy, reaper, scalardl-*, envoy) whose compose service
//     container (cassy, reaper, scalar, envoy) was last seen more than 15s ago,
//     as the real *ContainerDown alerts and recording rules judge it, or has
//     no container_last_seen series (cadvisor drops a stopped container);
//     - a Scalar DL host that Envoy does not serve: an Envoy's admin /clusters
//     lists it with health_flags other than "healthy" (its gRPC health check
//     is not SERVING), or does not list it at all. Without /clusters, a node
//     counts as serving only when every Envoy reports all members healthy;
//     otherwise Serving stays unknown (and the cluster line says so);
//     - an envoy host whose scalar-service cluster has fewer healthy members
//     than members, or no members;
//     - a disk below the threshold of the deployment's own alert rule (see
//     DiskRules: 10% free on / and /data, 25% free on Cassandra's /data);
//     - any firing alert whose instance is the host. Critical alerts also only
//     degrade: InstanceDown is already covered by up==0, and the other critical
//     alerts (TdAgentDown, *ContainerDown) describe a service, not the machine.
//  4. healthy otherwise.
//
// Every answer read (Prometheus, exporters, Envoy admin) is bounded in size
// (ErrTooLarge) and in time; NaN and ±Inf samples are treated as no data.
//
// CPU, memory, load and the Cassandra exporter figures are shown but never
// change the state.
//
// This package must not import tui or cmd.
package health
