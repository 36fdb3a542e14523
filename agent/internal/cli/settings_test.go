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
	if s.LockTimeout != 5*time.Minute || s.StepTimeout != 30*time.Minute || s.DeployBranches != nil || s.ProjectSecrets != nil {
		t.Errorf("defaults: lock %v, step %v, branches %v, secrets %v", s.LockTimeout, s.StepTimeout, s.DeployBranches, s.ProjectSecrets)
	}
	_, err = readSettings(env(map[string]string{
		"GITOPS_LOCK_TIMEOUT": "soon", "GITOPS_STEP_TIMEOUT": "0s", "GITOPS_WEBHOOK_SECRETS": "g/a=,nonsense",
	}), serving)
	for _, want := range []string{
		"GITLAB_TOKEN is required", "GITLAB_WEBHOOK_SECRET is required", `GITOPS_LOCK_TIMEOUT "soon"`,
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
