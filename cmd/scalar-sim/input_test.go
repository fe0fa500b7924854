package main

import (
	"strings"
	"testing"
)

// Every numeric flag is range-checked before anything is attempted: exit 2
// and an error naming the flag.
func TestNumericFlagsRangeChecked(t *testing.T) {
	for _, args := range [][]string{
		{"config", "--state", "/nonexistent", "--slow-factor", "NaN"},
		{"config", "--state", "/nonexistent", "--slow-factor", "-2"},
		{"config", "--state", "/nonexistent", "--repair-duration", "-1s"},
		{"init", "--state", "/nonexistent", "--serving-delay", "-1s"},
		{"lab", "wait", "--timeout", "0s", "127.0.0.1:1"},
	} {
		flag := args[len(args)-2]
		if args[0] == "lab" {
			flag = "--timeout"
		}
		_, errOut, code := runLab(t, args...)
		if code != exitBadInput || !strings.Contains(errOut, flag) {
			t.Errorf("%v: exit %d, %s; want %d naming %s", args, code, errOut, exitBadInput, flag)
		}
	}
}

// A lab prefix that could not name a namespace is bad input, found before
// anything is created.
func TestLabBadPrefixIsBadInput(t *testing.T) {
	for _, p := range []string{"a;b", "UPPER", "toolongprefix", "a b"} {
		_, errOut, code := runLab(t, "lab", "up", "--dir", t.TempDir(), "--prefix", p, "--nodes=false")
		if code != exitBadInput || !strings.Contains(errOut, "prefix") {
			t.Errorf("--prefix %q: exit %d, %s; want %d", p, code, errOut, exitBadInput)
		}
	}
}

// The tool shims are dispatched on argv[0] only with a simulator state named;
// scalar-sim under its own name, or a tool name without a state, is the CLI.
func TestToolOf(t *testing.T) {
	for _, tc := range []struct {
		argv  []string
		state string
		want  string
	}{
		{[]string{"/lab/hosts/c1/bin/.sim/nodetool", "status"}, "/lab/sim/state", "nodetool"},
		{[]string{"docker-compose"}, "/s", "docker-compose"},
		{[]string{"/usr/bin/nodetool", "status"}, "", ""},
		{[]string{"/bin/scalar-sim", "lab", "up"}, "/s", ""},
		{nil, "/s", ""},
	} {
		got, ok := toolOf(tc.argv, tc.state)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("toolOf(%q, %q) = %q, %v; want %q", tc.argv, tc.state, got, ok, tc.want)
		}
	}
}
