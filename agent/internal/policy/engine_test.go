package policy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// writePolicies writes files into a fresh directory named policies and returns its path.
func writePolicies(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "policies")
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

const smallPlan = `{"resource_changes":[{"address":"aws_s3_bucket.a","type":"aws_s3_bucket","mode":"managed","change":{"actions":["create"],"after":{"bucket":"a"}}}]}`

// conftestStylePolicies use every naming and result form conftest knows.
var conftestStylePolicies = map[string]string{
	"main.rego": `package main

deny contains "plain deny" if input.resource_changes

deny_bucket contains {"msg": sprintf("bucket %s", [rc.change.after.bucket]), "id": "B_001", "address": rc.address} if {
	some rc in input.resource_changes
}

violation_named contains {"msg": "violation object", "extra": 1} if true

warn_tags contains "warn string" if true

warn_excepted contains "silenced by exception" if true

deny_excepted contains "also silenced" if true

# Not a collection: conftest ignores it.
deny_scalar := "ignored"

# Does not match the naming: not a result rule.
denied contains "not a rule" if true

exception contains rules if {
	rules := ["excepted"]
}
`,
	"other/pkg.rego": `package other.checks

deny contains "from another package" if true

# Exceptions are per package: this one does not silence main.deny_bucket.
exception contains ["bucket"] if true

deny_bucket contains "silenced here" if true
`,
}

// TestConftestSemantics checks what conftest (v0.71, --all-namespaces) reports on the same policies
// and input: deny/violation/warn with _suffix names, string and object results, exceptions by rule
// suffix, and values that are not collections ignored.
func TestConftestSemantics(t *testing.T) {
	dir := writePolicies(t, conftestStylePolicies)
	got, err := NewEngine(Options{}).Check(context.Background(), []string{dir}, []byte(smallPlan), gitops.PolicyContext{})
	if err != nil {
		t.Fatal(err)
	}
	want := []gitops.Finding{
		{Severity: gitops.Deny, Rule: "deny", Message: "from another package", File: "policies/other/pkg.rego"},
		{Severity: gitops.Deny, Rule: "deny", Message: "plain deny", File: "policies/main.rego"},
		{Severity: gitops.Deny, Rule: "violation_named", Message: "violation object", File: "policies/main.rego"},
		{Severity: gitops.Deny, ID: "B_001", Rule: "deny_bucket", Message: "bucket a", Address: "aws_s3_bucket.a", File: "policies/main.rego"},
		{Severity: gitops.Warn, Rule: "warn_tags", Message: "warn string", File: "policies/main.rego"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestExceptionSilencesOurRule(t *testing.T) {
	dir := writePolicies(t, map[string]string{
		"exceptions.rego": `package main

# Dev buckets need no versioning.
exception contains ["s3_versioning"] if data.gitops.stage == "dev"
`,
	})
	plan := readFixture(t, filepath.Join("broken", "S3_003.prod.versioning-suspended.json"))
	e := NewEngine(Options{})
	for _, tc := range []struct {
		stage string
		want  []string
	}{
		{"dev", []string{}},
		{"prod", []string{"S3_003"}},
	} {
		got, err := e.Check(context.Background(), []string{repoPolicies(t), dir}, plan, stageContext(tc.stage))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, ids(got, gitops.Deny)); diff != "" {
			t.Errorf("stage %s: denied by (-want +got):\n%s", tc.stage, diff)
		}
	}
}

func TestPolicyErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   string
		wantFile string
		wantLine int
		wantMsg  string
	}{
		{"syntax", "package main\n\ndeny contains msg if {\n\tmsg := \n}\n", "policies/bad.rego", 5, "rego_parse_error"},
		{"unsafe variable", "package main\n\ndeny contains msg if {\n\tx == 1\n}\n", "policies/bad.rego", 3, "unsafe"},
		{"http.send is sandboxed", "package main\n\ndeny contains r.body if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"http://example.com\"})\n}\n", "policies/bad.rego", 4, "undefined function http.send"},
		{"net.* is sandboxed", "package main\n\ndeny contains \"x\" if {\n\tnet.lookup_ip_addr(\"example.com\")\n}\n", "policies/bad.rego", 4, "undefined function net.lookup_ip_addr"},
		{"environment is sandboxed", "package main\n\ndeny contains e.env.HOME if {\n\te := opa.runtime()\n}\n", "policies/bad.rego", 4, "undefined function opa.runtime"},
		{"strict built-in errors", "package main\n\ndeny contains \"x\" if {\n\tjson.unmarshal(\"{not json\")\n}\n", "policies/bad.rego", 4, "json.unmarshal"},
		{"object without msg", "package main\n\ndeny contains {\"id\": \"X_001\"} if true\n", "policies/bad.rego", 3, "msg"},
		{"conflicting values", "package main\n\nx := 1\nx := 2\n\ndeny contains \"y\" if x\n", "policies/bad.rego", 4, "conflicting values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writePolicies(t, map[string]string{"bad.rego": tc.policy + "\ndeny_other contains \"other\" if input\n"})
			for _, e := range []*Engine{NewEngine(Options{}), groupedEngine()} {
				_, err := e.Check(context.Background(), []string{dir}, []byte(smallPlan), gitops.PolicyContext{})
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v (%T), want *Error", err, err)
				}
				if pe.File != tc.wantFile || pe.Line != tc.wantLine || !strings.Contains(pe.Msg, tc.wantMsg) {
					t.Errorf("err = %q at %s:%d, want %q at %s:%d", pe.Msg, pe.File, pe.Line, tc.wantMsg, tc.wantFile, tc.wantLine)
				}
			}
		})
	}
}

