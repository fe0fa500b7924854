package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/tui/vm"
)

// confirmBackend records the deployment name each resume was confirmed with.
type confirmBackend struct {
	*fakeBackend
	mu       sync.Mutex
	confirms []string
}

func (c *confirmBackend) ResumeWorkflow(ctx context.Context, id string) (vm.PlanView, <-chan vm.WorkflowEvent, vm.WorkflowControl, error) {
	c.mu.Lock()
	c.confirms = append(c.confirms, vm.ConfirmDeployment(ctx))
	c.mu.Unlock()
	return c.fakeBackend.ResumeWorkflow(ctx, id)
}

func (c *confirmBackend) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.confirms...)
}

// A restore's resume replaces every node's data again, so the resume dialog
// asks for the deployment's name as the restore's own confirm did: y, Enter
// and a wrong name resume nothing; the typed name reaches the backend
// (vm.ConfirmDeployment), which checks it against the inventory. Another
// run's resume stays a plain y/N and carries no name.
func TestResumeOfRestoreAsksForTheDeploymentName(t *testing.T) {
	fb := newFake()
	restoreRun := vm.RunView{ID: "20261205-0700-restore-abc123", Kind: vm.KindRestore, Title: "restore", Started: testNow.Add(-time.Hour),
		State: "failed", Hosts: 3, Detail: "9/20 steps done", ConfirmName: "scalar-prod-tokyo"}
	fb.runs = append([]vm.RunView{restoreRun}, fb.runs...)
	cb := &confirmBackend{fakeBackend: fb}
	m := newTest(t, cb, false)
	if m.offer != nil {
		press(t, m, "esc")
	}

	press(t, m, ":", "resume "+restoreRun.ID, "enter")
	if m.dialog == nil || m.dialog.Label != "resume" {
		t.Fatalf(":resume of a restore should ask to confirm; status %q", m.status)
	}
	if m.dialog.TypeToConfirm != "scalar-prod-tokyo" {
		t.Fatalf("the resume dialog of a restore does not ask for the deployment's name (TypeToConfirm %q)", m.dialog.TypeToConfirm)
	}
	v := m.View()
	for _, want := range []string{"type scalar-prod-tokyo and press enter to confirm", "replaces the data of every node again"} {
		if !strings.Contains(v, want) {
			t.Errorf("the resume dialog lacks %q:\n%s", want, v)
		}
	}
	press(t, m, "y", "enter")
	if len(cb.got()) != 0 {
		t.Fatal("y + Enter resumed a restore without its name typed")
	}
	if m.dialog != nil {
		press(t, m, "esc")
	}
	press(t, m, ":", "resume "+restoreRun.ID, "enter", "scalar-prod-osaka", "enter")
	if len(cb.got()) != 0 {
		t.Fatal("a wrong name resumed the restore")
	}
	if m.dialog != nil {
		press(t, m, "esc")
	}

	press(t, m, ":", "resume "+restoreRun.ID, "enter", "scalar-prod-tokyo", "enter")
	if got := cb.got(); len(got) != 1 || got[0] != "scalar-prod-tokyo" {
		t.Fatalf("after typing the name: resumes confirmed with %q, want [scalar-prod-tokyo]", got)
	}
	if ids := fb.resumedIDs(); len(ids) != 1 || ids[0] != restoreRun.ID {
		t.Fatalf("resumed %v", ids)
	}
}

// Another workflow's resume dialog is the usual y/N and carries no name.
func TestResumeOfRepairCarriesNoName(t *testing.T) {
	fb := withUnfinished(newFake())
	cb := &confirmBackend{fakeBackend: fb}
	m := newTest(t, cb, false)
	press(t, m, "r")
	if m.dialog == nil || m.dialog.TypeToConfirm != "" {
		t.Fatalf("repair resume dialog: %+v", m.dialog)
	}
	press(t, m, "y")
	if got := cb.got(); len(got) != 1 || got[0] != "" {
		t.Fatalf("repair resume confirmed with %q, want one empty name", got)
	}
}
