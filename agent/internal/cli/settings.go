package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/awsrole"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/sandbox"
)

// settings is the agent's environment, read and checked in one place for every command.
type settings struct {
	GitLabURL      string
	GitLabToken    string
	WebhookSecret  string
	ProjectSecrets map[string]string // GITOPS_WEBHOOK_SECRETS: webhook secrets of their own, by project path
	Listen         string
	AdminListen    string // metrics and the API: operators only
	DataDir        string
	DatabaseURL    string
	TFBinary       string
	Projects       []string
	PollInterval   time.Duration
	SpoolDir       string // GITOPS_SPOOL_DIR: where webhooks wait while the queue's database does not answer
	SpoolMaxBytes  int64  // GITOPS_SPOOL_MAX_BYTES: the spool's bound on disk
	MaxParallel    int
	PolicyDirs     []string // GITOPS_POLICY_DIR, a path list
	AWSExternalID  string
	STSEndpoint    string
	// LambdaEndpoint and CloudWatchEndpoint are AWS_ENDPOINT_URL_LAMBDA and AWS_ENDPOINT_URL_CLOUDWATCH:
	// where releases reach Lambda and CloudWatch (VPC endpoints, tests); empty: the regional endpoints.
	LambdaEndpoint, CloudWatchEndpoint string
	LogLevel                           zerolog.Level
	ShutdownPeriod                     time.Duration
	ReplicaID                          string        // GITOPS_REPLICA_ID; default the host name and a suffix unique to the process
	RescueAfter                        time.Duration // GITOPS_RESCUE_AFTER: how long a job may run before River takes it for hung
	DeadAfter                          time.Duration // GITOPS_DEAD_AFTER: how long a replica may go without a heartbeat
	DeployBranches                     []string      // branches whose merges are promoted; empty: the project's default branch
	AllowedRoles                       awsrole.Allowlist
	LockTimeout                        time.Duration // how long a promotion's terraform waits for the state lock
	GitLabMaxInFlight                  int           // GITOPS_GITLAB_MAX_IN_FLIGHT: requests in flight towards GitLab; 0: no bound
	GitLabTimeout                      time.Duration // GITOPS_GITLAB_TIMEOUT: how long a GitLab request waits for its answer to start
	StepTimeout                        time.Duration // deadline of one terraform step
	AlarmPoll                          time.Duration // GITOPS_ALARM_POLL: how often a release reads its alarms during a bake
	DriftInterval                      time.Duration // GITOPS_DRIFT_INTERVAL: how often every project is checked for drift; 0: never
	// ProviderMirror is GITOPS_PROVIDER_MIRROR: the https URL of the provider network mirror terraform
	// installs every provider from; empty means from each provider's registry.
	ProviderMirror string
	// Sandbox is GITOPS_SANDBOX (auto, namespaces, uid or off); SandboxDir is GITOPS_SANDBOX_DIR, where runs
	// keep their files (default: the data dir's path + ".sandbox"); SandboxWritable is
	// GITOPS_SANDBOX_WRITABLE, a path list bound read-write into every run.
	Sandbox         string
	SandboxDir      string
	SandboxWritable []string
	// Secrets is the agent's own secret set: no note or status shows any of its values.
	Secrets *secretSet
}

// scope is what a command needs of the environment.
type scope int

const (
	// serving needs everything, GitLab's token and webhook secret included.
	serving scope = iota
	// local commands (plan, policy, status) work without GitLab.
	local
)

