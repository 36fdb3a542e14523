package pipeline

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// savedPlans is a Terraform whose workspaces record the plan files they are asked to save.
type savedPlans struct {
	Terraform
	mu    sync.Mutex
	files []string
}

func (s *savedPlans) Open(ctx context.Context, spec WorkspaceSpec) (Workspace, error) {
	ws, err := s.Terraform.Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	return savedPlansWorkspace{ws, s}, nil
}

type savedPlansWorkspace struct {
	Workspace
	s *savedPlans
}

func (w savedPlansWorkspace) Plan(ctx context.Context, planFile string) (PlanOutput, error) {
	w.s.mu.Lock()
	w.s.files = append(w.s.files, planFile)
	w.s.mu.Unlock()
	return w.Workspace.Plan(ctx, planFile)
}

// TestPlanJobLeavesNoPlanFile runs plan jobs that end each way a plan job ends: the plan files they saved
// in the data dir (they hold sensitive values) are gone once the note is posted.
func TestPlanJobLeavesNoPlanFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		plan     func(context.Context) (*gitops.Plan, error) // nil: a plan with one change
		policies policiesFunc
	}{
		{name: "planned"},
		{name: "denied", policies: func(context.Context, gitops.PolicyContext) ([]gitops.Finding, error) {
			return []gitops.Finding{{Severity: gitops.Deny, Message: "no"}}, nil
		}},
		{name: "policy error", policies: func(context.Context, gitops.PolicyContext) ([]gitops.Finding, error) {
			return nil, errors.New("policy engine broke")
		}},
		{name: "policy panic", policies: func(context.Context, gitops.PolicyContext) ([]gitops.Finding, error) {
			panic("policy engine panicked")
		}},
		{name: "terraform failed", plan: func(context.Context) (*gitops.Plan, error) {
			return nil, errors.New("terraform plan failed")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tf := &savedPlans{Terraform: fakeTerraform{plan: tt.plan}}
			r, rep, _ := newTestRunner(t, map[int][]string{3: {"stacks/a/main.tf"}}, fakeTerraform{}, nil)
			r.Terraform, r.MRs = tf, mrs{changed: map[int][]string{3: {"stacks/a/main.tf"}}, state: gitops.MergeRequestOpened, head: sha}
			if tt.policies != nil {
				r.Policies = tt.policies
			}
			if err := r.HandlePlan(context.Background(), gitops.PlanRequest{Project: "g/p", MR: 3, HeadSHA: sha}, Attempt{}); err != nil {
				t.Fatalf("HandlePlan: %v", err)
			}
			if rep.plan == nil || len(rep.plan.Runs) != 2 {
				t.Fatalf("plan note %+v: want one with the runs of a in dev and prod", rep.plan)
			}
			if len(tf.files) != 2 {
				t.Fatalf("%d plans saved, want 2: %v", len(tf.files), tf.files)
			}
			for _, f := range tf.files {
				if rel, err := filepath.Rel(r.DataDir, f); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("plan saved at %s, outside the data dir %s", f, r.DataDir)
				}
			}
			var left []string
			err := filepath.WalkDir(r.DataDir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					left = append(left, p)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("files left in the data dir after the plan job: %v", left)
			}
			for _, f := range tf.files {
				if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("saved plan %s still there (%v)", f, err)
				}
			}
		})
	}
}
