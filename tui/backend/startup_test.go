package backend

import (
	"context"
	"errors"
	"testing"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
)

// The inventory read at start-up serves the console's first LoadInventory:
// the Terraform state is read once at start-up, and again on each reload.
func TestStartupInventoryReadOnce(t *testing.T) {
	reads := 0
	fresh := &inventory.Inventory{NetworkName: "fresh"}
	b, err := New(Config{
		LoadInventory: func(context.Context) (*inventory.Inventory, error) { reads++; return fresh, nil },
		Inventory:     &inventory.Inventory{NetworkName: "startup"},
		Connect:       func(*inventory.Inventory) (*sshx.Client, error) { return nil, errors.New("no ssh here") },
		HealthSource: func(*inventory.Inventory, health.DialFunc) (health.Source, error) {
			return nil, errors.New("no health here")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := b.LoadInventory(context.Background())
	if err != nil || inv.NetworkName != "startup" || reads != 0 {
		t.Fatalf("first LoadInventory = %v, %v after %d reads; want the start-up inventory, no read", inv, err, reads)
	}
	inv, err = b.LoadInventory(context.Background())
	if err != nil || inv.NetworkName != "fresh" || reads != 1 {
		t.Fatalf("second LoadInventory = %v, %v after %d reads; want a fresh read", inv, err, reads)
	}
}
