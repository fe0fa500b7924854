package nodetool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "nodetool", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		file      string
		n         int
		first     Node
		downCount int
	}{
		{"status-3.11-scalar-terraform.txt", 3, Node{Datacenter: "dc1", Status: "U", State: "N", Address: "10.42.2.10", Load: "1.2 GiB", Tokens: 256, Owns: "100.0%", OwnsPercent: 100, HostID: "8c14221d-0870-467c-894a-76ead663e9f1", Rack: "rack1"}, 1},
		{"status-2node-owns-unknown-origin.txt", 2, Node{Datacenter: "datacenter1", Status: "U", State: "N", Address: "127.0.0.1", Load: "144.76 MB", Tokens: 256, Owns: "?", OwnsPercent: -1, HostID: "89c38ff3-9ac2-4e15-8ff8-d3a085d30f85", Rack: "rack1"}, 0},
		{"status-4x-joining.txt", 2, Node{Datacenter: "datacenter1", Status: "U", State: "J", Address: "172.16.0.12", Load: "30.9 KiB", Tokens: 16, Owns: "?", OwnsPercent: -1, HostID: "2c7d204b-8375-4ee1-b2c2-bcda888f3cfb", Rack: "RAC1"}, 0},
		{"status-4x-single.txt", 1, Node{Datacenter: "datacenter1", Status: "U", State: "N", Address: "172.16.0.11", Load: "109.18 KiB", Tokens: 16, Owns: "100.0%", OwnsPercent: 100, HostID: "d1f6b84a-6d7d-469e-8b93-46887cf69b25", Rack: "RAC1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			nodes, err := ParseStatus(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) != tt.n {
				t.Fatalf("got %d nodes, want %d", len(nodes), tt.n)
			}
			got := nodes[0]
			got.LoadBytes = 0
			if got != tt.first {
				t.Errorf("first node\n got %+v\nwant %+v", got, tt.first)
			}
			down := 0
			for _, n := range nodes {
				if !n.Up() {
					down++
				}
				if n.Load != "?" && n.LoadBytes <= 0 {
					t.Errorf("%s: LoadBytes %v", n.Address, n.LoadBytes)
				}
			}
			if down != tt.downCount {
				t.Errorf("down = %d, want %d", down, tt.downCount)
			}
		})
	}
}

func TestParseStatusErrors(t *testing.T) {
	_, err := ParseStatus(fixture(t, "status-connection-refused.txt"))
	if !errors.Is(err, ErrNoNodes) || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("err = %v", err)
	}
	if _, err := ParseStatus("UN  10.0.0.1  1.2"); err == nil {
		t.Error("truncated row accepted")
	}
	nodes, err := ParseStatus("?N  10.0.0.9  ?  256  ?  8c14221d-0870-467c-894a-76ead663e9f1  rack1")
	if err != nil || len(nodes) != 1 || nodes[0].Up() || nodes[0].Status != "?" || nodes[0].Load != "?" {
		t.Errorf("unknown status row: %+v %v", nodes, err)
	}
	if _, err := ParseStatus(""); !errors.Is(err, ErrNoNodes) {
		t.Errorf("empty: %v", err)
	}
}

func TestParseRepairLines(t *testing.T) {
	tests := []struct {
		file  string
		kinds []RepairKind
	}{
		{"repair-3x-repairtool.txt", []RepairKind{RepairStarted, RepairSessionFinished, RepairCompleted}},
		{"repair-4x-full.txt", []RepairKind{RepairStarted, RepairSessionFinished, RepairCompleted, RepairFinished, RepairCompleted, RepairCompleted}},
		{"repair-3.11-failed.txt", []RepairKind{RepairStarted, RepairFailed, RepairFailed, RepairFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var kinds []RepairKind
			for _, l := range strings.Split(fixture(t, tt.file), "\n") {
				if ev, ok := ParseRepairLine(l); ok {
					kinds = append(kinds, ev.Kind)
				}
			}
			if strings.Join(toStrings(kinds), ",") != strings.Join(toStrings(tt.kinds), ",") {
				t.Errorf("kinds = %v, want %v", kinds, tt.kinds)
			}
		})
	}
	ev, ok := ParseRepairLine("[2024-12-01 15:09:02,933] Starting repair command #1 (33463730-aff6-11ef-bb3f-d165bc4d0c5a), repairing keyspace infobarbank with repair options (parallelism: parallel)")
	if !ok || ev.Command != 1 || ev.Keyspace != "infobarbank" || ev.Session != "33463730-aff6-11ef-bb3f-d165bc4d0c5a" || ev.Time.IsZero() {
		t.Errorf("started = %+v", ev)
	}
	ev, ok = ParseRepairLine("[2021-05-01 10:00:01,000] Repair session abc for range [(1,2]] finished (progress: 33%)")
	if !ok || ev.Percent != 33 || ev.Session != "abc" {
		t.Errorf("session = %+v", ev)
	}
}

