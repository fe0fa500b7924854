package sim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Environment variables that identify the simulated host and the state.
const (
	EnvHost  = "SCALAR_SIM_HOST"  // FQDN (or short name or IP) of the host the command runs on
	EnvState = "SCALAR_SIM_STATE" // state directory made by Init
)

// Exit codes shared by the simulated tools.
const (
	exitOK       = 0
	exitFail     = 1
	exitNotFound = 127
	exitSSH      = 255
)

// Commands lists the tool names Main dispatches on (argv[0] basename).
var Commands = []string{"nodetool", "systemctl", "docker", "docker-compose", "curl", "sudo", "grpc_health_probe", "df", "tail"}

// call is one invocation of a simulated tool.
type call struct {
	ctx    context.Context
	dir    string
	host   string
	env    map[string]string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func (c *call) errf(format string, a ...any) { fmt.Fprintf(c.stderr, format+"\n", a...) }

// Main runs one simulated command line. argv[0]'s basename selects the tool
// (see Commands). env supplies SCALAR_SIM_HOST and SCALAR_SIM_STATE (and
// PWD, SCALAR_IMAGE for docker-compose); a nil env means os.Environ. It
// returns the exit status the real tool would return.
func Main(ctx context.Context, argv []string, env map[string]string, stdin io.Reader, stdout, stderr io.Writer) int {
	if env == nil {
		env = osEnv()
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	c := &call{ctx: ctx, dir: env[EnvState], host: env[EnvHost], env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(argv) == 0 {
		c.errf("sim: no command")
		return 2
	}
	if c.dir == "" || c.host == "" {
		c.errf("sim: %s and %s must be set", EnvState, EnvHost)
		return 2
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 2
	}
	h := st.Host(c.host)
	if h == nil {
		c.errf("sim: unknown host %q in %s", c.host, c.dir)
		return 2
	}
	c.host = h.Name
	if h.Down() {
		// The lab stops sshd too; in-process callers get what ssh would print.
		c.errf("ssh: connect to host %s port 22: Connection refused", h.Name)
		return exitSSH
	}
	return c.dispatch(argv)
}

func (c *call) dispatch(argv []string) int {
	name := filepath.Base(argv[0])
	args := argv[1:]
	switch name {
	case "sudo":
		return c.sudo(args)
	case "nodetool":
		return c.nodetool(args)
	case "systemctl":
		return c.systemctl(args)
	case "docker":
		return c.docker(args)
	case "docker-compose":
		return c.compose(args)
	case "curl":
		return c.curl(args)
	case "grpc_health_probe":
		return c.healthProbe("provision_scalar_1", "grpc_health_probe", args)
	case "df":
		return c.df(args)
	case "tail":
		return c.tail(args)
	}
	c.errf("sim: %s: command not found", name)
	return exitNotFound
}

func osEnv() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// sudo drops its own options and runs the command (the simulated user may do anything).
func (c *call) sudo(args []string) int {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		if (a == "-u" || a == "-g") && len(args) > 0 {
			args = args[1:]
		}
	}
	if len(args) == 0 {
		c.errf("usage: sudo -h | -K | -k | -V")
		return 1
	}
	return c.dispatch(args)
}

// systemctl supports start|stop|restart|is-active|status for cassandra.service;
// other well-known units are always active.
func (c *call) systemctl(args []string) int {
	var pos []string
	quiet := false
	for _, a := range args {
		switch {
		case a == "-q" || a == "--quiet":
			quiet = true
		case strings.HasPrefix(a, "-"):
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) < 2 {
		c.errf("Too few arguments.")
		return 1
	}
	verb, unit := pos[0], pos[1]
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	var state string
	rc := 0
	err := Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		now := time.Now().UTC()
		if unit != "cassandra.service" || h.Cassandra == nil {
			known := map[string]bool{"docker.service": true, "td-agent.service": true, "node_exporter.service": true,
				"sshd.service": true, "cadvisor.service": h.Role != RoleCassandra && h.Role != RoleBastion,
				"cassandra_exporter.service": h.Role == RoleCassandra}
			if !known[unit] {
				switch verb {
				case "is-active":
					state, rc = "inactive", 3
				case "status":
					c.errf("Unit %s could not be found.", unit)
					rc = 4
				default:
					c.errf("Failed to %s %s: Unit %s not found.", verb, unit, unit)
					rc = 5
				}
				return nil
			}
			state = "active"
			return nil
		}
		cs := h.Cassandra
		switch verb {
		case "start", "restart":
			if !cs.Active || verb == "restart" {
				cs.Active, cs.StartedAt, cs.Generation = true, now, now.Unix()
			}
			cs.Failed = ""
			delete(h.Faults, FaultCassandraStopped)
			// The unit starts; the JVM then dies on start-up (systemd:
			// failed). `systemctl start` has already returned 0.
			if h.HasFault(FaultStartFails) {
				cs.Active, cs.Failed = false, "Exception encountered during startup"
			} else if h.DataRoot != "" {
				if err := checkLiveData(h); err != nil {
					cs.Active, cs.Failed = false, err.Error()
				}
			}
		case "stop":
			cs.Active, cs.Failed = false, ""
		case "is-active", "status":
		default:
			c.errf("Unknown operation '%s'.", verb)
			rc = 1
			return nil
		}
		state = "inactive"
		if cs.Active {
			state = "active"
		} else if cs.Failed != "" {
			state = "failed"
		}
		return nil
	})
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	switch verb {
	case "is-active":
		if !quiet && state != "" {
			fmt.Fprintln(c.stdout, state)
		}
		if state != "active" {
			return 3
		}
	case "status":
		if rc != 0 {
			return rc
		}
		sub := "running"
		if state != "active" {
			sub = "dead"
		}
		fmt.Fprintf(c.stdout, "● %s\n   Loaded: loaded (/usr/lib/systemd/system/%s; enabled; vendor preset: disabled)\n   Active: %s (%s)\n", unit, unit, state, sub)
		if state != "active" {
			return 3
		}
	}
	return rc
}

// curl fetches http://HOST:PORT/PATH from the simulated services.
func (c *call) curl(args []string) int {
	var raw string
	silent, showErr, fail := false, false, false
	var outFile string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "--output":
			if i+1 < len(args) {
				outFile = args[i+1]
				i++
			}
		case a == "-H" || a == "-m" || a == "--max-time" || a == "--connect-timeout" || a == "-X" || a == "-d" || a == "-u" || a == "-w":
			i++
		case strings.HasPrefix(a, "--"):
			switch a {
			case "--silent":
				silent = true
			case "--show-error":
				showErr = true
			case "--fail":
				fail = true
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			silent = silent || strings.Contains(a, "s")
			showErr = showErr || strings.Contains(a, "S")
			fail = fail || strings.Contains(a, "f")
		default:
			raw = a
		}
	}
	if raw == "" {
		c.errf("curl: no URL specified!")
		return 2
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		c.errf("curl: (3) URL using bad/illegal format or missing URL")
		return 3
	}
	port := 80
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	target := u.Hostname()
	if target == "localhost" || target == "127.0.0.1" || target == "0.0.0.0" {
		target = c.host
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	th := st.Host(target)
	if th == nil {
		if !silent || showErr {
			c.errf("curl: (6) Could not resolve host: %s", u.Hostname())
		}
		return 6
	}
	hd := Handler(c.dir, th.Name, port)
	if hd == nil || th.Down() || !serviceUp(st, th, port) {
		if !silent || showErr {
			c.errf("curl: (7) Failed to connect to %s port %d: Connection refused", u.Hostname(), port)
		}
		return 7
	}
	req := httptest.NewRequest(http.MethodGet, u.RequestURI(), nil).WithContext(c.ctx)
	rec := httptest.NewRecorder()
	hd.ServeHTTP(rec, req)
	if fail && rec.Code >= 400 {
		if !silent || showErr {
			c.errf("curl: (22) The requested URL returned error: %d", rec.Code)
		}
		return 22
	}
	out := c.stdout
	if outFile != "" && outFile != "-" {
		f, err := os.Create(outFile)
		if err != nil {
			c.errf("curl: (23) Failure writing output to destination")
			return 23
		}
		defer f.Close()
		out = f
	}
	_, _ = out.Write(rec.Body.Bytes())
	return 0
}
