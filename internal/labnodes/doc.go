// Package labnodes makes the lab's hosts (internal/lab) run what their roles
// run on a scalar-terraform deployment, so that the console's health, SSH and
// workflow code can be tested end to end against real daemons:
//
//   - one shared simulator state (internal/sim) holding the lab's hosts with
//     their real lab FQDNs and IPs;
//   - on every host, the simulated tools on the SSH sessions' PATH (wrapper
//     scripts in the host's BinDir: nodetool, systemctl, docker,
//     docker-compose, grpc_health_probe, and a sudo that just runs its
//     command, since the lab logs in as root);
//   - on every host, the simulator's network endpoints (cadvisor :18080, the
//     cassandra exporter :7070, Envoy admin :9001, rpc.Admin :50053, as the
//     role has them) served by `scalar-sim lab node-serve` inside the host's
//     namespace, which also keeps <host dir>/textfile/sim.prom current; on
//     the cassy host also the simulator's rpc.Cassy on :20051, with the
//     Cassandra cluster registered once as an operator would, as the demo does;
//   - on every host, the REAL prometheus-node-exporter on <host IP>:9100 with
//     the textfile collector reading that directory (the simulated systemd
//     units: cassandra.service, td-agent.service, ...);
//   - on the first monitor host, a REAL Prometheus on <monitor IP>:9090 with
//     the configuration and rules of internal/labprom (Config and
//     WriteRules: static targets, instance="<fqdn>:<port>", role labels,
//     short intervals), and a REAL Alertmanager on <monitor IP>:9093 that it
//     sends its alerts to.
//
// Everything is started with (*lab.Lab).StartProcess, so lab.Stop (and
// `scalar-tui lab down`) kills it. The simulator tools and node-serve run from
// a built scalar-sim binary (Options.SimBinary); tests build one with
// BuildSimBinary.
//
// From the root namespace nothing of this is reachable directly (the lab's
// unreachable routes); clients go through the bastion, e.g. ops/sshx's
// DialContext to monitor.<domain>:9090.
//
// Production code never imports this package.
package labnodes
