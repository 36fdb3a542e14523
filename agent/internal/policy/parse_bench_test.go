package policy

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// BenchmarkParsePlan measures parsePlan on the 10,000-change plan with the repository's policies (so
// only the members they read are converted) against the reference measured in the same run:
// encoding/json into map[string]any, then ast.InterfaceToValue of the same members (what the lazy
// object converted as the rules read them). x-faster is the reference's time per plan
// divided by parsePlan's.
func BenchmarkParsePlan(b *testing.B) {
	set := compiledPolicies(b, repoPolicies(b))
	plan := scaledPlan(10000)
	reference := func() {
		dec := json.NewDecoder(bytes.NewReader(plan))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			b.Fatal(err)
		}
		for k, v := range doc {
			if set.input.admits(k) {
				if _, err := ast.InterfaceToValue(v); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	start := time.Now()
	reference()
	refTime := time.Since(start)
	b.SetBytes(int64(len(plan)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := parsePlan(plan, set.input); err != nil {
			b.Fatal(err)
		}
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(refTime)/float64(perOp), "x-faster")
}
