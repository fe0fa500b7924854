package sim

import (
	"strings"
	"testing"

	"scalar-tui/ops/workflow/backup"
)

// TestDF: `df -Pk /data` parses with the backup workflow's own parser, and
// the disk-full fault shows as 1% free.
func TestDF(t *testing.T) {
	dir := newCluster(t)
	r := run(t, dir, cass1, "df", "-Pk", "/data")
	if r.rc != 0 || !strings.HasPrefix(r.stdout, "Filesystem     1024-blocks") {
		t.Fatalf("df rc=%d\n%s%s", r.rc, r.stdout, r.stderr)
	}
	free, avail, err := backup.ParseDF(r.stdout)
	if err != nil || free < 90 || avail <= 0 {
		t.Fatalf("ParseDF = %v, %d, %v\n%s", free, avail, err, r.stdout)
	}
	if err := InjectFault(dir, cass1, FaultDiskFull, ""); err != nil {
		t.Fatal(err)
	}
	r = run(t, dir, cass1, "df", "-Pk", "/data/cassandra")
	if free, _, err := backup.ParseDF(r.stdout); err != nil || free > 1.5 {
		t.Fatalf("disk-full: free %v, %v\n%s", free, err, r.stdout)
	}
	// A host without /data reports the root filesystem, as real df does.
	r = run(t, dir, sdl1, "df", "-Pk", "/data")
	if !strings.HasSuffix(strings.TrimSpace(r.stdout), " /") {
		t.Errorf("scalardl df /data:\n%s", r.stdout)
	}
}
