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

// A deployment's option defaults (the config's options:) are checked as
// flags are; what is said for each run (what a run acts on, the guards the
// operator types) cannot be a default in any kind.
func TestCheckDefaults(t *testing.T) {
	k, _ := workflow.Lookup("restore")
	if err := k.CheckDefaults(map[string]string{"data-dir": "/var/lib/cassandra/data", "gate-deadline": "20m", "keyspace": "scalar"}); err != nil {
		t.Errorf("good defaults refused: %v", err)
	}
	for opts, want := range map[[2]string]string{
		{"confirm-deployment", "prod"}: "said for each run",
		{"tag", "b1"}:                  "said for each run",
		{"undo", "r"}:                  "said for each run",
		{"gate-deadline", "0s"}:        "must be positive",
		{"min-free-percent", "+Inf"}:   "finite",
		{"min-free-percent", "101"}:    "101",
		{"no-such", "x"}:               "no option",
	} {
		err := k.CheckDefaults(map[string]string{opts[0]: opts[1]})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%s: %v, want %q", opts[0], opts[1], err, want)
		}
	}
	guards := map[string]bool{"host": true, "to": true, "tag": true, "backup": true, "undo": true,
		"confirm-deployment": true, "allow-production": true, "force": true, "snapshot": true, "backups": true,
		"service": true, "allow-mixed-routes": true, "allow-drift": true, "image-tarball": true}
	for _, k := range workflow.Kinds() {
		for _, o := range k.Options {
			if guards[o.Name] && !o.PerRun {
				t.Errorf("%s --%s can be set as a deployment default", k.Name, o.Name)
			}
			if guards[o.Name] || o.Name == k.Arg {
				if err := k.CheckDefaults(map[string]string{o.Name: "x"}); err == nil {
					t.Errorf("%s --%s accepted as a default", k.Name, o.Name)
				}
			}
		}
	}
}
