package main

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// annPositive marks a numeric flag that must be greater than zero.
const annPositive = "scalar-tui/positive"

// annNegativeOK marks a float flag whose negative values mean something.
const annNegativeOK = "scalar-tui/negative-ok"

// annMax holds a float flag's inclusive upper bound.
const annMax = "scalar-tui/max"

// positive marks flags of fs that must be greater than zero.
func positive(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, annPositive, []string{"true"}); err != nil {
			panic(err) // a typo in a flag name: a programming error
		}
	}
}

// negativeOK allows negative values of a float flag (e.g. "skip the check").
func negativeOK(fs *pflag.FlagSet, name string) {
	if err := fs.SetAnnotation(name, annNegativeOK, []string{"true"}); err != nil {
		panic(err)
	}
}

// atMost sets a float flag's inclusive upper bound.
func atMost(fs *pflag.FlagSet, name string, max float64) {
	if err := fs.SetAnnotation(name, annMax, []string{strconv.FormatFloat(max, 'g', -1, 64)}); err != nil {
		panic(err)
	}
}

// checkNumericFlags range-checks every numeric flag of cmd (its own and the
// inherited ones) that was given: no NaN or infinity, no negative durations
// or counts, no zero where a flag is marked positive, no float above its
// bound. Run before any subcommand, so a bad number is bad input (exit 2)
// and nothing is attempted.
func checkNumericFlags(cmd *cobra.Command) error {
	var bad error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if bad != nil || !f.Changed {
			return
		}
		mustPos := len(f.Annotations[annPositive]) > 0
		switch f.Value.Type() {
		case "float64", "float32":
			v, err := strconv.ParseFloat(f.Value.String(), 64)
			switch {
			case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
				bad = fmt.Errorf("--%s %s: want a finite number", f.Name, f.Value.String())
			case mustPos && v <= 0:
				bad = fmt.Errorf("--%s %s: must be greater than 0", f.Name, f.Value.String())
			case v < 0 && len(f.Annotations[annNegativeOK]) == 0:
				bad = fmt.Errorf("--%s %s: must not be negative", f.Name, f.Value.String())
			}
			if bad == nil && len(f.Annotations[annMax]) > 0 {
				if max, err := strconv.ParseFloat(f.Annotations[annMax][0], 64); err == nil && v > max {
					bad = fmt.Errorf("--%s %s: must be at most %g", f.Name, f.Value.String(), max)
				}
			}
		case "duration":
			d, err := time.ParseDuration(f.Value.String())
			switch {
			case err != nil:
				bad = fmt.Errorf("--%s %s: want a duration such as 30s or 5m", f.Name, f.Value.String())
			case d < 0:
				bad = fmt.Errorf("--%s %s: must not be negative", f.Name, f.Value.String())
			case mustPos && d == 0:
				bad = fmt.Errorf("--%s %s: must be greater than 0", f.Name, f.Value.String())
			}
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
			n, err := strconv.ParseInt(f.Value.String(), 10, 64)
			switch {
			case err != nil:
				// uint64 beyond int64: too large for anything here anyway.
				bad = fmt.Errorf("--%s %s: too large", f.Name, f.Value.String())
			case n < 0:
				bad = fmt.Errorf("--%s %s: must not be negative", f.Name, f.Value.String())
			case mustPos && n == 0:
				bad = fmt.Errorf("--%s %s: must be greater than 0", f.Name, f.Value.String())
			}
		}
	})
	return bad
}
