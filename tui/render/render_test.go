package render

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"

	"scalar-tui/inventory"
	"scalar-tui/tui/styles"
	"scalar-tui/tui/vm"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

func loadRows(t testing.TB) []vm.HostRow {
	t.Helper()
	b, err := os.ReadFile("testdata/hostrows.json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []vm.HostRow
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestHostRows renders the fixture at the widths the console supports and
// compares with testdata/TestHostRows/<width>.golden (update with -update).
func TestHostRows(t *testing.T) {
	rows := loadRows(t)
	st := styles.DefaultStyles()
	for _, w := range []int{80, 120, 160} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			cols := HostColumnsTag(w, TagWidth(rows)) // as the overview lays it out
			out := []string{HostHeader(cols, st)}
			out = append(out, HostRows(rows, cols, st, "cassandra-2.internal.scalar-labs.com")...)
			for i, l := range out {
				if lipgloss.Width(l) != w {
					t.Errorf("line %d is %d wide, want %d: %q", i, lipgloss.Width(l), w, l)
				}
			}
			golden.RequireEqual(t, []byte(strings.Join(out, "\n")+"\n"))
		})
	}
}

func TestHostColumnsDropsWhenNarrow(t *testing.T) {
	keys := func(cs []Column) string {
		var k []string
		for _, c := range cs {
			k = append(k, c.Key)
		}
		return strings.Join(k, ",")
	}
	tests := []struct {
		width int
		want  string
	}{
		{120, "name,ip,state,cpu,mem,disk,service,tag"},
		{80, "name,state,cpu,mem,disk,service,tag"},
		{60, "name,state,cpu,mem,disk,service"},
	}
	for _, tt := range tests {
		if got := keys(HostColumns(tt.width)); got != tt.want {
			t.Errorf("HostColumns(%d) = %s, want %s", tt.width, got, tt.want)
		}
	}
}

func TestSmallFormatters(t *testing.T) {
	v := 41.6
	cases := []struct{ got, want string }{
		{Percent(nil), "-"},
		{Percent(&v), "42%"},
		{Fit("cassandra-1", 5), "cass…"},
		{Fit("ab", 4), "ab  "},
		{Age(5 * time.Second), "5s"},
		{Age(14 * time.Minute), "14m"},
		{Age(30 * time.Hour), "30h"},
		{Elapsed(83 * time.Second), "1:23"},
		{Elapsed(3723 * time.Second), "1:02:03"},
		{Glyph(vm.StateDown), "✗"},
		{Glyph(""), "?"},
		{RunDone.Glyph() + RunFailed.Glyph() + RunWaiting.Glyph() + RunRunning.Glyph(), "✓✗·▶"},
		{Bar(50, 15, styles.DefaultStyles()), "█████░░░░░  50%"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %q, want %q", i, c.got, c.want)
		}
	}
}

func TestAlertsLimit(t *testing.T) {
	var as []vm.AlertView
	for i := 0; i < 5; i++ {
		as = append(as, vm.AlertView{Name: fmt.Sprintf("A%d", i), Severity: "warning"})
	}
	out := Alerts(as, styles.DefaultStyles(), time.Time{}, 60, 3)
	if len(out) != 3 || !strings.Contains(out[2], "+3 more") {
		t.Errorf("Alerts limit 3: %q", out)
	}
}

func BenchmarkHostRows(b *testing.B) {
	rows := loadRows(b)
	for len(rows) < 1000 {
		rows = append(rows, rows...)
	}
	rows = rows[:1000]
	st := styles.DefaultStyles()
	cols := HostColumns(120)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = HostRows(rows, cols, st, "cassandra-2.internal.scalar-labs.com")
	}
}

func TestSparkline(t *testing.T) {
	cases := []struct {
		in    []float64
		lo    float64
		hi    float64
		width int
		want  string
	}{
		{nil, 0, 100, 10, ""},
		{[]float64{0, 50, 100}, 0, 100, 10, "▁▅█"},
		{[]float64{-5, 200}, 0, 100, 10, "▁█"},
		{[]float64{1, 2, 3, 4}, 0, 4, 2, "▆█"},
		{[]float64{3, 3}, 3, 3, 5, "▁▁"},
	}
	for _, c := range cases {
		if got := Sparkline(c.in, c.lo, c.hi, c.width); got != c.want {
			t.Errorf("Sparkline(%v, %v, %v, %d) = %q, want %q", c.in, c.lo, c.hi, c.width, got, c.want)
		}
	}
}

func TestRunRows(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	runs := []vm.RunView{
		{ID: "repair-1", Kind: vm.KindRepair, Title: "Repair Cassandra", Started: now.Add(-time.Hour), State: "failed", Hosts: 3,
			Detail: "2/6 steps done", Warning: "Scalar DL may be paused: resume unpauses it first"},
		{ID: "backup-1", Kind: vm.KindBackup, Title: "Cassy backup", Started: now.Add(-3 * time.Hour), Ended: now.Add(-2 * time.Hour), State: "done", Hosts: 1},
		{ID: "odd", State: "running"},
	}
	want := [][]string{
		{"repair-1", "repair", "failed", "2026-11-24 11:00", Elapsed(time.Hour), "3", "Repair Cassandra — 2/6 steps done · ! Scalar DL may be paused: resume unpauses it first"},
		{"backup-1", "backup", "done", "2026-11-24 09:00", Elapsed(time.Hour), "1", "Cassy backup"},
		{"odd", "", "running", "0001-01-01 00:00", "-", "0", ""},
	}
	got := RunRows(runs, now)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RunRows:\n got %q\nwant %q", got, want)
	}
}

// TestNonFiniteFigures: NaN and ±Inf render as "?", never as an overflowed
// integer such as -9223372036854775808%.
func TestNonFiniteFigures(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := Percent(&v); got != "?" {
			t.Errorf("Percent(%v) = %q", v, got)
		}
		if got := Float(&v); got != "?" {
			t.Errorf("Float(%v) = %q", v, got)
		}
	}
	big := 1e300
	if got := Percent(&big); got != "999%" {
		t.Errorf("Percent(1e300) = %q", got)
	}
	if s := Sparkline([]float64{math.NaN(), math.Inf(1), math.Inf(-1), 50}, 0, 100, 10); len([]rune(s)) != 4 || strings.Contains(s, "-") {
		t.Errorf("Sparkline = %q", s)
	}
}

// TestTagDrift: a running tag that differs from Terraform state shows both,
// and the tag column widens to hold it.
func TestTagDrift(t *testing.T) {
	r := vm.HostRow{Host: inventory.Host{Name: "scalardl-blue-1.d", Short: "scalardl-blue-1", Role: inventory.RoleScalarDLBlue, ImageTag: "2.1.0"}, ImageTag: "2.2.0"}
	if got := hostCell(r, "tag"); got != "2.2.0 ≠ state 2.1.0" {
		t.Errorf("tag cell = %q", got)
	}
	if w := TagWidth([]vm.HostRow{r}); w != 19 {
		t.Errorf("TagWidth = %d", w)
	}
	r.ImageTag = "2.1.0"
	if got := hostCell(r, "tag"); got != "2.1.0" || TagWidth([]vm.HostRow{r}) != 10 {
		t.Errorf("no drift: %q", got)
	}
}
