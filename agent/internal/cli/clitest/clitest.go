// Package clitest is the harness of the end-to-end tests of the agent (the packages below cli/e2e): it runs
// `gitops-agent serve` in-process or as a child process against a gitlabfake server, builds the repositories
// the fake serves, and reads the outcome back from the fake and from the agent's API.
//
// Only tests import it. Its functions take the test's testing.TB and fail the test on any error.
package clitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// The credentials and project every end-to-end test uses: create the fake with gitlabfake.New(t, Token) and
// add Project to it.
const (
	Token   = "glpat-e2e-test-token"
	Secret  = "e2e-webhook-secret"
	Project = "platform/documents"
)

// Backend is where an agent keeps its queue and ledger: PostgreSQL at DatabaseURL, or SQLite in the data
// dir when DatabaseURL is empty.
type Backend struct {
	Name        string
	DatabaseURL string
}

// ForEachBackend runs f as the parallel subtests "sqlite" and "postgres", each with a backend of its own.
func ForEachBackend(t *testing.T, f func(t *testing.T, b Backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, Backend{Name: "sqlite"})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, Backend{Name: "postgres", DatabaseURL: testsvc.Postgres(t)})
	})
}

// Quickstart returns the directory of the quickstart example repository (examples/quickstart).
func Quickstart(t testing.TB) string {
	t.Helper()
	return filepath.Join(testsvc.RepoRoot(t), "examples", "quickstart")
}

// WithFile returns a copy of the quickstart tree in which file rel has the given content.
func WithFile(t testing.TB, rel, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(Quickstart(t))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// MustContain reports an error for each of wants that body, described as what, does not contain.
func MustContain(t testing.TB, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, body)
		}
	}
}
