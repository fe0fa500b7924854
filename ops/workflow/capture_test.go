package workflow

import (
	"context"
	"strings"
	"testing"

	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow/workflowtest"
)

// Env.Exec keeps the tail of a flood of output and says it cut the rest.
func TestExecKeepsTheTailOfLongOutput(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	e, _, _ := newTestEngine(t, lr)
	p := hostPlan("h1")
	var got CommandResult
	p.Preflight = []Check{{
		Name: "flood", Description: "a command that prints 3 MB",
		Run: func(ctx context.Context, env *Env) error {
			var err error
			got, err = env.Exec(ctx, "h1", "seq 1 400000; seq 1 300000 >&2")
			return err
		},
	}}
	if _, err := e.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"stdout": got.Stdout, "stderr": got.Stderr} {
		if len(s) > sshx.MaxCapturedOutput+200 {
			t.Errorf("%s kept %d bytes, want at most about %d", name, len(s), sshx.MaxCapturedOutput)
		}
		if !strings.HasPrefix(s, "[scalar-tui: output cut: the first ") {
			t.Errorf("%s does not say it was cut: %.80q", name, s)
		}
	}
	if !strings.HasSuffix(got.Stdout, "\n399999\n400000\n") || !strings.HasSuffix(got.Stderr, "\n300000\n") {
		t.Errorf("the tail was not kept: ...%q / ...%q", got.Stdout[max(0, len(got.Stdout)-20):], got.Stderr[max(0, len(got.Stderr)-20):])
	}
}
