package inventory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

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
// state yet.
func pullState(ctx context.Context, bin, dir string) ([]byte, error) {
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		return nil, loadErr(dir, err, "cannot run terraform %s", bin)
	}
	if err := tf.SetEnv(terraformEnv()); err != nil {
		return nil, loadErr(dir, err, "cannot set terraform's environment")
	}
	var stderr bytes.Buffer
	tf.SetStderr(&stderr)

	out, err := tf.StatePull(ctx)
	if err != nil && ctx.Err() == nil {
		if _, statErr := os.Stat(filepath.Join(dir, ".terraform")); errors.Is(statErr, fs.ErrNotExist) {
			stderr.Reset()
			if initErr := tf.Init(ctx, tfexec.Upgrade(false)); initErr != nil {
				return nil, tfFailure(ctx, dir, "`terraform init` failed (needed before `terraform state pull` for a root that was never initialised; offline it needs the providers in a plugin cache)", initErr, &stderr)
			}
			stderr.Reset()
			out, err = tf.StatePull(ctx)
		}
	}
	if err != nil {
		return nil, tfFailure(ctx, dir, "`terraform state pull` failed", err, &stderr)
	}
	if strings.TrimSpace(out) == "" {
		return nil, nil
	}
	return []byte(out), nil
}

func tfFailure(ctx context.Context, dir, what string, err error, stderr *bytes.Buffer) error {
	if ctx.Err() != nil {
		return loadErr(dir, ctx.Err(), "reading state with terraform was interrupted")
	}
	msg := strings.TrimSpace(stderr.String())
	if msg != "" && !strings.Contains(err.Error(), msg) {
		err = errors.Join(err, errors.New("stderr: "+msg))
	}
	return loadErr(dir, err, "%s (fix what terraform reports below; `terraform state pull` must work in this directory)", what)
}
