package schema_test

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

func TestWriteRead(t *testing.T) {
	want := &schema.Provider{
		Source:  "registry.terraform.io/example/x",
		Version: "1.2.3",
		Config:  &schema.Block{Attributes: map[string]*schema.Attribute{"region": {Type: "string", Optional: true}}},
		Resources: map[string]*schema.Block{
			"x_thing": {
				Attributes: map[string]*schema.Attribute{
					"name": {Type: "string", Required: true},
					"arn":  {Computed: true},
				},
				Blocks: map[string]*schema.NestedBlock{
					"rule": {Nesting: schema.NestingList, Required: true, Block: &schema.Block{}},
					"self": {Nesting: schema.NestingList, Ref: "x_thing.self"},
				},
			},
		},
		DataSources: map[string]*schema.Block{"x_thing": {}},
		Shared:      map[string]*schema.Block{"x_thing.self": {}},
	}
	var buf bytes.Buffer
	if err := schema.Write(&buf, want); err != nil {
		t.Fatal(err)
	}
	got, err := schema.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got.Body(got.Resources["x_thing"].Blocks["self"]) != got.Shared["x_thing.self"] {
		t.Errorf("Body does not resolve a reference to its shared block")
	}
}

func TestReadRejects(t *testing.T) {
	gz := func(s string) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(s))
		zw.Close()
		return buf.Bytes()
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"not gzip", []byte("{}"), "decompress schema"},
		{"truncated", gz(`{"source":"x","version":"1","provider":{}`), "decode schema"},
		{"unknown field", gz(`{"source":"x","version":"1","provider":{},"resourcez":{}}`), "unknown field"},
		{"no resources", gz(`{"source":"x","version":"1","provider":{},"resources":{}}`), "no provider configuration or no resources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.Read(bytes.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
