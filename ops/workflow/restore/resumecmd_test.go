package restore_test

import (
	"encoding/json"
	"testing"

	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restore"
)

// Every hint that prints the command resuming a restore (or its undo) names
// --confirm-deployment with the deployment's name, quoted for the shell, so
// that the command works as printed; other kinds' commands do not.
func TestResumeCommandNamesTheDeployment(t *testing.T) {
	params := func(name string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"confirm_deployment": name, "tag": "t1"})
		return b
	}
	for _, c := range []struct {
		st   workflow.RunState
		want string
	}{
		{workflow.RunState{ID: "20260101-restore-1", Workflow: restore.Workflow, Params: params("prod")},
			"scalar-tui resume 20260101-restore-1 --confirm-deployment prod"},
		{workflow.RunState{ID: "u1", Workflow: restore.UndoWorkflow, Params: params("it's prod")},
			`scalar-tui resume u1 --confirm-deployment 'it'\''s prod'`},
		{workflow.RunState{ID: "r2", Workflow: restore.Workflow, Params: json.RawMessage(`{}`)},
			"scalar-tui resume r2 --confirm-deployment NAME"},
		{workflow.RunState{ID: "b1", Workflow: "backup", Params: params("prod")},
			"scalar-tui resume b1"},
	} {
		if got := workflow.ResumeCommand(&c.st); got != c.want {
			t.Errorf("%s run: %q, want %q", c.st.Workflow, got, c.want)
		}
	}
	if got := workflow.ResumeConfirmName(&workflow.RunState{Workflow: restore.Workflow, Params: params("prod")}); got != "prod" {
		t.Errorf("ResumeConfirmName = %q", got)
	}
}
