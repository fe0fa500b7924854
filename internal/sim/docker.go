package sim

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
)

func (c *call) docker(args []string) int {
	if len(args) == 0 {
		c.errf("Usage:  docker [OPTIONS] COMMAND")
		return 1
	}
	cmd, rest := args[0], args[1:]
	if cmd == "image" || cmd == "container" {
		if len(rest) == 0 {
			c.errf("Usage:  docker %s COMMAND", cmd)
			return 1
		}
		sub := rest[0]
		switch {
		case cmd == "image" && sub == "inspect":
			return c.imageInspect(rest[1:])
		case cmd == "image" && (sub == "ls" || sub == "list"):
			return c.images(rest[1:])
		case cmd == "image" && sub == "load":
			return c.load(rest[1:])
		case cmd == "container" && sub == "inspect":
			return c.containerInspect(rest[1:])
		case cmd == "container":
			cmd, rest = sub, rest[1:]
		}
	}
	switch cmd {
	case "ps":
		return c.ps(rest)
	case "images":
		return c.images(rest)
	case "load":
		return c.load(rest)
	case "exec":
		return c.exec(rest)
	case "stop", "start", "restart", "kill":
		return c.startStop(cmd, rest)
	case "logs":
		return c.dockerLogs(rest)
	case "inspect":
		if c.isContainerInspect(rest) {
			return c.containerInspect(rest)
		}
		return c.imageInspect(rest)
	case "pull":
		return c.pull(rest)
	case "manifest":
		if len(rest) > 0 && rest[0] == "inspect" {
			return c.manifestInspect(rest[1:])
		}
		c.errf("Usage:  docker manifest COMMAND")
		return 1
	case "login":
		c.errf("Error: Cannot perform an interactive login from a non TTY device")
		return 1
	}
	c.errf("docker: '%s' is not a docker command.\nSee 'docker --help'", cmd)
	return 1
}

type psRow struct {
	ID, Image, Command, Created, Status, Ports, Names, State string
}

func (c *call) ps(args []string) int {
	all, quiet := false, false
	format := ""
	var filters []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-a" || a == "--all":
			all = true
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "-aq" || a == "-qa":
			all, quiet = true, true
		case a == "--format":
			if i+1 < len(args) {
				format = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		case a == "-f" || a == "--filter":
			if i+1 < len(args) {
				filters = append(filters, args[i+1])
				i++
			}
		}
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	h := st.Host(c.host)
	now := time.Now().UTC()
	var rows []psRow
	for _, ct := range h.Containers {
		if !ct.Running && !all {
			continue
		}
		if !matchFilters(ct, filters) {
			continue
		}
		r := psRow{ID: ct.ID[:12], Image: ct.Image, Command: quoteCommand(ct.Command),
			Created: humanDuration(now.Sub(ct.Created)) + " ago", Names: ct.Name, State: "exited"}
		if ct.Running {
			r.State = "running"
			r.Status = "Up " + humanDuration(now.Sub(ct.StartedAt))
			r.Ports = ct.Ports
		} else {
			r.Status = fmt.Sprintf("Exited (%d) %s ago", ct.ExitCode, humanDuration(now.Sub(ct.FinishedAt)))
		}
		rows = append(rows, r)
	}
	switch {
	case quiet:
		for _, r := range rows {
			fmt.Fprintln(c.stdout, r.ID)
		}
	case format != "" && !strings.HasPrefix(format, "table"):
		for _, r := range rows {
			fmt.Fprintln(c.stdout, expandFormat(format, r))
		}
	default:
		tw := tabwriter.NewWriter(c.stdout, 10, 1, 3, ' ', 0)
		fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Image, r.Command, r.Created, r.Status, r.Ports, r.Names)
		}
		_ = tw.Flush()
	}
	return 0
}

func matchFilters(ct *Container, filters []string) bool {
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "name":
			if !strings.Contains(ct.Name, v) {
				return false
			}
		case "status":
			if (v == "running") != ct.Running {
				return false
			}
		case "label":
			if v != "com.docker.compose.service="+ct.Service && v != "com.docker.compose.service" && v != "com.docker.compose.project=provision" {
				return false
			}
		}
	}
	return true
}

