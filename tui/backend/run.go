package backend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"scalar-tui/ops/workflow"
	"scalar-tui/tui/vm"
)

// maxDetailLines caps each host's output in a run detail; the file keeps all.
const maxDetailLines = 2000

// RunDetail reads run id from the journal and its per-host logs: every step
// with its whole error, the cleanup steps, the markers still set and each
// host's output.
func (b *Backend) RunDetail(ctx context.Context, id string) (vm.RunDetail, error) {
	st, err := workflow.LoadRun(b.cfg.StateDir, id)
	if err != nil {
		return vm.RunDetail{}, err
	}
	return runDetail(b.cfg.StateDir, st)
}

func runDetail(stateDir string, st *workflow.RunState) (vm.RunDetail, error) {
	d := vm.RunDetail{Run: runView(st), Operator: st.Operator, Error: st.Error, Canary: st.Canary}
	keys := make([]string, 0, len(st.Markers))
	for k := range st.Markers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m := st.Markers[k]
		line := k
		if m.Value != "" && m.Value != "true" {
			line += " = " + m.Value
		}
		if m.Step != "" {
			line += " (set by " + m.Step + " at " + m.Set.UTC().Format("15:04:05") + ")"
		}
		d.Markers = append(d.Markers, line)
	}
	var hosts []string
	seen := map[string]bool{}
	for _, s := range st.Steps {
		sv := vm.RunStepView{ID: s.ID, Title: s.Title, Host: s.Host, Status: string(s.Status), Error: s.Error,
			Commands: s.Commands, Attempts: s.Attempts, Cleanup: s.Cleanup}
		if s.Started != nil {
			sv.Started = *s.Started
		}
		if s.Ended != nil {
			sv.Ended = *s.Ended
		}
		if s.Detached != nil {
			sv.Detached = s.Detached.Host + ":" + s.Detached.Dir
		}
		d.Steps = append(d.Steps, sv)
		if !seen[s.Host] {
			seen[s.Host] = true
			hosts = append(hosts, s.Host)
		}
	}
	// Logs of hosts no step names (the bastion's lock commands) come last.
	dir := filepath.Dir(workflow.HostLogPath(stateDir, st.ID, "x"))
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d, fmt.Errorf("run %s: read its logs: %w", st.ID, err)
	}
	files := map[string]bool{}
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".log") {
			files[e.Name()] = true
		}
	}
	var extra []string
	for name := range files {
		known := false
		for _, h := range hosts {
			if filepath.Base(workflow.HostLogPath(stateDir, st.ID, h)) == name {
				known = true
				break
			}
		}
		if !known {
			extra = append(extra, strings.TrimSuffix(name, ".log"))
		}
	}
	sort.Strings(extra)
	for _, h := range append(hosts, extra...) {
		p := workflow.HostLogPath(stateDir, st.ID, h)
		if !files[filepath.Base(p)] {
			continue
		}
		lines, err := readLog(p)
		if err != nil {
			return d, fmt.Errorf("run %s: %w", st.ID, err)
		}
		d.Output = append(d.Output, vm.HostOutput{Host: h, Lines: lines})
	}
	return d, nil
}

// readLog reads a host log ("RFC3339 stream line" per line) as
// "15:04:05 $ command", "15:04:05 | out" and "15:04:05 ! err" lines, the
// last maxDetailLines of them.
func readLog(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	var out []string
	skipped := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		out = append(out, logLine(sc.Text()))
		if len(out) > 2*maxDetailLines {
			skipped += len(out) - maxDetailLines
			out = append([]string(nil), out[len(out)-maxDetailLines:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s: %w", path, err)
	}
	if len(out) > maxDetailLines {
		skipped += len(out) - maxDetailLines
		out = out[len(out)-maxDetailLines:]
	}
	if skipped > 0 {
		out = append([]string{fmt.Sprintf("(%d earlier lines in %s)", skipped, path)}, out...)
	}
	return out, nil
}

func logLine(l string) string {
	ts, rest, ok := strings.Cut(l, " ")
	if !ok {
		return l
	}
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return l
	}
	stream, text, _ := strings.Cut(rest, " ")
	mark := map[string]string{"stdout": "|", "stderr": "!", "$": "$", "note": "note:"}[stream]
	if mark == "" {
		mark = stream
	}
	return t.UTC().Format("15:04:05") + " " + mark + " " + text
}
