// Package cassy holds the generated gRPC client and server stubs for Cassy's
// rpc.Cassy service (RegisterCluster, ListClusters, TakeBackup, ListBackups,
// RestoreBackup, ListRestoreStatuses) that the cassy-1 host serves on port
// 20051 (domain.md §4.2), and Client, a small wrapper that dials through the
// bastion per call.
//
// The proto is proto/cassy.proto, copied from scalar-labs/cassy
// src/main/proto/cassy.proto. Besides the go_package option, the google.api.http
// annotations (HTTP gateway only) and Cassy's own rpc.Admin service are left
// out: the latter's full names collide with ops/scalaradmin in the protobuf
// registry. The rpc.Cassy wire contract is unchanged; see the proto's header.
//
// Regenerate with `go generate ./ops/cassy` (needs protoc,
// protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.5.1 in .tools/bin).
// This package must not import anything from scalar-tui.
package cassy

//go:generate sh -c "cd proto && PATH=../../../.tools/bin:$PATH protoc -I. --go_out=.. --go_opt=paths=source_relative --go-grpc_out=.. --go-grpc_opt=paths=source_relative cassy.proto"