// readSettings reads the contract's variables, applying their defaults. Every problem is reported at
// once. TF_BINARY is kept as given: the terraform runner resolves it (terraform, else tofu, on PATH).
func readSettings(getenv func(string) string, sc scope) (settings, error) {
	var errs []error
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	s := settings{
		GitLabURL:          strings.TrimRight(get("GITLAB_URL", "https://gitlab.com"), "/"),
		Listen:             get("GITOPS_LISTEN", ":8080"),
		AdminListen:        get("GITOPS_ADMIN_LISTEN", "127.0.0.1:9090"),
		DataDir:            get("GITOPS_DATA_DIR", "./.gitops-data"),
		TFBinary:           get("TF_BINARY", ""),
		AWSExternalID:      get("GITOPS_AWS_EXTERNAL_ID", ""),
		STSEndpoint:        get("AWS_ENDPOINT_URL_STS", ""),
		LambdaEndpoint:     get("AWS_ENDPOINT_URL_LAMBDA", ""),
		CloudWatchEndpoint: get("AWS_ENDPOINT_URL_CLOUDWATCH", ""),
		ProviderMirror:     get("GITOPS_PROVIDER_MIRROR", ""),
	}
	var err error
	for _, v := range []struct {
		name string
		to   *string
	}{{"GITLAB_TOKEN", &s.GitLabToken}, {"GITLAB_WEBHOOK_SECRET", &s.WebhookSecret}, {"DATABASE_URL", &s.DatabaseURL}} {
		if *v.to, err = secretVar(getenv, v.name); err != nil {
			errs = append(errs, err)
		}
	}
	s.DatabaseURL = strings.TrimSpace(s.DatabaseURL)
	if list, err := secretVar(getenv, "GITOPS_WEBHOOK_SECRETS"); err != nil {
		errs = append(errs, err)
	} else if s.ProjectSecrets, err = projectSecrets(list); err != nil {
		errs = append(errs, err)
	}
	for _, d := range filepath.SplitList(getenv("GITOPS_POLICY_DIR")) {
		if d = strings.TrimSpace(d); d != "" {
			s.PolicyDirs = append(s.PolicyDirs, d)
		}
	}
	if s.GitLabToken == "" && sc == serving {
		errs = append(errs, errors.New("GITLAB_TOKEN is required (a token with api scope)"))
	}
	if s.WebhookSecret == "" && sc == serving {
		errs = append(errs, errors.New("GITLAB_WEBHOOK_SECRET is required: the agent will not accept unauthenticated webhooks"))
	}
	if !strings.HasPrefix(s.GitLabURL, "https://") && !strings.HasPrefix(s.GitLabURL, "http://") {
		errs = append(errs, fmt.Errorf("GITLAB_URL %q must start with https:// or http://", s.GitLabURL))
	}
	if s.DatabaseURL != "" && !strings.HasPrefix(s.DatabaseURL, "postgres://") && !strings.HasPrefix(s.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("DATABASE_URL must be a postgres:// URL"))
	}
	if s.Sandbox, err = sandbox.ParseMode(getenv("GITOPS_SANDBOX")); err != nil {
		errs = append(errs, err)
	}
	s.SandboxDir = get("GITOPS_SANDBOX_DIR", filepath.Clean(s.DataDir)+".sandbox")
	for _, d := range filepath.SplitList(getenv("GITOPS_SANDBOX_WRITABLE")) {
		if d = strings.TrimSpace(d); d != "" {
			if !filepath.IsAbs(d) {
				errs = append(errs, fmt.Errorf("GITOPS_SANDBOX_WRITABLE: %q is not an absolute path", d))
			}
			s.SandboxWritable = append(s.SandboxWritable, d)
		}
	}
	s.Projects = commaList(getenv("GITOPS_PROJECTS"))
	s.DeployBranches = commaList(getenv("GITOPS_DEPLOY_BRANCHES"))
	if s.AllowedRoles, err = awsrole.ParseAllowlist(getenv("GITOPS_ALLOWED_ROLES")); err != nil {
		errs = append(errs, err)
	}
	if s.PollInterval, err = time.ParseDuration(get("GITOPS_POLL_INTERVAL", "60s")); err != nil || s.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("GITOPS_POLL_INTERVAL %q is not a duration like 60s (0 disables polling)", getenv("GITOPS_POLL_INTERVAL")))
	}
	s.SpoolDir = get("GITOPS_SPOOL_DIR", filepath.Join(s.DataDir, "spool"))
	if s.SpoolMaxBytes, err = parseSize(get("GITOPS_SPOOL_MAX_BYTES", "256MiB")); err != nil || s.SpoolMaxBytes < minSpool {
		errs = append(errs, fmt.Errorf("GITOPS_SPOOL_MAX_BYTES %q is not a size of at least 16MiB like 256MiB or 1GiB", getenv("GITOPS_SPOOL_MAX_BYTES")))
	}
	if s.DriftInterval, err = time.ParseDuration(get("GITOPS_DRIFT_INTERVAL", "6h")); err != nil || (s.DriftInterval != 0 && s.DriftInterval < time.Second) {
		errs = append(errs, fmt.Errorf("GITOPS_DRIFT_INTERVAL %q is not a duration of at least 1s like 6h (0 disables drift checks)", getenv("GITOPS_DRIFT_INTERVAL")))
	}
	if s.MaxParallel, err = strconv.Atoi(get("GITOPS_MAX_PARALLEL", strconv.Itoa(runtime.NumCPU()))); err != nil || s.MaxParallel < 1 {
		errs = append(errs, fmt.Errorf("GITOPS_MAX_PARALLEL %q must be a whole number of at least 1", getenv("GITOPS_MAX_PARALLEL")))
	}
	if s.LogLevel, err = zerolog.ParseLevel(strings.ToLower(get("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL %q is not a level (debug, info, warn, error)", getenv("LOG_LEVEL")))
	}
	if s.RescueAfter, err = time.ParseDuration(get("GITOPS_RESCUE_AFTER", "2h15m")); err != nil || s.RescueAfter < time.Minute {
		errs = append(errs, fmt.Errorf("GITOPS_RESCUE_AFTER %q is not a duration of at least 1m", getenv("GITOPS_RESCUE_AFTER")))
	}
	if s.DeadAfter, err = time.ParseDuration(get("GITOPS_DEAD_AFTER", "1m")); err != nil || s.DeadAfter < 5*time.Second {
		errs = append(errs, fmt.Errorf("GITOPS_DEAD_AFTER %q is not a duration of at least 5s like 1m", getenv("GITOPS_DEAD_AFTER")))
	} else if s.RescueAfter > 0 && s.DeadAfter >= s.RescueAfter {
		errs = append(errs, fmt.Errorf("GITOPS_DEAD_AFTER %v must be shorter than GITOPS_RESCUE_AFTER %v", s.DeadAfter, s.RescueAfter))
	}
	s.ReplicaID = get("GITOPS_REPLICA_ID", "")
	if s.ReplicaID == "" {
		s.ReplicaID = defaultReplicaID()
	}
	if len(s.ReplicaID) > 100 {
		errs = append(errs, errors.New("GITOPS_REPLICA_ID must be at most 100 characters"))
	}
	if s.LockTimeout, err = time.ParseDuration(get("GITOPS_LOCK_TIMEOUT", "5m")); err != nil || s.LockTimeout < 0 {
		errs = append(errs, fmt.Errorf("GITOPS_LOCK_TIMEOUT %q is not a duration like 5m", getenv("GITOPS_LOCK_TIMEOUT")))
	}
	if s.GitLabMaxInFlight, err = strconv.Atoi(get("GITOPS_GITLAB_MAX_IN_FLIGHT", "8")); err != nil || s.GitLabMaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("GITOPS_GITLAB_MAX_IN_FLIGHT %q is not a whole number of at least 0", getenv("GITOPS_GITLAB_MAX_IN_FLIGHT")))
	}
	if s.GitLabTimeout, err = time.ParseDuration(get("GITOPS_GITLAB_TIMEOUT", "30s")); err != nil || s.GitLabTimeout < time.Second {
		errs = append(errs, fmt.Errorf("GITOPS_GITLAB_TIMEOUT %q is not a duration of at least 1s like 30s", getenv("GITOPS_GITLAB_TIMEOUT")))
	}
	if s.StepTimeout, err = time.ParseDuration(get("GITOPS_STEP_TIMEOUT", "30m")); err != nil || s.StepTimeout < time.Second {
		errs = append(errs, fmt.Errorf("GITOPS_STEP_TIMEOUT %q is not a duration of at least 1s like 30m", getenv("GITOPS_STEP_TIMEOUT")))
	}
	if s.AlarmPoll, err = time.ParseDuration(get("GITOPS_ALARM_POLL", "30s")); err != nil || s.AlarmPoll < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("GITOPS_ALARM_POLL %q is not a duration of at least 10ms like 30s", getenv("GITOPS_ALARM_POLL")))
	}
	if s.ShutdownPeriod, err = time.ParseDuration(get("GITOPS_SHUTDOWN_TIMEOUT", "30s")); err != nil || s.ShutdownPeriod < 0 {
		errs = append(errs, fmt.Errorf("GITOPS_SHUTDOWN_TIMEOUT %q is not a duration like 30s", getenv("GITOPS_SHUTDOWN_TIMEOUT")))
	}
	errs = append(errs, checkAddr("GITOPS_LISTEN", s.Listen), checkAddr("GITOPS_ADMIN_LISTEN", s.AdminListen))
	errs = append(errs, checkEndpoint("AWS_ENDPOINT_URL_STS", s.STSEndpoint), checkEndpoint("AWS_ENDPOINT_URL", get("AWS_ENDPOINT_URL", "")),
		checkEndpoint("AWS_ENDPOINT_URL_LAMBDA", s.LambdaEndpoint), checkEndpoint("AWS_ENDPOINT_URL_CLOUDWATCH", s.CloudWatchEndpoint))
	errs = append(errs, checkMirror(s.ProviderMirror))
	for _, d := range s.PolicyDirs {
		errs = append(errs, checkPolicyDir(d))
	}
	s.Secrets = newSecretSet(s, getenv)
	return s, errors.Join(errs...)
}

