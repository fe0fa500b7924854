package backup

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"scalar-tui/ops/scalaradmin"
)

// An admin port answering with more than scalaradmin.MaxResponseBytes is
// refused with an error that says so.
func TestAdminHugeAnswerRefused(t *testing.T) {
	huge := strings.Repeat("x", 2<<20)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return &scalaradmin.StatsResponse{Stats: huge}, nil
	}))
	scalaradmin.RegisterAdminServer(srv, scalaradmin.UnimplementedAdminServer{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	a := admin{dial: func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
	_, _, err = a.checkPaused(context.Background(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "larger than scalar-tui reads") {
		t.Fatalf("checkPaused = %v, want the answer refused as too large", err)
	}
}
