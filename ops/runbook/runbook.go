// Package runbook maps a firing alert to what the operator should do about it:
// the catalog workflow that fixes it (and which host and options to fill in),
// the scalar-terraform runbook page that documents it (docs/<Alert>.md), and
// the commands the page has the operator type.
//
// It is the one table the console (alerts list, host detail) and the CLI read,
// so that an alert's action is defined once. It must not import tui or cmd,
// and it never runs anything: it only names the workflow.
package runbook

import (
	"sort"
	"strings"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
)

// Workflow names of the runbook workflows (each is one package under
// ops/workflow and one CLI subcommand of the same name).
const (
	WorkflowRestartCassandra = "restart-cassandra"
	WorkflowRollingRestart   = "rolling-restart"
	WorkflowRestartContainer = "restart-container"
	WorkflowFreeDisk         = "free-disk"
	WorkflowReachability     = "reachability"
)

// Action is what to do about one firing alert.
//
// When Workflow is "", there is no workflow for the alert (a cluster-wide
// alert, or one the console cannot fix from here): show Doc and Commands.
type Action struct {
	// Alert is the alertname, e.g. "CassandraProcessStopped".
	Alert string `json:"alert"`
	// Title is a short human label for the action, e.g.
	// "Restart Cassandra on cassandra-2".
	Title string `json:"title"`
	// Workflow is the catalog workflow's name (one of the Workflow*
	// constants), or "" when there is no action.
	Workflow string `json:"workflow,omitempty"`
	// HostOption is the name of the workflow option that takes the host
	// ("host"), "" when the workflow takes none.
	HostOption string `json:"host_option,omitempty"`
	// Host is the alert's host to put in HostOption: the inventory name the
	// alert matched (health.Alert.Host), else the instance's host part.
	Host string `json:"host,omitempty"`
	// Options are the workflow's other options, by CLI flag name without
	// dashes, e.g. {"service": "scalar"} for restart-container.
	Options map[string]string `json:"options,omitempty"`
	// ReadOnly is true when the workflow changes nothing (reachability):
	// --readonly may still run it.
	ReadOnly bool `json:"read_only,omitempty"`
	// NoSilence is true when the action must run without the Alertmanager
	// silence (the alert is about Alertmanager or Prometheus itself, so the
	// silence could not be created).
	NoSilence bool `json:"no_silence,omitempty"`
	// Doc is the scalar-terraform runbook page, e.g.
	// "docs/CassandraProcessStopped.md", or "docs/Alerts.md" for the alerts
	// without a page of their own (see DocFor).
	Doc string `json:"doc"`
	// Commands are what the runbook page has the operator run by hand,
	// with Host filled in where known. Shown when there is no action, and
	// beside the action as what it automates.
	Commands []string `json:"commands,omitempty"`
}

// Runnable reports whether the action names a workflow.
func (a Action) Runnable() bool { return a.Workflow != "" }

// Args returns the CLI arguments that run the action, without the program
// name and without --yes/--dry-run: e.g. ["restart-cassandra", "--host",
// "cassandra-2.internal.scalar-labs.com"]. Options are in name order. It
// returns nil when the action is not runnable.
func (a Action) Args() []string {
	if !a.Runnable() {
		return nil
	}
	args := []string{a.Workflow}
	if a.HostOption != "" && a.Host != "" {
		args = append(args, "--"+a.HostOption, a.Host)
	}
	names := make([]string, 0, len(a.Options))
	for k := range a.Options {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, "--"+k, a.Options[k])
	}
	if a.NoSilence {
		args = append(args, "--no-silence")
	}
	return args
}

