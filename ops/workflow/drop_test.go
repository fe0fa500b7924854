package workflow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow/workflowtest"
)

// droppingRunner cuts the first follow of a detached command after its first
// output line, as an SSH drop would, and signals the command to go on.
type droppingRunner struct {
	*workflowtest.LocalRunner
	mu      sync.Mutex
	dropped bool
	release string
}

func (d *droppingRunner) Run(ctx context.Context, host, command string, opts sshx.RunOptions) (sshx.Result, error) {
	d.mu.Lock()
	drop := !d.dropped && strings.Contains(command, `kill -0 "$p"`)
	d.dropped = d.dropped || drop
	d.mu.Unlock()
	if !drop {
		return d.LocalRunner.Run(ctx, host, command, opts)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := opts.Stdout
	opts.Stdout = func(l string) {
		next(l)
		cancel() // the "connection" dies after the first line
	}
	res, err := d.LocalRunner.Run(cctx, host, command, opts)
	if err == nil {
		return res, errors.New("expected the drop to cut the follow")
	}
	_ = os.WriteFile(d.release, nil, 0o644)
	return res, errors.New("ssh: connection lost")
}

func TestDetachedSurvivesOutputStreamDrop(t *testing.T) {
	lr := &workflowtest.LocalRunner{Root: t.TempDir()}
	dr := &droppingRunner{LocalRunner: lr, release: filepath.Join(lr.Dir("h1"), "release")}
	rec := &recorder{}
	e := New(dr, t.TempDir(), WithoutLock(), WithEvents(rec.add))
	p := &Plan{ID: "20261124-2231-drop", Workflow: "test"}
	p.Steps = []Step{{ID: "long", Host: "h1", Detached: true, Commands: []string{
		"echo one; while [ ! -e " + dr.release + " ]; do sleep 0.05; done; echo two; echo three",
	}}}
	status, err := e.Run(context.Background(), p)
	if status != StatusDone || err != nil {
		t.Fatalf("Run = %s, %v", status, err)
	}
	for _, ev := range rec.events() {
		t.Log(FormatEvent(ev))
	}
	if got := strings.Join(rec.lines(), ","); got != "h1: one,h1: two,h1: three" {
		t.Errorf("output = %q (no line lost or repeated across the drop)", got)
	}
	var notice bool
	for _, ev := range rec.events() {
		if n, ok := ev.(*Notice); ok && strings.Contains(n.Message, "re-attaching") {
			notice = true
		}
	}
	if !notice {
		t.Error("no re-attach notice")
	}
}
