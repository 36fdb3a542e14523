package schema_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// FuzzCheck feeds arbitrary configuration to the checker: it must never panic, and every diagnostic must
// point into the file.
func FuzzCheck(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.tf.seed"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p := awsSchema(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := hclparse.NewParser().ParseHCL(src, "fuzz.tf")
		if diags.HasErrors() || file == nil {
			return
		}
		for _, d := range schema.Check(p, file) {
			if d.Subject == nil || d.Subject.Filename != "fuzz.tf" || d.Summary == "" {
				t.Fatalf("diagnostic without a location in the file or a summary: %+v", d)
			}
		}
	})
}

// FuzzRead feeds arbitrary bytes to the schema reader: it returns an error or a usable schema, never
// panics.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := schema.Write(&buf, &schema.Provider{
		Source:    "registry.terraform.io/example/x",
		Version:   "1.0.0",
		Config:    &schema.Block{},
		Resources: map[string]*schema.Block{"x_thing": {Attributes: map[string]*schema.Attribute{"name": {Type: "string", Required: true}}}},
	}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := schema.Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		if p.Config == nil || len(p.Resources) == 0 {
			t.Fatalf("Read accepted a schema without configuration or resources")
		}
	})
}
