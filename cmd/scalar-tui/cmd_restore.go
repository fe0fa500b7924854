package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"scalar-tui/ops/workflow"
	"scalar-tui/ops/workflow/restore"
)

func init() {
	kindCLIs[restore.Workflow] = kindCLI{run: runRestore}
}

// runRestore runs a restore (or --undo) with its own confirmation: at a
// terminal the deployment's name typed, headless --yes with
// --confirm-deployment NAME; the plan is rebuilt with the name confirmed.
func runRestore(ctx context.Context, g *globalOptions, k *workflow.Kind, v workflow.Values, wf workflowFlags, s cmdStreams) error {
	confirm := v.String("confirm-deployment")
	if wf.yes && !wf.dryRun && confirm == "" {
		return badInput(errors.New("--yes alone is not enough for a restore: also pass --confirm-deployment NAME (the deployment's network_name)"))
	}
	inv, cl, err := openDeployment(ctx, g)
	if err != nil {
		return err
	}
	defer cl.Close()
	// The deployment's own journal and lock, as runWorkflow uses.
	wf.dep = g.deploymentOf(inv, wf.lockPath)
	deps := kindDeps(inv, cl, wf, s)
	build := func(name string) (*workflow.Plan, error) {
		vv := workflow.Values{}
		for n, x := range v {
			vv[n] = x
		}
		vv["confirm-deployment"] = name
		return k.Plan(ctx, deps, vv)
	}
	p, err := build(confirm)
	if err != nil {
		return badInput(err)
	}
	id := workflow.UniqueRunID(p.ID)
	p.ID = id
	if wf.dryRun {
		if err := p.Render(s.out); err != nil {
			return failed(err)
		}
		fmt.Fprintln(s.out, "\ndry run: nothing was changed and no lock was taken")
		return nil
	}
	name := confirm
	if wf.yes {
		if confirm != inv.NetworkName {
			return badInput(fmt.Errorf("--confirm-deployment %q is not this deployment (%q): nothing was done", confirm, inv.NetworkName))
		}
		if !wf.json {
			if err := p.Render(s.out); err != nil {
				return failed(err)
			}
			fmt.Fprintln(s.out)
		}
	} else {
		if !stdinIsTerminal(s.in) {
			return badInput(errors.New("restore: stdin is not a terminal; review the plan with --dry-run, then pass --yes --confirm-deployment NAME"))
		}
		w := s.out
		if wf.json {
			w = s.err
		}
		if err := p.Render(w); err != nil {
			return failed(err)
		}
		fmt.Fprintf(w, "\nThis replaces the data of every Cassandra node. Type the deployment's name (%s) to run %s: ", inv.NetworkName, id)
		line, rerr := bufio.NewReader(s.in).ReadString('\n')
		name = strings.TrimSpace(line)
		if name != inv.NetworkName {
			if rerr != nil && name == "" {
				return failed(fmt.Errorf("not confirmed (%v); nothing was done", rerr))
			}
			return failed(fmt.Errorf("not confirmed (typed %q, the deployment is %q); nothing was done", name, inv.NetworkName))
		}
	}
	if p, err = build(name); err != nil {
		return badInput(err)
	}
	p.ID = id
	return execWorkflow(ctx, wf, s, cl, nil, p.ID, func(e *workflow.Engine) (workflow.Status, error) {
		return e.Run(ctx, p)
	})
}
