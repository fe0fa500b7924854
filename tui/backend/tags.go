package backend

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"scalar-tui/inventory"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow/upgrade"
	"scalar-tui/tui/vm"
)

// imagesCommand lists the images loaded in a node's docker, one "name:tag"
// a line. It is a constant: nothing of the operator's goes into it.
const imagesCommand = "docker images --format '{{.Repository}}:{{.Tag}}'"

// UpgradeTags lists the tags an upgrade of color ("blue" or "green") can go
// to: the ledger image's tags loaded on the colour's Scalar DL nodes, the
// tag Terraform state records and the tags running now, each with the nodes
// that have not loaded it. Running tags come first, then by tag.
func (b *Backend) UpgradeTags(ctx context.Context, color string) ([]vm.TagCandidate, error) {
	role := inventory.RoleScalarDLBlue
	switch color {
	case "", "blue":
		color = "blue"
	case "green":
		role = inventory.RoleScalarDLGreen
	default:
		return nil, fmt.Errorf("upgrade tags: colour must be blue or green, not %q", color)
	}
	inv, client, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	nodes := inv.ByRole(role)
	if len(nodes) == 0 {
		return nil, fmt.Errorf("upgrade tags: the deployment has no %s Scalar DL nodes", color)
	}
	running, err := upgrade.Discover(ctx, client, inv, color)
	if err != nil {
		return nil, fmt.Errorf("upgrade tags: read the running image: %w", err)
	}
	loaded := make([]map[string]bool, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, h := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loaded[i], errs[i] = loadedRefs(ctx, client, h.Name)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("upgrade tags: docker images on %s: %w", nodes[i].Short, err)
		}
	}
	byTag := map[string]*vm.TagCandidate{}
	get := func(tag string) *vm.TagCandidate {
		c := byTag[tag]
		if c == nil {
			c = &vm.TagCandidate{Tag: tag}
			byTag[tag] = c
		}
		return c
	}
	for i, h := range nodes {
		image := h.Image
		if image == "" {
			image = upgrade.DefaultImage
		}
		if h.ImageTag != "" {
			get(h.ImageTag).InState = true
		}
		if tag := refTag(running[h.Short], image); tag != "" {
			get(tag).Running = true
		}
		for ref := range loaded[i] {
			if tag := refTag(ref, image); tag != "" {
				get(tag)
			}
		}
	}
	out := make([]vm.TagCandidate, 0, len(byTag))
	for tag, c := range byTag {
		for i, h := range nodes {
			image := h.Image
			if image == "" {
				image = upgrade.DefaultImage
			}
			if !loaded[i][image+":"+tag] {
				c.Missing = append(c.Missing, h.Short)
			}
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Running != out[j].Running {
			return out[i].Running
		}
		return out[i].Tag < out[j].Tag
	})
	return out, nil
}

// loadedRefs runs imagesCommand on host.
func loadedRefs(ctx context.Context, client *sshx.Client, host string) (map[string]bool, error) {
	refs := map[string]bool{}
	var stderr sshx.Tail
	res, err := client.Run(ctx, host, imagesCommand, sshx.RunOptions{
		Stdout: func(l string) {
			if l = strings.TrimSpace(l); l != "" {
				refs[l] = true
			}
		},
		Stderr: stderr.Line})
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("exit %d: %s", res.ExitCode, strings.TrimSpace(stderr.String()))
	}
	return refs, nil
}

// refTag is the tag of ref when ref names image ("image:tag"), else "".
func refTag(ref, image string) string {
	tag, ok := strings.CutPrefix(ref, image+":")
	if !ok || tag == "<none>" {
		return ""
	}
	return tag
}
