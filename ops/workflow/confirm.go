package workflow

import (
	"context"
	"encoding/json"
	"fmt"

	"scalar-tui/ops/shell"
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

// ResumeConfirmName is the name the resume of run st must be confirmed with:
// the deployment name typed when a ConfirmResume kind's run started (from
// its Params). It is "" for a kind that needs no confirmation, and for a
// ConfirmResume run whose Params hold no name.
func ResumeConfirmName(st *RunState) string {
	if !confirmsResume(st) {
		return ""
	}
	var p struct {
		ConfirmDeployment string `json:"confirm_deployment"`
	}
	_ = json.Unmarshal(st.Params, &p)
	return p.ConfirmDeployment
}

// confirmsResume reports whether run st's kind is a ConfirmResume one.
func confirmsResume(st *RunState) bool {
	k, ok := Lookup(st.Workflow)
	return ok && k.ConfirmResume
}

// ResumeCommand is the command line that resumes run st, as hints print it:
// `scalar-tui resume ID`, with `--confirm-deployment NAME` for a run whose
// resume must be confirmed (a restore's), so that the hint works as printed.
func ResumeCommand(st *RunState) string {
	cmd := "scalar-tui resume " + shell.Quote(st.ID)
	if confirmsResume(st) {
		name := ResumeConfirmName(st)
		if name == "" {
			name = "NAME"
		}
		cmd += " --confirm-deployment " + shell.Quote(name)
	}
	return cmd
}