// quoteCommand mimics docker ps' truncated, quoted COMMAND column.
func quoteCommand(cmd string) string {
	r := []rune(cmd)
	if len(r) > 19 {
		return "\"" + string(r[:19]) + "…\""
	}
	return "\"" + cmd + "\""
}

var reFormatField = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

func expandFormat(format string, r psRow) string {
	format = strings.ReplaceAll(format, `\t`, "\t")
	return reFormatField.ReplaceAllStringFunc(format, func(m string) string {
		switch reFormatField.FindStringSubmatch(m)[1] {
		case "ID":
			return r.ID
		case "Image":
			return r.Image
		case "Command":
			return r.Command
		case "RunningFor":
			return r.Created
		case "Status":
			return r.Status
		case "State":
			return r.State
		case "Ports":
			return r.Ports
		case "Names":
			return r.Names
		}
		return ""
	})
}

func (c *call) images(args []string) int {
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	h := st.Host(c.host)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--format" || args[i] == "-f" {
			if args[i+1] != "{{.Repository}}:{{.Tag}}" {
				c.errf("sim: docker images --format: only {{.Repository}}:{{.Tag}} is simulated")
				return 1
			}
			for _, ref := range h.Images {
				fmt.Fprintln(c.stdout, ref)
			}
			return 0
		}
	}
	tw := tabwriter.NewWriter(c.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	for _, ref := range h.Images {
		i := strings.LastIndex(ref, ":")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ref[:i], ref[i+1:], strings.TrimPrefix(imageID(ref), "sha256:")[:12], "5 months ago", "512MB")
	}
	_ = tw.Flush()
	return 0
}

func (c *call) imageInspect(args []string) int {
	var refs []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-f" || args[i] == "--format" {
			i++
			continue
		}
		if !strings.HasPrefix(args[i], "-") {
			refs = append(refs, args[i])
		}
	}
	if len(refs) == 0 {
		c.errf("\"docker image inspect\" requires at least 1 argument.")
		return 1
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	h := st.Host(c.host)
	out := []map[string]any{}
	rc := 0
	for _, ref := range refs {
		if !h.HasImage(ref) {
			c.errf("Error: No such image: %s", ref)
			rc = 1
			continue
		}
		n := normalizeRef(ref)
		repo := n[:strings.LastIndex(n, ":")]
		out = append(out, map[string]any{
			"Id": imageID(n), "RepoTags": []string{n}, "RepoDigests": []string{repo + "@" + imageID(n+"digest")},
			"Created": "2021-03-15T09:12:44.123456789Z", "Architecture": "amd64", "Os": "linux", "Size": 536870912,
			"Config": map[string]any{"Image": imageID(n + "config"), "Labels": map[string]string{}},
		})
	}
	b, _ := json.MarshalIndent(out, "", "    ")
	fmt.Fprintln(c.stdout, string(b))
	return rc
}

var reImageRef = regexp.MustCompile(`(?m)^\s*(?:image|Loaded image)\s*:\s*(\S+)\s*$`)

