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
