package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// createNetwork builds the namespaces, veths, bridge, addresses and routes
// with one `ip -batch` per namespace, and pins a UTS namespace per host.
func (l *Lab) createNetwork(ctx context.Context, parallel int) error {
	p := l.st.Prefix
	b := l.Bastion.Namespace
	subnets := map[int]bool{}
	for _, h := range l.Hosts {
		subnets[roleSubnet[h.Role]] = true
	}
	var subs []int
	for s := range subnets {
		subs = append(subs, s)
	}
	sort.Ints(subs)

	// Each host subnet gets its own unreachable route too, recorded before it
	// is added so a failure half-way still removes it.
	var root []string
	for _, s := range subs {
		r := "unreachable " + l.subnetAddr(s, 0) + "/24"
		l.st.Routes = append(l.st.Routes, r)
		root = append(root, "route add "+r)
	}
	if err := l.saveRegistry(); err != nil {
		return err
	}
	for _, ns := range l.st.Namespaces {
		root = append(root, "netns add "+ns)
	}
	// Veths are created directly in their namespaces: the root namespace only
	// ever holds "<prefix>r", its end of the bastion's public link.
	root = append(root, fmt.Sprintf("link add %sr type veth peer name eth0 netns %s", p, b))
	for i, h := range l.Hosts {
		root = append(root, fmt.Sprintf("link add h%d netns %s type veth peer name eth0 netns %s", i, b, h.Namespace))
	}
	root = append(root,
		fmt.Sprintf("addr add %s/24 dev %sr", l.subnetAddr(0, 1), p),
		fmt.Sprintf("link set %sr up", p),
	)
	if err := ipBatch(ctx, "", root); err != nil {
		return err
	}

	bastion := []string{
		"link set lo up",
		fmt.Sprintf("addr add %s/24 dev eth0", l.Bastion.IP),
		"link set eth0 up",
		"link add br0 type bridge",
		"link set br0 up",
	}
	for _, s := range subs {
		bastion = append(bastion, fmt.Sprintf("addr add %s/24 dev br0", l.subnetAddr(s, 1)))
	}
	for i := range l.Hosts {
		bastion = append(bastion,
			fmt.Sprintf("link set h%d master br0", i),
			fmt.Sprintf("link set h%d up", i),
		)
	}
	if err := ipBatch(ctx, b, bastion); err != nil {
		return err
	}
	// The bastion routes between the private subnets like a VPC router, so
	// hosts reach each other (Prometheus on monitor-1 scraping every host).
	// It has no route out of the lab, so nothing leaves the machine.
	if _, err := run(ctx, "ip", "netns", "exec", b, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"); err != nil {
		return fmt.Errorf("lab: enable forwarding in %s: %w", b, err)
	}
	sem := make(chan struct{}, parallel)
	errs := make([]error, len(l.Hosts))
	var wg sync.WaitGroup
	for i, h := range l.Hosts {
		cmds := []string{
			"link set lo up",
			fmt.Sprintf("addr add %s/24 dev eth0", h.IP),
			"link set eth0 up",
			fmt.Sprintf("route add default via %s", l.subnetAddr(roleSubnet[h.Role], 1)),
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = ipBatch(ctx, h.Namespace, cmds)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// Pin one UTS namespace per host with its hostname set, like the
	// `hostnamectl set-hostname <role>-<n>` of the instances' user_data.
	utsDir := filepath.Join(registryDir, p, "uts")
	if err := os.MkdirAll(utsDir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	var sh strings.Builder
	sh.WriteString("set -e\n")
	for _, h := range l.all() {
		fmt.Fprintf(&sh, "touch %s\nunshare --uts=%s hostname %s\n", h.uts, h.uts, h.Short)
	}
	if _, err := run(ctx, "sh", "-c", sh.String()); err != nil {
		return fmt.Errorf("lab: UTS namespaces: %w", err)
	}
	return nil
}

// ipBatch runs ip commands in one process, in namespace ns ("" = root).
func ipBatch(ctx context.Context, ns string, cmds []string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	if _, err := runIn(ctx, []byte(strings.Join(cmds, "\n")+"\n"), "ip", args...); err != nil {
		where := "root namespace"
		if ns != "" {
			where = "namespace " + ns
		}
		return fmt.Errorf("lab: network setup in %s: %w", where, err)
	}
	return nil
}
