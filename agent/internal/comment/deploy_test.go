package comment

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func deployNote(steps ...DeployStep) DeployNote {
	return DeployNote{
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
		note func(t testing.TB) DeployNote
	}{
		{"deploy-progress", func(testing.TB) DeployNote {
			return deployNote(
				DeployStep{Stack: "network", Stage: "dev", State: DeployApplied, Summary: added, Duration: 42 * time.Second},
				DeployStep{Stack: "api", Stage: "dev", State: DeployApplied, Summary: "No changes.", Duration: 3 * time.Second},
				DeployStep{Stack: "network", Stage: "prod", State: DeployApplying, Summary: added, Duration: 12*time.Second + 400*time.Millisecond},
				DeployStep{Stack: "api", Stage: "prod", State: DeployWaiting},
			)
		}},
		{"deploy-done", func(testing.TB) DeployNote {
			return deployNote(
				DeployStep{Stack: "network", Stage: "dev", State: DeployApplied, Summary: added, Duration: time.Minute},
				DeployStep{Stack: "network", Stage: "prod", State: DeployApplied, Summary: added, Duration: 2 * time.Minute},
			)
		}},
		{"deploy-failed", func(t testing.TB) DeployNote {
			return deployNote(
				DeployStep{Stack: "network", Stage: "dev", State: DeployApplied, Summary: added, Duration: time.Minute},
				DeployStep{Stack: "api|v2", Stage: "dev", State: DeployFailed, Summary: added, Duration: 9 * time.Second,
					Error: "terraform apply: exit status 1\n" + readFile(t, filepath.Join("testdata", "error.error.txt"))},
				DeployStep{Stack: "network", Stage: "prod", State: DeploySkipped, Reason: "an earlier step failed <b>"},
				DeployStep{Stack: "api|v2", Stage: "prod", State: DeploySkipped, Reason: "an earlier step failed"},
			)
		}},
		{"deploy-changed-since-review", func(testing.TB) DeployNote {
			return deployNote(
				DeployStep{Stack: "data", Stage: "dev", State: DeployApplied, Summary: added, Duration: time.Minute,
					Review: "changed since review (not reviewed: delete aws_s3_bucket.logs, replace aws_db_instance.main; reviewed but no longer planned: create aws_kms_key.docs)"},
				DeployStep{Stack: "data", Stage: "prod", State: DeployFailed, Summary: added, Duration: 5 * time.Second,
					Review: "no plan of this stack and stage was posted on the merge request", Error: "policy denied the apply:\n- [CHANGE_003] prod plan differs from the reviewed one"},
			)
		}},
		{"deploy-error", func(testing.TB) DeployNote {
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
	var steps []DeployStep
	for range 1000 {
		steps = append(steps, DeployStep{Stack: "s", Stage: "p", State: DeployFailed, Error: huge})
	}
	got := RenderDeploy(deployNote(steps...))
	checkDeploy(t, got)
	for _, marker := range []string{"more failures not shown", "more steps not shown", "more lines of diagnostics not shown"} {
		if !strings.Contains(got, marker) {
			t.Errorf("note has no %q marker", marker)
		}
	}
}
