package backup_test

import (
	"math"
	"testing"

	"scalar-tui/ops/workflow/backup"
)

// NaN compares false with everything and would let every node pass the
// free-space check: a library caller must not get that either.
func TestPlanRefusesNonFiniteMinFree(t *testing.T) {
	l := newLab(t, nil)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 101} {
		if _, err := backup.Plan(l.inv, backup.Options{Tag: "t1", MinFreePercent: v}); err == nil {
			t.Errorf("MinFreePercent %v: no error", v)
		}
	}
	if _, err := backup.Plan(l.inv, backup.Options{Tag: "t1", MinFreePercent: -1}); err != nil {
		t.Errorf("MinFreePercent -1 (skip the check): %v", err)
	}
}
