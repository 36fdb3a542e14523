package schema_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// BenchmarkCheck measures checking the api stack against the AWS schema. The reference is parsing the
// same files, which any check must do; the reported check/parse metric is the cost of the schema check
// relative to parsing, measured in the same run.
func BenchmarkCheck(b *testing.B) {
	p := awsSchema(b)
	paths, err := filepath.Glob(filepath.Join("..", "api", "*.tf"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no api stack files: %v", err)
	}
	srcs := make(map[string][]byte, len(paths))
	for _, path := range paths {
		if srcs[path], err = os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
	parse := func() []*hcl.File {
		parser := hclparse.NewParser()
		files := make([]*hcl.File, 0, len(srcs))
		for path, src := range srcs {
			f, diags := parser.ParseHCL(src, path)
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			files = append(files, f)
		}
		return files
	}
	var parseTime, checkTime time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		files := parse()
		parsed := time.Now()
		if diags := schema.Check(p, files...); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		parseTime += parsed.Sub(start)
		checkTime += time.Since(parsed)
	}
	b.ReportMetric(float64(checkTime)/float64(parseTime), "check/parse")
}

// BenchmarkRead measures decoding the committed AWS schema; the reference is only decompressing it, in
// the same run.
func BenchmarkRead(b *testing.B) {
	raw, err := os.ReadFile("aws-" + schema.AWSVersion + ".json.gz")
	if err != nil {
		b.Fatal(err)
	}
	var readTime, gunzipTime time.Duration
	for b.Loop() {
		start := time.Now()
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			b.Fatal(err)
		}
		unzipped := time.Now()
		if _, err := schema.Read(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		gunzipTime += unzipped.Sub(start)
		readTime += time.Since(unzipped)
	}
	b.ReportMetric(float64(readTime)/float64(gunzipTime), "decode/gunzip")
}
