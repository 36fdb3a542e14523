package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// tarball packs testdata/package the way `npm pack` does (entries under package/), with extra entries.
func tarball(t testing.TB, extra map[string]string, skip string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join("testdata", "package")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		name := "package/" + filepath.ToSlash(rel)
		if name == skip {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		add(name, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range extra {
		add(name, []byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractPackage(t *testing.T) {
	got, st, err := extractPackage(bytes.NewReader(tarball(t, nil, "")))
	if err != nil {
		t.Fatal(err)
	}
	rule := &schema.Block{
		Attributes: map[string]*schema.Attribute{
			"mode":   {Type: "string", Required: true},
			"status": {Computed: true},
		},
		Blocks: map[string]*schema.NestedBlock{
			"rule": {Nesting: schema.NestingList, Ref: "example_thing.exampleThingRule"},
		},
	}
	want := &schema.Provider{
		Source:  "registry.terraform.io/example/example",
		Version: "2.3.4",
		Config: &schema.Block{
			Attributes: map[string]*schema.Attribute{"region": {Type: "string", Optional: true}},
			Blocks: map[string]*schema.NestedBlock{
				"assume_role": {Nesting: schema.NestingList, Block: &schema.Block{
					Attributes: map[string]*schema.Attribute{
						"role_arn": {Type: "string", Required: true},
						"duration": {Type: "string", Optional: true},
					},
				}},
			},
		},
		Resources: map[string]*schema.Block{
			"example_thing": {
				Attributes: map[string]*schema.Attribute{
					"arn":   {Computed: true},
					"name":  {Type: "string", Required: true},
					"tags":  {Type: "map(string)", Optional: true},
					"ports": {Type: "set(number)", Optional: true, Computed: true},
				},
				Blocks: map[string]*schema.NestedBlock{
					"rule":     {Nesting: schema.NestingSet, Required: true, Block: rule},
					"settings": {Nesting: schema.NestingList, MaxItems: 1, Block: &schema.Block{}},
					"timeouts": {Nesting: schema.NestingSingle, Block: &schema.Block{}},
				},
			},
		},
		DataSources: map[string]*schema.Block{
			"example_thing": {
				Attributes: map[string]*schema.Attribute{"name": {Type: "string", Required: true}},
				Blocks: map[string]*schema.NestedBlock{
					"nested": {Nesting: schema.NestingMap, Block: &schema.Block{
						Attributes: map[string]*schema.Attribute{"matrix": {Type: "list(list(string))", Optional: true}},
					}},
				},
			},
		},
		EphemeralResources: map[string]*schema.Block{},
		Shared:             map[string]*schema.Block{"example_thing.exampleThingRule": rule},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	// The nested map's matrix has no flags and no declaration: counted, taken as optional.
	if st.unflagged != 1 {
		t.Errorf("unflagged = %d, want 1", st.unflagged)
	}
}

func TestExtractPackageErrors(t *testing.T) {
	tests := []struct {
		name  string
		extra map[string]string
		skip  string
		want  string
	}{
		{name: "no manifest", skip: "package/package.json", want: "no package/package.json"},
		{name: "no provider class", skip: "package/lib/provider/index.js", want: "no provider configuration class"},
		{
			name:  "incomplete synthesis entry",
			extra: map[string]string{"package/lib/broken/index.js": "class Broken extends cdktn.TerraformResource {\n    static tfResourceType = \"example_broken\";\n    synthesizeHclAttributes() {\n        const attrs = {\n            name: {\n                isBlock: false,\n            },\n        };\n    }\n}\n"},
			want:  `argument "name": incomplete synthesis entry`,
		},
		{
			name:  "unknown storage class",
			extra: map[string]string{"package/lib/odd/index.js": "class Odd extends cdktn.TerraformResource {\n    static tfResourceType = \"example_odd\";\n    synthesizeHclAttributes() {\n        const attrs = {\n            name: {\n                value: cdktn.stringToHclTerraform(this._name),\n                isBlock: false,\n                type: \"simple\",\n                storageClassType: \"complex\",\n            },\n        };\n    }\n}\n"},
			want:  `unknown storage class "complex"`,
		},
		{
			name:  "block without its function",
			extra: map[string]string{"package/lib/lost/index.js": "class Lost extends cdktn.TerraformResource {\n    static tfResourceType = \"example_lost\";\n    synthesizeHclAttributes() {\n        const attrs = {\n            b: {\n                value: lostBToHclTerraform(this._b),\n                isBlock: true,\n                type: \"list\",\n                storageClassType: \"LostBList\",\n            },\n        };\n    }\n}\n"},
			want:  "no function lostBToHclTerraform",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := extractPackage(bytes.NewReader(tarball(t, tt.extra, tt.skip)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, _, err := extractPackage(strings.NewReader("not a tarball")); err == nil {
		t.Error("extractPackage accepted input that is not gzip")
	}
}

func TestAttrType(t *testing.T) {
	tests := []struct{ kind, storage, want string }{
		{"simple", "string", "string"},
		{"simple", "boolean", "bool"},
		{"simple", "any", "any"},
		{"list", "stringList", "list(string)"},
		{"set", "numberList", "set(number)"},
		{"map", "booleanMap", "map(bool)"},
		{"list", "stringListList", "list(list(string))"},
		{"map", "stringListMap", "map(list(string))"},
		{"list", "stringMapList", "list(map(string))"},
		{"map", "any", "map(any)"},
	}
	for _, tt := range tests {
		got, err := attrType(tt.kind, tt.storage)
		if err != nil || got != tt.want {
			t.Errorf("attrType(%q, %q) = %q, %v; want %q", tt.kind, tt.storage, got, err, tt.want)
		}
	}
	for _, bad := range [][2]string{{"simple", "stringList"}, {"list", "string"}, {"weird", "string"}, {"simple", "stringSet"}} {
		if got, err := attrType(bad[0], bad[1]); err == nil {
			t.Errorf("attrType(%q, %q) = %q, want an error", bad[0], bad[1], got)
		}
	}
}

func TestRun(t *testing.T) {
	pkg := filepath.Join(t.TempDir(), "pkg.tgz")
	if err := os.WriteFile(pkg, tarball(t, nil, ""), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "schema.json.gz")
	var stderr bytes.Buffer
	if err := run([]string{"-package", pkg, "-out", out}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := schema.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "2.3.4" || p.Resources["example_thing"] == nil {
		t.Errorf("written schema: version %q, resources %v", p.Version, p.Resources)
	}
	if err := run(nil, &stderr); err == nil {
		t.Error("run without flags succeeded")
	}
}
