package planjson

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with the plan fixtures in testdata/. Parse must never panic,
// and a plan it accepts must be sorted, count consistently and never show a value under a sensitive mark.
// Decode must agree with Parse, and its Redact with RedactText.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed plans in testdata: %v", err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"address":"a.b","mode":"managed","change":{"actions":["update"],"before":{"p":"x"},"after":{"p":"y"},"before_sensitive":{"p":true},"after_sensitive":true}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		plan, err := Parse(data)
		d, derr := Decode(data)
		if (err == nil) != (derr == nil) {
			t.Fatalf("Parse error %v, Decode error %v", err, derr)
		}
		if err != nil {
			if plan != nil || d != nil {
				t.Fatalf("Parse or Decode returned a plan with error %v", err)
			}
			return
		}
		if diff := cmp.Diff(plan, d.Plan); diff != "" {
			t.Errorf("Decode's plan differs from Parse (-Parse +Decode):\n%s", diff)
		}
		if redacted, err := RedactText(string(data), data); err != nil || redacted != d.Redact(string(data)) {
			t.Errorf("RedactText (error %v) and Redact disagree", err)
		}
		if !slices.IsSortedFunc(plan.Changes, func(a, b gitops.ResourceChange) int { return CompareAddresses(a.Address, b.Address) }) {
			t.Error("changes are not sorted by address")
		}
		var s gitops.PlanSummary
		for _, c := range plan.Changes {
			count(&s, c.Action, c.Importing)
		}
		if s != plan.Summary {
			t.Errorf("summary %+v does not count the changes (%+v)", plan.Summary, s)
		}
		for _, c := range plan.Changes {
			for _, a := range c.Attributes {
				if a.Sensitive && (a.Before != "" || a.After != "") {
					t.Errorf("%s %s: sensitive attribute shows a value", c.Address, a.Path)
				}
			}
		}
	})
}
