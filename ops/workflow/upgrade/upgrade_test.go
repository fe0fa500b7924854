package upgrade_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"scalar-tui/internal/sim"
	"scalar-tui/inventory"
	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/upgrade"
)

const (
	oldRef = "ghcr.io/scalar-labs/scalar-ledger:2.1.0"
	newRef = "ghcr.io/scalar-labs/scalar-ledger:2.2.0"
)

// tarball writes a gzipped image file the simulated `docker load` accepts.
func tarball(t *testing.T, ref string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte("image: " + ref + "\n"))
	_ = zw.Close()
	// The demo hosts share this machine's /tmp: a unique name, removed after.
	name := fmt.Sprintf("scalar-ledger-2.2.0-%d-%d.tar.gz", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { _ = os.Remove("/tmp/" + name) })
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func options(t *testing.T, l *lab) upgrade.Options {
	return upgrade.Options{To: "2.2.0", Tarball: tarball(t, newRef), Transfer: l,
		GateDeadline: 45 * time.Second, GateInterval: 100 * time.Millisecond}
}

func planFor(t *testing.T, l *lab, o upgrade.Options) *workflow.Plan {
	t.Helper()
	p, err := upgrade.Plan(l.inv, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nodeView is one Scalar DL node as the simulator sees it.
type nodeView struct {
	image, id string
	serving   bool
}

func (l *lab) nodes() map[string]nodeView {
	st := l.state()
	now := time.Now().UTC()
	out := map[string]nodeView{}
	for _, h := range st.HostsByRole("scalardl") {
		c := h.ScalarContainer()
		v := nodeView{serving: st.Health(h, c, now) == sim.Serving}
		if c != nil {
			v.image, v.id = c.Image, c.ID
		}
		out[h.Short] = v
	}
	return out
}

// watch polls the simulator until stop, recording the most nodes ever not
// serving at once and the order in which nodes changed image.
type watch struct {
	mu         sync.Mutex
	maxDown    int
	downAt     []string
	order      []string
	done, stop chan struct{}
}

func (l *lab) watch() *watch {
	w := &watch{done: make(chan struct{}), stop: make(chan struct{})}
	first := l.nodes()
	go func() {
		defer close(w.done)
		seen := map[string]string{}
		for k, v := range first {
			seen[k] = v.image
		}
		for {
			st, err := sim.Load(l.simDir)
			if err == nil {
				now := time.Now().UTC()
				down := 0
				var names []string
				for _, h := range st.HostsByRole("scalardl") {
					c := h.ScalarContainer()
					if st.Health(h, c, now) != sim.Serving {
						down++
						names = append(names, h.Short)
					}
					if c != nil && c.Image != seen[h.Short] {
						seen[h.Short] = c.Image
						w.mu.Lock()
						w.order = append(w.order, h.Short+"="+c.Image[strings.LastIndex(c.Image, ":")+1:])
						w.mu.Unlock()
					}
				}
				w.mu.Lock()
				if down > w.maxDown {
					w.maxDown, w.downAt = down, names
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *watch) end() {
	close(w.stop)
	<-w.done
}

func TestUpgradeRollingSuccess(t *testing.T) {
	l := newLab(t, nil)
	w := l.watch()
	p := planFor(t, l, options(t, l))
	st, err := l.engine().Run(testCtx(t, 90*time.Second), p)
	w.end()
	if err != nil || st != workflow.StatusDone {
		t.Fatalf("run: %s %v", st, err)
	}
	if w.maxDown > 1 {
		t.Errorf("%d nodes not serving at once: %v", w.maxDown, w.downAt)
	}
	if w.maxDown == 0 {
		t.Errorf("the poller never saw a node out: the test does not observe the rollout")
	}
	if got := strings.Join(w.order, " "); got != "scalardl-blue-1=2.2.0 scalardl-blue-2=2.2.0 scalardl-blue-3=2.2.0" {
		t.Errorf("order: %s", got)
	}
	for name, v := range l.nodes() {
		if v.image != newRef || !v.serving {
			t.Errorf("%s: %+v", name, v)
		}
		home := l.home(name)
		env, _ := os.ReadFile(filepath.Join(home, "provision", "env"))
		if upgrade.ParseEnvImage(string(env)) != newRef {
			t.Errorf("%s env: %q", name, env)
		}
		bak, _ := os.ReadFile(filepath.Join(home, "provision", "env.before-"+p.ID))
		if upgrade.ParseEnvImage(string(bak)) != oldRef {
			t.Errorf("%s env backup: %q", name, bak)
		}
	}
	js, _ := workflow.LoadRun(l.stateDir, p.ID)
	if _, ok := js.Markers[upgrade.MarkerUpgrading]; ok {
		t.Error("upgrading marker left set")
	}
}

func TestUpgradeBadTagRollsBackAndStops(t *testing.T) {
	l := newLab(t, nil)
	l.fault("*", sim.FaultBadTag, "2.2.0")
	before := l.nodes()
	w := l.watch()
	o := options(t, l)
	o.GateDeadline = 2 * time.Second
	st, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, o))
	w.end()
	if st != workflow.StatusFailed || err == nil {
		t.Fatalf("run: %s %v, want failed", st, err)
	}
	for _, want := range []string{"scalardl-blue-1 did not become ready", "rolled scalardl-blue-1 back to " + oldRef, "SERVING again", "Cluster now: scalardl-blue-1 on " + oldRef + " (SERVING); scalardl-blue-2 on " + oldRef} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if w.maxDown > 1 {
		t.Errorf("%d nodes out at once: %v", w.maxDown, w.downAt)
	}
	after := l.nodes()
	for name, v := range after {
		if v.image != oldRef || !v.serving {
			t.Errorf("%s: %+v", name, v)
		}
	}
	for _, n := range []string{"scalardl-blue-2", "scalardl-blue-3"} {
		if after[n].id != before[n].id {
			t.Errorf("%s was touched", n)
		}
	}
	if after["scalardl-blue-1"].id == before["scalardl-blue-1"].id {
		t.Error("scalardl-blue-1 was never switched")
	}
}

func TestUpgradeRefusedWhenNodeDown(t *testing.T) {
	l := newLab(t, nil)
	l.fault("scalardl-blue-3", sim.FaultNodeDown, "")
	before := l.nodes()
	st, err := l.engine().Run(testCtx(t, 30*time.Second), planFor(t, l, options(t, l)))
	var re *workflow.RefusedError
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "nodes-serving" || !strings.Contains(err.Error(), "scalardl-blue-3") {
		t.Fatalf("run: %s %v", st, err)
	}
	after := l.nodes()
	for n := range before {
		if before[n].id != after[n].id {
			t.Errorf("%s changed", n)
		}
	}
}

func TestUpgradeCanaryThenResume(t *testing.T) {
	l := newLab(t, nil)
	o := options(t, l)
	p := planFor(t, l, o)
	st, err := l.engine(workflow.WithCanary(true)).Run(testCtx(t, 60*time.Second), p)
	if st != workflow.StatusCanaryWait {
		t.Fatalf("run: %s %v, want canary-wait", st, err)
	}
	n := l.nodes()
	if n["scalardl-blue-1"].image != newRef || n["scalardl-blue-2"].image != oldRef || n["scalardl-blue-3"].image != oldRef {
		t.Fatalf("after canary: %+v", n)
	}
	st, err = l.engine().Resume(testCtx(t, 60*time.Second), p.ID, planFor(t, l, o))
	if st != workflow.StatusDone {
		t.Fatalf("resume: %s %v", st, err)
	}
	for name, v := range l.nodes() {
		if v.image != newRef || !v.serving {
			t.Errorf("%s: %+v", name, v)
		}
	}
}

func TestUpgradeImageLoadFails(t *testing.T) {
	l := newLab(t, nil)
	l.fault("scalardl-blue-2", sim.FaultImageLoadFails, "")
	st, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, options(t, l)))
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "scalardl-blue-2/load-image") {
		t.Fatalf("run: %s %v", st, err)
	}
	n := l.nodes()
	if n["scalardl-blue-1"].image != newRef || n["scalardl-blue-2"].image != oldRef || n["scalardl-blue-3"].image != oldRef {
		t.Fatalf("%+v", n)
	}
	for name, v := range n {
		if !v.serving {
			t.Errorf("%s not serving", name)
		}
	}
}

func TestUpgradePreflight(t *testing.T) {
	l := newLab(t, nil)
	o := options(t, l)
	o.Tarball, o.Transfer = "", nil
	st, err := l.engine().Run(testCtx(t, 30*time.Second), planFor(t, l, o))
	if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "--image-tarball") {
		t.Fatalf("missing image: %s %v", st, err)
	}
	o.To = "2.1.0"
	st, err = l.engine().Run(testCtx(t, 30*time.Second), planFor(t, l, o))
	if st != workflow.StatusRefused || err == nil || !strings.Contains(err.Error(), "already runs") {
		t.Fatalf("same tag: %s %v", st, err)
	}
	for _, bad := range []upgrade.Options{{}, {To: "2.2.0;rm"}, {To: "2.2.0", Color: "red"}, {To: "2.2.0", Image: "Bad Image"}, {To: "x", Pull: true, Tarball: "/tmp/x"}} {
		if _, err := upgrade.Plan(l.inv, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	o = options(t, l)
	o.Current = map[string]string{"scalardl-blue-1": oldRef}
	var b strings.Builder
	_ = planFor(t, l, o).Render(&b)
	if !strings.Contains(b.String(), oldRef+" → "+newRef) {
		t.Errorf("plan does not show current and target:\n%s", b.String())
	}
}

func TestDiscover(t *testing.T) {
	l := newLab(t, nil)
	cur, err := upgrade.Discover(context.Background(), l, l.inv, "blue")
	if err != nil || len(cur) != 3 || cur["scalardl-blue-2"] != oldRef {
		t.Fatalf("%v %v", cur, err)
	}
}

func TestUpgradeCtrlCDuringGateRollsBack(t *testing.T) {
	l := newLab(t, func(c *sim.Config) { c.ServingDelay = sim.Duration(time.Hour) })
	before := l.nodes()
	ctx, cancel := context.WithCancel(testCtx(t, 90*time.Second))
	var once sync.Once
	l.setHook(func(host, command string) error {
		// The operator presses Ctrl-C while blue-1's new container starts.
		if command == upgrade.ImageCommand && strings.HasPrefix(host, "scalardl-blue-1") {
			if v := l.nodes()["scalardl-blue-1"]; v.image == newRef {
				once.Do(func() {
					// Let the rolled-back container serve at once.
					_ = sim.SetConfig(l.simDir, func(c *sim.Config) { c.ServingDelay = sim.Duration(200 * time.Millisecond) })
					cancel()
				})
			}
		}
		return nil
	})
	o := options(t, l)
	st, err := l.engine().Run(ctx, planFor(t, l, o))
	if st != workflow.StatusCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %s %v, want canceled", st, err)
	}
	if !strings.Contains(err.Error(), "rolled scalardl-blue-1 back") {
		t.Errorf("error: %v", err)
	}
	after := l.nodes()
	for name, v := range after {
		if v.image != oldRef || !v.serving {
			t.Errorf("%s: %+v", name, v)
		}
	}
	for _, n := range []string{"scalardl-blue-2", "scalardl-blue-3"} {
		if after[n].id != before[n].id {
			t.Errorf("%s was touched", n)
		}
	}
}

// TestUpgradeResumeAfterCrashRollsBackFirst builds what a SIGKILL during
// blue-1's switch leaves: the marker set, the step running, and blue-1 not
// serving. Resume must restore blue-1 before anything else, then upgrade.
func TestUpgradeResumeAfterCrashRollsBackFirst(t *testing.T) {
	l := newLab(t, nil)
	o := options(t, l)
	p := planFor(t, l, o)
	home := l.home("scalardl-blue-1")
	bak := filepath.Join(home, "provision", "env.before-"+p.ID)
	if err := os.WriteFile(bak, []byte("export SCALAR_IMAGE="+oldRef+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// blue-1's container is down (the crash hit between stop and start).
	if err := sim.Update(l.simDir, func(st *sim.State) error {
		h := st.Host("scalardl-blue-1")
		h.ScalarContainer().Running = false
		h.Images = append(h.Images, newRef) // its load-image step was done
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rs := workflow.RunState{ID: p.ID, Workflow: p.Workflow, Operator: "test", Created: now, Updated: now,
		Status: workflow.StatusRunning, Fingerprint: p.Fingerprint,
		Markers: map[string]workflow.Marker{upgrade.MarkerUpgrading: {Set: now,
			Value: `{"host":"scalardl-blue-1.internal.scalar-labs.com","previous":"` + oldRef + `","backup":"env.before-` + p.ID + `"}`}}}
	for _, s := range p.Steps {
		ss := workflow.StepState{ID: s.ID, Title: s.Title, Host: s.Host, Status: workflow.StatusPending, Idempotent: s.Idempotent}
		switch s.ID {
		case "scalardl-blue-1/load-image":
			ss.Status = workflow.StatusDone
		case "scalardl-blue-1/switch":
			ss.Status = workflow.StatusRunning
		}
		rs.Steps = append(rs.Steps, ss)
	}
	_ = os.MkdirAll(workflow.RunsDir(l.stateDir), 0o700)
	b, _ := json.Marshal(rs)
	if err := os.WriteFile(workflow.JournalPath(l.stateDir, p.ID), b, 0o600); err != nil {
		t.Fatal(err)
	}
	w := l.watch()
	st, err := l.engine().Resume(testCtx(t, 120*time.Second), p.ID, planFor(t, l, o))
	w.end()
	if st != workflow.StatusDone {
		t.Fatalf("resume: %s %v", st, err)
	}
	var sawComp bool
	l.evMu.Lock()
	for _, e := range l.events {
		if n, ok := e.(*workflow.Notice); ok && strings.Contains(n.Message, "compensate-upgrading-node") {
			sawComp = true
		}
	}
	l.evMu.Unlock()
	if !sawComp {
		t.Error("no compensation notice")
	}
	if w.maxDown > 1 {
		t.Errorf("%d nodes out at once: %v", w.maxDown, w.downAt)
	}
	for name, v := range l.nodes() {
		if v.image != newRef || !v.serving {
			t.Errorf("%s: %+v", name, v)
		}
	}
}

func TestUpgradeHealthSourceVetoRollsBack(t *testing.T) {
	l := newLab(t, nil)
	before := l.nodes()
	o := options(t, l)
	o.GateDeadline = 2 * time.Second
	o.Health = func(ctx context.Context, h inventory.Host) (bool, string, error) {
		// Monitoring agrees until the node runs the new image (preflight
		// refuses a source that vetoes from the start).
		if l.nodes()[h.Short].image != newRef {
			return true, "", nil
		}
		return false, "scalar container last seen 40s ago", nil
	}
	st, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, o))
	if st != workflow.StatusFailed || err == nil || !strings.Contains(err.Error(), "health: scalar container last seen 40s ago") || !strings.Contains(err.Error(), "rolled scalardl-blue-1 back") {
		t.Fatalf("run: %s %v", st, err)
	}
	after := l.nodes()
	for name, v := range after {
		if v.image != oldRef || !v.serving {
			t.Errorf("%s: %+v", name, v)
		}
	}
	for _, n := range []string{"scalardl-blue-2", "scalardl-blue-3"} {
		if after[n].id != before[n].id {
			t.Errorf("%s was touched", n)
		}
	}
}

// TestUpgradeRefusedWhenHealthSourceUnreachable is issue 12 item 2: with the
// health gate's source unreachable (Prometheus down), the run is refused in
// preflight before any node is touched, instead of switching a node, waiting
// the whole gate deadline and rolling it back.
func TestUpgradeRefusedWhenHealthSourceUnreachable(t *testing.T) {
	l := newLab(t, nil)
	before := l.nodes()
	o := options(t, l)
	o.GateDeadline = 2 * time.Second
	o.Health = func(ctx context.Context, h inventory.Host) (bool, string, error) {
		return false, "", errors.New(`Get "http://monitor.internal.scalar-labs.com:9090/api/v1/query": connection refused`)
	}
	st, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, o))
	var re *workflow.RefusedError
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "health-source" || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "--health-gate scrape") {
		t.Fatalf("run: %s %v, want refused by health-source", st, err)
	}
	after := l.nodes()
	for n := range before {
		if before[n].id != after[n].id {
			t.Errorf("%s was touched", n)
		}
	}
}

