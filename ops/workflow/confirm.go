package workflow

import (
	"context"
	"fmt"
)

// confirmKey is the context key of the deployment name the operator typed.
type confirmKey struct{}

// WithConfirmDeployment returns ctx carrying the deployment name the
// operator typed to confirm a dangerous resume (a restore's): the console's
// resume dialog and `scalar-tui resume --confirm-deployment NAME` set it, and
// the restore's resume builders refuse without it. The name travels in the
// context because every kind's Resume shares one signature; only the
// restore's read it.
func WithConfirmDeployment(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, confirmKey{}, name)
}

// ConfirmDeployment returns the name WithConfirmDeployment put in ctx, or "".
func ConfirmDeployment(ctx context.Context) string {
	s, _ := ctx.Value(confirmKey{}).(string)
	return s
}

// ResumeConfirmed returns the deployment name typed for resuming a run of
// workflow wf that replaces data (a restore or its undo). The name journalled
// when the run started is never reused: the operator types it again, and it
// must be deployment's.
func ResumeConfirmed(ctx context.Context, deployment, wf string) (string, error) {
	name := ConfirmDeployment(ctx)
	switch {
	case name == "":
		return "", fmt.Errorf("resuming a %s run replaces the data of every node again: type the deployment's name again with --confirm-deployment %s (the console's resume dialog asks for it)", wf, deployment)
	case name != deployment:
		return "", fmt.Errorf("--confirm-deployment %q is not this deployment (%q): nothing was resumed", name, deployment)
	}
	return name, nil
}