func TestMalformedIAMDocumentBlocks(t *testing.T) {
	// A policy that is not JSON where the provider renders an aws_iam_policy_document.
	p := buildPlatform("prod")
	p.after(`module.cicd.aws_iam_policy.deploy_infrastructure["dev"]`)["policy"] = `{"Version":"2012-10-17","Statement":[{"Effect" "Allow"}]}`
	_, err := NewEngine(Options{}).Check(context.Background(), []string{repoPolicies(t)}, p.json(), stageContext("prod"))
	var pe *Error
	if !errors.As(err, &pe) || pe.File != "policies/iam.rego" || pe.Line == 0 || !strings.Contains(pe.Msg, "json.unmarshal") {
		t.Fatalf("err = %#v, want an *Error from json.unmarshal in policies/iam.rego", err)
	}
}

// TestInvalidPlan: a plan that is not one JSON object is refused, also where no policy would read it.
func TestInvalidPlan(t *testing.T) {
	e := NewEngine(Options{})
	for _, dirs := range [][]string{{repoPolicies(t)}, {t.TempDir()}} {
		for _, plan := range []string{``, `{`, `[]`, `"plan"`, `{"a":1} {"b":2}`, `{"n":[1e999999999]}`} {
			_, err := e.Check(context.Background(), dirs, []byte(plan), gitops.PolicyContext{})
			if !errors.Is(err, ErrInvalidPlan) {
				t.Errorf("Check(%v, %q) err = %v, want ErrInvalidPlan", dirs, plan, err)
			}
		}
		if _, err := e.Check(context.Background(), dirs, []byte(smallPlan), gitops.PolicyContext{}); err != nil {
			t.Errorf("Check(%v, a plan) err = %v", dirs, err)
		}
	}
}

func TestParsedPlanEqualsEagerConversion(t *testing.T) {
	for _, name := range []string{"plan-dev.json", "plan-prod.json"} {
		raw := readFixture(t, name)
		got, err := parsePlan(raw, inputKeys{all: true})
		if err != nil {
			t.Fatal(err)
		}
		want, err := ast.ValueFromReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("%s: parsed plan differs from ast.ValueFromReader", name)
		}
	}
}

