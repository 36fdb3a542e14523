package policy

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// groupedEngine is an engine that evaluates every plan, whatever its size, in groups on three workers.
func groupedEngine() *Engine {
	e := NewEngine(Options{})
	e.workers = func(int) int { return 3 }
	return e
}

// TestGroupedEvaluationAgrees checks the repository's policies on every fixture plan and on two
// generated ones, evaluated whole and in groups (twice: the second run takes the groups in the order
// of their measured cost), and wants the same findings.
func TestGroupedEvaluationAgrees(t *testing.T) {
	dirs := []string{repoPolicies(t)}
	type plan struct {
		stage string
		json  []byte
	}
	plans := map[string]plan{
		"violating": {"prod", violatingPlan(300)},
		"clean":     {"prod", scaledPlan(300)},
	}
	for _, stage := range stages {
		plans["plan-"+stage] = plan{stage, readFixture(t, "plan-"+stage+".json")}
	}
	broken, err := filepath.Glob(filepath.Join(repoPolicies(t), "testdata", "broken", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range broken {
		name := filepath.Base(f)
		plans[name] = plan{strings.Split(name, ".")[1], readFixture(t, filepath.Join("broken", name))}
	}
	whole, grouped := NewEngine(Options{}), groupedEngine()
	findings := 0
	for name, p := range plans {
		want, err := whole.Check(context.Background(), dirs, p.json, stageContext(p.stage))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		findings += len(want)
		for run := range 2 {
			got, err := grouped.Check(context.Background(), dirs, p.json, stageContext(p.stage))
			if err != nil {
				t.Fatalf("%s, grouped run %d: %v", name, run, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s, grouped run %d (-whole +grouped):\n%s", name, run, diff)
			}
		}
	}
	if findings < len(broken) {
		t.Errorf("%d findings over %d broken plans: the comparison compared too little", findings, len(broken))
	}
}

// TestGroupsKeepSharedHelpersTogether checks how the repository's rules are grouped: the IAM rules,
// which share the index of role statements, in one group; lib.tf's indexes, which nearly every rule
// reads, binding nothing.
func TestGroupsKeepSharedHelpersTogether(t *testing.T) {
	set := compiledPolicies(t, repoPolicies(t))
	var groups [][]string
	for _, g := range set.groups {
		var names []string
		for _, ref := range g.refs {
			names = append(names, string(ref[len(ref)-1].Value.(ast.String)))
		}
		slices.Sort(names)
		groups = append(groups, names)
	}
	find := func(rule string) []string {
		for _, g := range groups {
			if slices.Contains(g, rule) {
				return g
			}
		}
		t.Fatalf("%s is in no group: %v", rule, groups)
		return nil
	}
	if got := find("deny_iam_wildcard"); !slices.Equal(got, []string{"deny_iam_plan_role_write", "deny_iam_wildcard"}) {
		t.Errorf("the IAM rules' group is %v", got)
	}
	if got := find("deny_missing_tags"); !slices.Equal(got, []string{"deny_missing_tags"}) {
		t.Errorf("the tag rule's group is %v", got)
	}
	if len(groups) < len(set.rules)/2 {
		t.Errorf("%d rules in %d groups: %v", len(set.rules), len(groups), groups)
	}
}

// TestGroupsShareNothingComputedUnderWith evaluates a rule that computes a document under `with` beside
// one that computes it on the plan, in different groups that share what they compute: the value
// computed under `with` must stay there.
func TestGroupsShareNothingComputedUnderWith(t *testing.T) {
	dir := writePolicies(t, map[string]string{"main.rego": `package main

changes := count(input.resource_changes)

deny_changes contains sprintf("%d changes", [changes]) if changes > 0

deny_pretend contains sprintf("%d pretended", [n]) if {
	n := changes with input as {"resource_changes": [1, 2, 3]}
}

deny_again contains sprintf("%d again", [changes]) if changes > 0
`})
	if set := compiledPolicies(t, dir); len(set.groups) < 3 {
		t.Fatalf("%d groups, want each rule in its own", len(set.groups))
	}
	e := groupedEngine()
	for run := range 20 {
		got, err := e.Check(context.Background(), []string{dir}, []byte(smallPlan), gitops.PolicyContext{})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, f := range got {
			msgs = append(msgs, f.Message)
		}
		slices.Sort(msgs)
		if want := []string{"1 again", "1 changes", "3 pretended"}; !slices.Equal(msgs, want) {
			t.Fatalf("run %d: %q, want %q", run, msgs, want)
		}
	}
}