// load reads an image tarball from stdin (or -i FILE). A real `docker save`
// tar is recognised by its manifest.json RepoTags; the lab's fake tarballs
// are text with a line "image: <ref>".
func (c *call) load(args []string) int {
	in := c.stdin
	for i := 0; i < len(args); i++ {
		if (args[i] == "-i" || args[i] == "--input") && i+1 < len(args) {
			f, err := os.Open(args[i+1])
			if err != nil {
				c.errf("open %s: no such file or directory", args[i+1])
				return 1
			}
			defer f.Close()
			in = f
			i++
		}
	}
	data, err := io.ReadAll(io.LimitReader(in, 64<<20))
	if err != nil {
		c.errf("Error processing tar file: %v", err)
		return 1
	}
	if len(bytes.TrimSpace(data)) == 0 {
		c.errf("requested load from stdin, but stdin is empty")
		return 1
	}
	refs := refsFromTar(data)
	if len(refs) == 0 {
		for _, m := range reImageRef.FindAllSubmatch(data, -1) {
			refs = append(refs, string(m[1]))
		}
	}
	if len(refs) == 0 {
		c.errf("Error processing tar file(exit status 1): unexpected EOF")
		return 1
	}
	failed := false
	err = Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		if h.HasFault(FaultImageLoadFails) {
			failed = true
			return nil
		}
		for _, r := range refs {
			if !h.HasImage(r) {
				h.Images = append(h.Images, normalizeRef(r))
			}
		}
		return nil
	})
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	if failed {
		c.errf("Error processing tar file(exit status 1): write /var/lib/docker/tmp/docker-import-123456789/repo/layer.tar: no space left on device")
		return 1
	}
	for _, r := range refs {
		fmt.Fprintf(c.stdout, "Loaded image: %s\n", normalizeRef(r))
	}
	return 0
}

func refsFromTar(data []byte) []string {
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hd, err := tr.Next()
		if err != nil {
			return nil
		}
		if filepath.Clean(hd.Name) != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
			return nil
		}
		var refs []string
		for _, e := range m {
			refs = append(refs, e.RepoTags...)
		}
		return refs
	}
}

func (c *call) exec(args []string) int {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if args[i] == "-e" || args[i] == "-u" || args[i] == "-w" || args[i] == "--env" || args[i] == "--user" || args[i] == "--workdir" {
			i++
		}
		i++
	}
	if i >= len(args)-1 {
		c.errf("\"docker exec\" requires at least 2 arguments.")
		return 1
	}
	name, cmd := args[i], args[i+1:]
	if filepath.Base(cmd[0]) == "grpc_health_probe" {
		return c.healthProbe(name, cmd[0], cmd[1:])
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	ct := st.Host(c.host).Container(name)
	if ct == nil {
		c.errf("Error: No such container: %s", name)
		return 1
	}
	if !ct.Running {
		c.errf("Error response from daemon: Container %s is not running", ct.ID)
		return 1
	}
	c.errf("OCI runtime exec failed: exec failed: container_linux.go:349: starting container process caused \"exec: \\\"%s\\\": executable file not found in $PATH\": unknown", cmd[0])
	return 126
}

// ProbePath is where grpc_health_probe lives in a Scalar DL ledger image:
// /bin in 2.x images (helm chart for 2.1.0), /usr/local/bin from 3.x on.
func ProbePath(image string) string {
	if major, err := strconv.Atoi(strings.SplitN(imageTag(image), ".", 2)[0]); err == nil && major >= 3 {
		return "/usr/local/bin/grpc_health_probe"
	}
	return "/bin/grpc_health_probe"
}

