package policy

import (
	"fmt"
	"sort"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// findings reads the query's bindings the way conftest reads its per-rule queries: a rule's value
// counts when it is a set or an array; each element is a string message or an object with a string
// "msg" (and, for our rules, "id" and "address"). A package's exception rule, a set of lists of rule
// names without their deny_/warn_/violation_ prefix, silences the rules it names ("" names the bare
// deny, warn and violation rules). Exceptions from the repository do not silence server rules.
func (s *compiledSet) findings(b map[string]any) ([]gitops.Finding, error) {
	excepted := map[string]map[string]bool{}
	for pkg, binding := range s.exceptions {
		excepted[pkg] = exceptionNames(b[binding])
	}
	var out []gitops.Finding
	for _, r := range s.rules {
		if !r.ignoresExceptions && excepted[r.pkg][ruleSuffix(r.name)] {
			continue
		}
		wrapped, _ := b[r.binding].([]any)
		if len(wrapped) != 1 {
			continue
		}
		results, ok := wrapped[0].([]any)
		if !ok {
			continue
		}
		for _, v := range results {
			f, err := r.finding(v)
			if err != nil {
				return nil, err
			}
			if f != nil {
				out = append(out, *f)
			}
		}
	}
	sortFindings(out)
	return out, nil
}

// finding converts one result of rule r; values that are neither a string nor an object are ignored,
// as conftest ignores them.
func (r resultRule) finding(v any) (*gitops.Finding, error) {
	f := &gitops.Finding{Severity: r.severity, Rule: r.name, File: r.file}
	switch val := v.(type) {
	case string:
		f.Message = val
	case map[string]any:
		msg, ok := val["msg"].(string)
		if !ok {
			return nil, &Error{File: firstFile(r.file), Line: r.line, Msg: fmt.Sprintf("%s.%s: a result object must have a string \"msg\" field", r.pkg, r.name)}
		}
		f.Message = msg
		f.ID, _ = val["id"].(string)
		f.Address, _ = val["address"].(string)
	default:
		return nil, nil
	}
	return f, nil
}

func firstFile(files string) string {
	first, _, _ := strings.Cut(files, ",")
	return first
}

// exceptionNames flattens exception[_][_] into the set of names it holds.
func exceptionNames(v any) map[string]bool {
	names := map[string]bool{}
	wrapped, _ := v.([]any)
	if len(wrapped) != 1 {
		return names
	}
	for _, group := range elements(wrapped[0]) {
		for _, name := range elements(group) {
			if s, ok := name.(string); ok {
				names[s] = true
			}
		}
	}
	return names
}

// elements iterates a collection the way Rego's x[_] does: the values of an array, set or object.
func elements(v any) []any {
	switch c := v.(type) {
	case []any:
		return c
	case map[string]any:
		out := make([]any, 0, len(c))
		for _, e := range c {
			out = append(out, e)
		}
		return out
	}
	return nil
}

// ruleSuffix is the name an exception uses for a rule: deny_s3_versioning → s3_versioning.
func ruleSuffix(rule string) string {
	for _, p := range []string{"deny", "warn", "violation"} {
		if rule == p {
			return ""
		}
		if s, ok := strings.CutPrefix(rule, p+"_"); ok {
			return s
		}
	}
	return rule
}

// sortFindings orders denials before warnings, then by id, address, message, rule and file.
func sortFindings(fs []gitops.Finding) {
	rank := func(s gitops.Severity) int {
		if s == gitops.Deny {
			return 0
		}
		return 1
	}
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if rank(a.Severity) != rank(b.Severity) {
			return rank(a.Severity) < rank(b.Severity)
		}
		for _, p := range [][2]string{{a.ID, b.ID}, {a.Address, b.Address}, {a.Message, b.Message}, {a.Rule, b.Rule}, {a.File, b.File}} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		return false
	})
}
