// Package scalaradmin holds the generated gRPC client and server stubs for
// the Scalar Admin interface (service rpc.Admin: Pause, Unpause, CheckPaused,
// Stats) that Scalar DL exposes on its admin port 50053.
//
// The proto is proto/admin.proto, copied from scalar-labs/scalar-admin with
// only a go_package option added. CheckPaused exists only in scalar-admin
// 1.2 and later; older ledgers (2.1.x) answer it with codes.Unimplemented.
//
// Regenerate with `go generate ./ops/scalaradmin` (needs protoc,
// protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.5.1 in .tools/bin).
// This package must not import anything from scalar-tui.
package scalaradmin

//go:generate sh -c "cd proto && PATH=../../../.tools/bin:$PATH protoc -I. -I${PROTO_INCLUDE:-/usr/include} --go_out=.. --go_opt=paths=source_relative --go_opt=Mgoogle/protobuf/empty.proto=google.golang.org/protobuf/types/known/emptypb --go-grpc_out=.. --go-grpc_opt=paths=source_relative --go-grpc_opt=Mgoogle/protobuf/empty.proto=google.golang.org/protobuf/types/known/emptypb admin.proto"
