// Package demo runs a whole simulated scalar-terraform deployment inside one
// process, for `scalar-tui demo`: no root, no packages, no network beyond
// loopback.
//
// Start brings up an in-process SSH bastion on 127.0.0.1 (internal/sshtest)
// and one SSH server per host behind it, reachable only through the
// bastion's direct-tcpip forwarding under their private DNS names
// (cassandra-1.internal.scalar-labs.com:22 ...). Each host's HTTP and gRPC
// endpoints (node exporter, cadvisor, cassandra exporter, envoy admin,
// rpc.Admin) are served by internal/sim on in-memory listeners behind the same
// bastion. Nothing ever dials a 10.x address: those are only names in the
// simulated model.
//
// Commands sent to a host run in a real POSIX shell interpreter
// (mvdan.cc/sh/v3/interp) with the host's own HOME and environment. The
// simulated tools (sim.Commands: nodetool, systemctl, docker, ...) run in
// process against the shared model; everything else (cat, mkdir, setsid, sh
// ...) runs as a real program, in its own process group so that it can be
// stopped as a whole. Real subprocesses that call a simulated tool (the
// `setsid nohup sh -c 'nodetool repair ...'` of detached commands) find
// wrapper scripts in DIR/bin that run `SimBinary sim exec TOOL ...`.
//
// The directory holds what an operator of a real deployment has:
//
//	DIR/{network,cassandra,scalardl,monitor}/terraform.tfstate  (--tf-root DIR)
//	DIR/known_hosts, DIR/id_ed25519                            (--known-hosts, --identity)
//	DIR/sim/           the simulator's model (SCALAR_SIM_STATE)
//	DIR/bin/           wrapper scripts for the simulated tools
//	DIR/hosts/<short>/ each host's HOME (scalardl hosts have ~/provision/)
//
// so the console runs against it through the same code paths as against a
// real deployment: inventory.Load, ops/sshx with host-key checks, health and
// the workflows.
//
// This package is tooling for the demo and for tests; production packages
// (inventory, ops, tui) must never import it.
package demo
