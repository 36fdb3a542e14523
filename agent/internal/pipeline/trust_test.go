package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// commitTrees serves a tree per commit.
type commitTrees map[string]string

func (c commitTrees) Checkout(_ context.Context, _, sha string) (string, error) { return c[sha], nil }

// repoTree writes a repository with one stack, config cfg and the given extra files.
func repoTree(t *testing.T, cfg string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"stacks/a/main.tf": "resource \"terraform_data\" \"x\" {}\n"}
	if cfg != "" {
		all[".gitops.yaml"] = cfg
	}
	for k, v := range files {
		all[k] = v
	}
	for name, content := range all {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	trustedCfg = "version: 1\nstages:\n  - name: dev\n    plan_role_arn: arn:aws:iam::111111111111:role/plan-dev\n" +
		"  - name: prod\n    role_arn: arn:aws:iam::111111111111:role/deploy-prod\npolicies: [policies]\nstacks:\n  - name: a\n    dir: stacks/a\n"
	attackerCfg = "version: 1\nstages:\n  - name: dev\n    plan_role_arn: arn:aws:iam::999999999999:role/admin\n" +
		"  - name: prod\n    role_arn: arn:aws:iam::999999999999:role/admin\n    plan_role_arn: arn:aws:iam::999999999999:role/admin\n" +
		"policies: [policies]\nstacks:\n  - name: a\n    dir: stacks/a\n"
)

// recorder records the roles assumed and the policy dirs each check used.
type recorder struct {
	mu     sync.Mutex
	roles  []string
	checks [][]string
}

func (rec *recorder) credentials(_ context.Context, role, _ string, _ int) (map[string]string, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.roles = append(rec.roles, role)
	return map[string]string{"AWS_ROLE": role}, nil
}

func (rec *recorder) Check(_ context.Context, dirs []string, _ []byte, _ gitops.PolicyContext) ([]gitops.Finding, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.checks = append(rec.checks, dirs)
	var out []gitops.Finding
	for _, d := range dirs {
		out = append(out, gitops.Finding{Severity: gitops.Warn, Message: "checked by " + filepath.Base(filepath.Dir(d))})
	}
	return out, nil
}

func planWithTrust(t *testing.T, mainTree, mrTree string, changed []string) (*gitops.PlanOutcome, *recorder) {
	t.Helper()
	rec := &recorder{}
	rep := newReports()
	r := &Runner{
		Source:   commitTrees{"main-head": mainTree, sha: mrTree},
		MRs:      mrs{changed: map[int][]string{3: changed}, state: gitops.MergeRequestOpened, head: sha},
		Reporter: rep, Terraform: fakeTerraform{}, Policies: rec, Credentials: rec.credentials,
		DataDir: t.TempDir(), MaxParallel: 2,
	}
	if err := r.HandlePlan(context.Background(), gitops.PlanRequest{Project: "g/p", MR: 3, HeadSHA: sha}, Attempt{}); err != nil {
		t.Fatal(err)
	}
	if rep.plan == nil {
		t.Fatal("no plan note")
	}
	return rep.plan, rec
}

func TestMergeRequestCannotChooseItsCredentials(t *testing.T) {
	t.Parallel()
	main := repoTree(t, trustedCfg, map[string]string{"policies/p.rego": "package main\n"})
	mr := repoTree(t, attackerCfg, map[string]string{"policies/p.rego": "package main\n"})
	out, rec := planWithTrust(t, main, mr, []string{".gitops.yaml"})

	if diff := cmp.Diff([]string{"arn:aws:iam::111111111111:role/plan-dev"}, rec.roles); diff != "" {
		t.Errorf("roles assumed (-want +got):\n%s", diff)
	}
	wantTrust := gitops.Trust{
		Branch: "main", Commit: "main-head", NoRole: []string{"prod"},
		Changes: []string{
			`stage "dev": plan_role_arn arn:aws:iam::111111111111:role/plan-dev → arn:aws:iam::999999999999:role/admin`,
			`stage "prod": role_arn arn:aws:iam::111111111111:role/deploy-prod → arn:aws:iam::999999999999:role/admin`,
			`stage "prod": plan_role_arn (none) → arn:aws:iam::999999999999:role/admin`,
		},
	}
	if diff := cmp.Diff(wantTrust, out.Trust); diff != "" {
		t.Errorf("trust (-want +got):\n%s", diff)
	}
	for _, run := range out.Runs {
		want := map[string]string{"dev": "arn:aws:iam::111111111111:role/plan-dev", "prod": ""}[run.Stage]
		if run.Role != want {
			t.Errorf("%s planned with role %q, want %q", run.Stage, run.Role, want)
		}
	}
	for _, dirs := range rec.checks {
		if len(dirs) != 1 || !strings.HasPrefix(dirs[0], main) {
			t.Errorf("a gate used policy dirs %v, want the default branch's only", dirs)
		}
	}
}

func TestMergeRequestPoliciesAreInformationOnly(t *testing.T) {
	t.Parallel()
	main := repoTree(t, trustedCfg, map[string]string{"policies/p.rego": "package main\n"})
	mr := repoTree(t, trustedCfg, map[string]string{"policies/p.rego": "package main\n# weakened\n"})
	out, _ := planWithTrust(t, main, mr, []string{"policies/p.rego", "stacks/a/main.tf"})
	if !out.Trust.OwnPolicies || len(out.Trust.Changes) != 0 {
		t.Errorf("trust %+v: want OwnPolicies and no settings changed", out.Trust)
	}
	for _, run := range out.Runs {
		if len(run.Findings) != 1 || !strings.Contains(run.Findings[0].Message, filepath.Base(main)) {
			t.Errorf("%s: gating findings %v, want the default branch's policies", run.Stage, run.Findings)
		}
		if len(run.InfoFindings) != 1 || !strings.Contains(run.InfoFindings[0].Message, filepath.Base(mr)) {
			t.Errorf("%s: information findings %v, want the MR's policies", run.Stage, run.InfoFindings)
		}
	}
}

func TestNoConfigOnTheDefaultBranchMeansNoRoles(t *testing.T) {
	t.Parallel()
	main := repoTree(t, "", nil)
	mr := repoTree(t, attackerCfg, map[string]string{"policies/p.rego": "package main\n"})
	out, rec := planWithTrust(t, main, mr, []string{".gitops.yaml", "stacks/a/main.tf"})
	if out.ConfigError != "" {
		t.Fatal(out.ConfigError)
	}
	if len(rec.roles) != 0 {
		t.Errorf("roles assumed %v, want none", rec.roles)
	}
	if !strings.Contains(out.Trust.Problem, "not found") || !slices.Equal(out.Trust.NoRole, []string{"dev", "prod"}) {
		t.Errorf("trust %+v: want the missing file said and every stage without a role", out.Trust)
	}
	for _, dirs := range rec.checks {
		if len(dirs) != 0 {
			t.Errorf("a gate used repository policies %v, want the server's only", dirs)
		}
	}
}
