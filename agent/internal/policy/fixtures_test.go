package policy

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

var update = flag.Bool("update", false, "rewrite the plan fixtures in policies/testdata")

// repoPolicies is the repository's policies/ directory.
func repoPolicies(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(testsvc.RepoRoot(tb), "policies")
}

var stages = []string{"dev", "staging", "prod"}

func TestFixturesUpToDate(t *testing.T) {
	testdata := filepath.Join(repoPolicies(t), "testdata")
	want := map[string][]byte{}
	for _, stage := range stages {
		want["plan-"+stage+".json"] = buildPlatform(stage).json()
	}
	for _, v := range brokenVariants {
		p := buildPlatform(v.stage)
		v.breakIt(p)
		want[filepath.Join("broken", v.file())] = p.json()
	}
	if *update {
		if err := os.MkdirAll(filepath.Join(testdata, "broken"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(testdata, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := filepath.Glob(filepath.Join(testdata, "broken", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(brokenVariants) {
		t.Errorf("testdata/broken holds %d files, want %d (run go test -run TestFixturesUpToDate -update)", len(got), len(brokenVariants))
	}
	for name, b := range want {
		have, err := os.ReadFile(filepath.Join(testdata, name))
		if err != nil {
			t.Errorf("%s: %v (run go test -run TestFixturesUpToDate -update)", name, err)
			continue
		}
		if !bytes.Equal(have, b) {
			t.Errorf("%s is stale (run go test -run TestFixturesUpToDate -update)", name)
		}
	}
}

// compiledPolicies compiles the policies in dir, without their tests.
func compiledPolicies(tb testing.TB, dir string) *compiledSet {
	tb.Helper()
	srcs, err := readSources([]string{dir}, nil, false)
	if err != nil {
		tb.Fatal(err)
	}
	set, err := compileSet(srcs)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// readFixture reads a plan from policies/testdata.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoPolicies(tb), "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func stageContext(stage string, labels ...string) gitops.PolicyContext {
	return gitops.PolicyContext{
		Project: "platform/documents", Stack: "platform", Stage: stage,
		MergeRequest: gitops.MergeRequest{IID: 42, Author: "dev", Labels: labels},
	}
}

func TestCompliantPlatformPasses(t *testing.T) {
	e := NewEngine(Options{})
	dirs := []string{repoPolicies(t)}
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			got, err := e.Check(context.Background(), dirs, readFixture(t, "plan-"+stage+".json"), stageContext(stage))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]gitops.Finding(nil), got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// ids returns the sorted rule ids of the findings of severity sev.
func ids(fs []gitops.Finding, sev gitops.Severity) []string {
	set := map[string]bool{}
	for _, f := range fs {
		if f.Severity == sev {
			set[f.ID] = true
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

var brokenName = regexp.MustCompile(`^([A-Z0-9]+_[0-9]{3})\.(dev|staging|prod)\.[a-z0-9-]+\.json$`)

func TestBrokenVariantsDeniedByExactlyTheirRule(t *testing.T) {
	e := NewEngine(Options{})
	dirs := []string{repoPolicies(t)}
	files, err := os.ReadDir(filepath.Join(repoPolicies(t), "testdata", "broken"))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, file := range files {
		m := brokenName.FindStringSubmatch(file.Name())
		if m == nil {
			t.Errorf("%s: name is not ID.STAGE.NAME.json", file.Name())
			continue
		}
		id, stage := m[1], m[2]
		covered[id] = true
		t.Run(strings.TrimSuffix(file.Name(), ".json"), func(t *testing.T) {
			got, err := e.Check(context.Background(), dirs, readFixture(t, filepath.Join("broken", file.Name())), stageContext(stage))
			if err != nil {
				t.Fatal(err)
			}
			wantDeny, wantWarn := []string{id}, []string{}
			if strings.HasPrefix(id, "CHANGE_002") {
				wantDeny, wantWarn = []string{}, []string{id}
			}
			if diff := cmp.Diff(wantDeny, ids(got, gitops.Deny)); diff != "" {
				t.Errorf("denied by (-want +got):\n%s\nfindings: %+v", diff, got)
			}
			if diff := cmp.Diff(wantWarn, ids(got, gitops.Warn)); diff != "" {
				t.Errorf("warned by (-want +got):\n%s", diff)
			}
			for _, f := range got {
				if f.Address == "" || f.File == "" || f.Rule == "" || !strings.Contains(f.Message, f.Address) {
					t.Errorf("finding lacks its address, file or rule: %+v", f)
				}
			}
		})
	}
	// Every rule id the policies define has a broken variant.
	for _, id := range policyIDs(t) {
		if !covered[id] {
			t.Errorf("rule %s has no broken variant in policies/testdata/broken", id)
		}
	}
}

var idInPolicy = regexp.MustCompile(`tf\.finding\("([A-Z0-9]+_[0-9]{3})"`)

// policyIDs lists the rule ids the repository's policies produce.
func policyIDs(tb testing.TB) []string {
	tb.Helper()
	srcs, err := readSources([]string{repoPolicies(tb)}, nil, false)
	if err != nil {
		tb.Fatal(err)
	}
	set := map[string]bool{}
	for _, s := range srcs {
		for _, m := range idInPolicy.FindAllStringSubmatch(string(s.raw), -1) {
			set[m[1]] = true
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func TestStatefulDestroyAllowedByLabel(t *testing.T) {
	e := NewEngine(Options{})
	plan := readFixture(t, filepath.Join("broken", "CHANGE_001.dev.bucket-destroyed.json"))
	got, err := e.Check(context.Background(), []string{repoPolicies(t)}, plan, stageContext("dev", "allow-destroy"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]gitops.Finding(nil), got); diff != "" {
		t.Errorf("findings with allow-destroy (-want +got):\n%s", diff)
	}
}

func TestPoliciesAreFormatted(t *testing.T) {
	srcs, err := readSources([]string{repoPolicies(t)}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range srcs {
		want, err := format.SourceWithOpts(s.name, s.raw, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
			continue
		}
		if !bytes.Equal(want, s.raw) {
			t.Errorf("%s is not formatted as opa fmt formats it", s.name)
		}
	}
}

func TestRegoUnitTestsPass(t *testing.T) {
	results, err := Test(context.Background(), []string{repoPolicies(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 2*len(policyIDs(t)) {
		t.Errorf("%d Rego tests for %d rules, want a passing and a failing case each", len(results), len(policyIDs(t)))
	}
	for _, r := range results {
		if !r.Passed {
			t.Errorf("%s:%d %s.%s failed %s", r.File, r.Line, r.Package, r.Name, r.Error)
		}
	}
}
