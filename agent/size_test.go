package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Size limits of agent/'s non-test Go files: a file is a concept, and the core reads at once.
const (
	maxFileLines     = 600 // any file of agent/
	maxCoreFileLines = 400 // a file of the core (pipeline)
	maxCoreFuncLines = 80  // a function of the core
)

// sizeProblems returns one message per file or core function of src (file name → source) over its
// limit; core says which files are the core's.
func sizeProblems(src map[string]string, core func(file string) bool) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	for _, name := range slices.Sorted(maps.Keys(src)) {
		text := src[name]
		lines := strings.Count(text, "\n")
		limit := maxFileLines
		if core(name) {
			limit = maxCoreFileLines
		}
		if lines > limit {
			out = append(out, fmt.Sprintf("%s has %d lines, over %d: split it by concept", name, lines, limit))
		}
		if !core(name) {
			continue
		}
		f, err := parser.ParseFile(fset, name, text, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if n > maxCoreFuncLines {
				out = append(out, fmt.Sprintf("%s: func %s has %d lines, over %d", name, fn.Name.Name, n, maxCoreFuncLines))
			}
		}
	}
	return out, nil
}

func isCore(file string) bool { return strings.HasPrefix(filepath.ToSlash(file), "internal/pipeline/") }

func TestSizeRules(t *testing.T) {
	long := strings.Repeat("// x\n", maxCoreFuncLines)
	src := map[string]string{
		"internal/pipeline/ok.go":   "package pipeline\n\nfunc short() {}\n",
		"internal/pipeline/long.go": "package pipeline\n\nfunc long() {\n" + long + "}\n" + strings.Repeat("\n", maxCoreFileLines),
		"internal/cli/big.go":       "package cli\n" + strings.Repeat("\n", maxFileLines),
		"internal/cli/fine.go":      "package cli\n\nfunc long() {\n" + long + "}\n",
	}
	got, err := sizeProblems(src, isCore)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"internal/cli/big.go has 601 lines, over 600: split it by concept",
		"internal/pipeline/long.go has 484 lines, over 400: split it by concept",
		"internal/pipeline/long.go: func long has 82 lines, over 80",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sizeProblems (-want +got):\n%s", diff)
	}
}

// TestSize holds agent/'s non-test Go files to the size limits.
func TestSize(t *testing.T) {
	src := map[string]string{}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		src[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	problems, err := sizeProblems(src, isCore)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
