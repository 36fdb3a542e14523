package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// ReviewOf is what a reviewer saw of a plan: one "action address" line per changed resource, sorted.
func ReviewOf(p *gitops.Plan) []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(p.Changes))
	for _, c := range p.Changes {
		if c.Action == gitops.ActionRead {
			continue
		}
		out = append(out, string(c.Action)+" "+c.Address)
	}
	slices.Sort(out)
	return out
}

// reviewDiff describes how the changes applied differ from the changes reviewed; "" when they match.
func reviewDiff(reviewed, now []string) string {
	return describeDiff(reviewed, now, false)
}

// resumedDiff is reviewDiff for a step whose earlier apply was interrupted: that apply made part or all of
// the reviewed changes, so a reviewed change no longer planned is done, and a change to a resource the
// review changed (a half-made resource now replaced) finishes it. Only a change to a resource the review
// left alone counts.
func resumedDiff(reviewed, now []string) string {
	return describeDiff(reviewed, now, true)
}

func describeDiff(reviewed, now []string, resumed bool) string {
	touched := map[string]bool{}
	for _, c := range reviewed {
		_, address, _ := strings.Cut(c, " ")
		touched[address] = true
	}
	var added, gone []string
	for _, c := range now {
		if _, found := slices.BinarySearch(reviewed, c); found {
			continue
		}
		if _, address, _ := strings.Cut(c, " "); !resumed || !touched[address] {
			added = append(added, c)
		}
	}
	for _, c := range reviewed {
		if _, found := slices.BinarySearch(now, c); !found && !resumed {
			gone = append(gone, c)
		}
	}
	if len(added) == 0 && len(gone) == 0 {
		return ""
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "not reviewed: "+firstFew(added))
	}
	if len(gone) > 0 {
		parts = append(parts, "reviewed but no longer planned: "+firstFew(gone))
	}
	return "changed since review (" + strings.Join(parts, "; ") + ")"
}

func firstFew(s []string) string {
	const n = 5
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(" and %d more", len(s)-n)
}

// denials lists the denying findings, one per line; "" when there is none.
func denials(findings []gitops.Finding) string {
	var lines []string
	for _, f := range findings {
		if f.Severity != gitops.Deny {
			continue
		}
		line := "- " + f.Message
		if f.ID != "" {
			line = "- [" + f.ID + "] " + f.Message
		}
		if f.Address != "" {
			line += " (" + f.Address + ")"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