func TestPolicyDirectories(t *testing.T) {
	server := writePolicies(t, map[string]string{"org.rego": "package org\n\ndeny_always contains \"org rule\" if true\n"})
	repo := writePolicies(t, map[string]string{
		"repo.rego":      "package main\n\nwarn contains \"repo rule\" if true\n",
		"repo_test.rego": "package main\n\ntest_x if true\n\ndeny contains \"test files are not policies\" if true\n",
	})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		server []string
		repo   []string
		want   []string
	}{
		{"nothing at all", nil, nil, nil},
		{"server only", []string{server}, nil, []string{"org rule"}},
		{"repo only", nil, []string{repo}, []string{"repo rule"}},
		{"both", []string{server}, []string{repo}, []string{"org rule", "repo rule"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewEngine(Options{ServerDirs: tc.server}).Check(ctx, tc.repo, []byte(smallPlan), gitops.PolicyContext{})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, f := range got {
				msgs = append(msgs, f.Message)
			}
			if diff := cmp.Diff(tc.want, msgs); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
	// Read twice, the repository's complete rules (required_tags := ...) would conflict.
	twice, err := NewEngine(Options{}).Check(ctx, []string{repoPolicies(t), repoPolicies(t) + "/."}, readFixture(t, "plan-dev.json"), stageContext("dev"))
	if err != nil || len(twice) != 0 {
		t.Errorf("a directory named twice: findings %+v, err %v", twice, err)
	}
	_, err = NewEngine(Options{}).Check(ctx, []string{filepath.Join(t.TempDir(), "missing")}, []byte(smallPlan), gitops.PolicyContext{})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: err = %v", err)
	}
	_, err = NewEngine(Options{ServerDirs: []string{t.TempDir()}}).Check(ctx, []string{repo}, []byte(smallPlan), gitops.PolicyContext{})
	if err == nil || !strings.Contains(err.Error(), "holds no .rego file") {
		t.Errorf("empty server directory: err = %v", err)
	}
}

// A server dir mounted from a Kubernetes ConfigMap holds links into a hidden ..data directory; a
// repository's links are not followed.
func TestSymbolicLinks(t *testing.T) {
	mount := t.TempDir()
	data := filepath.Join(mount, "..2026_11_26")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "org.rego"), []byte("package org\n\ndeny contains \"org rule\" if true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, link := range [][2]string{{"..2026_11_26", "..data"}, {"..data/org.rego", "org.rego"}} {
		if err := os.Symlink(link[0], filepath.Join(mount, link[1])); err != nil {
			t.Fatal(err)
		}
	}
	repo := writePolicies(t, map[string]string{"repo.rego": "package main\n\nwarn contains \"repo rule\" if true\n"})
	outside := filepath.Join(t.TempDir(), "outside.rego")
	if err := os.WriteFile(outside, []byte("package main\n\ndeny contains \"linked from outside\" if true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(repo, "linked.rego")); err != nil {
		t.Fatal(err)
	}
	got, err := NewEngine(Options{ServerDirs: []string{mount}}).Check(context.Background(), []string{repo}, []byte(smallPlan), gitops.PolicyContext{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, f := range got {
		msgs = append(msgs, f.Message)
	}
	if diff := cmp.Diff([]string{"org rule", "repo rule"}, msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestContextDocument(t *testing.T) {
	dir := writePolicies(t, map[string]string{"ctx.rego": "package main\n\nwarn contains json.marshal(data.gitops) if true\n"})
	matches := true
	pc := gitops.PolicyContext{
		Project: "g/p", Stack: "api", Stage: "prod", PlanMatchesReview: &matches,
		MergeRequest: gitops.MergeRequest{IID: 9, Author: "ann", Labels: []string{"allow-destroy"}, ApprovedBy: []string{"bob"}},
	}
	e := NewEngine(Options{})
	for _, tc := range []struct {
		pc   gitops.PolicyContext
		want string
	}{
		{pc, `{"mr":{"approved_by":["bob"],"author":"ann","iid":9,"labels":["allow-destroy"]},"plan_matches_review":true,"project":"g/p","rollback":false,"stack":"api","stage":"prod"}`},
		{gitops.PolicyContext{Stage: "dev"}, `{"mr":{"approved_by":[],"author":"","iid":0,"labels":[]},"project":"","rollback":false,"stack":"","stage":"dev"}`},
		{gitops.PolicyContext{Stage: "prod", Rollback: true}, `{"mr":{"approved_by":[],"author":"","iid":0,"labels":[]},"project":"","rollback":true,"stack":"","stage":"prod"}`},
	} {
		got, err := e.Check(context.Background(), []string{dir}, []byte(smallPlan), tc.pc)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Message != tc.want {
			t.Errorf("data.gitops = %+v, want %s", got, tc.want)
		}
	}
}

func TestCompiledOncePerContent(t *testing.T) {
	dir := writePolicies(t, map[string]string{"a.rego": "package main\n\nwarn contains \"one\" if true\n"})
	e := NewEngine(Options{})
	check := func(want string) {
		t.Helper()
		got, err := e.Check(context.Background(), []string{dir}, []byte(smallPlan), gitops.PolicyContext{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Message != want {
			t.Fatalf("findings = %+v, want %q", got, want)
		}
	}
	check("one")
	first := e.cache.entries
	check("one")
	if len(e.cache.entries) != 1 {
		t.Fatalf("%d cached sets after two checks of one policy set, want 1", len(first))
	}
	if err := os.WriteFile(filepath.Join(dir, "a.rego"), []byte("package main\n\nwarn contains \"two\" if true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check("two")
	if len(e.cache.entries) != 2 {
		t.Errorf("%d cached sets after a change, want 2", len(e.cache.entries))
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newSetCache(2)
	compile := func() (*compiledSet, error) { return &compiledSet{}, nil }
	srcs := func(s string) []source { return []source{{name: "p.rego", raw: []byte(s)}} }
	a, _ := c.get(srcs("a"), compile)
	c.get(srcs("b"), compile)
	c.get(srcs("a"), compile) // a is now the most recent
	c.get(srcs("c"), compile) // evicts b
	if _, ok := c.entries[hashSources(srcs("b"))]; ok {
		t.Error("b is still cached")
	}
	if again, _ := c.get(srcs("a"), compile); again != a {
		t.Error("a was compiled again")
	}
}

func TestDeadline(t *testing.T) {
	dir := writePolicies(t, map[string]string{"slow.rego": "package main\n\ndeny contains \"slow\" if {\n\tcount([x | some x in numbers.range(1, 100000000)]) > 0\n}\n\ndeny_fast contains \"fast\" if input\n"})
	for _, workers := range []int{1, 3} {
		e := NewEngine(Options{Timeout: 50 * time.Millisecond})
		e.workers = func(int) int { return workers }
		start := time.Now()
		_, err := e.Check(context.Background(), []string{dir}, []byte(smallPlan), gitops.PolicyContext{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%d workers: err = %v, want context.DeadlineExceeded", workers, err)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("%d workers: evaluation ran %v past its deadline", workers, took)
		}
	}
}

func TestConcurrentChecksAgree(t *testing.T) {
	e := NewEngine(Options{})
	dirs := []string{repoPolicies(t)}
	plans := map[string][]byte{}
	want := map[string][]gitops.Finding{}
	for _, name := range []string{"broken/S3_001.dev.sse-aes256.json", "broken/RDS_004.prod.short-backups.json", "plan-staging.json"} {
		plans[name] = readFixture(t, name)
		stage := strings.Split(filepath.Base(name), ".")[1]
		if name == "plan-staging.json" {
			stage = "staging"
		}
		got, err := e.Check(context.Background(), dirs, plans[name], stageContext(stage))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = got
	}
	var wg sync.WaitGroup
	for i := range 6 {
		for name, plan := range plans {
			wg.Go(func() {
				stage := strings.Split(filepath.Base(name), ".")[1]
				if name == "plan-staging.json" {
					stage = "staging"
				}
				got, err := e.Check(context.Background(), dirs, plan, stageContext(stage))
				if err != nil {
					t.Error(err)
					return
				}
				if diff := cmp.Diff(want[name], got); diff != "" {
					t.Errorf("run %d %s differs (-want +got):\n%s", i, name, diff)
				}
			})
		}
	}
	wg.Wait()
}

func TestRegoTestFailuresReported(t *testing.T) {
	dir := writePolicies(t, map[string]string{
		"p.rego":      "package main\n\ndeny contains \"x\" if input.bad\n",
		"p_test.rego": "package main_test\n\nimport data.main\n\ntest_passes if count(main.deny) == 1 with input as {\"bad\": true}\n\ntest_fails if count(main.deny) == 1 with input as {}\n\ntest_errors if json.unmarshal(\"{\")\n",
	})
	got, err := Test(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		Name   string
		Line   int
		Passed bool
		Errors bool
	}
	var outcomes []outcome
	for _, r := range got {
		outcomes = append(outcomes, outcome{r.Name, r.Line, r.Passed, r.Error != ""})
	}
	want := []outcome{{"test_passes", 5, true, false}, {"test_fails", 7, false, false}, {"test_errors", 9, false, true}}
	if diff := cmp.Diff(want, outcomes); diff != "" {
		t.Errorf("test results (-want +got):\n%s", diff)
	}
}
