package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// driftTerraform plans each stack × stage (named by its work dir, "STACK.STAGE") as plans says; a
// missing entry plans no changes, an entry with err fails.
type driftTerraform struct {
	mu    sync.Mutex
	plans map[string]driftPlan
	specs []WorkspaceSpec
}

type driftPlan struct {
	changes []gitops.ResourceChange
	err     error
}

func (t *driftTerraform) Open(_ context.Context, spec WorkspaceSpec) (Workspace, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.specs = append(t.specs, spec)
	p := t.plans[filepath.Base(spec.WorkDir)]
	if p.err != nil {
		return nil, p.err
	}
	return driftWorkspace{p}, nil
}

func (t *driftTerraform) set(plans map[string]driftPlan) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.plans = plans
}

type driftWorkspace struct{ p driftPlan }

func (w driftWorkspace) Plan(context.Context, string) (PlanOutput, error) {
	plan := &gitops.Plan{Changes: w.p.changes}
	for _, c := range w.p.changes {
		switch c.Action {
		case gitops.ActionCreate:
			plan.Summary.Add++
		case gitops.ActionUpdate:
			plan.Summary.Change++
		case gitops.ActionDelete:
			plan.Summary.Destroy++
		}
	}
	return PlanOutput{Plan: plan, JSON: []byte(`{}`)}, nil
}

func (driftWorkspace) Apply(context.Context, string) error {
	return errors.New("a drift check never applies")
}

// driftLedger is what is live, and the checks kept.
type driftLedger struct {
	mu     sync.Mutex
	live   []gitops.Live
	checks map[string]gitops.Drift
}

func (l *driftLedger) Live(context.Context, string) ([]gitops.Live, error) { return l.live, nil }

func (l *driftLedger) SaveDrift(_ context.Context, d gitops.Drift) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.checks == nil {
		l.checks = map[string]gitops.Drift{}
	}
	l.checks[d.Stack+"/"+d.Stage] = d
	return nil
}

// driftIssue is one issue of the fake tracker.
type driftIssue struct {
	open   bool
	drifts []gitops.Drift
	edits  int
}

type issueTracker struct{ issues []*driftIssue }

func (it *issueTracker) DriftIssue(context.Context, string) (int, error) {
	for i, is := range it.issues {
		if is.open {
			return i + 1, nil
		}
	}
	return 0, nil
}

func (it *issueTracker) OpenDriftIssue(_ context.Context, _ string, drifts []gitops.Drift) (int, error) {
	it.issues = append(it.issues, &driftIssue{open: true, drifts: drifts})
	return len(it.issues), nil
}

func (it *issueTracker) EditDriftIssue(_ context.Context, _ string, iid int, drifts []gitops.Drift) error {
	it.issues[iid-1].drifts = drifts
	it.issues[iid-1].edits++
	return nil
}

func (it *issueTracker) CloseDriftIssue(_ context.Context, _ string, iid int, drifts []gitops.Drift) error {
	it.issues[iid-1].open, it.issues[iid-1].drifts = false, drifts
	return nil
}

// states are "STACK/STAGE STATE" of checks.
func states(drifts []gitops.Drift) []string {
	var out []string
	for _, d := range drifts {
		out = append(out, d.Stack+"/"+d.Stage+" "+string(d.State))
	}
	return out
}