// For returns the action for a firing alert. The bool is false when the
// alertname is not one of scalar-terraform's alerts (nothing is known about
// it); it is true with a non-runnable Action (Workflow "") when the alert is
// known but has no workflow, so Doc and Commands can still be shown.
//
// The host comes from alert.Host, else from alert.Instance's host part. A
// per-host alert with neither gets a non-runnable action.
func For(alert health.Alert) (Action, bool) {
	e, ok := entries[alert.Name]
	if !ok {
		return Action{}, false
	}
	host := alert.Host
	if host == "" && alert.Instance != "" {
		host = health.InstanceHost(alert.Instance)
	}
	a := Action{Alert: alert.Name, Doc: DocFor(alert.Name)}
	e(&a, host, alert)
	if a.Workflow != "" && a.HostOption != "" && a.Host == "" {
		// A per-host workflow without a host cannot be offered.
		a.Workflow, a.HostOption, a.Options, a.NoSilence = "", "", nil, false
	}
	return a, true
}

// docPages are the alert pages scalar-terraform ships under docs/ (checked
// against scalar-labs/scalar-terraform's docs/ directory); the other alerts
// are only described in docs/Alerts.md.
var docPages = map[string]bool{
	"CassandraClusterDown": true, "CassandraDriveSpaceLow": true, "CassandraProcessStopped": true,
	"GrafanaContainerDown": true, "InstanceDown": true, "InstanceDriveSpaceLow": true,
	"InstanceHighCPUUtilization": true, "ReaperContainerDown": true, "ScalarDLClusterDown": true,
	"ScalarDLContainerDown": true,
}

// DocFor returns the scalar-terraform page of alertname: "docs/<Alert>.md"
// when it has its own, else "docs/Alerts.md".
func DocFor(alertname string) string {
	if docPages[alertname] {
		return "docs/" + alertname + ".md"
	}
	return "docs/Alerts.md"
}

