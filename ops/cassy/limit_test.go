package cassy

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
)

// A Cassy answering with more than MaxResponseBytes is refused with an error
// that says so.
func TestHugeAnswerRefused(t *testing.T) {
	var entries []*ClusterListingResponse_Entry
	for n := 0; n < 2*MaxResponseBytes; n += 1000 {
		entries = append(entries, &ClusterListingResponse_Entry{ClusterId: strings.Repeat("c", 990)})
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return &ClusterListingResponse{Entries: entries}, nil
	}))
	RegisterCassyServer(srv, UnimplementedCassyServer{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	c := Client{Addr: ln.Addr().String(), Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
	_, err = c.ListClusters(context.Background(), &ClusterListingRequest{})
	if err == nil || !strings.Contains(err.Error(), "larger than scalar-tui reads") {
		t.Fatalf("ListClusters = %v, want the answer refused as too large", err)
	}
}
