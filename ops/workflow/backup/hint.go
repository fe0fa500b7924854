package backup

import (
	"encoding/json"
	"fmt"

	"scalar-tui/ops/workflow"
)

// ResumeHint says what an operator can do about a failed or interrupted
// backup run st, or "" when `scalar-tui resume` simply continues it. A backup
// pauses Scalar DL only once: once the pause was attempted, resume can still
// unpause what this run left paused, but it never takes the backup again.
func ResumeHint(st *workflow.RunState) string {
	if st == nil {
		return ""
	}
	if _, ok := st.Markers[MarkerPauseAttempted]; !ok {
		return ""
	}
	var o Options
	_ = json.Unmarshal(st.Params, &o)
	clear := "start a new one with `scalar-tui backup`"
	if o.Tag != "" {
		clear = fmt.Sprintf("clear its partial snapshots with `scalar-tui backups clear %s` and start a new one with `scalar-tui backup`", o.Tag)
	}
	if _, paused := st.Markers[workflow.MarkerScalarDLPaused]; paused {
		return fmt.Sprintf("Scalar DL may still be paused by run %s: `scalar-tui resume %s` unpauses it (it does not take the backup again); then %s", st.ID, st.ID, clear)
	}
	return fmt.Sprintf("run %s already paused Scalar DL once, so it cannot be resumed (a backup pauses only once): %s", st.ID, clear)
}
