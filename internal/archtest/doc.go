// Package archtest holds the test that keeps the house's imports one way:
// production packages (everything outside internal/ and cmd/) never import
// internal/, and the operator's binary cmd/scalar-tui imports internal/ only
// through internal/demo (the demo is a product feature; the simulator's
// command dispatcher and the lab are the separate binary cmd/scalar-sim).
//
// The package has no code of its own; nothing imports it.
package archtest
