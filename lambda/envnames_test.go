package main

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// stackLambdaFile is the api stack's function definition, whose environment the function must understand.
const stackLambdaFile = "../stacks/api/lambda.tf"

// TestEnvNamesAreWhatConfigReads holds envNames to the truth: the names loadConfig asks getenv for.
func TestEnvNamesAreWhatConfigReads(t *testing.T) {
	asked := map[string]bool{}
	_, _ = loadConfig(func(name string) string { asked[name] = true; return "" })
	got := sortedSet(asked)
	want := slices.Sorted(slices.Values(envNames))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("envNames (-want) versus the variables loadConfig reads (+got):\n%s", diff)
	}
}

// TestReadmeDocumentsEveryVariable checks README.md's Environment table against envNames, both ways;
// the row of the AWS SDK's own settings (AWS_…) may name more than the function reads itself.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Environment\n")
	if !ok {
		t.Fatal("README.md has no ## Environment section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	nameRE := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	documented := map[string]bool{}
	for line := range strings.Lines(section) {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range nameRE.FindAllStringSubmatch(first, -1) {
			documented[m[1]] = true
		}
	}
	for _, name := range envNames {
		if !documented[name] {
			t.Errorf("README.md: %s is read but not documented in the Environment table", name)
		}
	}
	for _, name := range sortedSet(documented) {
		if !slices.Contains(envNames, name) && !strings.HasPrefix(name, "AWS_") {
			t.Errorf("README.md documents %s, which the function does not read", name)
		}
	}
}

// TestStackEnvironmentIsUnderstood parses the environment the api stack gives the function and checks
// that every variable it sets is one the function reads, and that the whole set configures a function
// that can serve: with the stack's literal values as they are and a sample for each computed one
// (endpoint, names, ARNs), loadConfig and requireServe accept it.
func TestStackEnvironmentIsUnderstood(t *testing.T) {
	vars := stackEnvironment(t, stackLambdaFile)
	if len(vars) == 0 {
		t.Fatalf("%s: the function's environment sets no variables", stackLambdaFile)
	}
	env := map[string]string{}
	for _, name := range sortedKeys(vars) {
		if !slices.Contains(envNames, name) {
			t.Errorf("%s: sets %s, which the function does not read (envNames in lambda/config.go lists what it reads)", stackLambdaFile, name)
		}
		if v, ok := literalString(vars[name]); ok {
			env[name] = v
			continue
		}
		env[name] = computedSample(name)
	}
	cfg, err := loadConfig(func(name string) string { return env[name] })
	if err == nil {
		err = cfg.requireServe()
	}
	if err != nil {
		t.Fatalf("%s: the function rejects the stack's environment: %v", stackLambdaFile, err)
	}
	if !cfg.RedisIAMAuth || !cfg.DBIAMAuth || cfg.KMSKeyID == "" {
		t.Errorf("%s: want IAM authentication to the database and the cache and a KMS key for uploads; got DB IAM %v, cache IAM %v, KMS key set %v",
			stackLambdaFile, cfg.DBIAMAuth, cfg.RedisIAMAuth, cfg.KMSKeyID != "")
	}
}

// computedSample stands in for a value Terraform computes (an endpoint, a name, an ARN), in the shape the
// function expects.
func computedSample(name string) string {
	switch name {
	case "REDIS_ADDR":
		return "master.docs.abc123.euw1.cache.amazonaws.com:6379"
	case "DB_PORT":
		return "5432"
	case "LOG_LEVEL":
		return "INFO"
	case "S3_KEY_PREFIX":
		return "documents/"
	default:
		return "sample-" + strings.ToLower(name)
	}
}

// stackEnvironment returns the expressions of environment.variables of the file's aws_lambda_function.
func stackEnvironment(t testing.TB, path string) map[string]hclsyntax.Expression {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", path, diags.Error())
	}
	out := map[string]hclsyntax.Expression{}
	var functions int
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "resource" || len(b.Labels) != 2 || b.Labels[0] != "aws_lambda_function" {
			continue
		}
		functions++
		for _, env := range b.Body.Blocks {
			if env.Type != "environment" {
				continue
			}
			attr, ok := env.Body.Attributes["variables"]
			if !ok {
				continue
			}
			obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Fatalf("%s: environment.variables must be an object literal so its names can be checked", attr.SrcRange)
			}
			for _, item := range obj.Items {
				k, diags := item.KeyExpr.Value(nil)
				if diags.HasErrors() || k.Type() != cty.String {
					t.Fatalf("%s: variable names must be literal", item.KeyExpr.Range())
				}
				out[k.AsString()] = item.ValueExpr
			}
		}
	}
	if functions != 1 {
		t.Fatalf("%s: want exactly one aws_lambda_function, got %d", path, functions)
	}
	return out
}

// literalString returns the value of an expression that needs no variables, as a string.
func literalString(e hcl.Expression) (string, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