// Alerts returns the alertnames For knows, sorted.
func Alerts() []string {
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// hostOr returns host, or the placeholder when it is unknown, for commands.
func hostOr(host string) string {
	if host == "" {
		return "<host>"
	}
	return host
}

// roleOf guesses the host's role from the alert's role label, else from the
// first DNS label ("cassandra-2.internal…" -> "cassandra").
func roleOf(host string, alert health.Alert) inventory.Role {
	if r := alert.Labels["role"]; r != "" {
		return inventory.Role(r)
	}
	short := host
	if i := strings.IndexByte(short, '.'); i >= 0 {
		short = short[:i]
	}
	if i := strings.LastIndexByte(short, '-'); i > 0 {
		return inventory.Role(short[:i])
	}
	return ""
}

// containerAlerts maps the *ContainerDown alerts to their docker-compose service.
var containerAlerts = map[string]string{
	"ScalarDLContainerDown":     "scalar",
	"EnvoyContainerDown":        "envoy",
	"CassyContainerDown":        "cassy",
	"ReaperContainerDown":       "reaper",
	"PrometheusContainerDown":   "prometheus",
	"AlertmanagerContainerDown": "alertmanager",
	"GrafanaContainerDown":      "grafana",
	"NginxContainerDown":        "nginx",
}

// entries fill in an Action for each known alertname.
var entries = map[string]func(a *Action, host string, alert health.Alert){
	"CassandraProcessStopped": func(a *Action, host string, _ health.Alert) {
		a.Title = "Restart Cassandra on " + hostOr(host)
		a.Workflow, a.HostOption, a.Host = WorkflowRestartCassandra, "host", host
		a.Commands = []string{
			"ssh -F ssh.cfg " + hostOr(host),
			"sudo systemctl start cassandra",
			"nodetool status",
		}
	},
	"CassandraClusterDown": func(a *Action, _ string, _ health.Alert) {
		a.Title = "Start Cassandra on every stopped node, one at a time"
		a.Commands = []string{
			"ssh -F ssh.cfg cassandra-N.<domain>   # each node whose cassandra.service is inactive",
			"sudo systemctl restart cassandra",
			"nodetool status",
		}
	},
	"CassandraDriveSpaceLow": func(a *Action, host string, _ health.Alert) {
		a.Title = "Free disk on " + hostOr(host) + " /data"
		a.Workflow, a.HostOption, a.Host = WorkflowFreeDisk, "host", host
		a.Commands = []string{
			"ssh -F ssh.cfg " + hostOr(host),
			"sudo du --max-depth=1 /data | sort -r -k1,1n",
			"nodetool listsnapshots",
			"nodetool clearsnapshot -t <tag>",
			"# or expand the volume (docs/HowToExpandEBS.md, docs/HowToExpandAzureManagedDisk.md), or add a Cassandra node",
		}
	},
	"InstanceDriveSpaceLow": func(a *Action, host string, alert health.Alert) {
		a.Title = "Find what fills the disk on " + hostOr(host)
		a.Commands = []string{
			"ssh -F ssh.cfg " + hostOr(host),
			"df -h",
			"sudo du -x --max-depth=1 / | sort -r -k1,1n",
		}
		// Only Cassandra's /data is what free-disk clears (snapshots and
		// backups); the root filesystem of a Cassandra node filling up is
		// not helped by deleting them, and keeps the manual steps.
		if mp := alert.Labels["mountpoint"]; mp != "" && mp != "/data" {
			a.Title = "Find what fills " + mp + " on " + hostOr(host)
			return
		}
		if roleOf(host, alert) == inventory.RoleCassandra {
			a.Title = "Free disk on " + hostOr(host) + " /data"
			a.Workflow, a.HostOption, a.Host = WorkflowFreeDisk, "host", host
		}
	},
	"InstanceDown": func(a *Action, host string, _ health.Alert) {
		a.Title = "Check reachability of " + hostOr(host)
		a.Workflow, a.HostOption, a.Host, a.ReadOnly = WorkflowReachability, "host", host, true
		a.Commands = []string{
			"ssh -F ssh.cfg bastion",
			"ssh -F ssh.cfg " + hostOr(host),
			"# read the host's logs on the log server (docs/MonitorGuide.md)",
			"# check the cloud's status page (https://status.aws.amazon.com/, https://status.azure.com/en-us/status), the instance state and its console log; reboot or replace it (docs/NodeReplacement.md)",
		}
	},
	"InstanceHighCPUUtilization": func(a *Action, host string, _ health.Alert) {
		a.Title = "See what uses the CPU on " + hostOr(host)
		a.Commands = []string{"ssh -F ssh.cfg " + hostOr(host), "top -b -n 1 | head -20"}
	},
	"TdAgentDown": func(a *Action, host string, _ health.Alert) {
		a.Title = "Restart td-agent on " + hostOr(host)
		a.Commands = []string{"ssh -F ssh.cfg " + hostOr(host), "sudo systemctl restart td-agent", "systemctl status td-agent"}
	},
	"ScalarDLClusterDown": func(a *Action, _ string, _ health.Alert) {
		a.Title = "Start the Scalar DL containers on every node"
		a.Commands = []string{
			"ssh -F ssh.cfg scalardl-blue-N.<domain>   # each Scalar DL node",
			"cd provision; docker-compose up -d",
			"docker ps",
		}
	},
	"EnvoyClusterDown": func(a *Action, _ string, _ health.Alert) {
		a.Title = "Start the Envoy containers on every node"
		a.Commands = []string{
			"ssh -F ssh.cfg envoy-N.<domain>   # each Envoy node",
			"cd provision; docker-compose up -d",
			"docker ps",
		}
	},
}

func init() {
	for name, svc := range containerAlerts {
		svc := svc
		entries[name] = func(a *Action, host string, _ health.Alert) {
			a.Title = "Restart the " + svc + " container on " + hostOr(host)
			a.Workflow, a.HostOption, a.Host = WorkflowRestartContainer, "host", host
			a.Options = map[string]string{"service": svc}
			// The silence lives in Alertmanager and Prometheus feeds it:
			// with either down it cannot be created.
			a.NoSilence = svc == "alertmanager" || svc == "prometheus"
			a.Commands = []string{
				"ssh -F ssh.cfg " + hostOr(host),
				"cd ~/provision && docker-compose up -d " + svc,
				"docker ps --filter label=com.docker.compose.service=" + svc,
			}
		}
	}
}
