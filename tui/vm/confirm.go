package vm

import (
	"context"

	"scalar-tui/ops/workflow"
)

// WithConfirmDeployment returns ctx carrying the deployment name the
// operator typed in the resume dialog (workflow.WithConfirmDeployment): a
// restore's resume refuses without it.
func WithConfirmDeployment(ctx context.Context, name string) context.Context {
	return workflow.WithConfirmDeployment(ctx, name)
}

// ConfirmDeployment returns the name WithConfirmDeployment put in ctx, or "".
func ConfirmDeployment(ctx context.Context) string { return workflow.ConfirmDeployment(ctx) }
