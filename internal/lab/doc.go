// Package lab runs a throwaway copy of a scalar-terraform deployment's SSH
// surface on this machine: real OpenSSH sshd daemons in Linux network
// namespaces, a bastion that is the only way in, and the files a real
// deployment gives an operator (Terraform state, known_hosts, a private key and
// an OpenSSH client config).
//
// Layout (network 10.N.0.0/16, N chosen per lab, 231 by default):
//
//	root ns   10.N.0.1 ──veth── 10.N.0.10 bastion ns (sshd, AllowTcpForwarding yes, ip_forward on)
//	                                       br0: 10.N.1.1/24 10.N.2.1/24 10.N.3.1/24 10.N.4.1/24
//	                                        ├─veth── host ns cassandra-1 10.N.2.10 (sshd, no forwarding)
//	                                        └─veth── ...
//	root ns: unreachable 10.N.0.0/16 (and each host /24), so hosts are reached only via the bastion.
//
// Every host (the bastion too) has its own UTS namespace (hostname "cassandra-1"),
// its own /etc/hosts (the private zone's records, bind-mounted by `ip netns
// exec`), and its own home: the per-host directory DIR/hosts/<name>/home is
// bind-mounted over /root, because clients log in as root (the Terraform
// state's user_name is "root"). Sessions get, from sshd's SetEnv:
//
//	PATH=DIR/hosts/<name>/bin:/usr/local/sbin:...   simulator binaries (nodetool, docker, systemctl) go in bin/
//	SCALAR_SIM_HOST=<fqdn>                           which host the session is on
//	SCALAR_LAB_DIR=DIR, SCALAR_LAB_HOST_DIR=DIR/hosts/<name>
//	and Config.SessionEnv (e.g. SCALAR_SIM_STATE=...)
//
// SetEnv applies to `ssh host command`; an interactive login shell may reset
// PATH from /etc/profile.
//
// Files in DIR: id_ed25519(.pub), authorized_keys, known_hosts, ssh_config,
// etc_hosts, tf/{network,cassandra,scalardl,monitor}/terraform.tfstate,
// lab.json (the state `scalar-tui lab down` reads) and hosts/<name>/ (sshd_config,
// host key, sshd.log, bin/, home/, logs/ of StartProcess processes).
//
// internal/labnodes starts what each host's role runs on top of a lab (the
// simulator's tools and exporters, real node exporters, a real Prometheus on
// monitor-1); `scalar-tui lab up` does so unless --nodes=false.
//
// The lab needs root, iproute2 (ip netns), util-linux (nsenter, unshare) and
// openssh-server. Tests use ForTest, which skips when those are missing unless
// SCALAR_TUI_REQUIRE_LAB=1. Production code never imports this package.
package lab
