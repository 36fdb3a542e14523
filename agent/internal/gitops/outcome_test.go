package gitops

import (
	"fmt"
	"strings"
	"testing"
)

func outcome(runs ...StackRun) PlanOutcome {
	return PlanOutcome{Project: "g/app", MR: 1, Commit: strings.Repeat("a", 40), Runs: runs}
}

func TestPlanOutcomeStatus(t *testing.T) {
	t.Parallel()
	ok := func(stack, stage string, s PlanSummary, findings ...Finding) StackRun {
		return StackRun{Stack: stack, Stage: stage, Plan: &Plan{Summary: s}, Findings: findings}
	}
	warn := Finding{Severity: Warn, Message: "w"}
	deny := Finding{Severity: Deny, Message: "d"}
	tests := []struct {
		name      string
		note      PlanOutcome
		wantState string
		wantDesc  string
	}{
		{
			name: "all good",
			note: outcome(
				ok("net", "dev", PlanSummary{Add: 2}), ok("net", "prod", PlanSummary{Add: 2, Change: 1}),
				ok("api", "dev", PlanSummary{Import: 1, Destroy: 1}, warn), ok("api", "prod", PlanSummary{}),
			),
			wantState: "success",
			wantDesc:  "2 stacks × 2 stages: 1 to import, 4 to add, 1 to change, 1 to destroy; 1 warning",
		},
		{
			name:      "denied",
			note:      outcome(ok("net", "dev", PlanSummary{Add: 1}, deny, warn, warn)),
			wantState: "failed",
			wantDesc:  "1 stack × 1 stage: 1 to add, 0 to change, 0 to destroy; 1 denied; 2 warnings",
		},
		{
			name:      "policy error blocks",
			note:      outcome(StackRun{Stack: "a", Stage: "b", Plan: &Plan{}, PolicyError: "compile"}),
			wantState: "failed",
			wantDesc:  "1 stack × 1 stage: 0 to add, 0 to change, 0 to destroy; 1 denied",
		},
		{
			name:      "plan failed",
			note:      outcome(ok("a", "dev", PlanSummary{Forget: 1}), StackRun{Stack: "a", Stage: "prod", Error: "boom"}),
			wantState: "failed",
			wantDesc:  "1 stack × 2 stages: 0 to add, 0 to change, 0 to destroy, 1 to forget; 1 plan failed",
		},
		{name: "nothing affected", note: outcome(), wantState: "success", wantDesc: "no stack affected by this change"},
		{name: "config error", note: PlanOutcome{ConfigError: ".gitops.yaml:3: unknown key \"stags\""}, wantState: "failed", wantDesc: "invalid .gitops.yaml: .gitops.yaml:3: unknown key \"stags\""},
		{name: "job error", note: PlanOutcome{Error: "fetch source: 404"}, wantState: "failed", wantDesc: "plan could not run: fetch source: 404"},
		{name: "fork not approved", note: PlanOutcome{Fork: true}, wantState: "pending",
			wantDesc: "not planned: this merge request comes from a fork; waiting for a Maintainer's /gitops plan"},
		{name: "fork approved", note: func() PlanOutcome {
			o := outcome(ok("a", "dev", PlanSummary{Add: 1}))
			o.Fork, o.ApprovedBy = true, "maint"
			return o
		}(), wantState: "success", wantDesc: "1 stack × 1 stage: 1 to add, 0 to change, 0 to destroy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := tt.note.Status()
			state, desc := string(st.State), st.Description
			if state != tt.wantState || desc != tt.wantDesc {
				t.Errorf("PlanStatus = %q, %q; want %q, %q", state, desc, tt.wantState, tt.wantDesc)
			}
		})
	}
}

func TestPlanOutcomeStatusFitsGitLab(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 1000)
	var runs []StackRun
	for i := range 300 {
		runs = append(runs, StackRun{Stack: fmt.Sprint(i), Stage: long + fmt.Sprint(i), Plan: &Plan{Summary: PlanSummary{Add: 1 << 40, Import: 1 << 40, Forget: 1 << 40}}})
	}
	for _, n := range []PlanOutcome{outcome(runs...), {ConfigError: long}, {Error: long}} {
		desc := n.Status().Description
		if got := len([]rune(desc)); got > MaxStatusDescription {
			t.Errorf("description is %d characters, over %d", got, MaxStatusDescription)
		}
	}
}
