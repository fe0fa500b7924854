package nodetool

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseCompactionStats(t *testing.T) {
	tests := []struct {
		file    string
		pending int
		byTable map[string]int
		active  []string // "type|ks.table|completed/total|percent"
		repairs int
	}{
		{"compactionstats-3.11-idle.txt", 0, nil, nil, 0},
		{"compactionstats-3.11-validation.txt", 1, map[string]int{"scalar.asset": 1}, []string{
			"Validation|scalar.asset|43870208/104857600|41.84",
			"Validation|scalar.asset_metadata|1048576/8388608|12.50",
			"Compaction|scalar.certificate|524288/1048576|50.00",
		}, 2},
		{"compactionstats-3.11-anticompaction.txt", 0, nil, []string{
			"Anticompaction after repair|coordinator.state|2097152/4194304|50.00",
		}, 1},
		{"compactionstats-2.1-elassandra.txt", 10, nil, []string{
			"Secondary index build|lastfm.playlist|3468894/94640715|3.67",
			"Secondary index build|lastfm.playlist|206700/96656079|0.21",
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			st, err := ParseCompactionStats(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if st.PendingTasks != tt.pending || fmt.Sprint(st.PendingByTable) != fmt.Sprint(tt.byTable) {
				t.Errorf("pending %d %v, want %d %v", st.PendingTasks, st.PendingByTable, tt.pending, tt.byTable)
			}
			var got []string
			for _, c := range st.Active {
				got = append(got, fmt.Sprintf("%s|%s.%s|%d/%d|%.2f", c.Type, c.Keyspace, c.Table, c.Completed, c.Total, c.Percent))
				if c.ID == "" || c.Unit != "bytes" {
					t.Errorf("row %+v: no id or unit", c)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.active, "\n") {
				t.Errorf("active:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.active, "\n"))
			}
			if n := len(st.Repairs()); n != tt.repairs {
				t.Errorf("%d repair compactions, want %d", n, tt.repairs)
			}
		})
	}
}

func TestParseCompactionStatsErrors(t *testing.T) {
	for name, in := range map[string]string{
		"connection refused": fixture(t, "status-connection-refused.txt"),
		"empty":              "",
		"truncated row":      "pending tasks: 0\n\nid compaction type keyspace table completed total unit progress\n6a9f0c40-c0a5-11ef-8f5c-6f0e2b1a0d11 Validation scalar\n",
		"bad progress":       "pending tasks: 0\nid compaction type keyspace table completed total unit progress\nx Validation scalar asset 1 2 bytes lots\n",
		"bad count":          "pending tasks: many\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseCompactionStats(in); err == nil {
				t.Fatal("no error")
			}
		})
	}
	_, err := ParseCompactionStats(fixture(t, "status-connection-refused.txt"))
	if !errors.Is(err, ErrNotCompactionStats) || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("error %v does not carry nodetool's message", err)
	}
}

func TestParseNetStats(t *testing.T) {
	tests := []struct {
		file    string
		streams []string // "description plan: peer recv a/b bytes, sent c/d bytes; ..."
		repairs int
	}{
		{"netstats-3.11-idle.txt", nil, 0},
		{"netstats-3.11-repair.txt", []string{
			"Repair 2a9c7d40-c0a5-11ef-8f5c-6f0e2b1a0d11: /10.42.2.11 () recv 1048576/4194304 sent 524288/2097152; /10.42.2.12 () recv 0/0 sent 1048576/1048576",
		}, 1},
		{"netstats-4x-repair.txt", []string{
			"Repair 91c2f650-5d3e-11ee-9b1c-0f1e2d3c4b5a: /172.16.0.12:7000 (/10.0.0.12:7000) recv 2097152/3145728 sent 0/0",
			"Rebuild 0d4e8f20-5d3f-11ee-9b1c-0f1e2d3c4b5a: /172.16.0.13:7000 () recv 0/0 sent 0/1024",
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ns, err := ParseNetStats(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if ns.Mode != "NORMAL" {
				t.Errorf("mode %q", ns.Mode)
			}
			var got []string
			for _, p := range ns.Streams {
				var ss []string
				for _, s := range p.Sessions {
					ss = append(ss, fmt.Sprintf("%s (%s) recv %d/%d sent %d/%d", s.Peer, s.Using, s.BytesReceived, s.BytesToReceive, s.BytesSent, s.BytesToSend))
				}
				got = append(got, p.Description+" "+p.PlanID+": "+strings.Join(ss, "; "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.streams, "\n") {
				t.Errorf("streams:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.streams, "\n"))
			}
			if n := len(ns.RepairStreams()); n != tt.repairs {
				t.Errorf("%d repair streams, want %d", n, tt.repairs)
			}
		})
	}
}

func TestParseNetStatsErrors(t *testing.T) {
	for name, in := range map[string]string{
		"connection refused": fixture(t, "status-connection-refused.txt"),
		"peer before plan":   "Mode: NORMAL\n    /10.42.2.11\n",
		"garbled summary":    "Mode: NORMAL\nRepair 2a9c7d40-c0a5-11ef-8f5c-6f0e2b1a0d11\n    /10.42.2.11\n        Receiving lots of files\n",
		"summary no session": "Mode: NORMAL\nRepair 2a9c7d40-c0a5-11ef-8f5c-6f0e2b1a0d11\n        Sending 1 files, 1 bytes total. Already sent 0 files, 0 bytes total\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseNetStats(in); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func FuzzParseCompactionStats(f *testing.F) {
	for _, name := range []string{"compactionstats-3.11-idle.txt", "compactionstats-3.11-validation.txt",
		"compactionstats-3.11-anticompaction.txt", "compactionstats-2.1-elassandra.txt"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseCompactionStats(s)
		if err != nil {
			return
		}
		for _, c := range st.Active {
			if c.Type == "" || c.Keyspace == "" || (c.Percent != -1 && (c.Percent < 0 || c.Percent > 100)) {
				t.Errorf("accepted a bad row %+v", c)
			}
		}
	})
}

func FuzzParseNetStats(f *testing.F) {
	for _, name := range []string{"netstats-3.11-idle.txt", "netstats-3.11-repair.txt", "netstats-4x-repair.txt"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := ParseNetStats(s)
		if err != nil {
			return
		}
		for _, p := range ns.Streams {
			if len(p.PlanID) != 36 {
				t.Errorf("accepted a bad plan %+v", p)
			}
		}
	})
}

func BenchmarkParseCompactionStats(b *testing.B) {
	s := fixture(b, "compactionstats-3.11-validation.txt")
	for b.Loop() {
		if _, err := ParseCompactionStats(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseNetStats(b *testing.B) {
	s := fixture(b, "netstats-3.11-repair.txt")
	for b.Loop() {
		if _, err := ParseNetStats(s); err != nil {
			b.Fatal(err)
		}
	}
}
