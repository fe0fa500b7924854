package backup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"scalar-tui/ops/scalaradmin"
)

// Dialer opens a TCP connection to addr ("host:port"), normally through the
// bastion: (*sshx.Client).DialContext with network "tcp".
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// admin talks rpc.Admin to the Scalar DL admin ports.
type admin struct {
	dial Dialer
}

// call opens a connection to addr, runs f and closes it. A connection per call
// keeps nothing alive across an SSH drop: the next call dials again.
func (a admin) call(ctx context.Context, addr string, f func(context.Context, scalaradmin.AdminClient) error) error {
	if a.dial == nil {
		return errors.New("no dialer for the Scalar DL admin port")
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return a.dial(ctx, addr) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(scalaradmin.MaxResponseBytes)))
	if err != nil {
		return fmt.Errorf("rpc.Admin %s: %w", addr, err)
	}
	defer cc.Close()
	if err := f(ctx, scalaradmin.NewAdminClient(cc)); err != nil {
		if status.Code(err) == codes.ResourceExhausted {
			return fmt.Errorf("rpc.Admin %s: the answer is larger than scalar-tui reads (%d KiB): %w", addr, scalaradmin.MaxResponseBytes>>10, err)
		}
		return fmt.Errorf("rpc.Admin %s: %w", addr, err)
	}
	return nil
}

// pause pauses addr with wait_outstanding=true.
func (a admin) pause(ctx context.Context, addr string, maxWait time.Duration) error {
	req := &scalaradmin.PauseRequest{WaitOutstanding: true}
	if maxWait > 0 {
		ms := maxWait.Milliseconds()
		req.MaxPauseWaitTime = &ms
	}
	return a.call(ctx, addr, func(ctx context.Context, c scalaradmin.AdminClient) error {
		_, err := c.Pause(ctx, req, grpc.WaitForReady(false))
		return err
	})
}

// unpause unpauses addr once.
func (a admin) unpause(ctx context.Context, addr string) error {
	return a.call(ctx, addr, func(ctx context.Context, c scalaradmin.AdminClient) error {
		_, err := c.Unpause(ctx, &emptypb.Empty{})
		return err
	})
}

// checkPaused reports whether addr says it is paused. Ledgers older than
// scalar-admin 1.2 answer Unimplemented: reachable, state unknown (known=false).
func (a admin) checkPaused(ctx context.Context, addr string) (paused, known bool, err error) {
	err = a.call(ctx, addr, func(ctx context.Context, c scalaradmin.AdminClient) error {
		r, err := c.CheckPaused(ctx, &emptypb.Empty{})
		if status.Code(err) == codes.Unimplemented {
			return nil
		}
		if err != nil {
			return err
		}
		paused, known = r.GetPaused(), true
		return nil
	})
	return paused, known, err
}

// unpauseAll unpauses every target, in parallel, retrying each until it
// succeeds or budget is spent. It never uses the caller's cancellation: it
// runs on a fresh context bounded by budget, because an unpause must not be
// cut short by the Ctrl-C or failure that triggered it. It returns the
// targets that could not be unpaused, with their last errors.
func (a admin) unpauseAll(ctx context.Context, targets []string, budget time.Duration) map[string]error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	var mu sync.Mutex
	failed := map[string]error{}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff := 200 * time.Millisecond
			for {
				actx, acancel := context.WithTimeout(uctx, 10*time.Second)
				err := a.unpause(actx, t)
				acancel()
				if err == nil {
					return
				}
				select {
				case <-uctx.Done():
					mu.Lock()
					failed[t] = err
					mu.Unlock()
					return
				case <-time.After(backoff):
				}
				if backoff < 2*time.Second {
					backoff *= 2
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

// describeFailures renders target errors sorted by target.
func describeFailures(m map[string]error) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %v", hostOf(k), m[k]))
	}
	return strings.Join(parts, "; ")
}

// hostOf returns the host part of "host:port".
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// unpauseVerified unpauses every target (unpauseAll) and then asks each one
// with CheckPaused whether it is still paused, unpausing again while it is,
// within budget. A Pause that timed out on the client may still be applied
// by the server after an early Unpause; the check catches that. It returns
// the targets still paused or not unpaused (with why) and the targets whose
// ledger cannot say (no CheckPaused before scalar-admin 1.2).
func (a admin) unpauseVerified(ctx context.Context, targets []string, budget time.Duration) (failed map[string]error, unverified []string) {
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	failed = a.unpauseAll(vctx, targets, budget)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, t := range targets {
		if _, ok := failed[t]; ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; ; attempt++ {
				cctx, ccancel := context.WithTimeout(vctx, 10*time.Second)
				paused, known, err := a.checkPaused(cctx, t)
				ccancel()
				switch {
				case err == nil && !known:
					mu.Lock()
					unverified = append(unverified, t)
					mu.Unlock()
					return
				case err == nil && !paused:
					return
				}
				if err == nil {
					err = errors.New("CheckPaused still says paused after Unpause")
					if uerr := a.unpause(vctx, t); uerr != nil {
						err = fmt.Errorf("%w; Unpause again: %v", err, uerr)
					}
				}
				select {
				case <-vctx.Done():
					mu.Lock()
					failed[t] = err
					mu.Unlock()
					return
				case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(unverified)
	return failed, unverified
}

// describeUnpause renders what unpauseVerified did, for errors and notices.
func describeUnpause(n int, failed map[string]error, unverified []string) string {
	switch {
	case len(failed) > 0:
		return fmt.Sprintf("the console sent Unpause to all %d Scalar DL admin targets, but %s: Scalar DL may still be paused there; unpause it with scalar-admin -c unpause", n, describeFailures(failed))
	case len(unverified) > 0:
		var hs []string
		for _, t := range unverified {
			hs = append(hs, hostOf(t))
		}
		return fmt.Sprintf("the console unpaused all %d Scalar DL admin targets itself; %s cannot report their pause state (no rpc.Admin/CheckPaused), the others are verified unpaused", n, strings.Join(hs, ", "))
	}
	return fmt.Sprintf("the console unpaused all %d Scalar DL admin targets itself and verified with CheckPaused that none is paused", n)
}
