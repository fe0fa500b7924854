package inventory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

var backendRE = regexp.MustCompile(`^\s*backend\s+"([A-Za-z0-9_-]+)"`)

// configuredBackend returns the backend type named in a `backend "x" {` block of
// the root's *.tf files, or "" when there is none (the local default). Files
// such as backend.tf.s3 (scalar-terraform-examples' templates) are not *.tf and
// do not count until the operator renames them.
func configuredBackend(dir string) string {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return ""
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if m := backendRE.FindStringSubmatch(sc.Text()); m != nil {
				fh.Close()
				return m[1]
			}
		}
		fh.Close()
	}
	return ""
}

// resolveBinary turns a binary name (looked up on PATH) or path (made
// absolute) into an absolute path to an executable file.
func resolveBinary(bin string) (string, error) {
	if !strings.ContainsRune(bin, filepath.Separator) {
		return exec.LookPath(bin)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", errors.New("not an executable file")
	}
	return abs, nil
}

// findTerraform looks for terraform, then tofu, on PATH.
func findTerraform() string {
	for _, name := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// terraformEnv is the child's environment: ours (PATH, HOME, cloud credentials,
// TF_CLI_CONFIG_FILE ...) minus what terraform-exec manages itself, plus
// CHECKPOINT_DISABLE=1 so that terraform never phones home.
func terraformEnv() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "" {
			env[k] = v
		}
	}
	for _, k := range tfexec.ProhibitedEnv(env) {
		delete(env, k)
	}
	env["CHECKPOINT_DISABLE"] = "1"
	return env
}

// pullState runs `terraform state pull` in dir, through whatever backend the
// root configures. When the pull fails and the root was never initialised (no
// .terraform), it runs `terraform init` once and retries: init needs the
// providers (a plugin cache or a mirror when offline), so it is avoided when the
// local state can be pulled without it. It returns nil data when the root has no
// state yet. Each command is bounded by timeout (see runTerraform).
func pullState(ctx context.Context, bin, dir string, timeout, grace time.Duration) ([]byte, error) {
	env := terraformEnv()
	out, stderr, err := runTerraform(ctx, bin, dir, env, timeout, grace, "state", "pull")
	if err != nil && ctx.Err() == nil && !isTimeout(err) {
		if _, statErr := os.Stat(filepath.Join(dir, ".terraform")); errors.Is(statErr, fs.ErrNotExist) {
			if _, stderr, err := runTerraform(ctx, bin, dir, env, timeout, grace, "init", "-input=false", "-no-color", "-upgrade=false"); err != nil {
				return nil, tfFailure(ctx, dir, "`terraform init` failed (needed before `terraform state pull` for a root that was never initialised; offline it needs the providers in a plugin cache)", err, stderr)
			}
			out, stderr, err = runTerraform(ctx, bin, dir, env, timeout, grace, "state", "pull")
		}
	}
	if err != nil {
		return nil, tfFailure(ctx, dir, "`terraform state pull` failed", err, stderr)
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, nil
	}
	return out, nil
}

// errTerraformTimeout is the cause of a terraform command's timeout.
var errTerraformTimeout = errors.New("terraform did not finish in time")

func isTimeout(err error) bool { return errors.Is(err, errTerraformTimeout) }

// runTerraform runs bin with args in dir, in its own process group, and
// returns its stdout and stderr. When ctx ends or timeout (default
// DefaultTerraformTimeout) passes, the whole group gets SIGTERM, then SIGKILL
// after grace (default 5s), so a wrapper script that ignores SIGTERM, and
// whatever it started, cannot keep the console waiting. terraform-exec is not
// used here: it interrupts only the terraform process and then waits for its
// output pipes, which a surviving child keeps open forever.
func runTerraform(ctx context.Context, bin, dir string, env map[string]string, timeout, grace time.Duration, args ...string) ([]byte, *bytes.Buffer, error) {
	if timeout <= 0 {
		timeout = DefaultTerraformTimeout
	}
	if grace <= 0 {
		grace = 5 * time.Second
	}
	tctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w: `terraform %s` still running after %s", errTerraformTimeout, strings.Join(args, " "), timeout))
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A child that left the group could still hold the pipes: stop waiting
	// for them grace after the process ended.
	cmd.WaitDelay = grace
	env = maps.Clone(env)
	env["TF_IN_AUTOMATION"] = "1"
	env["TF_INPUT"] = "0"
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		return nil, &stderr, err
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return stdout.Bytes(), &stderr, err
	case <-tctx.Done():
	}
	// Wait returns only once every holder of the output pipes is gone, so
	// the group must die, not only terraform.
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	if ctx.Err() != nil {
		return nil, &stderr, ctx.Err()
	}
	return nil, &stderr, context.Cause(tctx)
}

func tfFailure(ctx context.Context, dir, what string, err error, stderr *bytes.Buffer) error {
	if ctx.Err() != nil {
		return loadErr(dir, ctx.Err(), "reading state with terraform was interrupted")
	}
	if isTimeout(err) {
		return loadErr(dir, err, "%s: stopped it (is the backend reachable? are its credentials valid?)", what)
	}
	msg := strings.TrimSpace(stderr.String())
	if msg != "" && !strings.Contains(err.Error(), msg) {
		err = errors.Join(err, errors.New("stderr: "+msg))
	}
	return loadErr(dir, err, "%s (fix what terraform reports below; `terraform state pull` must work in this directory)", what)
}
