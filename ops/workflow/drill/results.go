package drill

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ResultsDir is where a deployment keeps its drill results: a drills/
// directory beside its journal (runs/) under the deployment's state dir.
func ResultsDir(stateDir string) string { return filepath.Join(stateDir, "drills") }

// Save writes r as <dir>/<started>-<drill>-<host>.json (0600).
func Save(dir string, r Result) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("drill results: %w", err)
	}
	short, _, _ := strings.Cut(r.Host, ".")
	name := fmt.Sprintf("%s-%s-%s.json", r.Started.UTC().Format("20060102T150405.000Z"), r.Drill, short)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("drill results: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("drill results: %w", err)
	}
	return path, nil
}

// List reads every result in dir, oldest first. A missing dir is no results;
// an unreadable file is an error naming it.
func List(dir string) ([]Result, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("drill results: %w", err)
	}
	var out []Result
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("drill results: %w", err)
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("drill results: %s: %w", e.Name(), err)
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// Trend is the timings of one drill across its past runs.
type Trend struct {
	Drill string `json:"drill"`
	Runs  int    `json:"runs"`
	Pass  int    `json:"pass"`
	// Last and Mean detect/recover times of the passed runs.
	LastDetect  time.Duration `json:"last_detect_ns"`
	MeanDetect  time.Duration `json:"mean_detect_ns"`
	LastRecover time.Duration `json:"last_recover_ns"`
	MeanRecover time.Duration `json:"mean_recover_ns"`
}

// Trends summarizes results per drill (detect: fault → alert firing;
// recover: recovery start → health green), in catalog order.
func Trends(rs []Result) []Trend {
	by := map[string]*Trend{}
	sums := map[string][2]time.Duration{}
	for _, r := range rs {
		t := by[r.Drill]
		if t == nil {
			t = &Trend{Drill: r.Drill}
			by[r.Drill] = t
		}
		t.Runs++
		if !r.Pass() {
			continue
		}
		t.Pass++
		t.LastDetect, t.LastRecover = r.DetectAlert, r.RecoverHealthy
		s := sums[r.Drill]
		s[0] += r.DetectAlert
		s[1] += r.RecoverHealthy
		sums[r.Drill] = s
	}
	var out []Trend
	for _, n := range append(Names(), extraNames(by)...) {
		t := by[n]
		if t == nil {
			continue
		}
		if t.Pass > 0 {
			t.MeanDetect = sums[n][0] / time.Duration(t.Pass)
			t.MeanRecover = sums[n][1] / time.Duration(t.Pass)
		}
		out = append(out, *t)
	}
	return out
}

func extraNames(by map[string]*Trend) []string {
	var x []string
	for n := range by {
		if _, ok := Lookup(n); !ok {
			x = append(x, n)
		}
	}
	sort.Strings(x)
	return x
}