// healthProbe mimics grpc_health_probe (run as path) inside container name.
// A bare name is found on the container's PATH; an absolute path must be
// the one the image has.
func (c *call) healthProbe(name, path string, args []string) int {
	addr := ":50051"
	for _, a := range args {
		if strings.HasPrefix(a, "-addr=") {
			addr = strings.TrimPrefix(a, "-addr=")
		}
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	h := st.Host(c.host)
	ct := h.Container(name)
	if ct == nil {
		c.errf("Error: No such container: %s", name)
		return 1
	}
	if !ct.Running {
		c.errf("Error response from daemon: Container %s is not running", ct.ID)
		return 1
	}
	if !ct.HealthProbe || (strings.Contains(path, "/") && path != ProbePath(ct.Image)) {
		c.errf("OCI runtime exec failed: exec failed: container_linux.go:349: starting container process caused \"exec: \\\"%s\\\": stat %s: no such file or directory\": unknown", path, path)
		return 126
	}
	switch st.Health(h, ct, time.Now().UTC()) {
	case Serving:
		fmt.Fprintln(c.stdout, "status: SERVING")
		return 0
	case NotServing:
		c.errf("service unhealthy (responded with \"NOT_SERVING\")")
		return 4
	}
	c.errf("timeout: failed to connect service %q within 1s", addr)
	return 2
}

func (c *call) startStop(verb string, names []string) int {
	rc := 0
	var out []string
	err := Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		now := time.Now().UTC()
		for _, n := range names {
			if strings.HasPrefix(n, "-") {
				continue
			}
			ct := h.Container(n)
			if ct == nil {
				c.errf("Error response from daemon: No such container: %s", n)
				rc = 1
				continue
			}
			switch verb {
			case "stop", "kill":
				if ct.Running {
					ct.Running, ct.FinishedAt, ct.ExitCode = false, now, 137
					if verb == "stop" {
						ct.ExitCode = 143
					}
					if ct.Service == "scalar" {
						h.Paused = false // the pause lives in the ledger process
					}
				}
			case "start", "restart":
				if !ct.Running || verb == "restart" {
					st.startContainer(h, ct, now)
				}
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	for _, n := range out {
		fmt.Fprintln(c.stdout, n)
	}
	return rc
}

// compose implements `docker-compose up -d`, `ps`, `stop`, `start`,
// `restart` for the "provision" project in ~/provision.
func (c *call) compose(args []string) int {
	var verb string
	var only []string // services named after the verb (`up -d scalar`)
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			if verb == "" {
				verb = a
			} else {
				only = append(only, a)
			}
		}
	}
	switch verb {
	case "up":
		return c.composeUp(only)
	case "ps":
		return c.ps([]string{"-a"})
	case "stop", "start", "restart":
		st, err := Load(c.dir)
		if err != nil {
			c.errf("sim: %v", err)
			return 1
		}
		var names []string
		for _, ct := range st.Host(c.host).Containers {
			names = append(names, ct.Name)
		}
		var sink bytes.Buffer
		out := c.stdout
		c.stdout = &sink
		rc := c.startStop(verb, names)
		c.stdout = out
		for _, n := range names {
			c.errf("%s %s ... done", map[string]string{"stop": "Stopping", "start": "Starting", "restart": "Restarting"}[verb], n)
		}
		return rc
	}
	c.errf("No such command: %s", verb)
	return 1
}

// composeImage finds SCALAR_IMAGE: from the environment (after `source ./env`),
// else from ./env in the working directory, else the last one used.
func (c *call) composeImage(h *Host) string {
	if v := c.env["SCALAR_IMAGE"]; v != "" {
		return v
	}
	dir := c.env["PWD"]
	if dir == "" {
		dir, _ = os.Getwd()
	}
	if f, err := os.Open(filepath.Join(dir, "env")); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
			if v, ok := strings.CutPrefix(line, "SCALAR_IMAGE="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	return h.ComposeImage
}

func (c *call) composeUp(only []string) int {
	var lines []string
	rc := 0
	err := Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		now := time.Now().UTC()
		for _, svc := range only {
			if !slices.ContainsFunc(h.Containers, func(ct *Container) bool { return ct.Service == svc }) {
				lines = append(lines, "ERROR: No such service: "+svc)
				rc = 1
				return nil
			}
		}
		for i, ct := range h.Containers {
			if len(only) > 0 && !slices.Contains(only, ct.Service) {
				continue
			}
			want := ct.Image
			if ct.Service == "scalar" {
				want = normalizeRef(c.composeImage(h))
			}
			switch {
			case !h.HasImage(want):
				lines = append(lines, fmt.Sprintf("Pulling %s (%s)...", ct.Service, want),
					fmt.Sprintf("ERROR: Get https://%s/v2/: unauthorized", strings.SplitN(want, "/", 2)[0]))
				rc = 1
				return nil
			case want != ct.Image:
				nc := newContainer(h.Name, ct.Service, want, now, st.scale(h, st.Config.ServingDelay.D()))
				h.Containers[i] = nc
				if ct.Service == "scalar" {
					h.ComposeImage, h.Paused = want, false
				}
				lines = append(lines, fmt.Sprintf("Recreating %s ... ", ct.Name), fmt.Sprintf("Recreating %s ... done", ct.Name))
			case !ct.Running:
				st.startContainer(h, ct, now)
				lines = append(lines, fmt.Sprintf("Starting %s ... ", ct.Name), fmt.Sprintf("Starting %s ... done", ct.Name))
			default:
				lines = append(lines, ct.Name+" is up-to-date")
			}
		}
		return nil
	})
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	for _, l := range lines {
		c.errf("%s", l) // docker-compose 1.x reports progress on stderr
	}
	return rc
}

