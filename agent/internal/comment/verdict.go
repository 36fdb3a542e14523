package comment

import (
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// The top of the plan note: the policy verdict over every run, and what the note says about the settings
// read from the default branch.

// trustView is what the note says about the settings read from the default branch.
type trustView struct {
	Branch, Commit, Problem string
	NoRole                  []string
	Changes                 []string
	MoreChanges             int
	OwnPolicies             bool
}

type runName struct{ Stack, Stage string }

// runFinding is a policy finding of one run.
type runFinding struct {
	Run     runName
	Finding gitops.Finding
}

// runError is a policy evaluation error of one run.
type runError struct {
	Run   runName
	Error string
	Cut   int // lines left out
}

// runChange is a stateful resource one run destroys or replaces.
type runChange struct {
	Run    runName
	Change gitops.ResourceChange
}

// policyView is a policy verdict over all runs: denials first, then warnings, then the runs whose policies
// could not be evaluated; Clean lists the runs with no finding (kept only for the information verdict).
type policyView struct {
	Denials, Warnings []runFinding
	MoreFinds         int
	Errors            []runError
	MoreErrors        int
	Clean             []runName
	MoreClean         int
	Info              bool // the merge request's own policies: findings inform, they do not block
}

// Caps on the policy part of the head, which is not budgeted by size.
const (
	maxPolicyErrors = 5      // runs whose policy evaluation error is shown
	maxPolicyError  = 10_000 // bytes of one policy evaluation error
	maxInfoFindings = 50     // findings listed under the merge request's own policies
)

func nameOf(r gitops.StackRun) runName {
	return runName{Stack: clip(r.Stack, maxName), Stage: clip(r.Stage, maxName)}
}

// policyOf gathers the findings and evaluation errors of runs, as chosen by pick, capped at most findings.
func policyOf(runs []gitops.StackRun, most int, pick func(gitops.StackRun) ([]gitops.Finding, string)) policyView {
	var v policyView
	var denials, warnings []runFinding
	found := 0
	for _, r := range runs {
		findings, perr := pick(r)
		for _, f := range findings {
			found++
			list := &warnings
			if f.Severity == gitops.Deny {
				list = &denials
			}
			if len(*list) == most {
				continue
			}
			f.Message = clip(f.Message, maxFindingText)
			f.ID, f.Rule, f.Address = clip(f.ID, maxName), clip(f.Rule, maxName), clip(f.Address, maxAddress)
			*list = append(*list, runFinding{nameOf(r), f})
		}
		if perr != "" {
			if len(v.Errors) == maxPolicyErrors {
				v.MoreErrors++
			} else {
				e := runError{Run: nameOf(r)}
				e.Error, e.Cut = cutLines(perr, maxPolicyError)
				v.Errors = append(v.Errors, e)
			}
		}
		if len(findings) == 0 && perr == "" {
			if len(v.Clean) == maxSkipped {
				v.MoreClean++
			} else {
				v.Clean = append(v.Clean, nameOf(r))
			}
		}
	}
	v.Denials = denials[:min(len(denials), most)]
	v.Warnings = warnings[:min(len(warnings), most-len(v.Denials))]
	v.MoreFinds = found - len(v.Denials) - len(v.Warnings)
	return v
}

// maxTrustChanges caps the settings changes listed.
const maxTrustChanges = 50

func trustOf(t gitops.Trust) *trustView {
	if t.Problem == "" && len(t.NoRole) == 0 && len(t.Changes) == 0 && !t.OwnPolicies {
		return nil
	}
	v := &trustView{
		Branch: clip(t.Branch, maxName), Commit: clip(t.Commit, maxName), Problem: clip(t.Problem, maxMessage),
		OwnPolicies: t.OwnPolicies,
	}
	for i, s := range t.NoRole {
		if i == maxSkipped {
			break
		}
		v.NoRole = append(v.NoRole, clip(s, maxName))
	}
	for i, c := range t.Changes {
		if i == maxTrustChanges {
			v.MoreChanges = len(t.Changes) - i
			break
		}
		v.Changes = append(v.Changes, clip(c, maxFindingText))
	}
	return v
}
