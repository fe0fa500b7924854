package render

import (
	"fmt"
	"strings"
	"time"

	"scalar-tui/tui/vm"
)

// BackupRows renders backups as rows of ROUTE, TAG, COMPLETENESS, AGE,
// SIZE, KEYSPACES. The age is known only for tags named by the backup
// workflow (scalar-tui-YYYYMMDD-HHMMSS, UTC); others show "?".
func BackupRows(bs []vm.BackupView, now time.Time) [][]string {
	rows := make([][]string, 0, len(bs))
	for _, b := range bs {
		comp := fmt.Sprintf("complete %d/%d", len(b.Nodes), b.Total)
		if !b.Complete() {
			comp = fmt.Sprintf("PARTIAL %d/%d", len(b.Nodes), b.Total)
		}
		rows = append(rows, []string{b.Route, b.Tag, comp, BackupAge(b.Tag, now), Bytes(b.Bytes), strings.Join(b.Keyspaces, ",")})
	}
	return rows
}

// BackupAge is the age of a backup whose tag carries its UTC time, or "?".
func BackupAge(tag string, now time.Time) string {
	const layout = "20060102-150405"
	if len(tag) < len(layout) {
		return "?"
	}
	t, err := time.Parse(layout, tag[len(tag)-len(layout):])
	if err != nil || t.After(now) {
		return "?"
	}
	d := now.Sub(t)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// BackupDetail is one backup on one line: per node whether it has the
// snapshot and its size there.
func BackupDetail(b vm.BackupView) string {
	var parts []string
	for _, n := range b.Nodes {
		parts = append(parts, n+" "+Bytes(b.NodeBytes[n]))
	}
	for _, n := range b.Missing {
		parts = append(parts, n+" MISSING")
	}
	state := "complete"
	if !b.Complete() {
		state = "PARTIAL"
	}
	return fmt.Sprintf("%s %s, %s, %d tables, %s: %s", b.Route, b.Tag, state, b.Tables, Bytes(b.Bytes), strings.Join(parts, "; "))
}

// Bytes renders a size in binary units like nodetool ("1.5 MiB").
func Bytes(b float64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", int64(b))
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
