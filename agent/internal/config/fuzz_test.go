package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSeedsParseAsExpected(t *testing.T) {
	t.Parallel()
	valid := map[string]bool{"architecture.yaml": true, "repository.yaml": true, "flow-and-tags.yaml": true, "functions.yaml": true}
	seeds, err := filepath.Glob("testdata/seeds/*.yaml")
	must(t, err)
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		must(t, err)
		_, err = Parse(data)
		if want := valid[filepath.Base(name)]; (err == nil) != want {
			t.Errorf("%s: Parse error = %v, want valid: %v", name, err, want)
		}
	}
}

// FuzzParse checks that Parse never panics, that every error carries the file name, and that every
// accepted config keeps the promises the rest of the agent relies on.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/seeds/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	slices.SortFunc(seeds, func(a, b string) int { // the architecture doc's example first
		return boolInt(filepath.Base(b) == "architecture.yaml") - boolInt(filepath.Base(a) == "architecture.yaml")
	})
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a config with an error")
			}
			var es Errors
			var one *Error
			switch {
			case errors.As(err, &es):
				for _, e := range es {
					checkError(t, e)
				}
			case errors.As(err, &one):
				checkError(t, one)
			default:
				t.Fatalf("error %v is neither *Error nor Errors", err)
			}
			return
		}
		again, err := Parse(data)
		if err != nil {
			t.Fatalf("second Parse failed: %v", err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("Parse is not deterministic:\n%s", diff)
		}
		checkConfig(t, c)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func checkError(t *testing.T, e *Error) {
	t.Helper()
	if e.File != FileName || e.Msg == "" || e.Line < 0 || e.Column < 0 {
		t.Fatalf("malformed error %#v", e)
	}
}

func checkConfig(t *testing.T, c *Config) {
	t.Helper()
	if c.Version != 1 || len(c.Stages) == 0 {
		t.Fatalf("accepted version %d with %d stages", c.Version, len(c.Stages))
	}
	ordered := c.Ordered()
	if len(ordered) != len(c.Stacks) {
		t.Fatalf("Ordered returned %d of %d stacks", len(ordered), len(c.Stacks))
	}
	pos := map[string]int{}
	for i, s := range ordered {
		pos[s.Name] = i
	}
	for _, s := range ordered {
		if _, ok := cleanRel(s.Dir); !ok {
			t.Fatalf("stack %q: accepted dir %q", s.Name, s.Dir)
		}
		for _, d := range s.DependsOn {
			if pos[d] >= pos[s.Name] {
				t.Fatalf("stack %q ordered before its dependency %q", s.Name, d)
			}
		}
		for _, st := range s.Stages {
			if _, ok := c.Stage(st); !ok {
				t.Fatalf("stack %q runs in unknown stage %q", s.Name, st)
			}
		}
		for _, g := range s.WhenModified {
			if _, ok := repoGlob(s.Dir, g); !ok {
				t.Fatalf("stack %q: accepted glob %q leaving the repository", s.Name, g)
			}
		}
	}
	checkFunctions(t, c)
	affected := c.Affected([]string{"main.tf", "stacks/a/main.tf", "modules/x/y.tf", "../x", "/etc/passwd"})
	if len(affected) > len(c.Stacks) {
		t.Fatalf("Affected returned %d stacks of %d", len(affected), len(c.Stacks))
	}
}

// checkFunctions checks the promises about functions and rollback: clean paths inside the repository,
// known stacks and stages, a valid alias and architecture, and a plan of strictly increasing weights.
func checkFunctions(t *testing.T, c *Config) {
	t.Helper()
	if c.Rollback.Watch < 0 {
		t.Fatalf("accepted a negative watch %s", c.Rollback.Watch)
	}
	for _, f := range c.Functions {
		if _, ok := cleanRel(f.Package); !ok {
			t.Fatalf("function %q: accepted package %q", f.Name, f.Package)
		}
		if _, ok := cleanRel(f.Smoke); f.Smoke != "" && !ok {
			t.Fatalf("function %q: accepted smoke %q", f.Name, f.Smoke)
		}
		if f.Alias == "" || (f.Architecture != ArchARM64 && f.Architecture != ArchX86_64) {
			t.Fatalf("function %q: alias %q, architecture %q", f.Name, f.Alias, f.Architecture)
		}
		if (f.Strategy == "") == (f.Steps == nil) {
			t.Fatalf("function %q: strategy %q and steps %v", f.Name, f.Strategy, f.Steps)
		}
		for _, s := range f.After {
			if _, ok := c.index()[s]; !ok {
				t.Fatalf("function %q comes after unknown stack %q", f.Name, s)
			}
		}
		if len(f.Stages) == 0 {
			t.Fatalf("function %q runs in no stage", f.Name)
		}
		for _, st := range f.Stages {
			if _, ok := c.Stage(st); !ok {
				t.Fatalf("function %q runs in unknown stage %q", f.Name, st)
			}
			if name := f.FunctionNameFor(st); !lambdaNamePattern.MatchString(name) {
				t.Fatalf("function %q: accepted function name %q in stage %q", f.Name, name, st)
			}
		}
		plan := f.Plan()
		if plan == nil {
			t.Fatalf("function %q: no plan for strategy %q", f.Name, f.Strategy)
		}
		prev := 0
		for _, step := range plan {
			if step.Weight <= prev || step.Weight > 99 || step.Bake <= 0 || step.Bake > MaxBake {
				t.Fatalf("function %q: plan %v", f.Name, plan)
			}
			prev = step.Weight
		}
	}
}
