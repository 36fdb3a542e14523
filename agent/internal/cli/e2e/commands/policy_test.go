package commands_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// repoPath is a path relative to the repository root.
func repoPath(tb testing.TB, rel string) string {
	tb.Helper()
	return filepath.Join(testsvc.RepoRoot(tb), rel)
}

// runCLI runs the command line args with the environment env, and returns the exit code, stdout and stderr.
func runCLI(tb testing.TB, env map[string]string, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	code = cli.Run(context.Background(), args, cli.Env{
		Getenv: func(k string) string { return env[k] },
		Stdout: &out,
		Stderr: &errOut,
	})
	return code, out.String(), errOut.String()
}

func TestPolicyCheck(t *testing.T) {
	policies := repoPath(t, "policies")
	plan := func(name string) string { return repoPath(t, filepath.Join("policies", "testdata", name)) }
	for _, tc := range []struct {
		name      string
		args      []string
		wantCode  int
		wantOut   []string // substrings of stdout
		wantErr   string   // substring of stderr
		notInBoth string
	}{
		{
			name:     "compliant plan",
			args:     []string{"--plan", plan("plan-prod.json"), "--stage", "prod"},
			wantCode: cli.ExitOK,
			wantOut:  []string{"0 denied, 0 warned"},
		},
		{
			name:     "denied plan as a table",
			args:     []string{"--plan", plan("broken/RDS_004.prod.short-backups.json"), "--stage", "prod"},
			wantCode: cli.ExitDenied,
			wantOut:  []string{"SEVERITY", "deny", "RDS_004", "module.data.aws_rds_cluster.this", "policies/rds.rego", "1 denied, 0 warned"},
		},
		{
			name:     "prod-only rule does not apply to dev",
			args:     []string{"--plan", plan("broken/RDS_004.prod.short-backups.json"), "--stage", "dev"},
			wantCode: cli.ExitOK,
		},
		{
			name:     "label allows the destroy",
			args:     []string{"--plan", plan("broken/CHANGE_001.dev.bucket-destroyed.json"), "--stage", "dev", "--label", "reviewed", "--label", "allow-destroy"},
			wantCode: cli.ExitOK,
		},
		{
			name:     "warnings alone pass",
			args:     []string{"--plan", plan("broken/CHANGE_002.prod.function-replaced.json"), "--stage", "prod"},
			wantCode: cli.ExitOK,
			wantOut:  []string{"warn", "CHANGE_002", "0 denied, 1 warned"},
		},
		{
			name:     "missing plan file",
			args:     []string{"--plan", filepath.Join(t.TempDir(), "nope.json")},
			wantCode: cli.ExitError,
			wantErr:  "no such file",
		},
		{
			name:     "no plan flag",
			args:     []string{"--stage", "dev"},
			wantCode: cli.ExitError,
			wantErr:  "--plan FILE is required",
		},
		{
			name:     "bad format",
			args:     []string{"--plan", plan("plan-dev.json"), "--format", "xml"},
			wantCode: cli.ExitError,
			wantErr:  "want table or json",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"policy", "check", "--policies", policies}, tc.args...)
			code, out, errOut := runCLI(t, nil, args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
			}
			for _, s := range tc.wantOut {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if tc.wantErr != "" && !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, errOut)
			}
		})
	}
}

