// Package terraform runs a Terraform-compatible binary (terraform or tofu) for the pipeline. It is an adapter
// over github.com/hashicorp/terraform-exec; no other package imports tfexec.
//
// Runner.Open initialises a work dir and selects its workspace once, and returns a Workspace that plans to
// a saved file (with the plan's JSON and text) and applies a saved plan. Each Workspace has its own tfexec
// instance; terraform-exec's version check (`version -json`, once per instance) is answered by the
// runner's version shim from the binary's one answer (see versionShim): one Open and Plan start terraform
// three times (init, plan, show -json), one more Apply four.
//
// The subprocess environment is built from a short list of inherited variables (see Runner.environ), and
// cancelling the context interrupts terraform with SIGINT so that it can release its state lock, killing it
// only after Options.CancelGrace.
package terraform

import (
	"bufio"
	"context"
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
	"golang.org/x/sync/semaphore"
)

// DefaultCancelGrace is how long terraform gets after an interrupt when Options.CancelGrace is zero.
const DefaultCancelGrace = 30 * time.Second

// Options configure a Runner.
type Options struct {
	// Binary is the path or name of terraform/tofu. Empty means terraform on PATH, else tofu.
	Binary string
	// DataDir is the agent's data dir. The runner keeps two provider installations in it, each a CLI
	// configuration and the plugin cache it names (see Runner.CLIConfig and Runner.PluginCache): one for
	// read-only requests (merge request plans), one for the others (promotions). TF_CLI_CONFIG_FILE points
	// at the request's. Every dir the runner creates in DataDir has mode 0700.
	DataDir string
	// ProviderMirror, when set, is the https URL of a provider network mirror (Terraform's provider network
	// mirror protocol): every provider is installed from it and from nowhere else. Empty means every
	// provider comes from its origin registry. Either way, local mirrors (terraform.d/plugins in the work
	// dir, ~/.terraform.d/plugins, ...) are never used.
	ProviderMirror string
	// Logger receives one debug line per step; nil means no logging. Environment values are never logged.
	Logger *zerolog.Logger
	// CancelGrace is how long terraform gets after SIGINT, on cancellation, to stop and release its state
	// lock before it is killed; 0 means DefaultCancelGrace.
	CancelGrace time.Duration
	// LockTimeout is how long plan and apply wait for a state lock held by someone else; 0 fails at once.
	LockTimeout time.Duration
	// Sandbox, when set, seals off every process of a workspace (see Sandbox). Its runs see the CLI
	// configurations and plugin caches, so these are readable by others (the data dir above them is not).
	Sandbox Sandbox
	// CacheDir is where the CLI configurations and plugin caches are kept; empty means DataDir. A sandbox
	// whose runs reach files by host path (uid mode) needs one outside the 0700 data dir.
	CacheDir string
}

// Runner runs a Terraform-compatible binary for the pipeline. Safe for concurrent use on different work
// dirs; two Workspaces on the same dir at once are not supported (they would share its .terraform dir).
type Runner struct {
	binary      string       // absolute path
	review      installation // read-only requests: merge request plans
	deploy      installation // the others: promotion plans and applies of merged code
	baseEnv     map[string]string
	log         zerolog.Logger
	grace       time.Duration
	lockTimeout time.Duration
	sandbox     Sandbox
	dataDir     string // absolute
	versionShim versionShim
	// hidden are the agent's dirs that diagnostics must not show, with what stands for them.
	hidden map[string]string
}

// installation is where one kind of request gets its providers: a plugin cache and the CLI configuration
// that names it. Merge request plans and promotions never share one, so that a provider binary a merge
// request's init puts in a cache is never run by an apply.
type installation struct {
	config string // the CLI configuration file, TF_CLI_CONFIG_FILE
	cache  string // the plugin cache dir
	// gate orders the init processes (only those) of the requests that use this cache (see newInitGate).
	// There is one gate per cache, not one for the runner: the caches are separate dirs, and a merge
	// request that holds its init for as long as its step may (a provider from a slow registry of its
	// choosing) must not make a promotion's init wait.
	gate *semaphore.Weighted
}

// installation is the provider installation of a read-only request (readOnly) or of another one.
func (r *Runner) installation(readOnly bool) *installation {
	if readOnly {
		return &r.review
	}
	return &r.deploy
}

// CLIConfig is the absolute path of the CLI configuration file terraform runs with for a read-only
// request (readOnly: merge request plans) or for another one (promotions). The runner writes both files
// in NewRunner and never changes them afterwards.
func (r *Runner) CLIConfig(readOnly bool) string { return r.installation(readOnly).config }

