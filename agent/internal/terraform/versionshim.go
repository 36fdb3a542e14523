package terraform

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// execEnv names the variable through which the version shim learns what to run: the binary itself, or
// the sandbox run's command for it. The shim removes it before terraform starts.
const execEnv = "GITOPS_TERRAFORM_EXEC"

// maxVersionJSON bounds what `version -json` may print; the real output is a few hundred bytes.
const maxVersionJSON = 64 << 10

// versionShim is the executable every tfexec instance runs. terraform-exec asks the binary for its
// version (`version -json`) once per instance before its first command, and an instance is bound to one
// work dir, so that question would cost a terraform process per workspace: the shim answers it with
// what the binary printed when the runner first asked, and execs everything else (see execEnv).
type versionShim struct {
	mu   sync.Mutex
	path string // written once the binary has answered; "" until then
}

// shim returns the path of the runner's version shim, asking the binary for its version the first time
// (again after a failure: a cancelled context must not stick).
func (r *Runner) shim(ctx context.Context) (string, error) {
	r.versionShim.mu.Lock()
	defer r.versionShim.mu.Unlock()
	if r.versionShim.path != "" {
		return r.versionShim.path, nil
	}
	out, err := r.versionJSON(ctx)
	if err != nil {
		return "", err
	}
	// Named for the binary and its answer: agents that share a data dir but run other binaries (a rolling
	// upgrade) never answer for each other's.
	sum := sha256.Sum256(append([]byte(r.binary+"\x00"), out...))
	path := filepath.Join(r.dataDir, "terraform-exec-"+hex.EncodeToString(sum[:6])+".sh")
	if err := writeShim(path, out); err != nil {
		return "", fmt.Errorf("terraform: version shim: %w", err)
	}
	r.versionShim.path = path
	return path, nil
}

// versionJSON runs `version -json` with the binary, outside any sandbox (it reads no work dir: it runs
// in an empty one) and checks that it names a version.
func (r *Runner) versionJSON(ctx context.Context) ([]byte, error) {
	env, err := r.environ(nil, true)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(r.dataDir, ".version-")
	if err != nil {
		return nil, fmt.Errorf("terraform version -json: %w", err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, r.binary, "version", "-json")
	cmd.Dir, cmd.Env, cmd.WaitDelay = dir, append(envList(env), "TF_IN_AUTOMATION=1"), r.grace
	stdout, stderr := newCapBuffer(maxVersionJSON), newCapBuffer(maxDiagnostics)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("terraform version -json: %w: %s", err, truncate(strings.TrimSpace(stderr.String()), 300))
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	out := bytes.TrimSpace(stdout.buf.Bytes())
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		return nil, fmt.Errorf("terraform version -json: no terraform_version in its output %s", truncate(string(out), 100))
	}
	return out, nil
}

// writeShim writes the shim at path (mode 0700, through a temporary name so that no run ever starts a
// partial file): `version -json` prints versionJSON, anything else execs $GITOPS_TERRAFORM_EXEC.
func writeShim(path string, versionJSON []byte) error {
	script := "#!/bin/sh\n" +
		`if [ "$#" -eq 2 ] && [ "$1" = version ] && [ "$2" = -json ]; then` + "\n" +
		"\tprintf '%s\\n' " + shellQuote(string(versionJSON)) + "\n\texit 0\nfi\n" +
		`x="$` + execEnv + `"` + "\nunset " + execEnv + "\n" +
		`[ -n "$x" ] || { echo "` + execEnv + ` is not set" >&2; exit 127; }` + "\n" +
		`exec "$x" "$@"` + "\n"
	tmp, err := writeTempExecutable(filepath.Dir(path), "."+filepath.Base(path)+"-*", script)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil && tmp != "" {
		_ = os.Remove(tmp)
	}
	return err
}

// writeTempExecutable writes script to a new file of mode 0700 in dir (os.CreateTemp's pattern) and
// returns its name, also when writing fails after creating it. The descriptor is open only while
// syscall.ForkLock is held for reading: a child another goroutine forked meanwhile would hold it open
// for writing until that child execs, and starting the file would fail with "text file busy"
// (ETXTBSY, golang/go#22315).
func writeTempExecutable(dir, pattern, script string) (string, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, werr := f.WriteString(script)
	return f.Name(), errors.Join(werr, f.Chmod(0o700), f.Close())
}

// shellQuote makes s one word for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
