package planjson

import (
	"encoding/json"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// BenchmarkParse5000 measures Parse on the JSON of a real 5,000-change plan against the reference of
// decoding the same JSON whole into tfjson.Plan (the library's own decoding, which also reads variables,
// configuration and both state snapshots), timed in the same run. It reports ratio-vs-tfjson: time per
// Parse divided by time per full decode.
func BenchmarkParse5000(b *testing.B) {
	p := makePlan(b, "", `
resource "terraform_data" "r" {
  count = 5000
  input = { name = "r-${count.index}", size = count.index % 7 }
}
`)
	const rounds = 5
	start := time.Now()
	for range rounds {
		var full tfjson.Plan
		if err := json.Unmarshal(p.JSON, &full); err != nil {
			b.Fatal(err)
		}
	}
	reference := time.Since(start) / rounds

	for b.Loop() {
		if _, err := Parse(p.JSON); err != nil {
			b.Fatal(err)
		}
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(reference.Microseconds())/1000, "tfjson-ms")
	b.ReportMetric(float64(perOp)/float64(reference), "ratio-vs-tfjson")
}
