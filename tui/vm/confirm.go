package vm

import "context"

// confirmKey is the context key of the deployment name the operator typed.
type confirmKey struct{}

// WithConfirmDeployment returns ctx carrying the deployment name the
// operator typed to confirm a dangerous resume (a restore's): the console's
// resume dialog and `scalar-tui resume --confirm-deployment NAME` set it, and
// the restore's resume builders refuse without it. The name travels in the
// context because the resume builders share one signature for every
// workflow; only the restore's read it.
func WithConfirmDeployment(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, confirmKey{}, name)
}

// ConfirmDeployment returns the name WithConfirmDeployment put in ctx, or "".
func ConfirmDeployment(ctx context.Context) string {
	s, _ := ctx.Value(confirmKey{}).(string)
	return s
}
