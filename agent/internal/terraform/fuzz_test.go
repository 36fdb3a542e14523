package terraform

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// Seeds for every fuzz target live in testdata/fuzz/<target>/.

// FuzzCleanText feeds arbitrary terraform output through the cleaning applied to diagnostics: the
// result is valid UTF-8 without escape or control characters (but newline and tab), bounded, and
// cleaning it again changes nothing.
func FuzzCleanText(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got := cleanText(s)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		for _, r := range got {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("control character %U left in %q", r, got)
			}
		}
		if again := cleanText(got); again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
		if d := cleanDiagnostics(s); len(d) > maxDiagnostics+64 {
			t.Fatalf("diagnostics of %d bytes", len(d))
		}
	})
}

var versionResult = regexp.MustCompile(`^(terraform|tofu) [0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*$`)

// FuzzParseVersion: whatever the binary prints, parseVersion returns a well-formed version or an error.
func FuzzParseVersion(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		got, err := parseVersion(line)
		if err == nil && !versionResult.MatchString(got) {
			t.Fatalf("parseVersion(%q) = %q", line, got)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	})
}

// FuzzRequestCheck: a workspace, var file and backend config entry from a repository's .gitops.yaml
// are either refused or safe to put on terraform's command line.
func FuzzRequestCheck(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, workspace, varFile, backend string) {
		err := Request{Dir: dir, Workspace: workspace, VarFiles: []string{varFile}, BackendConfig: []string{backend}}.check()
		if err != nil {
			return
		}
		if strings.HasPrefix(workspace, "-") || strings.ContainsAny(workspace, "/\\\x00 ") {
			t.Fatalf("accepted workspace %q", workspace)
		}
		if varFile == "" || filepath.IsAbs(varFile) || strings.ContainsRune(varFile+backend, 0) {
			t.Fatalf("accepted var file %q / backend %q", varFile, backend)
		}
	})
}

// FuzzCopyTree builds a tree from a description, one entry a line: "f PATH", "d PATH" or
// "l PATH TARGET" (a symbolic link with an arbitrary target, inside or out). CopyTree either fails and
// leaves nothing at dst, or makes a copy in which every link resolves inside the copy.
func FuzzCopyTree(f *testing.F) {
	f.Fuzz(func(t *testing.T, spec string) {
		if len(spec) > 4096 {
			return
		}
		base := t.TempDir()
		src := filepath.Join(base, "src")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if !buildTree(t, src, spec) {
			return
		}
		dst := filepath.Join(base, "dst")
		if err := CopyTree(src, dst); err != nil {
			if _, statErr := os.Lstat(dst); !errors.Is(statErr, fs.ErrNotExist) {
				t.Fatalf("failed copy (%v) left dst behind", err)
			}
			return
		}
		err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return err
			}
			resolved, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil // dangling within the copy: nothing reachable
			}
			if !within(dst, resolved) {
				t.Errorf("link %s resolves to %s, outside the copy", p, resolved)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// buildTree creates the entries of spec inside src through an os.Root, so that no entry can be written
// outside src whatever links came before it. It reports false when spec holds no entry.
func buildTree(t *testing.T, src, spec string) bool {
	t.Helper()
	root, err := os.OpenRoot(src)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	made := false
	for line := range strings.SplitSeq(spec, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || !filepath.IsLocal(fields[1]) {
			continue
		}
		p := fields[1]
		_ = root.MkdirAll(filepath.Dir(p), 0o755)
		switch {
		case fields[0] == "f":
			made = root.WriteFile(p, []byte(line), 0o644) == nil || made
		case fields[0] == "d":
			made = root.MkdirAll(p, 0o755) == nil || made
		case fields[0] == "l" && len(fields) == 3:
			made = root.Symlink(fields[2], p) == nil || made
		}
	}
	return made
}
