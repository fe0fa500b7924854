package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	"scalar-tui/ops/scalaradmin"
)

// inspectStart returns "ID STARTEDAT RESTARTCOUNT" of provision_scalar_1 as
// `docker inspect -f` prints it.
func inspectStart(t *testing.T, dir, host string) string {
	t.Helper()
	r := run(t, dir, host, "docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}} {{.RestartCount}}", "provision_scalar_1")
	if r.rc != 0 {
		t.Fatalf("docker inspect: rc %d %s", r.rc, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func TestDockerInspectContainer(t *testing.T) {
	dir := newCluster(t)
	out := inspectStart(t, dir, sdl1)
	f := strings.Fields(out)
	if len(f) != 3 || len(f[0]) != 64 || f[2] != "0" {
		t.Fatalf("inspect -f: %q", out)
	}
	if _, err := time.Parse(time.RFC3339Nano, f[1]); err != nil {
		t.Errorf("StartedAt %q: %v", f[1], err)
	}
	if r := run(t, dir, sdl1, "docker", "container", "inspect", "provision_scalar_1"); r.rc != 0 || !strings.Contains(r.stdout, `"StartedAt"`) || !strings.Contains(r.stdout, `"RestartCount": 0`) {
		t.Errorf("container inspect: %d %s %s", r.rc, r.stdout, r.stderr)
	}
	if r := run(t, dir, sdl1, "docker", "container", "inspect", "provision_nope_1"); r.rc != 1 || !strings.Contains(r.stderr, "No such container: provision_nope_1") {
		t.Errorf("missing container: %d %s", r.rc, r.stderr)
	}
}

// A ledger's pause lives in its process: a restarted container is unpaused.
func TestDockerRestartUnpauses(t *testing.T) {
	dir := newCluster(t)
	for _, verb := range []string{"restart", "stop"} {
		if err := Update(dir, func(st *State) error { st.Host(sdl1).Paused = true; return nil }); err != nil {
			t.Fatal(err)
		}
		before := inspectStart(t, dir, sdl1)
		time.Sleep(2 * time.Millisecond)
		if r := run(t, dir, sdl1, "docker", verb, "provision_scalar_1"); r.rc != 0 {
			t.Fatalf("docker %s: %s", verb, r.stderr)
		}
		st, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Host(sdl1).Paused {
			t.Errorf("docker %s left the ledger paused", verb)
		}
		if verb == "restart" && inspectStart(t, dir, sdl1) == before {
			t.Error("StartedAt unchanged by docker restart")
		}
	}
}

// FaultContainerRestart: the container restarts right after rpc.Admin Pause
// answered, once, and comes back unpaused with a new StartedAt.
func TestContainerRestartFault(t *testing.T) {
	dir := newCluster(t)
	if err := SetConfig(dir, func(c *Config) { c.PauseDrain = 0; c.ServingDelay = 0 }); err != nil {
		t.Fatal(err)
	}
	if err := InjectFault(dir, sdl1, FaultContainerRestart, ""); err != nil {
		t.Fatal(err)
	}
	before := inspectStart(t, dir, sdl1)
	time.Sleep(2 * time.Millisecond)
	a := NewAdminServer(dir, sdl1)
	ctx := context.Background()
	if _, err := a.Pause(ctx, &scalaradmin.PauseRequest{WaitOutstanding: true}); err != nil {
		t.Fatal(err)
	}
	r, err := a.CheckPaused(ctx, &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetPaused() {
		t.Error("still paused after the container restarted")
	}
	after := inspectStart(t, dir, sdl1)
	if after == before || !strings.HasSuffix(after, " 1") {
		t.Errorf("inspect before %q after %q, want a new StartedAt and RestartCount 1", before, after)
	}
	// Once: a second pause holds.
	if _, err := a.Pause(ctx, &scalaradmin.PauseRequest{WaitOutstanding: true}); err != nil {
		t.Fatal(err)
	}
	if r, err := a.CheckPaused(ctx, &emptypb.Empty{}); err != nil || !r.GetPaused() {
		t.Errorf("second pause: %v %v", r, err)
	}
}

// `docker-compose up -d SERVICE` starts that service only, like compose does;
// an unknown service is an error.
func TestComposeUpOneService(t *testing.T) {
	dir := newCluster(t)
	mon := "monitor-1"
	for _, c := range []string{"provision_grafana_1", "provision_nginx_1"} {
		if r := run(t, dir, mon, "docker", "stop", c); r.rc != 0 {
			t.Fatalf("docker stop %s: %s", c, r.stderr)
		}
	}
	if r := run(t, dir, mon, "docker-compose", "up", "-d", "grafana"); r.rc != 0 {
		t.Fatalf("up -d grafana: %s", r.stderr)
	}
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range st.Host(mon).Containers {
		if want := ct.Service != "nginx"; ct.Running != want {
			t.Errorf("%s running %v, want %v", ct.Name, ct.Running, want)
		}
	}
	if r := run(t, dir, mon, "docker-compose", "up", "-d", "nope"); r.rc != 1 || !strings.Contains(r.stderr, "No such service: nope") {
		t.Errorf("unknown service: %d %s", r.rc, r.stderr)
	}
}
