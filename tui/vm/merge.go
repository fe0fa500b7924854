package vm

import (
	"sort"

	"scalar-tui/inventory"
)

// Merge joins the inventory with a health snapshot by Host.Name and returns
// one row per host, in inventory.HostLess order. Inventory hosts the health
// source does not know come back as StateUnknown; health rows for hosts missing from the inventory are kept
// (with whatever Host fields the adapter filled in) so nothing disappears.
func Merge(inv *inventory.Inventory, hv HealthView) []HostRow {
	byName := make(map[string]HostRow, len(hv.Hosts))
	for _, r := range hv.Hosts {
		byName[r.Host.Name] = r
	}
	alerts := map[string][]AlertView{}
	for _, a := range hv.Alerts {
		if a.Instance != "" {
			alerts[a.Instance] = append(alerts[a.Instance], a)
		}
	}
	var rows []HostRow
	used := map[string]bool{}
	if inv != nil {
		rows = make([]HostRow, 0, len(inv.Hosts))
		for _, h := range inv.Hosts {
			r, ok := byName[h.Name]
			if !ok {
				r = HostRow{State: StateUnknown}
			}
			tag := r.ImageTag
			r.Host = h
			r.ImageTag = tag
			used[h.Name] = true
			rows = append(rows, r)
		}
	}
	for _, r := range hv.Hosts {
		if !used[r.Host.Name] {
			rows = append(rows, r)
		}
	}
	for i := range rows {
		if rows[i].State == "" {
			rows[i].State = StateUnknown
		}
		if len(rows[i].Alerts) == 0 {
			rows[i].Alerts = alerts[rows[i].Host.Name]
		}
	}
	// inventory.Load already sorts its hosts in this order: sort again only
	// when health rows outside the inventory (or an unsorted inventory)
	// broke it.
	less := func(i, j int) bool { return inventory.HostLess(rows[i].Host, rows[j].Host) }
	if !sort.SliceIsSorted(rows, less) {
		sort.SliceStable(rows, less)
	}
	return rows
}