func TestPolicyCheckJSON(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "policy", "check", "--policies", repoPath(t, "policies"),
		"--plan", repoPath(t, "policies/testdata/broken/S3_003.prod.versioning-suspended.json"), "--stage", "prod", "--format", "json")
	if code != cli.ExitDenied {
		t.Fatalf("exit %d, want %d; stderr: %s", code, cli.ExitDenied, errOut)
	}
	var got []map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	want := []map[string]string{{
		"severity": "deny",
		"id":       "S3_003",
		"rule":     "deny_s3_versioning",
		"msg":      "module.data.aws_s3_bucket.objects: bucket versioning is not enabled; add an aws_s3_bucket_versioning with versioning_configuration { status = \"Enabled\" }",
		"address":  "module.data.aws_s3_bucket.objects",
		"file":     "policies/s3.rego",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestPolicyCheckServerPolicies(t *testing.T) {
	server := filepath.Join(t.TempDir(), "org")
	if err := os.MkdirAll(server, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(server, "org.rego"), []byte("package org\n\ndeny_org contains \"org says no\" if true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, map[string]string{"GITOPS_POLICY_DIR": server}, "policy", "check",
		"--policies", repoPath(t, "policies"), "--plan", repoPath(t, "policies/testdata/plan-dev.json"), "--stage", "dev")
	if code != cli.ExitDenied || !strings.Contains(out, "org says no") {
		t.Errorf("exit %d, want %d with the server policy's denial\nstdout:\n%s\nstderr:\n%s", code, cli.ExitDenied, out, errOut)
	}
}

func TestPolicyTest(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "policy", "test", repoPath(t, "policies"))
	if code != cli.ExitOK || !strings.Contains(out, " 0 failed") {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, cli.ExitOK, out, errOut)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p_test.rego"), []byte("package p_test\n\ntest_ok if true\n\ntest_broken if false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, nil, "policy", "test", dir)
	if code != cli.ExitDenied || !strings.Contains(out, "FAIL") || !strings.Contains(out, "test_broken") || !strings.Contains(out, "2 tests, 1 passed, 1 failed") {
		t.Errorf("failing test: exit %d, want %d\n%s", code, cli.ExitDenied, out)
	}

	if err := os.WriteFile(filepath.Join(dir, "bad.rego"), []byte("package p\n\nx := \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "policy", "test", dir)
	if code != cli.ExitError || !strings.Contains(errOut, "bad.rego:4: rego_parse_error") {
		t.Errorf("broken policy: exit %d, want %d; stderr: %s", code, cli.ExitError, errOut)
	}
}

func TestPolicyUsage(t *testing.T) {
	for _, args := range [][]string{{"policy"}, {"policy", "lint"}, {"policy", "check", "extra"}} {
		if code, _, _ := runCLI(t, nil, args...); code != cli.ExitError {
			t.Errorf("%v: exit %d, want %d", args, code, cli.ExitError)
		}
	}
}

func TestPolicyMessages(t *testing.T) {
	t.Parallel()
	policies := repoPath(t, "policies")
	prodPlan := repoPath(t, "policies/testdata/plan-prod.json")

	// -v after the directory is a flag, not a directory.
	code, out, errOut := runCLI(t, nil, "policy", "test", policies, "-v")
	if code != cli.ExitOK || !strings.Contains(out, "PASS ") || !strings.Contains(out, " 0 failed") {
		t.Errorf("policy test DIR -v: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// A directory without tests is an error, not a pass.
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "main.tf"), []byte("# no rego\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "policy", "test", empty)
	if code == cli.ExitOK || !strings.Contains(errOut, "no tests found in "+empty) {
		t.Errorf("no tests: exit %d, stderr %q", code, errOut)
	}

	// A saved binary plan, or anything else that is not JSON, gets the command that makes plan JSON.
	binary := filepath.Join(t.TempDir(), "tfplan")
	if err := os.WriteFile(binary, []byte("PK\x03\x04\x14\x00binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "policy", "check", "--plan", binary, "--policies", policies)
	if code != cli.ExitError || !strings.Contains(errOut, binary+" is not plan JSON") || !strings.Contains(errOut, "terraform show -json PLANFILE") || strings.Contains(errOut, "invalid character") {
		t.Errorf("binary plan: exit %d, stderr %q", code, errOut)
	}
	text := filepath.Join(t.TempDir(), "plan.txt")
	if err := os.WriteFile(text, []byte("Plan: 1 to add, 0 to change, 0 to destroy.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "policy", "check", "--plan", text, "--policies", policies)
	if code != cli.ExitError || !strings.Contains(errOut, text+" is not plan JSON") || !strings.Contains(errOut, "terraform show -json PLANFILE") {
		t.Errorf("plain-text plan: exit %d, stderr %q", code, errOut)
	}

	// It says what it evaluated, and warns when no stage was given.
	code, _, errOut = runCLI(t, nil, "policy", "check", "--plan", prodPlan, "--policies", policies)
	if code != cli.ExitOK || !strings.Contains(errOut, "no --stage given: rules scoped to a stage cannot fire") ||
		!strings.Contains(errOut, "against policy dirs "+policies+", stage (none)") {
		t.Errorf("no stage: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "policy", "check", "--plan", prodPlan, "--policies", policies, "--stage", "prod")
	if code != cli.ExitOK || strings.Contains(errOut, "warning") || !strings.Contains(errOut, "stage prod") {
		t.Errorf("with a stage: exit %d, stderr %q", code, errOut)
	}
}

// TestPolicyCheckPlanFromPipe: a plan whose size is not known before it is read (a pipe, as in
// `policy check --plan <(terraform show -json tfplan)`) is checked all the same.
func TestPolicyCheckPlanFromPipe(t *testing.T) {
	plan, err := os.ReadFile(repoPath(t, "policies/testdata/broken/S3_003.prod.versioning-suspended.json"))
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "plan")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		f.Write(plan)
	}()
	code, out, errOut := runCLI(t, nil, "policy", "check", "--policies", repoPath(t, "policies"), "--plan", fifo, "--stage", "prod", "--format", "json")
	if code != cli.ExitDenied || !strings.Contains(out, `"id": "S3_003"`) {
		t.Errorf("exit %d, want %d with S3_003\nstdout:\n%s\nstderr:\n%s", code, cli.ExitDenied, out, errOut)
	}
}
