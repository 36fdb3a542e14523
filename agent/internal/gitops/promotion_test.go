package gitops

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// TestInterruptedStatusOfALongStepSaysItResumes: a step name too long for a status is cut, not the
// words that say the promotion resumes (Status.Retrying reads them).
func TestInterruptedStatusOfALongStepSaysItResumes(t *testing.T) {
	stack := strings.Repeat("é", 300)
	got := Promotion{Steps: []Step{{Kind: StepApply, Stack: stack, Stage: "dev", State: StepInterrupted}}}.Statuses()[0]
	if n := utf8.RuneCountInString(got.Description); n > MaxStatusDescription {
		t.Errorf("description of %d characters, want at most %d", n, MaxStatusDescription)
	}
	if !got.Retrying() || !strings.HasPrefix(got.Description, "interrupted at éé") {
		t.Errorf("status %+v does not say the promotion resumes", got)
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

func TestStatusesCountReleases(t *testing.T) {
	p := Promotion{Steps: []Step{
		{Kind: StepApply, Stack: "a", Stage: "dev", State: StepDone},
		{Kind: StepRelease, Function: "api", Stage: "dev", State: StepReleasing, Release: &Release{NewVersion: "2", Traffic: []TrafficMove{{Weight: 10}}}},
	}}
	if got := p.Statuses()[0]; got.State != StatusRunning || got.Description != "releasing api: 10% on version 2" {
		t.Errorf("status while releasing = %+v", got)
	}
	p.Steps[1].State = StepDone
	if got := p.Statuses()[0]; got.State != StatusSuccess || got.Description != "1 stack applied, 1 function released" {
		t.Errorf("status when done = %+v", got)
	}
	p.Steps[1].State = StepFailed
	if got := p.Statuses()[0]; got.State != StatusFailed || got.Description != "failed at api" {
		t.Errorf("status when the release failed = %+v", got)
	}
}

func TestReleaseWords(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 5, 0, time.UTC)
	r := Release{OldVersion: "11", NewVersion: "12", Traffic: []TrafficMove{{Weight: 10, At: at}, {Weight: 0, At: at.Add(time.Minute)}}}
	if got := r.Versions(); got != "11 → 12" {
		t.Errorf("Versions = %q", got)
	}
	if got := r.TrafficText(); got != "10% 12:00:05 · restored to 11 12:01:05" {
		t.Errorf("TrafficText = %q", got)
	}
	if got := (Release{NewVersion: "1"}).Versions(); got != "→ 1" {
		t.Errorf("first release Versions = %q", got)
	}
	if got := (Release{OldVersion: "3"}).Versions(); got != "3" {
		t.Errorf("unpublished Versions = %q", got)
	}
}
