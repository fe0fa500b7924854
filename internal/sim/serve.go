package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// ListenFunc opens the listener of one port of the simulated host. The lab
// passes a function that listens on the host's IP inside its namespace; the
// demo passes one that registers an in-memory listener.
type ListenFunc func(port int) (net.Listener, error)

// ServeOptions tunes Serve.
type ServeOptions struct {
	// TextfileDir, when set, receives <dir>/sim.prom every TextfileEvery.
	TextfileDir string
	// TextfileEvery defaults to 1s.
	TextfileEvery time.Duration
}

// Serve serves every network endpoint of host until ctx is done: the HTTP
// ports of Ports(role) and, on Scalar DL hosts, rpc.Admin on 50053. It
// returns the first listener error, or nil after a clean shutdown.
func Serve(ctx context.Context, dir, host string, listen ListenFunc, opts ServeOptions) error {
	st, err := Load(dir)
	if err != nil {
		return err
	}
	h := st.Host(host)
	if h == nil {
		return fmt.Errorf("sim serve: unknown host %q", host)
	}
	name := h.Name
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		firstEr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstEr == nil {
			firstEr = err
		}
		mu.Unlock()
		cancel()
	}
	for _, port := range Ports(h.Role) {
		ln, err := listen(port)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("sim serve %s: listen :%d: %w", name, port, err)
		}
		srv := &http.Server{Handler: Handler(dir, name, port), ReadHeaderTimeout: 5 * time.Second}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(err)
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), time.Second)
			defer c()
			_ = srv.Shutdown(sctx)
		}()
	}
	if isScalarDL(h.Role) {
		ln, err := listen(PortScalarAdmin)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("sim serve %s: listen :%d: %w", name, PortScalarAdmin, err)
		}
		gs := NewAdminGRPCServer(dir, name)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := gs.Serve(ln); err != nil {
				fail(err)
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			gs.Stop()
		}()
	}
	if opts.TextfileDir != "" {
		every := opts.TextfileEvery
		if every <= 0 {
			every = time.Second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				if err := WriteTextfile(dir, name, opts.TextfileDir); err != nil {
					fail(err)
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return firstEr
}