// registryOf returns the registry host of an image reference and the
// manifest URL docker's errors name.
func registryOf(ref string) (host, manifestURL string) {
	n := normalizeRef(ref)
	repo, tag := n[:strings.LastIndex(n, ":")], imageTag(n)
	host = "registry-1.docker.io"
	if first, rest, ok := strings.Cut(repo, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host, repo = first, rest
	} else if !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	return host, "https://" + host + "/v2/" + repo + "/manifests/" + tag
}

// refArg returns the first non-flag argument.
func refArg(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// pull mimics `docker pull REF`: nodes without credentials for the registry
// (scalar-terraform ships the image as a tarball, so its nodes have none)
// get the daemon's "unauthorized", as ghcr.io answers for a private image.
func (c *call) pull(args []string) int {
	ref := refArg(args)
	if ref == "" {
		c.errf("\"docker pull\" requires exactly 1 argument.")
		return 1
	}
	host, url := registryOf(ref)
	ok := false
	err := Update(c.dir, func(st *State) error {
		h := st.Host(c.host)
		if !h.LoggedIn(host) {
			return nil
		}
		ok = true
		if !h.HasImage(ref) {
			h.Images = append(h.Images, normalizeRef(ref))
		}
		return nil
	})
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	if !ok {
		c.errf("Error response from daemon: Head %q: unauthorized", url)
		return 1
	}
	n := normalizeRef(ref)
	fmt.Fprintf(c.stdout, "%s: Pulling from %s\nDigest: %s\nStatus: Downloaded newer image for %s\n%s\n",
		imageTag(n), n[:strings.LastIndex(n, ":")], imageID(n+"digest"), n, n)
	return 0
}

// manifestInspect mimics `docker manifest inspect REF` (docker >= 20.10).
func (c *call) manifestInspect(args []string) int {
	ref := refArg(args)
	if ref == "" {
		c.errf("\"docker manifest inspect\" requires at least 1 argument.")
		return 1
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	host, url := registryOf(ref)
	if !st.Host(c.host).LoggedIn(host) {
		c.errf("Get %q: unauthorized", url)
		return 1
	}
	n := normalizeRef(ref)
	fmt.Fprintf(c.stdout, "{\n\t\"schemaVersion\": 2,\n\t\"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n\t\"config\": {\"digest\": %q}\n}\n", imageID(n+"config"))
	return 0
}

// startContainer (re)starts ct on h at now, as `docker start|restart` or the
// daemon's restart policy does: a new process, so a ledger comes back
// unpaused (rpc.Admin's pause state is in memory only) and answers SERVING
// again after ServingDelay.
func (st *State) startContainer(h *Host, ct *Container, now time.Time) {
	ct.Running, ct.StartedAt = true, now
	ct.ReadyAt = now.Add(st.scale(h, st.Config.ServingDelay.D()))
	if ct.Service == "scalar" {
		h.Paused = false
	}
}

// applyContainerRestart fires FaultContainerRestart on a paused Scalar DL
// host: the ledger container exits and `restart: always` starts it again
// (RestartCount+1, a new StartedAt), unpaused. The fault fires once. It
// reports whether it fired.
func (st *State) applyContainerRestart(h *Host, now time.Time) bool {
	ct := h.ScalarContainer()
	if !h.HasFault(FaultContainerRestart) || ct == nil || !ct.Running {
		return false
	}
	delete(h.Faults, FaultContainerRestart)
	ct.FinishedAt, ct.ExitCode = now, 137
	ct.RestartCount++
	st.startContainer(h, ct, now)
	return true
}

// isContainerInspect reports whether `docker inspect ARGS` names a container
// of the host (docker inspect looks containers up before images).
func (c *call) isContainerInspect(args []string) bool {
	st, err := Load(c.dir)
	if err != nil {
		return false
	}
	h := st.Host(c.host)
	for _, n := range inspectNames(args) {
		if findContainer(h, n) != nil {
			return true
		}
	}
	return false
}

func inspectNames(args []string) []string {
	var names []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-f" || args[i] == "--format" || args[i] == "--type" {
			i++
			continue
		}
		if !strings.HasPrefix(args[i], "-") {
			names = append(names, args[i])
		}
	}
	return names
}

