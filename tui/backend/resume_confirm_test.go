package backend

import (
	"encoding/json"
	"testing"

	"scalar-tui/ops/workflow"
)

// A restore's (and its undo's) line in :runs carries the deployment name its
// resume must be confirmed with: the name typed when it started. Other runs
// carry none.
func TestRunViewConfirmName(t *testing.T) {
	for _, c := range []struct {
		workflow, params, want string
	}{
		{"restore", `{"tag":"b1","confirm_deployment":"example-aws-0j5y83k"}`, "example-aws-0j5y83k"},
		{"restore-undo", `{"run":"r1","confirm_deployment":"example-aws-0j5y83k"}`, "example-aws-0j5y83k"},
		{"repair", `{"confirm_deployment":"example-aws-0j5y83k"}`, ""},
		{"backup", `{}`, ""},
	} {
		rv := runView(&workflow.RunState{ID: "r", Workflow: c.workflow, Status: workflow.StatusFailed, Params: json.RawMessage(c.params)})
		if rv.ConfirmName != c.want {
			t.Errorf("%s: ConfirmName %q, want %q", c.workflow, rv.ConfirmName, c.want)
		}
	}
}