func TestDriftOpensEditsAndClosesOneIssue(t *testing.T) {
	ctx := context.Background()
	tf := &driftTerraform{}
	r := &Runner{Source: treeSource(twoStacks(t)), MRs: mrs{}, Terraform: tf, Policies: policiesFunc(nil), DataDir: t.TempDir(), MaxParallel: 2}
	const commit = "c0ffee"
	l := &driftLedger{live: []gitops.Live{
		{Stack: "a", Stage: "dev", Commit: commit, MR: 7}, {Stack: "a", Stage: "prod", Commit: commit, MR: 7},
		{Stack: "b", Stage: "dev", Commit: commit, MR: 7}, {Stack: "gone", Stage: "dev", Commit: commit, MR: 7},
	}}
	issues := &issueTracker{}
	observed := map[string]int{}
	d := &DriftChecker{
		Runner: r, Ledger: l, Issues: issues,
		Redact:  func(s string) string { return strings.ReplaceAll(s, "s3cr3t", "[masked]") },
		Observe: func(project string, n int) { observed[project] = n },
	}
	update := []gitops.ResourceChange{{Address: "terraform_data.x", Action: gitops.ActionUpdate}}

	// a/dev drifted, a/prod clean, b/dev cannot plan, and a stack no longer in the live commit's config.
	tf.set(map[string]driftPlan{"a.dev": {changes: update}, "b.dev": {err: errors.New("backend refused token s3cr3t")}})
	if err := d.HandleDrift(ctx, "g/app", Attempt{}); err != nil {
		t.Fatal(err)
	}
	if len(issues.issues) != 1 || !issues.issues[0].open {
		t.Fatalf("issues after drift: %+v", issues.issues)
	}
	want := []string{"a/dev drifted", "a/prod clean", "b/dev error", "gone/dev error"}
	if diff := cmp.Diff(want, states(issues.issues[0].drifts)); diff != "" {
		t.Errorf("issue rows (-want +got):\n%s", diff)
	}
	got := l.checks["a/dev"]
	if got.Summary != "0 to add, 1 to change, 0 to destroy" || !cmp.Equal(got.Resources, []string{"update terraform_data.x"}) ||
		got.Commit != commit || got.MR != 7 || got.Project != "g/app" || got.CheckedAt.IsZero() {
		t.Errorf("a/dev check = %+v", got)
	}
	if e := l.checks["b/dev"].Error; !strings.Contains(e, "[masked]") || strings.Contains(e, "s3cr3t") {
		t.Errorf("b/dev error = %q, want it redacted", e)
	}
	if observed["g/app"] != 1 {
		t.Errorf("observed %v drifted, want 1", observed)
	}
	for _, spec := range tf.specs {
		if !spec.ReadOnly {
			t.Errorf("%s was planned with the state lock", spec.WorkDir)
		}
	}

	// More drift: the same issue is edited, not a second one opened.
	tf.set(map[string]driftPlan{"a.dev": {changes: update}, "a.prod": {changes: update}, "b.dev": {changes: update}})
	l.live = l.live[:3]
	if err := d.HandleDrift(ctx, "g/app", Attempt{}); err != nil {
		t.Fatal(err)
	}
	if len(issues.issues) != 1 || issues.issues[0].edits != 1 || gitops.Drifted(issues.issues[0].drifts) != 3 {
		t.Fatalf("issues after more drift: %d, edits %d", len(issues.issues), issues.issues[0].edits)
	}

	// Everything clean again: the issue is closed.
	tf.set(nil)
	if err := d.HandleDrift(ctx, "g/app", Attempt{}); err != nil {
		t.Fatal(err)
	}
	if issues.issues[0].open || observed["g/app"] != 0 {
		t.Errorf("after clean: issue open %v, observed %v", issues.issues[0].open, observed)
	}

	// Only failures, no issue open: none is opened (an error says nothing about drift).
	tf.set(map[string]driftPlan{"a.dev": {err: errors.New("no credentials")}})
	if err := d.HandleDrift(ctx, "g/app", Attempt{}); err != nil {
		t.Fatal(err)
	}
	if len(issues.issues) != 1 || issues.issues[0].open {
		t.Errorf("a failed check opened or reopened an issue: %+v", issues.issues)
	}
}

func TestDriftPlansWithTheDefaultBranchPlanRole(t *testing.T) {
	ctx := context.Background()
	dir := twoStacks(t)
	writeFile(t, dir, ".gitops.yaml", "version: 1\nstages:\n  - name: dev\n    role_arn: arn:aws:iam::123456789012:role/apply\n    plan_role_arn: arn:aws:iam::123456789012:role/plan\n  - name: prod\n    role_arn: arn:aws:iam::123456789012:role/apply-prod\nstacks:\n  - name: a\n    dir: stacks/a\n")
	var mu sync.Mutex
	var roles []string
	r := &Runner{
		Source: treeSource(dir), MRs: mrs{}, Terraform: &driftTerraform{}, Policies: policiesFunc(nil), DataDir: t.TempDir(),
		Credentials: func(_ context.Context, role, _ string, mr int) (map[string]string, error) {
			mu.Lock()
			defer mu.Unlock()
			roles = append(roles, role)
			return map[string]string{}, nil
		},
	}
	l := &driftLedger{live: []gitops.Live{{Stack: "a", Stage: "dev", Commit: "c1", MR: 1}, {Stack: "a", Stage: "prod", Commit: "c1", MR: 1}}}
	d := &DriftChecker{Runner: r, Ledger: l}
	if err := d.HandleDrift(ctx, "g/app", Attempt{}); err != nil {
		t.Fatal(err)
	}
	// dev plans with its plan role; prod has none and plans without credentials, never with role_arn.
	if diff := cmp.Diff([]string{"arn:aws:iam::123456789012:role/plan"}, roles); diff != "" {
		t.Errorf("roles assumed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a/dev clean", "a/prod clean"}, states([]gitops.Drift{l.checks["a/dev"], l.checks["a/prod"]})); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
