package restore

import (
	"context"
	"errors"
	"net"

	"scalar-tui/inventory"
	"scalar-tui/ops/workflow"
)

// Dialer opens a TCP connection to addr, normally through the bastion.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// CassyOptions tunes --via cassy.
type CassyOptions struct{}

func (r *restorer) cassyPreflight() workflow.Check {
	return workflow.Check{Name: "cassy", Run: func(context.Context, *workflow.Env) error { return errors.New("not yet") }}
}

func (r *restorer) cassySteps() ([]workflow.Step, error) {
	return nil, errors.New("--via cassy is not built yet")
}

func (r *restorer) cassyExpected(ctx context.Context, env *workflow.Env, h inventory.Host) (map[string]string, error) {
	return nil, errors.New("not yet")
}
