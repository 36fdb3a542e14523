package policy

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkEvalGroups measures the evaluation alone (the plan parsed once) of the repository's
// policies on the 10,000-change plans, in groups on GOMAXPROCS workers, against the reference measured
// in the same loop: the whole query at once on one goroutine, as a check of a small plan runs.
// x-faster is the reference's time divided by the grouped evaluation's.
func BenchmarkEvalGroups(b *testing.B) {
	set := compiledPolicies(b, repoPolicies(b))
	doc := contextDocument(stageContext("prod"))
	ctx := context.Background()
	for _, c := range []struct {
		kind string
		plan []byte
	}{{"clean", scaledPlan(10000)}, {"violating", violatingPlan(10000)}} {
		b.Run("plan="+c.kind, func(b *testing.B) {
			input, err := parsePlan(c.plan, set.input)
			if err != nil {
				b.Fatal(err)
			}
			eval := func(workers int) (time.Duration, int) {
				start := time.Now()
				fs, err := set.eval(ctx, input, doc, workers)
				if err != nil {
					b.Fatal(err)
				}
				return time.Since(start), len(fs)
			}
			var whole, grouped time.Duration
			for b.Loop() {
				w, n := eval(1)
				g, m := eval(runtime.GOMAXPROCS(0))
				if n != m {
					b.Fatalf("%d findings whole, %d in groups", n, m)
				}
				whole += w
				grouped += g
			}
			b.ReportMetric(float64(grouped.Milliseconds())/float64(b.N), "grouped-ms")
			b.ReportMetric(float64(whole.Milliseconds())/float64(b.N), "whole-ms")
			b.ReportMetric(float64(whole)/float64(grouped), "x-faster")
		})
	}
}
