// Package terraform runs a Terraform-compatible binary (terraform or tofu) for the pipeline. It is an adapter
// over github.com/hashicorp/terraform-exec; no other package imports tfexec.
//
// Runner.Open initialises a work dir and selects its workspace once, and returns a Workspace that plans to
// a saved file (with the plan's JSON and text) and applies a saved plan. Each Workspace has its own tfexec
// instance, so terraform-exec's version check runs at most once per work dir: one Open and Plan start
// terraform four times (version -json, init, plan, show -json), one more Apply five.
//
// The subprocess environment is built from a short list of inherited variables (see Runner.environ), and
// cancelling the context interrupts terraform with SIGINT so that it can release its state lock, killing it
// only after Options.CancelGrace.
package terraform

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/rs/zerolog"
)

// DefaultCancelGrace is how long terraform gets after an interrupt when Options.CancelGrace is zero.
const DefaultCancelGrace = 30 * time.Second

// Options configure a Runner.
type Options struct {
	// Binary is the path or name of terraform/tofu. Empty means terraform on PATH, else tofu.
	Binary string
	// DataDir is the agent's data dir. The runner keeps its CLI configuration in DataDir/terraform.tfrc
	// (plugin_cache_dir = DataDir/plugin-cache) and points TF_CLI_CONFIG_FILE at it.
	DataDir string
	// Logger receives one debug line per step; nil means no logging. Environment values are never logged.
	Logger *zerolog.Logger
	// CancelGrace is how long terraform gets after SIGINT, on cancellation, to stop and release its state
	// lock before it is killed; 0 means DefaultCancelGrace.
	CancelGrace time.Duration
	// LockTimeout is how long plan and apply wait for a state lock held by someone else; 0 fails at once.
	LockTimeout time.Duration
}

// Runner runs a Terraform-compatible binary for the pipeline. Safe for concurrent use on different work
// dirs; two Workspaces on the same dir at once are not supported (they would share its .terraform dir).
type Runner struct {
	binary      string // absolute path
	configFile  string
	baseEnv     map[string]string
	log         zerolog.Logger
	grace       time.Duration
	lockTimeout time.Duration
	// initSlot serializes the init process (only that one): Terraform does not support concurrent writes
	// to one plugin cache dir.
	initSlot chan struct{}
}

// inheritedEnv names the variables the subprocess takes from the agent's own environment, when set: what
// a process needs to find programs (PATH) and scratch space (TMPDIR), HOME for tools that keep
// credentials there (git and ssh for private module sources), the locale, and the proxy and CA
// settings without which the registry cannot be reached behind a proxy. Everything else, including
// every TF_* variable and the agent's own AWS credentials, must come through Request.Env.
var inheritedEnv = []string{
	"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
}

// managedEnv names variables a Request may not set, beyond those terraform-exec itself manages
// (tfexec.ProhibitedEnv: TF_LOG*, TF_INPUT, TF_VAR_*, TF_CLI_ARGS*, TF_WORKSPACE, ...).
var managedEnv = []string{"TF_CLI_CONFIG_FILE", "TF_DATA_DIR", "TF_PLUGIN_CACHE_DIR", "CHECKPOINT_DISABLE", "TF_IN_AUTOMATION"}

// NewRunner checks the binary, writes the runner's CLI configuration into opts.DataDir and returns a
// Runner. It does not run the binary.
func NewRunner(opts Options) (*Runner, error) {
	bin, err := findBinary(opts.Binary)
	if err != nil {
		return nil, err
	}
	if opts.DataDir == "" {
		return nil, errors.New("terraform runner: DataDir is required")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("terraform runner: data dir: %w", err)
	}
	if strings.Contains(dataDir, "$") {
		// Terraform expands environment variables in plugin_cache_dir, and "$" cannot be escaped there.
		return nil, fmt.Errorf("terraform runner: data dir %q contains '$'", dataDir)
	}
	configFile, err := writeCLIConfig(dataDir)
	if err != nil {
		return nil, fmt.Errorf("terraform runner: %w", err)
	}
	r := &Runner{
		binary:      bin,
		configFile:  configFile,
		log:         zerolog.Nop(),
		grace:       opts.CancelGrace,
		lockTimeout: opts.LockTimeout,
		initSlot:    make(chan struct{}, 1),
	}
	if opts.Logger != nil {
		r.log = opts.Logger.With().Str("component", "terraform").Logger()
	}
	if r.grace <= 0 {
		r.grace = DefaultCancelGrace
	}
	r.baseEnv = map[string]string{
		"TF_CLI_CONFIG_FILE": configFile,
		"CHECKPOINT_DISABLE": "1",
	}
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			r.baseEnv[k] = v
		}
	}
	return r, nil
}

