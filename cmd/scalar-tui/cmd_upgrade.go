package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"scalar-tui/inventory"
	"scalar-tui/ops/workflow/upgrade"
)

func init() {
	kindCLIs[upgrade.Workflow] = kindCLI{after: func(inv *inventory.Inventory, raw json.RawMessage, wf workflowFlags, s cmdStreams) error {
		var params upgrade.Journal
		if err := json.Unmarshal(raw, &params); err != nil {
			return failed(fmt.Errorf("journalled upgrade parameters: %w", err))
		}
		return offerTFVars(inv, params, wf, s)
	}}
}

// offerTFVars ends a finished upgrade: it shows the tfvars edit that makes
// Terraform record what now runs and writes it only when the operator
// confirms (or, headless with --yes, when --tfvars named the file). It
// never runs terraform.
func offerTFVars(inv *inventory.Inventory, params upgrade.Journal, wf workflowFlags, s cmdStreams) error {
	w := s.out
	if wf.json {
		w = s.err
	}
	if params.NoTFVars {
		fmt.Fprintln(w, "--no-tfvars: align the scalardl root's tfvars with what runs yourself before the next terraform apply")
		return nil
	}
	ch, err := upgrade.TFVarsChange(inv, params)
	if err != nil {
		fmt.Fprintf(w, "Terraform still records the old image: %v\n", err)
		return nil
	}
	if !ch.Changed() {
		fmt.Fprintf(w, "%s already records the upgrade's target\n", ch.Path)
		return nil
	}
	fmt.Fprintf(w, "\nTerraform still records the old image. This change to %s makes it record what now runs:\n%s\n", ch.Path, ch.Diff())
	next := fmt.Sprintf("then run `terraform plan` and `terraform apply` in %s yourself (the console never runs terraform)", filepath.Dir(ch.Path))
	switch {
	case wf.yes && params.TFVars == "":
		fmt.Fprintf(w, "not written (headless: pass --tfvars %s to write it); %s\n", ch.Path, next)
		return nil
	case wf.yes:
	case !stdinIsTerminal(s.in):
		fmt.Fprintf(w, "not written (stdin is not a terminal); %s\n", next)
		return nil
	default:
		fmt.Fprintf(w, "Write it? Type \"yes\": ")
		line, _ := bufio.NewReader(s.in).ReadString('\n')
		if !strings.EqualFold(strings.TrimSpace(line), "yes") {
			fmt.Fprintf(w, "not written; %s\n", next)
			return nil
		}
	}
	if err := ch.Write(); err != nil {
		return failed(fmt.Errorf("the upgrade is done, but writing %s failed: %w", ch.Path, err))
	}
	fmt.Fprintf(w, "wrote %s; %s\n", ch.Path, next)
	return nil
}
