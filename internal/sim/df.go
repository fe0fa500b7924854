package sim

import (
	"fmt"
	"strings"
)

// simFS is one filesystem of a simulated host.
type simFS struct {
	dev, mount  string
	size, avail float64 // bytes
}

// filesystems returns the host's mounts: / everywhere, and /data (the
// drivemount volume) on Cassandra nodes, whose use is the node's load; the
// disk-full fault leaves 1% of it free.
func filesystems(h *Host) []simFS {
	root := 30.0 * (1 << 30)
	fss := []simFS{{"/dev/nvme0n1p1", "/", root, root * 0.62}}
	if h.Cassandra != nil {
		size := 500.0 * (1 << 30)
		avail := size - h.Cassandra.LoadBytes
		for _, s := range h.Cassandra.Snapshots {
			avail -= s.Bytes
		}
		if h.HasFault(FaultDiskFull) {
			avail = 0.01 * size
		}
		fss = append(fss, simFS{"/dev/nvme1n1", "/data", size, max(avail, 0)})
	}
	return fss
}

// df prints POSIX `df -P -k` output (the only form the console uses) for the
// given paths, each mapped to the mount that holds it, or every mount.
func (c *call) df(args []string) int {
	var paths []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			paths = append(paths, a)
		}
	}
	st, err := Load(c.dir)
	if err != nil {
		c.errf("df: %v", err)
		return exitFail
	}
	h := st.Host(c.host)
	if h == nil {
		c.errf("df: unknown host %q", c.host)
		return exitFail
	}
	fss := filesystems(h)
	var show []simFS
	if len(paths) == 0 {
		show = fss
	}
	for _, p := range paths {
		p = c.dataPath(h, p)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		best := -1
		for i, f := range fss {
			if p == f.mount || strings.HasPrefix(p, strings.TrimSuffix(f.mount, "/")+"/") {
				if best < 0 || len(f.mount) > len(fss[best].mount) {
					best = i
				}
			}
		}
		show = append(show, fss[best])
	}
	fmt.Fprintf(c.stdout, "%-14s %11s %9s %9s %8s %s\n", "Filesystem", "1024-blocks", "Used", "Available", "Capacity", "Mounted on")
	for _, f := range show {
		size, avail := int64(f.size/1024), int64(f.avail/1024)
		used := size - avail
		capacity := (used*100 + size - 1) / size // df rounds up
		fmt.Fprintf(c.stdout, "%-14s %11d %9d %9d %7d%% %s\n", f.dev, size, used, avail, capacity, f.mount)
	}
	return exitOK
}

// dataPath maps a path in the node's simulated data directory (under its
// DataRoot, or under $HOME as the node's own sessions see it) to the real
// node's path under /data, so that df reports the data volume for it.
func (c *call) dataPath(h *Host, p string) string {
	if h.DataRoot == "" {
		return p
	}
	for _, root := range []string{h.DataRoot, c.env["HOME"]} {
		if root == "" || root == "/" {
			continue
		}
		for _, sub := range []string{"data", "commitlog"} {
			base := strings.TrimSuffix(root, "/") + "/" + sub
			if p == base || strings.HasPrefix(p, base+"/") {
				return "/data" + strings.TrimPrefix(p, base)
			}
		}
	}
	return p
}
