package backend

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"scalar-tui/internal/demo"
	"scalar-tui/internal/sim"
	"scalar-tui/tui/vm"
)

func TestUpgradeTagsOnDemo(t *testing.T) {
	const image = "ghcr.io/scalar-labs/scalar-ledger"
	b, d := newDemoBackendWith(t, demo.Options{Prom: demo.PromOptions{Disabled: true},
		Images: []string{image + ":2.1.1", image + ":2.2.0"}})
	// scalardl-blue-3 has not loaded 2.2.0 yet; an unrelated image is ignored.
	err := sim.Update(d.SimState, func(st *sim.State) error {
		for i, h := range st.Hosts {
			if h.Short != "scalardl-blue-3" {
				continue
			}
			var keep []string
			for _, ref := range h.Images {
				if ref != image+":2.2.0" {
					keep = append(keep, ref)
				}
			}
			st.Hosts[i].Images = append(keep, "busybox:1.36")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.UpgradeTags(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []vm.TagCandidate{
		{Tag: "2.1.0", Running: true, InState: true},
		{Tag: "2.1.1"},
		{Tag: "2.2.0", Missing: []string{"scalardl-blue-3"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UpgradeTags:\n got %+v\nwant %+v", got, want)
	}
}

func TestUpgradeTagsBadColour(t *testing.T) {
	b, _ := newDemoBackend(t, demo.PromOptions{Disabled: true})
	_, err := b.UpgradeTags(context.Background(), "red")
	if err == nil || !strings.Contains(err.Error(), "blue or green") {
		t.Fatalf("err = %v, want a colour error", err)
	}
	_, err = b.UpgradeTags(context.Background(), "green")
	if err == nil || !strings.Contains(err.Error(), "no green") {
		t.Fatalf("err = %v, want no green nodes", err)
	}
}
