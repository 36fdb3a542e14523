package terraform

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// readEnvFile parses the output of env(1).
func readEnvFile(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("read env probe: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

// TestEnvironment runs a stack whose provisioner records the environment Terraform runs with, while the
// agent's own environment carries TF_LOG, TF_DATA_DIR, an input variable, a missing CLI config file and
// an unrelated secret. Only the runner's settings and the request's variables may reach terraform.
func TestEnvironment(t *testing.T) {
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_DATA_DIR", filepath.Join(t.TempDir(), "elsewhere"))
	t.Setenv("TF_VAR_greeting", "inherited")
	t.Setenv("TF_CLI_CONFIG_FILE", filepath.Join(t.TempDir(), "missing.tfrc"))
	t.Setenv("GITOPS_AGENT_SECRET", "must-not-leak")
	r := newRunner(t, Options{})
	dir := stack(t, "probe")
	req := planReq{Request{Dir: dir,
		Env: map[string]string{"GITOPS_PROBE": "from the request", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}}, planFile(t)}
	res := mustPlan(t, r, req)
	out := mustApply(t, r, req.Request, res.PlanFile)

	env := readEnvFile(t, filepath.Join(dir, "env.txt"))
	lookup := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return "<unset>"
	}
	got := map[string]string{}
	want := map[string]string{
		"GITOPS_PROBE":        "from the request",
		"AWS_ACCESS_KEY_ID":   "AKIAEXAMPLE",
		"TF_IN_AUTOMATION":    "1",
		"CHECKPOINT_DISABLE":  "1",
		"TF_CLI_CONFIG_FILE":  r.CLIConfig(false),
		"TF_LOG":              "",
		"TF_DATA_DIR":         "<unset>",
		"TF_VAR_greeting":     "<unset>",
		"GITOPS_AGENT_SECRET": "<unset>",
		"PATH":                os.Getenv("PATH"),
	}
	for k := range want {
		got[k] = lookup(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("terraform's environment (-want +got):\n%s", diff)
	}
	for _, s := range []string{res.Text, out} {
		if strings.Contains(s, "[TRACE]") || strings.Contains(s, "CLI configuration") {
			t.Errorf("output carries debug logs or CLI config warnings:\n%s", s)
		}
	}

	// A failure's diagnostics are terraform's stderr: with TF_LOG inherited they would be a trace log.
	_, err := openAndPlan(context.Background(), r, planReq{Request{Dir: dir, VarFiles: []string{"missing.tfvars"}}, planFile(t)})
	d := diagnostics(err)
	if !strings.HasPrefix(d, "Error: Failed to read variables file") || strings.Contains(d, "[TRACE]") {
		t.Errorf("diagnostics are not Terraform's error alone:\n%s", d)
	}
}

// TestEnvReachesBackend keeps state in PostgreSQL with the connection string given only in
// Request.Env, as AWS credentials are for the s3 backend: plan and apply work, the state row exists,
// and without the variable init fails.
func TestEnvReachesBackend(t *testing.T) {
	t.Parallel()
	dbURL := testsvc.Postgres(t)
	r := newRunner(t, Options{})
	req := planReq{Request{Dir: stack(t, "pg"), Env: map[string]string{"PG_CONN_STR": dbURL}}, planFile(t)}
	res := mustPlan(t, r, req)
	mustApply(t, r, req.Request, res.PlanFile)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var state string
	if err := conn.QueryRow(ctx, `SELECT data FROM terraform_remote_state.states WHERE name = 'default'`).Scan(&state); err != nil {
		t.Fatalf("state row: %v", err)
	}
	if !strings.Contains(state, `"in postgres"`) {
		t.Errorf("state in PostgreSQL lacks the applied value:\n%s", state)
	}

	_, err = openAndPlan(ctx, r, planReq{Request{Dir: stack(t, "pg")}, planFile(t)})
	var e *Error
	if !errors.As(err, &e) || e.Step != StepInit {
		t.Errorf("plan without PG_CONN_STR: got %v, want an init *Error", err)
	}
}

// TestCLIConfigByReadOnly opens a read-only request (a merge request plan) and another one (a promotion)
// through a wrapper that records the TF_CLI_CONFIG_FILE of every terraform process: each uses its own CLI
// configuration, which names its own plugin cache.
func TestCLIConfigByReadOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "configs.log")
	script := "#!/bin/sh\nprintf '%s %s\\n' \"$(basename \"$(pwd)\")\" \"$TF_CLI_CONFIG_FILE\" >> " + shellQuote(log) +
		"\nexec " + shellQuote(testsvc.Terraform(t)) + " \"$@\"\n"
	bin := filepath.Join(dir, "terraform")
	testsvc.WriteExecutable(t, bin, []byte(script))
	r, err := NewRunner(Options{Binary: bin, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for name, readOnly := range map[string]bool{"review": true, "deploy": false} {
		work := filepath.Join(t.TempDir(), name)
		if err := CopyTree(filepath.Join("testdata", "stacks", "greeting"), work); err != nil {
			t.Fatal(err)
		}
		mustPlan(t, r, planReq{Request{Dir: work, ReadOnly: readOnly}, planFile(t)})
	}
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		d, config, _ := strings.Cut(line, " ")
		if strings.HasPrefix(d, ".version-") {
			continue // the runner's one `version -json`, in an empty dir of its own
		}
		if got[d] == nil {
			got[d] = map[string]bool{}
		}
		got[d][config] = true
	}
	want := map[string]map[string]bool{"review": {r.CLIConfig(true): true}, "deploy": {r.CLIConfig(false): true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CLI config files by work dir (-want +got):\n%s", diff)
	}
	if r.CLIConfig(true) == r.CLIConfig(false) || r.PluginCache(true) == r.PluginCache(false) {
		t.Fatalf("one CLI config or plugin cache for both kinds of request")
	}
	for _, readOnly := range []bool{true, false} {
		raw, err := os.ReadFile(r.CLIConfig(readOnly))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), hclString(r.PluginCache(readOnly))) {
			t.Errorf("%s does not name %s:\n%s", r.CLIConfig(readOnly), r.PluginCache(readOnly), raw)
		}
	}
}