// PluginCache is the absolute path of the plugin cache dir (mode 0700) of a read-only request (readOnly)
// or of another one. Terraform writes provider binaries into it during init and runs them from there.
func (r *Runner) PluginCache(readOnly bool) string { return r.installation(readOnly).cache }

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
var managedEnv = []string{"TF_CLI_CONFIG_FILE", "TF_DATA_DIR", "TF_PLUGIN_CACHE_DIR", "CHECKPOINT_DISABLE", "TF_IN_AUTOMATION", execEnv}

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
	cacheRoot := dataDir
	if opts.CacheDir != "" {
		if cacheRoot, err = filepath.Abs(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("terraform runner: cache dir: %w", err)
		}
		if strings.Contains(cacheRoot, "$") {
			return nil, fmt.Errorf("terraform runner: cache dir %q contains '$'", cacheRoot)
		}
		if err := os.MkdirAll(cacheRoot, 0o700); err != nil {
			return nil, fmt.Errorf("terraform runner: cache dir: %w", err)
		}
	}
	r := &Runner{
		binary: bin, log: zerolog.Nop(), grace: opts.CancelGrace, lockTimeout: opts.LockTimeout, sandbox: opts.Sandbox,
		dataDir: dataDir,
		hidden:  map[string]string{cacheRoot: "<cache>", dataDir: "<data>"},
	}
	for name, in := range map[string]*installation{"review": &r.review, "deploy": &r.deploy} {
		in.cache = filepath.Join(cacheRoot, "plugin-cache", name)
		in.config = filepath.Join(cacheRoot, "terraform-"+name+".tfrc")
		in.gate = newInitGate()
		if err := writeCLIConfig(cacheRoot, in.config, in.cache, opts.ProviderMirror); err != nil {
			return nil, fmt.Errorf("terraform runner: %w", err)
		}
		if opts.Sandbox != nil {
			if err := shareInstallation(in, cacheRoot != dataDir); err != nil {
				return nil, fmt.Errorf("terraform runner: %w", err)
			}
		}
	}
	if opts.Logger != nil {
		r.log = opts.Logger.With().Str("component", "terraform").Logger()
	}
	if r.grace <= 0 {
		r.grace = DefaultCancelGrace
	}
	r.baseEnv = map[string]string{"CHECKPOINT_DISABLE": "1"}
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			r.baseEnv[k] = v
		}
	}
	return r, nil
}

// shareInstallation lets sandboxed runs, which have uids of their own, read an installation: the CLI
// configuration and the plugin cache become readable by all (only the agent writes them; a run's init
// borrows the cache, see Workspace.init). Their parent dirs let others through, not list, when the runs
// reach them by host path (byPath: a cache dir outside the data dir, for uid mode); else the 0700 data
// dir above keeps them from everyone on the host but the namespaced runs they are bound into.
func shareInstallation(in *installation, byPath bool) error {
	modes := map[string]os.FileMode{in.config: 0o644, in.cache: 0o755}
	if byPath {
		modes[filepath.Dir(in.cache)] = 0o711
		modes[filepath.Dir(filepath.Dir(in.cache))] = 0o711
	}
	for path, mode := range modes {
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("share the provider installation: %w", err)
		}
	}
	return nil
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

// WorkRoot is where work dirs must be made for the runner's sandbox to reach them; "" means anywhere.
func (r *Runner) WorkRoot() string {
	if r.sandbox == nil {
		return ""
	}
	return r.sandbox.WorkRoot()
}

// Binary is the absolute path of the binary the runner runs.
func (r *Runner) Binary() string { return r.binary }

// writeCLIConfig creates the plugin cache dir cache (mode 0700, as is every dir it creates on the way,
// dataDir included) and writes the CLI configuration file path that names it. The file is HCL, written
// to a temporary name in dataDir and renamed, so that concurrent runners never read a partial file.
//
// The configuration has an explicit provider_installation with one method, direct (every provider from
// its origin registry) or network_mirror (every provider from mirror): with an explicit
// provider_installation, Terraform and OpenTofu use none of the implied local mirrors, such as
// terraform.d/plugins in the work dir, where a merge request could ship a provider binary of its own.
func writeCLIConfig(dataDir, path, cache, mirror string) error {
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return fmt.Errorf("create plugin cache: %w", err)
	}
	// MkdirAll leaves existing dirs alone: a cache from an older agent may be wider.
	for _, d := range []string{filepath.Dir(cache), cache} {
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("plugin cache: %w", err)
		}
	}
	f, err := os.CreateTemp(dataDir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write CLI config: %w", err)
	}
	_, werr := io.WriteString(f, cliConfig(cache, mirror))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write CLI config: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write CLI config: %w", err)
	}
	return nil
}

// cliConfig is the text of a CLI configuration with plugin cache cache, installing every provider from
// mirror when it is set, else directly from its origin registry. mirror gets a trailing slash, which
// Terraform requires of a network mirror's URL.
func cliConfig(cache, mirror string) string {
	method := "  direct {}\n"
	if mirror != "" {
		if !strings.HasSuffix(mirror, "/") {
			mirror += "/"
		}
		method = "  network_mirror {\n    url = " + hclString(mirror) + "\n  }\n"
	}
	return "plugin_cache_dir   = " + hclString(cache) + "\n" +
		"disable_checkpoint = true\n\n" +
		"provider_installation {\n" + method + "}\n"
}

// hclString quotes s as an HCL string literal: quotes, backslashes and control characters escaped, and
// the template sequences "${" and "%{" doubled so that they stand for themselves. (Terraform expands
// environment variables in plugin_cache_dir after that, which is why NewRunner refuses a "$" there.)
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, c)
		case (c == '$' || c == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(c)
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// environ is the subprocess environment for one request: the inherited variables (inheritedEnv),
// CHECKPOINT_DISABLE=1 and TF_CLI_CONFIG_FILE (the read-only requests' configuration when readOnly, else
// the others'), then extra. terraform-exec adds TF_IN_AUTOMATION=1 and
// empties TF_LOG, TF_LOG_CORE, TF_LOG_PATH and TF_LOG_PROVIDER itself; it passes -input=false to every
// command that could prompt (it does not let TF_INPUT be set), and appends the agent's own
// TF_APPEND_USER_AGENT, if set, to the user agent it sends.
func (r *Runner) environ(extra map[string]string, readOnly bool) (map[string]string, error) {
	if err := checkEnv(extra); err != nil {
		return nil, err
	}
	env := maps.Clone(r.baseEnv)
	env["TF_CLI_CONFIG_FILE"] = r.CLIConfig(readOnly)
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
	env, err := r.environ(nil, true)
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
