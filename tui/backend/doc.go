// Package backend implements the console's vm.Backend over the real parts:
// inventory (Terraform state), ops/sshx (SSH through the bastion),
// ops/health (Prometheus or the scrape fallback) and ops/workflow (plans,
// runs, journal and audit). It maps their types onto tui/vm's view model.
//
// It must not import cmd; the console's models never call it outside a tea.Cmd.
package backend
