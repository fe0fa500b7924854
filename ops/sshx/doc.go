// Package sshx is the SSH transport of the console: one connection to the
// deployment's bastion, every host connection multiplexed over it, host keys
// always verified against known_hosts.
//
// It must not import tui or cmd.
package sshx
