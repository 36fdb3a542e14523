package gitops

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPromotionStatuses(t *testing.T) {
	step := func(stack, stage string, state StepState, reason string) Step {
		return Step{Kind: StepApply, Stack: stack, Stage: stage, State: state, Reason: reason}
	}
	tests := []struct {
		name  string
		steps []Step
		want  []Status
	}{
		{"nothing started", []Step{step("a", "dev", StepWaiting, "")}, nil},
		{
			"first stage running, second waiting",
			[]Step{step("a", "dev", StepDone, ""), step("b", "dev", StepPlanning, ""), step("a", "prod", StepWaiting, "")},
			[]Status{{Name: "gitops/apply: dev", State: StatusRunning, Description: "applying"}},
		},
		{
			"between two steps of a stage",
			[]Step{step("a", "dev", StepDone, ""), step("b", "dev", StepWaiting, "")},
			[]Status{{Name: "gitops/apply: dev", State: StatusRunning, Description: "applying"}},
		},
		{
			"done, with a step a later merge covers",
			[]Step{step("a", "dev", StepDone, ""), step("b", "dev", StepSkipped, "!4 is live")},
			[]Status{{Name: "gitops/apply: dev", State: StatusSuccess, Description: "2 stacks applied"}},
		},
		{
			"failure skips the rest",
			[]Step{step("a", "dev", StepDone, ""), step("b", "dev", StepFailed, ""), step("a", "prod", StepSkipped, "an earlier step failed")},
			[]Status{
				{Name: "gitops/apply: dev", State: StatusFailed, Description: "failed at b"},
				{Name: "gitops/apply: prod", State: StatusCanceled, Description: "an earlier step failed"},
			},
		},
		{
			"interrupted",
			[]Step{step("a", "dev", StepInterrupted, ""), step("b", "dev", StepWaiting, "")},
			[]Status{{Name: "gitops/apply: dev", State: StatusCanceled, Description: "interrupted at a; the promotion resumes"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Promotion{Steps: tt.steps}.Statuses()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPromotionInterruptAndSkip(t *testing.T) {
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	p := Promotion{Steps: []Step{
		{Stack: "a", Stage: "dev", State: StepDone},
		{Stack: "b", Stage: "dev", State: StepApplying, Started: start},
		{Stack: "a", Stage: "prod", State: StepWaiting},
	}}
	p.Interrupt("the agent stopped", start.Add(time.Minute))
	p.SkipWaiting(2, "superseded")
	want := []Step{
		{Stack: "a", Stage: "dev", State: StepDone},
		{Stack: "b", Stage: "dev", State: StepInterrupted, Started: start, Duration: time.Minute, Error: "the agent stopped"},
		{Stack: "a", Stage: "prod", State: StepSkipped, Reason: "superseded"},
	}
	if diff := cmp.Diff(want, p.Steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

func TestMergedCommit(t *testing.T) {
	for _, tt := range []struct {
		mr   MergeRequest
		want string
	}{
		{MergeRequest{State: "opened", HeadSHA: "h", MergeCommitSHA: "m"}, ""},
		{MergeRequest{State: "merged", HeadSHA: "h", MergeCommitSHA: "m", SquashCommitSHA: "s"}, "m"},
		{MergeRequest{State: "merged", HeadSHA: "h", SquashCommitSHA: "s"}, "s"},
		{MergeRequest{State: "merged", HeadSHA: "h"}, "h"},
	} {
		if got := tt.mr.MergedCommit(); got != tt.want {
			t.Errorf("%+v.MergedCommit() = %q, want %q", tt.mr, got, tt.want)
		}
	}
}
