// Package catalog links every workflow kind into the workflow catalog
// (workflow.Register, workflow.Kinds): the CLI and the console import it
// once and get all of them. A new kind is one package with a kind.go that
// registers it, plus one line here.
//
// It must not import tui or cmd.
package catalog

import (
	// Each kind registers itself from its package's init.
	_ "scalar-tui/ops/workflow/backup"
	_ "scalar-tui/ops/workflow/drill"
	_ "scalar-tui/ops/workflow/freedisk"
	_ "scalar-tui/ops/workflow/reachability"
	_ "scalar-tui/ops/workflow/repair"
	_ "scalar-tui/ops/workflow/restartcassandra"
	_ "scalar-tui/ops/workflow/restartcontainer"
	_ "scalar-tui/ops/workflow/restore"
	_ "scalar-tui/ops/workflow/rollingrestart"
	_ "scalar-tui/ops/workflow/upgrade"
)