// defaultReplicaID is the host name and a random suffix unique to this process, e.g. agent-7d9f-3f9a1c2b:
// a replaced or restarted replica is a new replica, and the jobs of the one that died are resumed by
// heartbeat (GITOPS_DEAD_AFTER), not by the same name coming back.
func defaultReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "agent"
	}
	if len(host) > 90 {
		host = host[:90]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// checkMirror checks GITOPS_PROVIDER_MIRROR: empty, or an https URL with a host and no user info, query
// or fragment (Terraform requires https of a network mirror; credentials belong in a credentials block,
// not in the CLI configuration every plan can read).
func checkMirror(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("GITOPS_PROVIDER_MIRROR %q is not an https URL without credentials like https://mirror.example.com/providers/", v)
	}
	return nil
}

// makeDataDir creates the data dir with mode 0700, or narrows an existing one to 0700: it holds the
// embedded database, source trees, plugin caches and the work dirs of running plans, none of them for
// other users of the host.
func makeDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// Agents before this one kept merge request plans, sensitive values and all, for 14 days in plans/;
	// nothing reads them any more.
	if err := os.RemoveAll(filepath.Join(dir, "plans")); err != nil {
		return fmt.Errorf("data dir: remove old saved plans: %w", err)
	}
	return nil
}