func toStrings(k []RepairKind) []string {
	s := make([]string, len(k))
	for i := range k {
		s[i] = string(k[i])
	}
	return s
}

func TestParseListSnapshots(t *testing.T) {
	snaps, err := ParseListSnapshots(fixture(t, "listsnapshots-3.11.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 3 {
		t.Fatalf("got %d", len(snaps))
	}
	want := Snapshot{Name: "scalar-tui-backup-01", Keyspace: "scalar", Table: "asset", TrueSize: "0 bytes", SizeOnDisk: "13.15 KiB"}
	if snaps[0].Name != want.Name || snaps[0].Keyspace != want.Keyspace || snaps[0].Table != want.Table || snaps[0].TrueSize != want.TrueSize || snaps[0].SizeOnDisk != want.SizeOnDisk {
		t.Errorf("got %+v", snaps[0])
	}
	none, err := ParseListSnapshots(fixture(t, "listsnapshots-none.txt"))
	if err != nil || len(none) != 0 {
		t.Errorf("none: %v %v", none, err)
	}
	if _, err := ParseListSnapshots(fixture(t, "status-connection-refused.txt")); err == nil {
		t.Error("error text accepted")
	}
}

func TestParseInfo(t *testing.T) {
	info, err := ParseInfo(fixture(t, "info-3.11.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "8c14221d-0870-467c-894a-76ead663e9f1" || !info.GossipActive || info.Load != "1.2 GiB" || info.UptimeSeconds != 86400 || info.Datacenter != "dc1" || info.Rack != "rack1" {
		t.Errorf("info = %+v", info)
	}
	if _, err := ParseInfo("nodetool: Failed to connect"); err == nil {
		t.Error("error text accepted")
	}
}

func TestSizeRoundTrip(t *testing.T) {
	for _, b := range []float64{0, 512, 13466, 1.2 * (1 << 30)} {
		s := FormatSize(b)
		got, err := ParseSize(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if d := got - b; d > b*0.01 || d < -b*0.01 {
			t.Errorf("%v -> %s -> %v", b, s, got)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, name := range []string{"status-3.11-scalar-terraform.txt", "status-4x-joining.txt", "status-2node-owns-unknown-origin.txt", "status-connection-refused.txt"} {
		f.Add(fixture(f, name))
	}
	f.Add("UN  1.2.3.4  ?  1  ?  x")
	f.Fuzz(func(t *testing.T, s string) {
		nodes, err := ParseStatus(s)
		if err == nil && len(nodes) == 0 {
			t.Error("no error and no nodes")
		}
	})
}

func FuzzParseRepairLine(f *testing.F) {
	for _, name := range []string{"repair-3x-repairtool.txt", "repair-4x-full.txt", "repair-3.11-failed.txt"} {
		for _, l := range strings.Split(fixture(f, name), "\n") {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev, ok := ParseRepairLine(s)
		if ok && ev.Kind == "" {
			t.Error("ok without kind")
		}
	})
}

func FuzzParseListSnapshots(f *testing.F) {
	f.Add(fixture(f, "listsnapshots-3.11.txt"))
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseListSnapshots(s) })
}

func BenchmarkParseStatus(b *testing.B) {
	text := fixture(b, "status-3.11-scalar-terraform.txt")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStatus(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRepairLine(b *testing.B) {
	line := "[2021-05-01 10:00:01,000] Repair session 8f1a2b30-aa5b-11eb-9d5b-e1a1f3bd9e22 for range [(1,2]] finished (progress: 33%)"
	b.ReportAllocs()
	for b.Loop() {
		ParseRepairLine(line)
	}
}
