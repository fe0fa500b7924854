package catalog_test

import (
	"strings"
	"testing"

	"scalar-tui/ops/workflow"
	_ "scalar-tui/ops/workflow/catalog"
)

// Every workflow kind is in the catalog, with a builder, typed defaults
// and, for those the CLI generates, help texts.
func TestEveryKindRegistered(t *testing.T) {
	want := []string{"backup", "backup-clear", "drill", "free-disk", "reachability", "repair",
		"restart-cassandra", "restart-container", "restore", "restore-undo", "rolling-restart", "upgrade"}
	var got []string
	for _, k := range workflow.Kinds() {
		got = append(got, k.Name)
		if k.Resume == nil {
			t.Errorf("%s cannot be resumed", k.Name)
		}
		if k.Command != "-" && (k.Plan == nil || k.Usage == "" || k.Summary == "") {
			t.Errorf("%s has a command but no plan builder or help", k.Name)
		}
		for _, o := range k.Options {
			if o.Type == 0 || o.Help == "" {
				t.Errorf("%s --%s: no type or help", k.Name, o.Name)
			}
			if o.Default != nil {
				if _, err := k.Parse(map[string]string{}); err != nil {
					t.Errorf("%s defaults: %v", k.Name, err)
				}
			}
		}
		if k.Dangerous == k.ReadOnly {
			t.Errorf("%s: dangerous %v and read-only %v", k.Name, k.Dangerous, k.ReadOnly)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("kinds %v, want %v", got, want)
	}
}

// The console's text options are parsed by type; an unknown option and a
// value of the wrong type are refused.
func TestKindParse(t *testing.T) {
	k, ok := workflow.Lookup("repair")
	if !ok {
		t.Fatal("no repair kind")
	}
	v, err := k.Parse(map[string]string{"keyspace": "a, b", "gate-deadline": "90s", "host": "cassandra-2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Strings("keyspace"); len(got) != 2 || got[1] != "b" {
		t.Errorf("keyspace %q", got)
	}
	if v.Duration("gate-deadline").Seconds() != 90 || v.Duration("gate-interval").Seconds() != 10 || v.String("via") != "nodetool" {
		t.Errorf("values %v", v)
	}
	if _, err := k.Parse(map[string]string{"no-such": "x"}); err == nil {
		t.Error("an unknown option was accepted")
	}
	if _, err := k.Parse(map[string]string{"gate-deadline": "soon"}); err == nil {
		t.Error("a bad duration was accepted")
	}
	if _, err := k.Parse(map[string]string{"gate-deadline": "-1s"}); err == nil {
		t.Error("a negative deadline was accepted")
	}
}
