package workflow

import (
	"math"
	"strings"
	"testing"
	"time"
)

// Check refuses what the CLI's flag checks refuse, for the console's form.
func TestKindOptionCheck(t *testing.T) {
	pct := KindOption{Name: "min-free-percent", Type: OptFloat, NegativeOK: true, Max: 100}
	deadline := KindOption{Name: "gate-deadline", Type: OptDuration, Positive: true}
	plain := KindOption{Name: "x", Type: OptFloat}
	for _, c := range []struct {
		o    KindOption
		v    any
		want string
	}{
		{pct, 10.0, ""},
		{pct, -1.0, ""},
		{pct, 100.5, "at most 100"},
		{pct, math.NaN(), "finite"},
		{plain, -1.0, "not be negative"},
		{deadline, 3 * time.Minute, ""},
		{deadline, time.Duration(0), "greater than 0"},
		{deadline, -time.Second, "greater than 0"},
		{KindOption{Name: "to", Type: OptString}, "2.2.0", ""},
	} {
		err := c.o.Check(c.v)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %v: %v", c.o.Name, c.v, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %v: got %v, want %q", c.o.Name, c.v, err, c.want)
		}
	}
}
