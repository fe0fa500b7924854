package health

import (
	"context"
	"errors"
	"net"
)

// TransportError marks a failure of the path every target is reached through
// (the SSH bastion) rather than of one target: nothing behind it was observed,
// so its hosts are unknown, never down. The caller's dial function returns it;
// this package knows nothing of SSH.
type TransportError struct {
	// Via names the path, e.g. "bastion 203.0.113.7:22".
	Via string
	// Err is why it failed (wrong key, changed host key, refused, timed out).
	Err error
}

// Error says "cannot reach the <via>: <why>".
func (e *TransportError) Error() string { return "cannot reach the " + e.Via + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *TransportError) Unwrap() error { return e.Err }

// transportError returns the TransportError inside err, or nil.
func transportError(err error) *TransportError {
	var te *TransportError
	if errors.As(err, &te) {
		return te
	}
	return nil
}

// MarkTransport wraps dial so that every error classify accepts comes back
// as a *TransportError naming via. classify sees the dial function's own
// error (for the SSH bastion: host key, authentication and connect failures
// of the bastion itself, as opposed to a target refused behind it).
func MarkTransport(dial DialFunc, via string, classify func(error) bool) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil && classify(err) && transportError(err) == nil {
			return nil, &TransportError{Via: via, Err: err}
		}
		return c, err
	}
}
