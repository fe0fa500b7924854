package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"scalar-tui/inventory"
	"scalar-tui/ops/health"
	"scalar-tui/ops/sshx"
	"scalar-tui/ops/workflow"
)

func init() { register(newHealthCmd) }

// bastionDialer opens the SSH bastion for the inventory and returns its dial
// function (sshx's (*Client).DialContext) and a close function. console.go
// sets it; with --prometheus URL health dials directly instead.
var bastionDialer func(g *globalOptions, inv *inventory.Inventory) (health.DialFunc, func() error, error)

type healthOptions struct {
	json             bool
	watch            bool
	interval         time.Duration
	source           string
	promURL          string
	promUser         string
	promPasswordFile string
	promBearerFile   string
	promCA           string
	promInsecure     bool
	timeout          time.Duration
}

func newHealthCmd(g *globalOptions) *cobra.Command {
	o := &healthOptions{}
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Show the health of every host from Prometheus (or by scraping the exporters)",
		Long: `Show the health of every host of the deployment: up, CPU, memory, disk, load,
the Cassandra service, the role's container and Envoy's view of Scalar DL, plus
cluster counts, firing alerts, series that match no host, and query errors.

By default the monitor host's Prometheus is queried through the SSH bastion.
--prometheus URL queries a Prometheus directly (e.g. through your own tunnel:
ssh -F ssh.cfg -L 9090:monitor.internal.scalar-labs.com:9090 bastion).
--source scrape reads the exporters directly when Prometheus itself is down.

States: a host's state is the worst of everything known about it.
down = node exporter not scraped (up=0); degraded = a service, container,
Scalar DL node not SERVING as Envoy sees it (per member, from every Envoy's
admin /clusters), Envoy membership, a disk past the deployment's own alert
rule (25% free on Cassandra's /data, 10% elsewhere) or a firing alert on an
up host; unknown = no data (never counted as healthy). Disk is shown as used %.
A Scalar DL node whose running image tag differs from Terraform state shows
both (TAG "2.2.0 ≠ state 2.1.0"; running_image_tag and image_drift in --json).

Exit status: 0 when health was read (whatever the hosts' states), 1 when it
could not be read (Prometheus unreachable, credentials refused, the bastion
unusable: every host is then unknown, never down), 2 on bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHealth(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the snapshot as JSON")
	f.BoolVar(&o.watch, "watch", false, "refresh until interrupted")
	f.DurationVar(&o.interval, "interval", 5*time.Second, "refresh interval with --watch")
	f.StringVar(&o.source, "source", "prometheus", "where to read health: prometheus or scrape")
	f.StringVar(&o.promURL, "prometheus", "", "Prometheus base URL, dialled directly (default: monitor.<domain>:9090 through the bastion)")
	f.StringVar(&o.promUser, "prom-user", "", "basic auth user for Prometheus")
	f.StringVar(&o.promPasswordFile, "prom-password-file", "", "file holding the basic auth password")
	f.StringVar(&o.promBearerFile, "prom-bearer-file", "", "file holding a bearer token for Prometheus")
	f.StringVar(&o.promCA, "prom-ca", "", "PEM CA bundle to verify Prometheus' TLS certificate")
	f.BoolVar(&o.promInsecure, "prom-insecure-skip-tls-verify", false, "do not verify Prometheus' TLS certificate (labs only)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of one refresh")
	return cmd
}

// readSecret reads a one-line secret file (workflow.ReadSecret).
var readSecret = workflow.ReadSecret

func (o *healthOptions) validate() error {
	switch o.source {
	case "prometheus", "scrape":
	default:
		return fmt.Errorf("--source %q: want prometheus or scrape", o.source)
	}
	if o.watch && o.interval <= 0 {
		return errors.New("--interval must be positive")
	}
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	if o.source == "scrape" && (o.promURL != "" || o.promUser != "" || o.promBearerFile != "" || o.promCA != "") {
		return errors.New("the --prom* flags apply to --source prometheus only")
	}
	if (o.promUser != "") != (o.promPasswordFile != "") {
		return errors.New("--prom-user and --prom-password-file go together")
	}
	if o.promUser != "" && o.promBearerFile != "" {
		return errors.New("give either --prom-user/--prom-password-file or --prom-bearer-file, not both")
	}
	return nil
}

func runHealth(ctx context.Context, g *globalOptions, o *healthOptions, stdout, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return badInput(err)
	}
	inv, err := healthInventory(ctx, g, o, stderr)
	if err != nil {
		return err
	}
	var dial health.DialFunc
	if o.source == "scrape" || o.promURL == "" {
		if bastionDialer == nil {
			return badInput(errors.New("reaching the deployment through the bastion is not available in this build yet; " +
				"pass --prometheus URL (e.g. after `ssh -F ssh.cfg -L 9090:monitor.<domain>:9090 bastion`, use --prometheus http://localhost:9090)"))
		}
		d, closeFn, err := bastionDialer(g, inv)
		if err != nil {
			return failed(fmt.Errorf("connect to the bastion: %w", err))
		}
		defer closeFn()
		dial = healthDial(d, inv.BastionAddr())
	}
	src, err := newHealthSource(inv, o, dial)
	if err != nil {
		return err
	}
	if inv == nil || len(inv.Hosts) == 0 {
		// No deployment given: learn the hosts from Prometheus' own up series.
		if ps, ok := src.(*health.PrometheusSource); ok {
			if snap, err := ps.Snapshot(ctx); err == nil {
				inv = &inventory.Inventory{Hosts: health.HostsFromSeries(snap.Unmatched)}
				if src, err = newHealthSource(inv, o, dial); err != nil {
					return err
				}
			}
		}
	}

	once := func() error {
		snap, err := src.Snapshot(ctx)
		if errors.Is(err, context.Canceled) {
			return err
		}
		if o.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if snap != nil {
				if e := enc.Encode(snap); e != nil {
					return failed(e)
				}
			}
		} else if snap != nil && err == nil {
			// On a total failure the table would only say "unknown" everywhere;
			// the error alone says it better.
			renderHealth(stdout, snap, time.Now())
		}
		if err != nil {
			return failed(err)
		}
		return nil
	}
	if !o.watch {
		return once()
	}
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	for {
		if !o.json && isTerminal(stdout) {
			fmt.Fprint(stdout, "\033[H\033[2J")
		}
		if err := once(); err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return nil
			}
			fmt.Fprintln(stderr, "scalar-tui:", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if !o.json && !isTerminal(stdout) {
			fmt.Fprintln(stdout)
		}
	}
}

// healthInventory loads the deployment. With --prometheus and no deployment
// named, it returns nil: the hosts are then learnt from Prometheus.
func healthInventory(ctx context.Context, g *globalOptions, o *healthOptions, stderr io.Writer) (*inventory.Inventory, error) {
	opts, err := g.inventoryOptions()
	if err != nil {
		if o.promURL != "" && o.source == "prometheus" {
			fmt.Fprintln(stderr, "scalar-tui: no deployment given; showing the hosts Prometheus scrapes")
			return nil, nil
		}
		return nil, err
	}
	inv, err := inventory.Load(ctx, opts)
	if err != nil {
		return nil, badInput(fmt.Errorf("load the deployment: %w", err))
	}
	return inv, nil
}

// healthDial marks the bastion's own failures (stopped, silent, wrong key,
// changed host key, forwarding refused) as health.TransportError, so that
// health reports "cannot reach the bastion" with every host unknown instead of
// every host down. A failure behind the bastion (a refused exporter port) stays
// the target's own.
func healthDial(dial health.DialFunc, bastion string) health.DialFunc {
	return health.MarkTransport(dial, "bastion "+bastion, isBastionFailure)
}

// isBastionFailure tells an error of sshx's DialContext that happened on the
// bastion (before or instead of the tunnel) from one of the tunnelled target:
// the tunnel's own errors all say "connect to HOST through bastion".
func isBastionFailure(err error) bool {
	var lost *sshx.ConnectionLostError
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &lost):
		return lost.BastionLost || lost.Host == ""
	case errors.Is(err, sshx.ErrForwardingRefused), errors.Is(err, sshx.ErrClosed):
		return true
	}
	return !strings.Contains(err.Error(), " through bastion ")
}

func newHealthSource(inv *inventory.Inventory, o *healthOptions, dial health.DialFunc) (health.Source, error) {
	if o.source == "scrape" {
		so := health.ScrapeOptions{Dial: dial, Timeout: o.timeout}
		if inv != nil {
			so.Via = "bastion " + inv.BastionAddr()
		}
		return health.NewScrapeSource(inv, so), nil
	}
	// Through the bastion, every Envoy's admin /clusters is read too: the
	// per-member gRPC health Prometheus' Envoy metrics only count.
	po := health.PrometheusOptions{Dial: dial, BasicAuthUser: o.promUser, CAFile: o.promCA,
		InsecureSkipTLSVerify: o.promInsecure, Timeout: o.timeout, EnvoyAdmin: dial != nil}
	var err error
	if o.promPasswordFile != "" {
		if po.BasicAuthPassword, err = readSecret(o.promPasswordFile, "--prom-password-file"); err != nil {
			return nil, badInput(err)
		}
	}
	if o.promBearerFile != "" {
		if po.BearerToken, err = readSecret(o.promBearerFile, "--prom-bearer-file"); err != nil {
			return nil, badInput(err)
		}
	}
	src, err := health.NewPrometheusSource(inv, o.promURL, po)
	if err != nil {
		return nil, badInput(err)
	}
	return src, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// renderHealth writes the snapshot as text: a table per host, cluster lines,
// alerts, unmatched series, errors and the snapshot's age. It is a pure function
// of its arguments.
func renderHealth(w io.Writer, s *health.Snapshot, now time.Time) {
	hosts := append([]health.HostHealth(nil), s.Hosts...)
	sort.SliceStable(hosts, func(i, j int) bool { return inventory.HostLess(hosts[i].Host, hosts[j].Host) })
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tNAME\tSTATE\tCPU\tMEM\tDISK USED\tLOAD\tSERVICE\tTAG\tREASONS")
	for _, h := range hosts {
		name := h.Host.Short
		if name == "" {
			name = h.Host.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Host.Role, name, strings.ToUpper(h.State.String()),
			pct(h.CPU), pct(h.Mem), disk(h), num(h.Load1), service(h), tag(h), strings.Join(h.Reasons, "; "))
	}
	tw.Flush()
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		if line != "" {
			fmt.Fprintln(w, strings.TrimRight(line, " \n"))
		}
	}

	c := s.Cluster
	fmt.Fprintf(w, "\ncassandra %d/%d active   scalardl blue %s   green %s   envoy %d/%d running   (running counts from %s)\n",
		c.CassandraActive, c.CassandraTotal, servingCount(c.ScalarDLBlueServing, c.ScalarDLBlueServingUnknown, c.ScalarDLBlueActive, c.ScalarDLBlueTotal),
		servingCount(c.ScalarDLGreenServing, c.ScalarDLGreenServingUnknown, c.ScalarDLGreenActive, c.ScalarDLGreenTotal),
		c.EnvoyActive, c.EnvoyTotal, c.CountsFrom)
	fmt.Fprintf(w, "hosts: %d healthy, %d degraded, %d down, %d unknown\n", c.Healthy, c.Degraded, c.Down, c.Unknown)

	if len(s.Alerts) > 0 {
		fmt.Fprintf(w, "\nFIRING ALERTS (%d)\n", len(s.Alerts))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range s.Alerts {
			where := a.Instance
			if where == "" {
				where = "(cluster)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Name, a.Severity, where)
		}
		tw.Flush()
	}
	if len(s.Unmatched) > 0 {
		byInst := map[string][]string{}
		var insts []string
		for _, u := range s.Unmatched {
			i := u.Labels["instance"]
			if _, ok := byInst[i]; !ok {
				insts = append(insts, i)
			}
			byInst[i] = append(byInst[i], u.Query)
		}
		sort.Strings(insts)
		fmt.Fprintf(w, "\nUNMATCHED SERIES (%d, instance not in the inventory)\n", len(s.Unmatched))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, i := range insts {
			fmt.Fprintf(tw, "  %s\t%s\n", i, strings.Join(byInst[i], ", "))
		}
		tw.Flush()
	}
	if len(s.Errors) > 0 {
		// Queries that failed the same way share one line.
		var msgs []string
		queries := map[string][]string{}
		for _, e := range s.Errors {
			if _, ok := queries[e.Message]; !ok {
				msgs = append(msgs, e.Message)
			}
			queries[e.Message] = append(queries[e.Message], e.Query)
		}
		fmt.Fprintf(w, "\nERRORS (%d)\n", len(s.Errors))
		for _, m := range msgs {
			fmt.Fprintf(w, "  %s: %s\n", strings.Join(queries[m], ", "), m)
		}
	}
	fmt.Fprintf(w, "\nas of %s (%s old) from %s; %d queries in %s\n", s.At.UTC().Format(time.RFC3339),
		s.Age(now).Round(time.Second), s.Source, s.Queries, s.Took.Round(time.Millisecond))
}

// servingCount says how many Scalar DL nodes of a colour Envoy serves, and
// how many run when that differs.
func servingCount(serving, unknown, running, total int) string {
	s := fmt.Sprintf("%d/%d serving", serving, total)
	if unknown > 0 {
		s += fmt.Sprintf(" (%d unknown)", unknown)
	}
	if running != serving {
		s += fmt.Sprintf(" %d running", running)
	}
	return s
}

func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) {
		return "?"
	}
	return fmt.Sprintf("%.0f%%", *v)
}

func num(v *float64) string {
	if v == nil {
		return "-"
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) {
		return "?"
	}
	return fmt.Sprintf("%.2f", *v)
}

// disk is percent used, the one word for disk in the console and the CLI.
func disk(h health.HostHealth) string {
	root, data := h.DiskRootUsed, h.DiskDataUsed
	if root == nil && h.DiskRoot != nil { // a snapshot written before the used fields
		root = ptrTo(100 - *h.DiskRoot)
	}
	if data == nil && h.DiskData != nil {
		data = ptrTo(100 - *h.DiskData)
	}
	switch {
	case root == nil && data == nil:
		return "-"
	case data == nil:
		return "/ " + pct(root)
	default:
		return "/ " + pct(root) + " /data " + pct(data)
	}
}

func ptrTo(v float64) *float64 { return &v }

// tag is a Scalar DL node's running tag, and the recorded one when they differ.
func tag(h health.HostHealth) string {
	switch {
	case !h.Host.Role.IsScalarDL():
		return "-"
	case h.ImageDrift:
		return h.RunningImageTag + " ≠ state " + h.Host.ImageTag
	case h.RunningImageTag != "":
		return h.RunningImageTag
	case h.Host.ImageTag != "":
		return h.Host.ImageTag
	}
	return "-"
}

func service(h health.HostHealth) string {
	var parts []string
	if h.Host.Role == inventory.RoleCassandra {
		switch {
		case h.CassandraActive == nil:
			parts = append(parts, "cassandra ?")
		case *h.CassandraActive:
			parts = append(parts, "cassandra active")
		default:
			parts = append(parts, "cassandra INACTIVE")
		}
	}
	if h.ContainerService != "" {
		switch {
		case h.ContainerAge != nil && h.ContainerFresh != nil && *h.ContainerFresh && h.Serving != nil && *h.Serving:
			parts = append(parts, h.ContainerService+" serving")
		case h.ContainerAge != nil && h.ContainerFresh != nil && *h.ContainerFresh && h.Serving != nil:
			parts = append(parts, h.ContainerService+" up, NOT SERVING")
		case h.ContainerAge != nil && h.ContainerFresh != nil && *h.ContainerFresh:
			parts = append(parts, h.ContainerService+" up")
		case h.ContainerAge != nil:
			parts = append(parts, h.ContainerService+" seen "+h.ContainerAge.Round(time.Second).String()+" ago")
		default:
			parts = append(parts, h.ContainerService+" ?")
		}
	}
	if h.EnvoyHealthyMembers != nil && h.EnvoyTotalMembers != nil {
		parts = append(parts, fmt.Sprintf("members %d/%d", *h.EnvoyHealthyMembers, *h.EnvoyTotalMembers))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