// findBinary resolves name to an absolute executable path (tfexec runs it from the work dir, so a
// relative path would not do). An empty name means terraform, else tofu, on PATH. It is the agent's one
// resolver of the binary.
func findBinary(name string) (string, error) {
	if name != "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("terraform binary %q is not an executable (TF_BINARY)", name)
		}
		return filepath.Abs(p)
	}
	for _, c := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(c); err == nil {
			return filepath.Abs(p)
		}
	}
	return "", errors.New("no terraform or tofu on PATH: install one or set TF_BINARY (`make tofu` builds OpenTofu)")
}

// Binary is the absolute path of the binary the runner runs.
func (r *Runner) Binary() string { return r.binary }

// writeCLIConfig writes the runner's CLI configuration file into dataDir and creates the plugin cache
// it names. The file is JSON (Terraform and OpenTofu read CLI configuration as HCL or JSON), written to a
// temporary name and renamed so that concurrent runners never read a partial file.
func writeCLIConfig(dataDir string) (string, error) {
	cacheDir := filepath.Join(dataDir, "plugin-cache")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create plugin cache: %w", err)
	}
	body, err := json.Marshal(map[string]any{
		"plugin_cache_dir":   cacheDir,
		"disable_checkpoint": true,
	})
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dataDir, ".terraform.tfrc-*")
	if err != nil {
		return "", fmt.Errorf("write CLI config: %w", err)
	}
	_, werr := f.Write(append(body, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write CLI config: %w", err)
	}
	path := filepath.Join(dataDir, "terraform.tfrc")
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write CLI config: %w", err)
	}
	return path, nil
}

// environ is the subprocess environment for one request: the inherited variables (inheritedEnv),
// TF_CLI_CONFIG_FILE and CHECKPOINT_DISABLE=1, then extra. terraform-exec adds TF_IN_AUTOMATION=1 and
// empties TF_LOG, TF_LOG_CORE, TF_LOG_PATH and TF_LOG_PROVIDER itself; it passes -input=false to every
// command that could prompt (it does not let TF_INPUT be set), and appends the agent's own
// TF_APPEND_USER_AGENT, if set, to the user agent it sends.
func (r *Runner) environ(extra map[string]string) (map[string]string, error) {
	if err := checkEnv(extra); err != nil {
		return nil, err
	}
	env := maps.Clone(r.baseEnv)
	maps.Copy(env, extra)
	return env, nil
}

// checkEnv rejects request variables that are malformed or that the runner or terraform-exec manage.
// Errors name the variable, never its value.
func checkEnv(env map[string]string) error {
	var bad []string
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return fmt.Errorf("request env: malformed variable %q", k)
		}
		if slices.Contains(managedEnv, k) {
			bad = append(bad, k)
		}
	}
	bad = append(bad, tfexec.ProhibitedEnv(env)...)
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("request env: %s managed by the runner (input variables go in var files)", strings.Join(slices.Compact(bad), ", "))
	}
	return nil
}

// versionLine matches the first line of `terraform version` and `tofu version`.
var versionLine = regexp.MustCompile(`^(Terraform|OpenTofu) v([0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*)`)

// Version returns the binary's product and version, e.g. "terraform 1.11.4" or "tofu 1.10.6".
//
// It reads the first line of `version`: terraform-exec's Version reports the number only, and both
// products print the same terraform_version key in `version -json`.
func (r *Runner) Version(ctx context.Context) (string, error) {
	env, err := r.environ(nil)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, r.binary, "version")
	cmd.Env = envList(env)
	cmd.Env = append(cmd.Env, "TF_IN_AUTOMATION=1")
	cmd.WaitDelay = r.grace
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("terraform version: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("terraform version: %w", err)
	}
	line, readErr := bufio.NewReader(io.LimitReader(stdout, 4096)).ReadString('\n')
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("terraform version: %w", err)
	}
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return "", fmt.Errorf("terraform version: %w", readErr)
	}
	return parseVersion(line)
}

// parseVersion turns the first line of `version` output into "terraform X.Y.Z" or "tofu X.Y.Z".
func parseVersion(line string) (string, error) {
	m := versionLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "", fmt.Errorf("terraform version: unrecognised output %s", truncate(strconv.Quote(line), 100))
	}
	product := "terraform"
	if m[1] == "OpenTofu" {
		product = "tofu"
	}
	return product + " " + m[2], nil
}

func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	slices.Sort(list)
	return list
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