func inspectFormat(args []string) string {
	for i := 0; i < len(args); i++ {
		switch {
		case (args[i] == "-f" || args[i] == "--format") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(args[i], "--format="):
			return strings.TrimPrefix(args[i], "--format=")
		}
	}
	return ""
}

// findContainer finds a container by name or by an ID prefix.
func findContainer(h *Host, name string) *Container {
	if ct := h.Container(strings.TrimPrefix(name, "/")); ct != nil {
		return ct
	}
	if len(name) >= 4 {
		for _, ct := range h.Containers {
			if strings.HasPrefix(ct.ID, name) {
				return ct
			}
		}
	}
	return nil
}

// containerInspect implements `docker [container] inspect [-f FORMAT]
// NAME...` for containers: the JSON array docker prints, or FORMAT (a Go
// template over the same document, as docker evaluates it) per container.
func (c *call) containerInspect(args []string) int {
	names := inspectNames(args)
	if len(names) == 0 {
		c.errf("\"docker container inspect\" requires at least 1 argument.")
		return 1
	}
	var tmpl *template.Template
	if f := inspectFormat(args); f != "" {
		t, err := template.New("").Option("missingkey=zero").Parse(f)
		if err != nil {
			c.errf("template parsing error: %v", err)
			return 1
		}
		tmpl = t
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("sim: %v", err)
		return 1
	}
	h := st.Host(c.host)
	var docs []map[string]any
	rc := 0
	for _, n := range names {
		ct := findContainer(h, n)
		if ct == nil {
			c.errf("Error: No such container: %s", n)
			rc = 1
			continue
		}
		docs = append(docs, containerDoc(h, ct))
	}
	if tmpl == nil {
		if docs == nil {
			docs = []map[string]any{}
		}
		b, _ := json.MarshalIndent(docs, "", "    ")
		fmt.Fprintln(c.stdout, string(b))
		return rc
	}
	for _, d := range docs {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, d); err != nil {
			c.errf("template: %v", err)
			return 1
		}
		fmt.Fprintln(c.stdout, b.String())
	}
	return rc
}

// dockerTime renders t as docker inspect does (RFC 3339 with nanoseconds;
// the zero time as 0001-01-01T00:00:00Z).
func dockerTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func containerDoc(h *Host, ct *Container) map[string]any {
	status := "exited"
	if ct.Running {
		status = "running"
	}
	return map[string]any{
		"Id":      ct.ID,
		"Created": dockerTime(ct.Created),
		"Name":    "/" + ct.Name,
		"Image":   imageID(normalizeRef(ct.Image)),
		"State": map[string]any{
			"Status": status, "Running": ct.Running, "Paused": false, "Restarting": false,
			"ExitCode": ct.ExitCode, "StartedAt": dockerTime(ct.StartedAt), "FinishedAt": dockerTime(ct.FinishedAt),
		},
		"RestartCount": ct.RestartCount,
		"HostConfig":   map[string]any{"RestartPolicy": map[string]any{"Name": "always", "MaximumRetryCount": 0}},
		"Config": map[string]any{
			"Image":  ct.Image,
			"Labels": map[string]string{"com.docker.compose.project": "provision", "com.docker.compose.service": ct.Service},
		},
	}
}
