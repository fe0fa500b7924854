package main

// `scalar-tui exercise` runs the normal-case operations in sequence,
// headless: backup → verify the backup is complete → repair → rolling
// upgrade to --upgrade-to (or a rolling restart) → health check, stopping
// at the first failure, with one JSON report. Each step is the CLI's own
// command run in this process with the same global flags, so the exercise
// takes exactly the routes (cluster lock, journal, silences, gates) an
// operator's commands take.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/ops/health"
	"scalar-tui/ops/workflow/backup"
)

func init() { register(newExerciseCmd) }

// exerciseStep is one operation of the exercise in the report.
type exerciseStep struct {
	Name     string        `json:"name"`
	Command  []string      `json:"command"`
	Status   string        `json:"status"` // done, failed, skipped, canceled
	ExitCode int           `json:"exit_code"`
	Error    string        `json:"error,omitempty"`
	Started  time.Time     `json:"started,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	Detail   string        `json:"detail,omitempty"`
}

// exerciseReport is the one JSON document the exercise prints.
type exerciseReport struct {
	Kind     string         `json:"kind"`
	Pass     bool           `json:"pass"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Tag      string         `json:"backup_tag"`
	Steps    []exerciseStep `json:"steps"`
}

// exerciseNow is the exercise's clock (tests may replace it).
var exerciseNow = time.Now

func newExerciseCmd(g *globalOptions) *cobra.Command {
	var (
		upgradeTo  string
		yes, jsonO bool
		lockPath   string
		healthWait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "exercise [--upgrade-to TAG] --yes [--json]",
		Short: "Run the normal-case operations in order: backup, verify, repair, upgrade (or rolling restart), health",
		Long: `Run, headless and in order, stopping at the first failure:
  1. backup            scalar-tui backup --tag exercise-YYYYMMDD-HHMMSS --yes --json
  2. verify-backup     scalar-tui backups --json: the tag is complete on every Cassandra node
  3. repair            scalar-tui repair --yes --json
  4. upgrade           scalar-tui upgrade --to TAG --yes --json   (with --upgrade-to TAG)
     or rolling-restart scalar-tui rolling-restart --yes --json   (without)
  5. health            scalar-tui health --json: every host healthy, no alert firing
Each step is the CLI's own command with the same global flags (deployment, keys,
known_hosts, state dir). One JSON report is printed at the end (--json: only it on
stdout; the steps' own output goes to stderr). See docs/headless.md for a
Kubernetes CronJob and a Rundeck job.

Exit status: 0 every step done, 1 a step failed (the report names it), 2 bad
flags or deployment, 130 canceled.`,
		Example: "  scalar-tui exercise --yes --json\n  scalar-tui exercise --upgrade-to 2.2.0 --yes --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return badInput(errors.New("exercise runs unattended: pass --yes (it takes a backup, repairs and restarts or upgrades every node)"))
			}
			if healthWait < 0 {
				return badInput(errors.New("--health-wait must not be negative"))
			}
			return runExercise(cmd.Context(), g, exerciseOptions{upgradeTo: upgradeTo, lockPath: lockPath, json: jsonO, healthWait: healthWait},
				cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&upgradeTo, "upgrade-to", "", "Scalar DL tag to upgrade to (default: a rolling restart of Cassandra instead)")
	f.BoolVar(&yes, "yes", false, "run without confirmation (required)")
	f.BoolVar(&jsonO, "json", false, "print only the JSON report on stdout")
	f.StringVar(&lockPath, "lock-path", "", "cluster lock directory on the bastion")
	f.DurationVar(&healthWait, "health-wait", 2*time.Minute, "how long the last step waits for every host healthy and no alert firing (alerts take a while to resolve)")
	return cmd
}

// globalArgs rebuilds the global flags for a step's command.
func (g *globalOptions) globalArgs() []string {
	var a []string
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	add("--config", g.configPath)
	add("--env", g.envName)
	add("--tf-root", g.tfRoot)
	for _, d := range g.tfDirs {
		add("--tf-dir", d)
	}
	add("--terraform", g.terraform)
	add("--log-file", g.logFile)
	add("--known-hosts", g.knownHosts)
	add("--identity", g.identity)
	add("--state-dir", g.stateRoot)
	if g.connectTimeout > 0 {
		add("--connect-timeout", g.connectTimeout.String())
	}
	return a
}

type exerciseOptions struct {
	upgradeTo, lockPath string
	json                bool
	healthWait          time.Duration
}

