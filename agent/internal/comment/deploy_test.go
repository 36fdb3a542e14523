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
		{"deploy-release", func(testing.TB) gitops.Promotion {
			at := time.Date(2026, 12, 6, 12, 0, 5, 0, time.UTC)
			n := deployNote(
				gitops.Step{Stack: "api", Stage: "staging", State: gitops.StepDone, Summary: added, Duration: time.Minute},
				gitops.Step{Kind: gitops.StepRelease, Function: "documents", Stage: "staging", State: gitops.StepDone, Summary: "released version 12", Duration: 11 * time.Minute,
					Release: &gitops.Release{Function: "documents", FunctionName: "documents-api-staging", Alias: "live", SHA256: strings.Repeat("ab", 32),
						OldVersion: "11", NewVersion: "12", Traffic: []gitops.TrafficMove{{Weight: 10, At: at}, {Weight: 100, At: at.Add(5 * time.Minute)}},
						Alarms: []gitops.Alarm{{Name: "documents-staging-errors", State: "ALARM", Reason: "Threshold Crossed: 3 errors | <b>", URL: "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/documents-staging-errors"},
							{Name: "documents-staging-p99", State: "OK"}},
						DashboardURL:      "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/gitops-documents-api-staging-live",
						StageDashboardURL: "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/gitops-agent-staging-platform"}},
				gitops.Step{Kind: gitops.StepRelease, Function: "documents", Stage: "prod", State: gitops.StepFailed, Duration: 2 * time.Minute,
					Error: "release documents-api-prod: bake at 10% on version 7: watch: alarm \"documents-prod-errors\" is in ALARM (alias live restored to version 6)",
					Release: &gitops.Release{Function: "documents", FunctionName: "documents-api-prod", Alias: "live", OldVersion: "6", NewVersion: "7", RolledBack: true, Cause: "alarm",
						Traffic: []gitops.TrafficMove{{Weight: 10, At: at}, {Weight: 0, At: at.Add(time.Minute)}}}},
			)
			n.Alerts = []string{"documents in staging, version 12, after its release: alarm documents-staging-errors is in ALARM: 3 errors"}
			return n
		}},
		{"deploy-resumed", func(testing.TB) gitops.Promotion {
			return deployNote(
				gitops.Step{Stack: "network", Stage: "dev", State: gitops.StepDone, Summary: "applied before the agent restarted"},
				gitops.Step{Stack: "api", Stage: "dev", State: gitops.StepDone, Summary: "No changes.", Duration: 8 * time.Second, Resumed: true},
				gitops.Step{Stack: "network", Stage: "prod", State: gitops.StepApplying, Summary: "Plan: 0 to add, 1 to change, 0 to destroy.", Duration: 20 * time.Second, Resumed: true},
				gitops.Step{Stack: "api", Stage: "prod", State: gitops.StepPlanning, Resumed: true},
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

func TestRenderAlert(t *testing.T) {
	t.Parallel()
	a := gitops.Alert{Project: "group/app", MR: 42, Commit: sha, Function: "documents", Stage: "prod", FunctionName: "documents-api-prod", Version: "7",
		Alarms: []gitops.Alarm{{Name: "documents-prod-errors", State: "ALARM", Reason: "Threshold Crossed\n```<script>", URL: "https://eu-west-1.console.aws.amazon.com/x"}}}
	got := RenderAlert(a)
	if !strings.HasPrefix(got, AlertKey(a)) || !strings.HasPrefix(got, AlertMarker+"\n") {
		t.Errorf("alert does not start with its key: %.120q", got)
	}
	for _, want := range []string{"Alarm after the release of `documents` in `prod`", "Version `7` of `documents-api-prod`", "[`documents-prod-errors`](https://eu-west-1.console.aws.amazon.com/x) is in ALARM"} {
		if !strings.Contains(got, want) {
			t.Errorf("alert lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "<script>") || strings.Contains(got, "\n```") {
		t.Errorf("the alarm's reason escaped into markdown:\n%s", got)
	}
	b := a
	b.Stage = "staging"
	if AlertKey(a) == AlertKey(b) {
		t.Error("alerts of two stages share a key")
	}
}

func TestRenderRollback(t *testing.T) {
	t.Parallel()
	rb := gitops.Rollback{
		Request:  gitops.RollbackRequest{Project: "group/app", MR: 42, Commit: sha, Trigger: gitops.TriggerAlarm, Stage: "prod", Target: "documents", Reason: "documents failed in prod <b>"},
		State:    gitops.RollbackReverted,
		Restored: []string{"documents in staging: 12 → 11"}, Reverted: sha, Branch: gitops.RevertBranch(sha),
		RevertMR: 43, RevertURL: "https://gitlab.example.com/group/app/-/merge_requests/43",
	}
	got := RenderRollback(rb)
	for _, want := range []string{RollbackMarker + "\n", "documents failed in prod \\<b\\>", "`documents` · `prod`", "documents in staging: 12 → 11",
		"[`!43`](https://gitlab.example.com/group/app/-/merge_requests/43)", "`gitops/revert-4f1c9e0b`"} {
		if !strings.Contains(got, want) {
			t.Errorf("rollback note lacks %q:\n%s", want, got)
		}
	}
	rb.State, rb.Error = gitops.RollbackFailed, "GitLab cannot revert 4f1c9e0b onto main: the revert conflicts with the branch"
	if got := RenderRollback(rb); !strings.Contains(got, "No automatic revert:** GitLab cannot revert") {
		t.Errorf("a failed revert is not explained:\n%s", got)
	}
	rb.RevertFailed = "the promotion of revert !43 failed at api in prod"
	if got := RenderRollback(rb); !strings.Contains(got, "**🚨 the promotion of revert !43 failed at api in prod.** A revert is never rolled back automatically") {
		t.Errorf("a failed revert is not shouted:\n%s", got)
	}
	desc := RenderRevertDescription(rb, gitops.MergeRequest{IID: 42, Title: "Bigger cache"})
	for _, want := range []string{"Reverts !42 (Bigger cache)", "documents failed in prod", "documents in staging: 12 → 11", gitops.RollbackLabel} {
		if !strings.Contains(desc, want) {
			t.Errorf("revert description lacks %q:\n%s", want, desc)
		}
	}
	n := deployNote(gitops.Step{Stack: "api", Stage: "dev", State: gitops.StepDone})
	n.RolledBack = "rolled back after documents failed in prod: revert merge request !43"
	if got := RenderDeploy(n); !strings.Contains(got, "↩️ **Rolled back:** rolled back after documents failed in prod") {
		t.Errorf("the deploy note does not show the rollback:\n%s", got)
	}
}

func TestRenderPlanOfARevert(t *testing.T) {
	t.Parallel()
	got := RenderPlan(gitops.PlanOutcome{Project: "group/app", MR: 43, Commit: sha, RevertOf: 42})
	if !strings.Contains(got, "↩️ **Rollback:** gitops-agent opened this merge request to revert !42") {
		t.Errorf("the plan note of a revert does not say so:\n%s", got)
	}
	if got := RenderPlan(gitops.PlanOutcome{Project: "group/app", MR: 43, Commit: sha}); strings.Contains(got, "Rollback:") {
		t.Errorf("the plan note of another merge request mentions a rollback:\n%s", got)
	}
}
