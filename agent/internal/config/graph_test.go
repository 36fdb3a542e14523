package config

import (
	"fmt"
	"testing"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func mustParse(tb testing.TB, yaml string) *Config {
	tb.Helper()
	c, err := Parse([]byte(yaml))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return c
}

func names(stacks []Stack) []string {
	var out []string
	for _, s := range stacks {
		out = append(out, s.Name)
	}
	return out
}

// repoConfig is a repository with a shared module, a stack at the root and a chain of dependents.
const repoConfig = `
version: 1
stages: [{name: dev}, {name: prod}]
stacks:
  - name: app
    dir: stacks/app
    depends_on: [network, platform]
  - name: network
    dir: stacks/network
    when_modified: ["**/*.tf", "../../modules/vpc/**"]
  - name: platform
    dir: stacks/platform
    depends_on: [network]
  - name: dns
    dir: stacks/dns
  - name: lambda
    dir: lambda/deploy
    when_modified: ["../**/*.go", "../go.mod", "*.tf"]
  - name: root
    dir: .
    when_modified: ["*.tf"]
  - name: odd
    dir: "stacks/[odd]"
    when_modified: ["**"]
  - name: manual
    dir: stacks/manual
    when_modified: []
    depends_on: [dns]
`

func TestAffected(t *testing.T) {
	t.Parallel()
	c := mustParse(t, repoConfig)
	tests := []struct {
		name    string
		changed []string
		want    []string
	}{
		{"nothing changed", nil, nil},
		{"default globs match a .tf file deep in the dir", []string{"stacks/dns/records/main.tf"}, []string{"dns", "manual"}},
		{"default globs match .tfvars", []string{"stacks/dns/stages/prod.tfvars"}, []string{"dns", "manual"}},
		{"default globs ignore other files", []string{"stacks/dns/README.md"}, nil},
		{"dependents follow, transitively, in dependency order", []string{"stacks/network/main.tf"}, []string{"network", "platform", "app"}},
		{"a shared module reached with ../", []string{"modules/vpc/subnets/main.tf"}, []string{"network", "platform", "app"}},
		{"another shared module is not matched", []string{"modules/other/main.tf"}, nil},
		{"custom globs outside the stack dir", []string{"lambda/handler/main.go"}, []string{"lambda"}},
		{"custom glob of a single file", []string{"lambda/go.mod"}, []string{"lambda"}},
		{"custom globs do not reach what they do not name", []string{"lambda/README.md", "stacks/app/app.go"}, nil},
		{"a root stack matches only top-level files", []string{"main.tf"}, []string{"root"}},
		{"a root stack does not match nested files", []string{"docs/x.tf"}, nil},
		{"paths outside all stacks", []string{"README.md", ".gitlab-ci.yml", "docs/a.md"}, nil},
		{"a rename counts both paths", []string{"stacks/dns/old.tf", "stacks/platform/new.tf"}, []string{"platform", "app", "dns", "manual"}},
		{"glob characters in the dir match literally", []string{"stacks/[odd]/x.txt", "stacks/o/x.txt"}, []string{"odd"}},
		{"an empty when_modified is reached only as a dependent", []string{"stacks/manual/main.tf"}, nil},
		{"paths leaving the repository never match", []string{"../stacks/dns/main.tf", "/stacks/dns/main.tf"}, nil},
		{"unclean paths are cleaned", []string{"./stacks/dns//main.tf"}, []string{"dns", "manual"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, names(c.Affected(tt.changed))); diff != "" {
				t.Errorf("Affected(%q) (-want +got):\n%s", tt.changed, diff)
			}
		})
	}
}

func TestOrdered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{
			name:   "no dependencies keeps file order",
			config: "version: 1\nstages: [{name: dev}]\nstacks:\n  - {name: c, dir: c}\n  - {name: a, dir: a}\n  - {name: b, dir: b}\n",
			want:   []string{"c", "a", "b"},
		},
		{
			name:   "a dependency listed later moves first",
			config: "version: 1\nstages: [{name: dev}]\nstacks:\n  - {name: api, dir: a, depends_on: [platform]}\n  - {name: platform, dir: p}\n",
			want:   []string{"platform", "api"},
		},
		{
			name:   "diamond",
			config: "version: 1\nstages: [{name: dev}]\nstacks:\n  - {name: top, dir: t, depends_on: [left, right]}\n  - {name: right, dir: r, depends_on: [base]}\n  - {name: left, dir: l, depends_on: [base]}\n  - {name: base, dir: b}\n",
			want:   []string{"base", "right", "left", "top"},
		},
		{
			name:   "independent stacks keep their place around a chain",
			config: "version: 1\nstages: [{name: dev}]\nstacks:\n  - {name: x, dir: x}\n  - {name: c, dir: c, depends_on: [b]}\n  - {name: y, dir: y}\n  - {name: b, dir: b, depends_on: [a]}\n  - {name: a, dir: a}\n",
			want:   []string{"x", "y", "a", "b", "c"},
		},
		{
			name:   "repository example",
			config: repoConfig,
			want:   []string{"network", "platform", "app", "dns", "lambda", "root", "odd", "manual"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, names(mustParse(t, tt.config).Ordered())); diff != "" {
				t.Errorf("Ordered (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkParse parses and validates the repository example; the x_yaml metric is its time over a bare
// yaml.v3 decode of the same bytes into a map, measured in the same run.
func BenchmarkParse(b *testing.B) {
	data := []byte(repoConfig)
	var ours, ref time.Duration
	for range b.N {
		start := time.Now()
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		b.StopTimer()
		start = time.Now()
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		ref += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(ours)/float64(ref), "x_yaml")
}

// BenchmarkAffected matches 1,000 changed paths against the repository example; the x_match metric is
// its time over calling doublestar.Match directly for every (glob, path) pair, measured in the same run.
func BenchmarkAffected(b *testing.B) {
	c := mustParse(b, repoConfig)
	changed := make([]string, 1000)
	for i := range changed {
		changed[i] = fmt.Sprintf("docs/section%d/page%d.md", i%10, i)
	}
	changed[999] = "modules/vpc/main.tf"
	var globs []string
	for _, s := range c.Stacks {
		for _, g := range s.WhenModified {
			full, _ := repoGlob(s.Dir, g)
			globs = append(globs, full)
		}
	}
	var ours, ref time.Duration
	for range b.N {
		start := time.Now()
		if len(c.Affected(changed)) != 3 {
			b.Fatal("wrong result")
		}
		ours += time.Since(start)
		b.StopTimer()
		start = time.Now()
		for _, g := range globs {
			for _, p := range changed {
				if _, err := doublestar.Match(g, p); err != nil {
					b.Fatal(err)
				}
			}
		}
		ref += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(ours)/float64(ref), "x_match")
}
