package comment

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

func deployNote(steps ...gitops.Step) gitops.Promotion {
	return gitops.Promotion{
		Project:   "group/app",
		MR:        42,
		Commit:    sha,
		CommitURL: "https://gitlab.example.com/group/app/-/commit/" + sha,
		Steps:     steps,
	}
}

func TestRenderDeployGolden(t *testing.T) {
	t.Parallel()
	const added = "Plan: 2 to add, 0 to change, 0 to destroy."
	tests := []struct {
		name string
		note func(t testing.TB) gitops.Promotion
	}{
		{"deploy-progress", func(testing.TB) gitops.Promotion {
			return deployNote(
				gitops.Step{Stack: "network", Stage: "dev", State: gitops.StepDone, Summary: added, Duration: 42 * time.Second},
				gitops.Step{Stack: "api", Stage: "dev", State: gitops.StepDone, Summary: "No changes.", Duration: 3 * time.Second},
				gitops.Step{Stack: "network", Stage: "prod", State: gitops.StepApplying, Summary: added, Duration: 12*time.Second + 400*time.Millisecond},
				gitops.Step{Stack: "api", Stage: "prod", State: gitops.StepWaiting},
			)
		}},
		{"deploy-done", func(testing.TB) gitops.Promotion {
			return deployNote(
				gitops.Step{Stack: "network", Stage: "dev", State: gitops.StepDone, Summary: added, Duration: time.Minute},
				gitops.Step{Stack: "network", Stage: "prod", State: gitops.StepDone, Summary: added, Duration: 2 * time.Minute},
			)
		}},
		{"deploy-failed", func(t testing.TB) gitops.Promotion {
			return deployNote(
				gitops.Step{Stack: "network", Stage: "dev", State: gitops.StepDone, Summary: added, Duration: time.Minute},
				gitops.Step{Stack: "api|v2", Stage: "dev", State: gitops.StepFailed, Summary: added, Duration: 9 * time.Second,
					Error: "terraform apply: exit status 1\n" + readFile(t, filepath.Join("testdata", "error.error.txt"))},
				gitops.Step{Stack: "network", Stage: "prod", State: gitops.StepSkipped, Reason: "an earlier step failed <b>"},
				gitops.Step{Stack: "api|v2", Stage: "prod", State: gitops.StepSkipped, Reason: "an earlier step failed"},
			)
		}},
		{"deploy-changed-since-review", func(testing.TB) gitops.Promotion {
			return deployNote(
				gitops.Step{Stack: "data", Stage: "dev", State: gitops.StepDone, Summary: added, Duration: time.Minute,
					Review: "changed since review (not reviewed: delete aws_s3_bucket.logs, replace aws_db_instance.main; reviewed but no longer planned: create aws_kms_key.docs)"},
				gitops.Step{Stack: "data", Stage: "prod", State: gitops.StepFailed, Summary: added, Duration: 5 * time.Second,
					Review: "no plan of this stack and stage was posted on the merge request", Error: "policy denied the apply:\n- [CHANGE_003] prod plan differs from the reviewed one"},
			)
		}},
		{"deploy-error", func(testing.TB) gitops.Promotion {
			n := deployNote()
			n.Error = "fetch source at " + sha + ": GET archive: 404 Not Found"
			return n
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := RenderDeploy(tt.note(t))
			golden(t, tt.name, got)
			checkDeploy(t, got)
		})
	}
}

func checkDeploy(t testing.TB, got string) {
	t.Helper()
	if !strings.HasPrefix(got, DeployMarker+"\n") {
		t.Errorf("note does not start with the deploy marker: %.80q", got)
	}
	// The plan note's checks apply once the marker is swapped.
	checkNote(t, PlanMarker+strings.TrimPrefix(got, DeployMarker), MaxNoteSize)
}

func TestRenderDeployLimitsSize(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("diagnostic line with ``` and <script>\n", 30_000)
	var steps []gitops.Step
	for range 1000 {
		steps = append(steps, gitops.Step{Stack: "s", Stage: "p", State: gitops.StepFailed, Error: huge})
	}
	got := RenderDeploy(deployNote(steps...))
	checkDeploy(t, got)
	for _, marker := range []string{"more failures not shown", "more steps not shown", "more lines of diagnostics not shown"} {
		if !strings.Contains(got, marker) {
			t.Errorf("note has no %q marker", marker)
		}
	}
}
