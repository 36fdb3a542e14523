package planjson

import (
	"encoding/json"
	"strings"
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

// BenchmarkDecodeRedact5000 measures Decode + Redact, which decode the plan JSON once, on a real
// 5,000-change plan whose every change carries a sensitive value, against Parse + RedactText (which decodes
// it a second time for the secrets) on the same JSON and text, timed in the same run: each iteration runs
// both, one after the other, so that both see the same machine load. Reported: each side's milliseconds
// per plan and ratio-once-vs-twice, Decode + Redact's time divided by Parse + RedactText's.
func BenchmarkDecodeRedact5000(b *testing.B) {
	p := makePlan(b, "", `
resource "terraform_data" "r" {
  count = 5000
  input = { name = "r-${count.index}", size = count.index % 7, password = sensitive("pw-${count.index % 50}-secret") }
}
`)
	if !strings.Contains(string(p.JSON), "pw-7-secret") {
		b.Fatal("the plan JSON carries no secret to redact")
	}
	var once, twice time.Duration
	for b.Loop() {
		began := time.Now()
		d, err := Decode(p.JSON)
		if err != nil {
			b.Fatal(err)
		}
		_ = d.Redact(p.Text)
		once += time.Since(began)

		began = time.Now()
		if _, err := Parse(p.JSON); err != nil {
			b.Fatal(err)
		}
		if _, err := RedactText(p.Text, p.JSON); err != nil {
			b.Fatal(err)
		}
		twice += time.Since(began)
	}
	n := float64(b.N)
	b.ReportMetric(float64(once.Microseconds())/1000/n, "decode+redact-ms")
	b.ReportMetric(float64(twice.Microseconds())/1000/n, "parse+redacttext-ms")
	b.ReportMetric(once.Seconds()/twice.Seconds(), "ratio-once-vs-twice")
}

// BenchmarkRedactShortSecrets5000 measures Redact on the text of a real 5,000-change plan whose every
// change carries a sensitive number and a sensitive one-character string, so that Redact reads the text
// line by line for value positions and heredocs, against Decode of the same plan's JSON, timed in the same
// run. Reported: redact-ms per plan and ratio-vs-decode, Redact's time divided by Decode's.
func BenchmarkRedactShortSecrets5000(b *testing.B) {
	p := makePlan(b, "", `
resource "terraform_data" "r" {
  count = 5000
  input = { name = "r-${count.index}", size = count.index % 7, pin = sensitive(count.index % 10), tag = sensitive("t") }
}
`)
	const rounds = 3
	start := time.Now()
	var d *Decoded
	for range rounds {
		var err error
		if d, err = Decode(p.JSON); err != nil {
			b.Fatal(err)
		}
	}
	reference := time.Since(start) / rounds
	if !d.redactor.byLine {
		b.Fatal("the plan's secrets do not make Redact read the text line by line")
	}
	for b.Loop() {
		_ = d.Redact(p.Text)
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(perOp.Microseconds())/1000, "redact-ms")
	b.ReportMetric(float64(perOp)/float64(reference), "ratio-vs-decode")
}