func runExercise(ctx context.Context, g *globalOptions, o exerciseOptions, stdout, stderr io.Writer) error {
	upgradeTo, lockPath, asJSON := o.upgradeTo, o.lockPath, o.json
	start := exerciseNow()
	tag := "exercise-" + start.UTC().Format("20060102-150405")
	lock := func(args []string) []string {
		if lockPath != "" {
			return append(args, "--lock-path", lockPath)
		}
		return args
	}
	type stepDef struct {
		name  string
		args  []string
		check func(out string) (string, error)
		// retry repeats a failed check until this long after the step started.
		retry time.Duration
	}
	defs := []stepDef{
		{name: "backup", args: lock([]string{"backup", "--tag", tag, "--yes", "--json"})},
		{name: "verify-backup", args: []string{"backups", "--json"}, check: func(out string) (string, error) {
			var l backup.Listing
			if err := json.Unmarshal([]byte(out), &l); err != nil {
				return "", fmt.Errorf("read `backups --json`: %w", err)
			}
			for _, b := range l.Backups {
				if b.Tag == tag {
					if !b.Complete() {
						return "", fmt.Errorf("backup %s is %s", tag, b.Completeness())
					}
					return "backup " + tag + " " + b.Completeness(), nil
				}
			}
			return "", fmt.Errorf("backup %s is on no Cassandra node", tag)
		}},
		{name: "repair", args: lock([]string{"repair", "--yes", "--json"})},
	}
	if upgradeTo != "" {
		defs = append(defs, stepDef{name: "upgrade", args: lock([]string{"upgrade", "--to", upgradeTo, "--yes", "--json"})})
	} else {
		defs = append(defs, stepDef{name: "rolling-restart", args: lock([]string{"rolling-restart", "--yes", "--json"})})
	}
	defs = append(defs, stepDef{name: "health", args: []string{"health", "--json"}, check: func(out string) (string, error) {
		var s health.Snapshot
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			return "", fmt.Errorf("read `health --json`: %w", err)
		}
		var bad []string
		for _, h := range s.Hosts {
			if h.State != health.StateHealthy {
				bad = append(bad, fmt.Sprintf("%s %s", h.Host.Short, h.State))
			}
		}
		for _, a := range s.Alerts {
			bad = append(bad, "alert "+a.Name+" "+a.Instance)
		}
		if len(bad) > 0 {
			return "", fmt.Errorf("not healthy: %s", strings.Join(bad, ", "))
		}
		return fmt.Sprintf("%d hosts healthy, no alert firing (%s)", len(s.Hosts), s.Source), nil
	}, retry: o.healthWait})

	rep := exerciseReport{Kind: "exercise", Started: start, Tag: tag}
	var firstErr error
	for _, d := range defs {
		args := append(g.globalArgs(), d.args...)
		st := exerciseStep{Name: d.name, Command: append([]string{"scalar-tui"}, args...)}
		if firstErr != nil {
			st.Status = "skipped"
			rep.Steps = append(rep.Steps, st)
			continue
		}
		if !asJSON {
			fmt.Fprintf(stderr, "exercise: %s: %s\n", d.name, strings.Join(st.Command, " "))
		}
		st.Started = exerciseNow()
		var err error
		for {
			var out bytes.Buffer
			root := newRootCmd()
			root.SetArgs(args)
			root.SetOut(io.MultiWriter(&out, stderr))
			root.SetErr(stderr)
			root.SilenceErrors, root.SilenceUsage = true, true
			err = root.ExecuteContext(ctx)
			st.ExitCode = codeOf(err)
			if err == nil && d.check != nil {
				st.Detail, err = d.check(out.String())
				if err != nil {
					st.ExitCode = exitFailed
				}
			}
			if err == nil || ctx.Err() != nil || st.ExitCode != exitFailed || exerciseNow().Sub(st.Started) >= d.retry {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
		}
		st.Duration = exerciseNow().Sub(st.Started)
		switch {
		case err == nil:
			st.Status = "done"
		case st.ExitCode == exitCanceled:
			st.Status, st.Error = "canceled", err.Error()
			firstErr = err
		default:
			st.Status, st.Error = "failed", err.Error()
			firstErr = fmt.Errorf("exercise stopped at %s: %w", d.name, err)
		}
		rep.Steps = append(rep.Steps, st)
	}
	rep.Finished = exerciseNow()
	rep.Pass = firstErr == nil
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return failed(err)
	}
	switch {
	case firstErr == nil:
		return nil
	case errors.Is(firstErr, context.Canceled):
		return firstErr
	default:
		return failed(firstErr)
	}
}

// codeOf maps a command's error to its exit status.
func codeOf(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return exitCanceled
	}
	return exitBadInput
}
