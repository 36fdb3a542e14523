package policy

import (
	"context"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego unit test (a test_ rule).
type TestResult struct {
	Package  string // "data.main_test"
	Name     string // "test_s3_encryption_denied"
	File     string
	Line     int
	Passed   bool
	Skipped  bool   // a todo_test_ rule
	Error    string // set when the test could not be evaluated (a built-in error, a conflict)
	Duration time.Duration
}

// Test runs the Rego unit tests under dirs like `opa test`, in the same sandbox and with the same
// strict built-in errors as Check. It returns one result per test, sorted by file and line. A policy
// that does not compile returns an *Error, and so does one Check would refuse (a package at or inside
// gitops; there are no server dirs here).
func Test(ctx context.Context, dirs []string) ([]TestResult, error) {
	srcs, err := readSources(dirs, nil, true)
	if err != nil {
		return nil, err
	}
	caps := sandbox()
	mods, err := parseModules(srcs, caps)
	if err != nil {
		return nil, err
	}
	ch, err := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithCapabilities(caps)).
		RaiseBuiltinErrors(true).
		SetModules(mods).
		RunTests(ctx, nil)
	if err != nil {
		return nil, astError(err, "")
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{
			Package:  r.Package,
			Name:     r.Name,
			Passed:   r.Pass(),
			Skipped:  r.Skip,
			Duration: r.Duration,
		}
		if r.Location != nil {
			tr.File, tr.Line = r.Location.File, r.Location.Row
		}
		if r.Error != nil {
			tr.Error = r.Error.Error()
		}
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Name < out[j].Name
	})
	return out, ctx.Err()
}