// checkAddr checks that addr, the value of the variable name, is a listen address: host:port or :port,
// the port a number.
func checkAddr(name, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q is not host:port (e.g. :8080 or 127.0.0.1:9090)", name, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s %q: port %q is not a number from 0 to 65535", name, addr, port)
	}
	return nil
}

// checkEndpoint checks that v, the value of the variable name, is empty or an absolute http(s) URL.
func checkEndpoint(name, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute http(s) URL like https://sts.eu-west-1.amazonaws.com", name, v)
	}
	return nil
}

// checkPolicyDir checks that d, an entry of GITOPS_POLICY_DIR, is a directory holding at least one .rego
// file, in it or below it.
func checkPolicyDir(d string) error {
	fi, err := os.Stat(d)
	switch {
	case err != nil:
		return fmt.Errorf("GITOPS_POLICY_DIR entry %q: %w", d, err)
	case !fi.IsDir():
		return fmt.Errorf("GITOPS_POLICY_DIR entry %q is not a directory", d)
	}
	found := false
	err = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".rego") {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("GITOPS_POLICY_DIR entry %q: %w", d, err)
	case !found:
		return fmt.Errorf("GITOPS_POLICY_DIR entry %q holds no .rego file", d)
	}
	return nil
}

// commaList splits a comma-separated list, dropping blanks.
func commaList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// minSpool is the smallest spool: room for a few of the largest deliveries (5 MiB each).
const minSpool = 16 << 20

// parseSize reads a size in bytes: a whole number, optionally followed by KiB, MiB or GiB.
func parseSize(v string) (int64, error) {
	mult := int64(1)
	for unit, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(v, unit); ok {
			v, mult = strings.TrimSpace(n), m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a size", v)
	}
	return n * mult, nil
}
