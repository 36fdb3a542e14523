package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func TestReadSettingsDefaultsAndErrors(t *testing.T) {
	s, err := readSettings(env(map[string]string{"GITLAB_TOKEN": "t", "GITLAB_WEBHOOK_SECRET": "w"}), serving)
	if err != nil {
		t.Fatal(err)
	}
	if s.DriftInterval != 6*time.Hour {
		t.Errorf("default drift interval %v, want 6h", s.DriftInterval)
	}
	if s.DeadAfter != time.Minute || s.RescueAfter != 2*time.Hour+15*time.Minute {
		t.Errorf("defaults: dead after %v, rescue after %v; want 1m and 2h15m", s.DeadAfter, s.RescueAfter)
	}
	if s.LockTimeout != 5*time.Minute || s.StepTimeout != 30*time.Minute || s.DeployBranches != nil || s.ProjectSecrets != nil {
		t.Errorf("defaults: lock %v, step %v, branches %v, secrets %v", s.LockTimeout, s.StepTimeout, s.DeployBranches, s.ProjectSecrets)
	}
	if s.GitLabMaxInFlight != 8 || s.GitLabTimeout != 30*time.Second {
		t.Errorf("defaults: gitlab in flight %d, timeout %v; want 8 and 30s", s.GitLabMaxInFlight, s.GitLabTimeout)
	}
	_, err = readSettings(env(map[string]string{
		"GITOPS_LOCK_TIMEOUT": "soon", "GITOPS_STEP_TIMEOUT": "0s", "GITOPS_WEBHOOK_SECRETS": "g/a=,nonsense",
		"GITOPS_GITLAB_MAX_IN_FLIGHT": "-1", "GITOPS_GITLAB_TIMEOUT": "10ms",
	}), serving)
	for _, want := range []string{
		"GITLAB_TOKEN is required", "GITLAB_WEBHOOK_SECRET is required", `GITOPS_LOCK_TIMEOUT "soon"`,
		`GITOPS_GITLAB_MAX_IN_FLIGHT "-1"`, `GITOPS_GITLAB_TIMEOUT "10ms"`,
		`GITOPS_STEP_TIMEOUT "0s"`, `project "g/a" has an empty secret`, "an entry is not project=secret",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if _, err := readSettings(env(nil), local); err != nil {
		t.Errorf("a local command needs no GitLab settings: %v", err)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vars := map[string]string{
		"GITLAB_TOKEN_FILE":           write("token", "glpat-from-file\n"),
		"GITLAB_WEBHOOK_SECRET_FILE":  write("secret", "hook-secret"),
		"GITOPS_WEBHOOK_SECRETS_FILE": write("projects", "g/a=one\ng/b = two\n"),
		"GITOPS_DEPLOY_BRANCHES":      "main, release",
	}
	s, err := readSettings(env(vars), serving)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{s.GitLabToken, s.WebhookSecret, s.ProjectSecrets, s.DeployBranches}
	want := []any{"glpat-from-file", "hook-secret", map[string]string{"g/a": "one", "g/b": "two"}, []string{"main", "release"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}

	vars["GITLAB_TOKEN"] = "glpat-inline"
	_, err = readSettings(env(vars), serving)
	if err == nil || !strings.Contains(err.Error(), "GITLAB_TOKEN and GITLAB_TOKEN_FILE are both set") {
		t.Errorf("both set: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "glpat") {
		t.Errorf("the error quotes a secret: %v", err)
	}
	_, err = readSettings(env(map[string]string{"GITLAB_TOKEN_FILE": filepath.Join(dir, "missing"), "GITLAB_WEBHOOK_SECRET": "w"}), serving)
	if err == nil || !strings.Contains(err.Error(), "GITLAB_TOKEN_FILE") {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadSettingsValidatesEverySetting(t *testing.T) {
	dir := t.TempDir()
	mkdir := func(name string, files ...string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(p, f), []byte("package x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	good := mkdir("good", "s3.rego")
	nested := mkdir("nested")
	mkdir(filepath.Join("nested", "aws"), "iam.rego")
	empty := mkdir("empty", "README.md")
	file := filepath.Join(good, "s3.rego")
	base := map[string]string{"GITLAB_TOKEN": "t", "GITLAB_WEBHOOK_SECRET": "w"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		vars map[string]string
		want []string // "" entries: no error
	}{
		{"defaults", with(), nil},
		{"good values", with("GITOPS_POLICY_DIR", good+string(os.PathListSeparator)+nested, "GITOPS_LISTEN", "0.0.0.0:8080",
			"GITOPS_ADMIN_LISTEN", "[::1]:9090", "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566", "AWS_ENDPOINT_URL", "https://aws.example"), nil},
		{"missing policy dir", with("GITOPS_POLICY_DIR", "nope"), []string{`GITOPS_POLICY_DIR entry "nope"`}},
		{"policy dir without rego", with("GITOPS_POLICY_DIR", empty), []string{"holds no .rego file"}},
		{"policy dir is a file", with("GITOPS_POLICY_DIR", file), []string{"is not a directory"}},
		{"listen without port", with("GITOPS_LISTEN", "abc"), []string{`GITOPS_LISTEN "abc" is not host:port`}},
		{"admin port not a number", with("GITOPS_ADMIN_LISTEN", "localhost:metrics"), []string{`GITOPS_ADMIN_LISTEN "localhost:metrics": port "metrics"`}},
		{"port too large", with("GITOPS_LISTEN", ":70000"), []string{`port "70000" is not a number from 0 to 65535`}},
		{"sts not a URL", with("AWS_ENDPOINT_URL_STS", "notaurl"), []string{`AWS_ENDPOINT_URL_STS "notaurl" is not an absolute http(s) URL`}},
		{"sts wrong scheme", with("AWS_ENDPOINT_URL_STS", "ftp://sts.example"), []string{"AWS_ENDPOINT_URL_STS"}},
		{"endpoint without host", with("AWS_ENDPOINT_URL", "https://"), []string{`AWS_ENDPOINT_URL "https://"`}},
		{"provider mirror", with("GITOPS_PROVIDER_MIRROR", "https://mirror.example.com/providers/"), nil},
		{"provider mirror over http", with("GITOPS_PROVIDER_MIRROR", "http://mirror.example.com/"), []string{`GITOPS_PROVIDER_MIRROR "http://mirror.example.com/" is not an https URL`}},
		{"provider mirror not a URL", with("GITOPS_PROVIDER_MIRROR", "mirror.example.com"), []string{"GITOPS_PROVIDER_MIRROR"}},
		{"provider mirror with credentials", with("GITOPS_PROVIDER_MIRROR", "https://u:p@mirror.example.com/"), []string{"GITOPS_PROVIDER_MIRROR"}},
		{"provider mirror with a query", with("GITOPS_PROVIDER_MIRROR", "https://mirror.example.com/?token=x"), []string{"GITOPS_PROVIDER_MIRROR"}},
		{"drift interval", with("GITOPS_DRIFT_INTERVAL", "30m"), nil},
		{"drift checks off", with("GITOPS_DRIFT_INTERVAL", "0"), nil},
		{"drift interval not a duration", with("GITOPS_DRIFT_INTERVAL", "daily"), []string{`GITOPS_DRIFT_INTERVAL "daily" is not a duration`}},
		{"drift interval negative", with("GITOPS_DRIFT_INTERVAL", "-1h"), []string{`GITOPS_DRIFT_INTERVAL "-1h"`}},
		{"drift interval too short", with("GITOPS_DRIFT_INTERVAL", "10ms"), []string{`GITOPS_DRIFT_INTERVAL "10ms"`}},
		{"dead after", with("GITOPS_DEAD_AFTER", "30s"), nil},
		{"dead after not a duration", with("GITOPS_DEAD_AFTER", "soon"), []string{`GITOPS_DEAD_AFTER "soon" is not a duration of at least 5s`}},
		{"dead after too short", with("GITOPS_DEAD_AFTER", "1s"), []string{`GITOPS_DEAD_AFTER "1s"`}},
		{"dead after not shorter than rescue after", with("GITOPS_DEAD_AFTER", "10m", "GITOPS_RESCUE_AFTER", "10m"),
			[]string{"GITOPS_DEAD_AFTER 10m0s must be shorter than GITOPS_RESCUE_AFTER 10m0s"}},
		{"replica id", with("GITOPS_REPLICA_ID", "agent-0"), nil},
		{"replica id too long", with("GITOPS_REPLICA_ID", strings.Repeat("x", 101)), []string{"GITOPS_REPLICA_ID must be at most 100 characters"}},
		{"all at once", with("GITOPS_POLICY_DIR", "nope", "GITOPS_LISTEN", "abc", "AWS_ENDPOINT_URL_STS", "notaurl"),
			[]string{"GITOPS_POLICY_DIR", "GITOPS_LISTEN", "AWS_ENDPOINT_URL_STS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readSettings(env(tc.vars), serving)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not say %q", err, w)
				}
			}
		})
	}
}

// TestDefaultReplicaIDIsUniqueToTheProcess: without GITOPS_REPLICA_ID, the id is the host name and a
// random suffix, so that a restarted or replaced replica never passes for the one that died.
func TestDefaultReplicaIDIsUniqueToTheProcess(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "agent" // what the default falls back to without a host name
	}
	host = host[:min(len(host), 90)]
	vars := env(map[string]string{"GITLAB_TOKEN": "t", "GITLAB_WEBHOOK_SECRET": "w"})
	ids := map[string]bool{}
	for range 2 {
		s, err := readSettings(vars, serving)
		if err != nil {
			t.Fatal(err)
		}
		suffix, ok := strings.CutPrefix(s.ReplicaID, host+"-")
		if !ok || len(suffix) != 8 || strings.Trim(suffix, "0123456789abcdef") != "" {
			t.Errorf("default replica id %q, want %s-<8 hex digits>", s.ReplicaID, host)
		}
		ids[s.ReplicaID] = true
	}
	if len(ids) != 2 {
		t.Errorf("two reads gave the same replica id %v, want one per process", ids)
	}
	s, err := readSettings(env(map[string]string{"GITLAB_TOKEN": "t", "GITLAB_WEBHOOK_SECRET": "w", "GITOPS_REPLICA_ID": "agent-0"}), serving)
	if err != nil || s.ReplicaID != "agent-0" {
		t.Errorf("explicit replica id: %q, %v; want agent-0", s.ReplicaID, err)
	}
}

// TestMakeDataDir: serve's data dir is 0700 from its first mkdir, an existing wider one is narrowed, and
// the plans an older agent kept are removed.
func TestMakeDataDir(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "a", "data")
	old := t.TempDir()
	plans := filepath.Join(old, "plans", "0123", "abc")
	if err := os.MkdirAll(plans, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plans, "a.dev.tfplan"), []byte("plan"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{fresh, old} {
		if err := makeDataDir(dir); err != nil {
			t.Fatalf("makeDataDir(%s): %v", dir, err)
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v (err %v), want 0700", dir, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Dir(fresh)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s, created on the way: mode %v (err %v), want 0700", filepath.Dir(fresh), fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(old, "plans")); !os.IsNotExist(err) {
		t.Errorf("old saved plans left: %v", err)
	}
}

func TestSpoolSettings(t *testing.T) {
	base := map[string]string{"GITLAB_TOKEN": "t", "GITLAB_WEBHOOK_SECRET": "w", "GITOPS_DATA_DIR": "/var/lib/gitops"}
	for _, tc := range []struct {
		name, dir, size string
		wantDir         string
		wantBytes       int64
		wantErr         string
	}{
		{name: "defaults", wantDir: filepath.Join("/var/lib/gitops", "spool"), wantBytes: 256 << 20},
		{name: "set", dir: "/spool", size: "1GiB", wantDir: "/spool", wantBytes: 1 << 30},
		{name: "bytes", size: "33554432", wantDir: "/var/lib/gitops/spool", wantBytes: 32 << 20},
		{name: "zero", size: "0", wantErr: `GITOPS_SPOOL_MAX_BYTES "0"`},
		{name: "too small", size: "1MiB", wantErr: `GITOPS_SPOOL_MAX_BYTES "1MiB" is not a size of at least 16MiB`},
		{name: "not a size", size: "lots", wantErr: `GITOPS_SPOOL_MAX_BYTES "lots"`},
		{name: "negative", size: "-5MiB", wantErr: `GITOPS_SPOOL_MAX_BYTES "-5MiB"`},
		{name: "unknown unit", size: "20MB", wantErr: `GITOPS_SPOOL_MAX_BYTES "20MB"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"GITOPS_SPOOL_DIR": tc.dir, "GITOPS_SPOOL_MAX_BYTES": tc.size}
			for k, v := range base {
				vars[k] = v
			}
			s, err := readSettings(env(vars), serving)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.SpoolDir != tc.wantDir || s.SpoolMaxBytes != tc.wantBytes {
				t.Errorf("spool = %q, %d; want %q, %d", s.SpoolDir, s.SpoolMaxBytes, tc.wantDir, tc.wantBytes)
			}
		})
	}
}