// TestUpgradeResumeWhileNodeStartingContinues is issue 12 item 7: a run
// killed while blue-1's new container was still starting is resumed by
// asking blue-1 what it runs and waiting for it, not by rolling it back and
// upgrading it again (one container recreation, not three).
func TestUpgradeResumeWhileNodeStartingContinues(t *testing.T) {
	l := newLab(t, nil)
	o := options(t, l)
	p := planFor(t, l, o)
	home := l.home("scalardl-blue-1")
	if err := os.WriteFile(filepath.Join(home, "provision", "env.before-"+p.ID), []byte("export SCALAR_IMAGE="+oldRef+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "provision", "env"), []byte("export SCALAR_IMAGE="+newRef+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// blue-1 runs a new container on the target that is not SERVING yet.
	const newID = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e"
	if err := sim.Update(l.simDir, func(st *sim.State) error {
		h := st.Host("scalardl-blue-1")
		now := time.Now().UTC()
		h.Images = append(h.Images, newRef)
		h.ComposeImage = newRef
		c := h.ScalarContainer()
		c.Image, c.ID, c.Created, c.StartedAt, c.ReadyAt = newRef, newID, now, now, now.Add(1500*time.Millisecond)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rs := workflow.RunState{ID: p.ID, Workflow: p.Workflow, Operator: "test", Created: now, Updated: now,
		Status: workflow.StatusRunning, Fingerprint: p.Fingerprint,
		Markers: map[string]workflow.Marker{upgrade.MarkerUpgrading: {Set: now,
			Value: `{"host":"scalardl-blue-1.internal.scalar-labs.com","previous":"` + oldRef + `","backup":"env.before-` + p.ID + `"}`}}}
	for _, s := range p.Steps {
		ss := workflow.StepState{ID: s.ID, Title: s.Title, Host: s.Host, Status: workflow.StatusPending, Idempotent: s.Idempotent}
		switch s.ID {
		case "scalardl-blue-1/load-image":
			ss.Status = workflow.StatusDone
		case "scalardl-blue-1/switch":
			ss.Status = workflow.StatusRunning
		}
		rs.Steps = append(rs.Steps, ss)
	}
	_ = os.MkdirAll(workflow.RunsDir(l.stateDir), 0o700)
	b, _ := json.Marshal(rs)
	if err := os.WriteFile(workflow.JournalPath(l.stateDir, p.ID), b, 0o600); err != nil {
		t.Fatal(err)
	}
	w := l.watch()
	st, err := l.engine().Resume(testCtx(t, 120*time.Second), p.ID, planFor(t, l, o))
	w.end()
	if st != workflow.StatusDone {
		t.Fatalf("resume: %s %v", st, err)
	}
	if got := strings.Join(w.order, " "); got != "scalardl-blue-2=2.2.0 scalardl-blue-3=2.2.0" {
		t.Errorf("image changes seen: %q, want blue-1 left alone", got)
	}
	n := l.nodes()
	if n["scalardl-blue-1"].id != newID {
		t.Errorf("scalardl-blue-1 was recreated (container %s), want the starting container kept", n["scalardl-blue-1"].id)
	}
	for name, v := range n {
		if v.image != newRef || !v.serving {
			t.Errorf("%s: %+v", name, v)
		}
	}
}

// TestUpgradeTo3xUsesTheImagesProbePath is issue 15 item 3: 3.x images have
// grpc_health_probe at /usr/local/bin only; the gate finds it instead of
// rolling every 3.x upgrade back. The plan warns about the major change.
func TestUpgradeTo3xUsesTheImagesProbePath(t *testing.T) {
	l := newLab(t, nil)
	const ref3 = "ghcr.io/scalar-labs/scalar-ledger:3.0.0"
	o := options(t, l)
	o.To, o.Tarball = "3.0.0", tarball(t, ref3)
	o.GateDeadline = 5 * time.Second
	p := planFor(t, l, o)
	var b strings.Builder
	_ = p.Render(&b)
	if !strings.Contains(b.String(), "major version change 2.x → 3.x: run the Scalar DL schema loader") {
		t.Errorf("plan does not warn about the major version:\n%s", b.String())
	}
	st, err := l.engine().Run(testCtx(t, 90*time.Second), p)
	if st != workflow.StatusDone {
		t.Fatalf("run: %s %v", st, err)
	}
	for name, v := range l.nodes() {
		if v.image != ref3 || !v.serving {
			t.Errorf("%s: %+v", name, v)
		}
	}
	o.To = "2.2.0"
	o.Tarball = tarball(t, newRef)
	b.Reset()
	_ = planFor(t, l, o).Render(&b)
	if strings.Contains(b.String(), "major version") {
		t.Errorf("a minor upgrade warns about a major change:\n%s", b.String())
	}
}

// TestUpgradePullRefusedWithoutCredentials: --pull on nodes without registry
// credentials (scalar-terraform's) is refused in preflight, before any node
// is touched; with credentials it runs.
func TestUpgradePullRefusedWithoutCredentials(t *testing.T) {
	l := newLab(t, nil)
	before := l.nodes()
	o := options(t, l)
	o.Tarball, o.Transfer, o.Pull = "", nil, true
	st, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, o))
	var re *workflow.RefusedError
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "image-available" ||
		!strings.Contains(err.Error(), `Head "https://ghcr.io/v2/scalar-labs/scalar-ledger/manifests/2.2.0": unauthorized`) ||
		!strings.Contains(err.Error(), "--image-tarball") {
		t.Fatalf("run: %s %v, want refused by image-available", st, err)
	}
	after := l.nodes()
	for n := range before {
		if before[n].id != after[n].id {
			t.Errorf("%s was touched", n)
		}
	}
	if err := sim.Update(l.simDir, func(st *sim.State) error {
		for _, h := range st.HostsByRole("scalardl") {
			h.RegistryLogins = []string{"ghcr.io"}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := l.engine().Run(testCtx(t, 90*time.Second), planFor(t, l, o)); st != workflow.StatusDone {
		t.Fatalf("with credentials: %s %v", st, err)
	}
}

// TestUpgradeRefusedForUndiscoverableColour: a colour Envoy does not see
// (blue_discoverable_by_envoy = false) is refused with that reason.
func TestUpgradeRefusedForUndiscoverableColour(t *testing.T) {
	l := newLab(t, nil)
	if err := sim.Update(l.simDir, func(st *sim.State) error {
		for _, h := range st.HostsByRole("scalardl") {
			h.Undiscoverable = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, options(t, l)))
	var re *workflow.RefusedError
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "discoverable" || !strings.Contains(err.Error(), "blue_discoverable_by_envoy") {
		t.Fatalf("run: %s %v, want refused by discoverable", st, err)
	}
}

// TestUpgradeRefusedWhileDriftUnresolved is issue 15 item 1: after an
// upgrade Terraform still records the old tag; the next upgrade is refused
// until the tfvars say what runs (or --allow-drift), and the plan says what
// Terraform must be told.
func TestUpgradeRefusedWhileDriftUnresolved(t *testing.T) {
	l := newLab(t, nil)
	if h := l.inv.ByRole(inventory.RoleScalarDLBlue)[0]; upgrade.StateRef(h, "") != oldRef {
		t.Fatalf("the demo's state records %q for %s, want %s", upgrade.StateRef(h, ""), h.Short, oldRef)
	}
	o := options(t, l)
	p := planFor(t, l, o)
	var b strings.Builder
	_ = p.Render(&b)
	if !strings.Contains(b.String(), "Terraform records "+oldRef+" for the blue nodes. After this upgrade set `scalardl = { blue_image_tag = \"2.2.0\" }`") {
		t.Errorf("plan does not say what Terraform needs:\n%s", b.String())
	}
	if st, err := l.engine().Run(testCtx(t, 90*time.Second), p); st != workflow.StatusDone {
		t.Fatalf("first upgrade: %s %v", st, err)
	}
	const ref3 = "ghcr.io/scalar-labs/scalar-ledger:2.3.0"
	o.To, o.Tarball = "2.3.0", tarball(t, ref3)
	before := l.nodes()
	st, err := l.engine().Run(testCtx(t, 60*time.Second), planFor(t, l, o))
	var re *workflow.RefusedError
	if st != workflow.StatusRefused || !errors.As(err, &re) || re.Check != "no-drift" ||
		!strings.Contains(err.Error(), "scalardl-blue-1 runs "+newRef+", Terraform records "+oldRef) || !strings.Contains(err.Error(), "--allow-drift") {
		t.Fatalf("second upgrade: %s %v, want refused by no-drift", st, err)
	}
	after := l.nodes()
	for n := range before {
		if before[n].id != after[n].id {
			t.Errorf("%s was touched", n)
		}
	}
	// Once the tfvars say 2.2.0 the drift is resolved as far as the console
	// can tell; --allow-drift overrides.
	for _, fix := range []func(*upgrade.Options){
		func(o *upgrade.Options) { o.TFVarsTag = "2.2.0" },
		func(o *upgrade.Options) { o.AllowDrift = true },
	} {
		oo := o
		fix(&oo)
		oo.GateDeadline = 5 * time.Second
		if st, err := l.engine().Run(testCtx(t, 90*time.Second), planFor(t, l, oo)); st != workflow.StatusDone {
			t.Fatalf("with %+v: %s %v", oo, st, err)
		}
		oo.To, oo.Tarball, oo.AllowDrift = "2.2.0", tarball(t, newRef), true // and back, for the next case
		if st, err := l.engine().Run(testCtx(t, 90*time.Second), planFor(t, l, oo)); st != workflow.StatusDone {
			t.Fatalf("back: %s %v", st, err)
		}
	}
}
