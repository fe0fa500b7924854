package sim

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"scalar-tui/ops/scalaradmin"
)

// AdminServer implements rpc.Admin (scalar-admin's proto) for one simulated
// Scalar DL host, updating the Paused flag of the model.
type AdminServer struct {
	scalaradmin.UnimplementedAdminServer
	dir  string
	host string
}

// NewAdminServer returns the rpc.Admin implementation of host.
func NewAdminServer(dir, host string) *AdminServer { return &AdminServer{dir: dir, host: host} }

// NewAdminGRPCServer returns a grpc.Server with rpc.Admin registered for host.
func NewAdminGRPCServer(dir, host string) *grpc.Server {
	s := grpc.NewServer()
	scalaradmin.RegisterAdminServer(s, NewAdminServer(dir, host))
	return s
}

var errUnavailable = errors.New("unavailable")

// withHost runs fn under the state lock and maps model conditions to gRPC codes.
func (a *AdminServer) withHost(fn func(st *State, h *Host) error) error {
	err := Update(a.dir, func(st *State) error {
		h := st.Host(a.host)
		if h == nil {
			return status.Errorf(codes.NotFound, "unknown host %s", a.host)
		}
		ct := h.ScalarContainer()
		if h.Down() || ct == nil || !ct.Running || time.Now().Before(ct.ReadyAt) {
			return errUnavailable
		}
		return fn(st, h)
	})
	if errors.Is(err, errUnavailable) {
		return status.Error(codes.Unavailable, "io exception: connection refused")
	}
	if _, ok := status.FromError(err); ok || err == nil {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

// Pause sets the node paused. With wait_outstanding it then waits
// Config.PauseDrain (scaled by the slow fault, capped by max_pause_wait_time
// in milliseconds) for in-flight requests before answering. The
// pause-refused fault makes it fail with codes.Internal.
func (a *AdminServer) Pause(ctx context.Context, req *scalaradmin.PauseRequest) (*emptypb.Empty, error) {
	var drain time.Duration
	err := a.withHost(func(st *State, h *Host) error {
		if h.HasFault(FaultPauseRefused) {
			return status.Error(codes.Internal, "pausing failed: simulated pause-refused fault")
		}
		if req.GetWaitOutstanding() {
			drain = st.scale(h, st.Config.PauseDrain.D())
			if req.MaxPauseWaitTime != nil && time.Duration(req.GetMaxPauseWaitTime())*time.Millisecond < drain {
				drain = time.Duration(req.GetMaxPauseWaitTime()) * time.Millisecond
			}
		}
		h.Paused = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if drain > 0 {
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(drain):
		}
	}
	// FaultContainerRestart: the container restarts while paused and comes
	// back unpaused; the caller got its answer and does not know.
	_ = Update(a.dir, func(st *State) error {
		if h := st.Host(a.host); h != nil {
			st.applyContainerRestart(h, time.Now().UTC())
		}
		return nil
	})
	return &emptypb.Empty{}, nil
}

// Unpause clears the paused flag.
func (a *AdminServer) Unpause(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	err := a.withHost(func(st *State, h *Host) error { h.Paused = false; return nil })
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// CheckPaused reports the paused flag.
func (a *AdminServer) CheckPaused(ctx context.Context, _ *emptypb.Empty) (*scalaradmin.CheckPausedResponse, error) {
	var paused bool
	err := a.withHost(func(st *State, h *Host) error { paused = h.Paused; return nil })
	if err != nil {
		return nil, err
	}
	return &scalaradmin.CheckPausedResponse{Paused: paused}, nil
}

// Stats returns a small JSON document describing the node.
func (a *AdminServer) Stats(ctx context.Context, _ *emptypb.Empty) (*scalaradmin.StatsResponse, error) {
	var out []byte
	err := a.withHost(func(st *State, h *Host) error {
		ct := h.ScalarContainer()
		b, err := json.Marshal(map[string]any{"paused": h.Paused, "image": ct.Image, "host": h.Name})
		out = b
		return err
	})
	if err != nil {
		return nil, err
	}
	return &scalaradmin.StatsResponse{Stats: string(out)}, nil
}
