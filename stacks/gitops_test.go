package stacks_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"gopkg.in/yaml.v3"
)

// gitopsConfig is the part of .gitops.yaml these tests rely on.
type gitopsConfig struct {
	Version int `yaml:"version"`
	Stages  []struct {
		Name        string `yaml:"name"`
		RoleARN     string `yaml:"role_arn"`
		PlanRoleARN string `yaml:"plan_role_arn"`
	} `yaml:"stages"`
	Stacks []struct {
		Name          string   `yaml:"name"`
		Dir           string   `yaml:"dir"`
		VarFiles      []string `yaml:"var_files"`
		BackendConfig []string `yaml:"backend_config"`
		Stages        []string `yaml:"stages"`
		DependsOn     []string `yaml:"depends_on"`
	} `yaml:"stacks"`
}

func loadGitopsConfig(t testing.TB) *gitopsConfig {
	t.Helper()
	var c gitopsConfig
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, filepath.Join("..", ".gitops.yaml"))))
	dec.KnownFields(false)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("parse .gitops.yaml: %v", err)
	}
	return &c
}

// TestGitopsConfig checks that .gitops.yaml and stacks/ agree: every stack directory exists and is listed,
// every stage a stack runs in has its var and backend files, and stacks apply in dependency order.
func TestGitopsConfig(t *testing.T) {
	c := loadGitopsConfig(t)
	var stages []string
	for _, s := range c.Stages {
		stages = append(stages, s.Name)
		if s.RoleARN != "" && !regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:role/gitops-agent-deploy-`+regexp.QuoteMeta(s.Name)+`$`).MatchString(s.RoleARN) {
			t.Errorf("stage %s: role_arn %q is not the stage's deploy role (stacks/cicd)", s.Name, s.RoleARN)
		}
		if !regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:role/gitops-agent-plan-` + regexp.QuoteMeta(s.Name) + `$`).MatchString(s.PlanRoleARN) {
			t.Errorf("stage %s: plan_role_arn %q is not the stage's read-only plan role (stacks/cicd)", s.Name, s.PlanRoleARN)
		}
	}
	if diff := cmp.Diff([]string{"dev", "staging", "prod"}, stages); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}

	listed := map[string]bool{}
	deps := map[string][]string{}
	for _, s := range c.Stacks {
		listed[s.Dir] = true
		deps[s.Name] = s.DependsOn
		dir := filepath.Join("..", filepath.FromSlash(s.Dir))
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("stack %s: dir %s does not exist", s.Name, s.Dir)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "versions.tf")); err != nil {
			t.Errorf("stack %s: %s is not a root module (no versions.tf)", s.Name, s.Dir)
		}
		runs := s.Stages
		if len(runs) == 0 {
			runs = stages
		}
		for _, stage := range runs {
			for _, pattern := range append(slices.Clone(s.VarFiles), s.BackendConfig...) {
				f := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(pattern, "{stage}", stage)))
				if _, err := os.Stat(f); err != nil {
					t.Errorf("stack %s, stage %s: %s is missing", s.Name, stage, f)
				}
			}
		}
		if len(s.VarFiles) == 0 || len(s.BackendConfig) == 0 {
			t.Errorf("stack %s: var_files and backend_config must name the stage files", s.Name)
		}
	}
	for dir := range stackDirs(t) {
		if !listed["stacks/"+dir] {
			t.Errorf("stacks/%s is not in .gitops.yaml", dir)
		}
	}
	want := map[string][]string{"network": nil, "data": {"network"}, "api": {"data"}, "observability": {"api"}, "cicd": nil, "agent": {"cicd"}}
	if diff := cmp.Diff(want, deps); diff != "" {
		t.Errorf("depends_on (-want +got):\n%s", diff)
	}
}

// TestStageFilesDeclared checks that every tfvars file sets only declared variables, matches its stage,
// and that every backend config names a bucket, a key under the stack's name and a region.
func TestStageFilesDeclared(t *testing.T) {
	for name, dir := range stackDirs(t) {
		t.Run(name, func(t *testing.T) {
			m := loadModule(t, dir)
			declared := map[string]bool{}
			for _, v := range m.blocks("variable") {
				declared[v.Labels[0]] = true
			}
			tfvars, _ := filepath.Glob(filepath.Join(dir, "stages", "*.tfvars"))
			if len(tfvars) == 0 {
				t.Fatal("no stages/*.tfvars")
			}
			for _, path := range tfvars {
				stage := strings.TrimSuffix(filepath.Base(path), ".tfvars")
				f, diags := hclparse.NewParser().ParseHCL([]byte(readFile(t, path)), path)
				if diags.HasErrors() {
					t.Fatalf("parse %s: %s", path, diags.Error())
				}
				attrs := f.Body.(*hclsyntax.Body).Attributes
				for n := range attrs {
					if !declared[n] {
						t.Errorf("%s sets undeclared variable %q", path, n)
					}
				}
				if v, ok := literal(attrs["stage"].Expr); !ok || v.AsString() != stage {
					t.Errorf("%s: stage must be %q", path, stage)
				}
				backend := filepath.Join(dir, "stages", stage+".backend.hcl")
				bf, diags := hclparse.NewParser().ParseHCL([]byte(readFile(t, backend)), backend)
				if diags.HasErrors() {
					t.Fatalf("parse %s: %s", backend, diags.Error())
				}
				battrs := bf.Body.(*hclsyntax.Body).Attributes
				for _, k := range []string{"bucket", "key", "region"} {
					if _, ok := battrs[k]; !ok {
						t.Errorf("%s: %s is missing", backend, k)
					}
				}
				if v, ok := literal(battrs["key"].Expr); !ok || !strings.HasPrefix(v.AsString(), name+"/") {
					t.Errorf("%s: key must start with %q so stacks never share a state", backend, name+"/")
				}
			}
		})
	}
}
