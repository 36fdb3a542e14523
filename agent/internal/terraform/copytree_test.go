package terraform

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeTree creates files (path → content) below root; a content starting with "->" makes a symbolic
// link to the rest, and a path ending in "/" an empty directory.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// readTree describes every entry below root: a file's content, a link's target ("-> target"), a
// directory as "dir".
func readTree(t testing.TB, root string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			got[rel] = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			got[rel] = "-> " + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCopyTree(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string]string{
		"stacks/api/main.tf":                      "api",
		"stacks/api/terraform.tfstate":            "state",
		"stacks/api/terraform.tfstate.d/dev/x":    "ws state",
		"stacks/api/.terraform/providers/p":       "cached provider",
		"stacks/api/modules":                      "->../../modules",
		"stacks/api/common.tfvars":                "->../../common.tfvars",
		"stacks/api/broken":                       "->nowhere",
		"modules/m/main.tf":                       "module",
		"common.tfvars":                           "common",
		"empty/":                                  "",
		"stacks/api/abs-inside-target-below-root": "->" + filepath.Join(src, "modules", "m", "main.tf"),
	})
	if err := os.Chmod(filepath.Join(src, "modules", "m", "main.tf"), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "work", "copy")
	if err := CopyTree(src, dst); err != nil {
		t.Fatalf("CopyTree: %v", err)
	}
	want := map[string]string{
		"stacks":                                  "dir",
		"stacks/api":                              "dir",
		"stacks/api/main.tf":                      "api",
		"stacks/api/terraform.tfstate":            "state",
		"stacks/api/terraform.tfstate.d":          "dir",
		"stacks/api/terraform.tfstate.d/dev":      "dir",
		"stacks/api/terraform.tfstate.d/dev/x":    "ws state",
		"stacks/api/modules":                      "-> ../../modules",
		"stacks/api/common.tfvars":                "-> ../../common.tfvars",
		"stacks/api/abs-inside-target-below-root": "-> ../../modules/m/main.tf",
		"modules":           "dir",
		"modules/m":         "dir",
		"modules/m/main.tf": "module",
		"common.tfvars":     "common",
		"empty":             "dir",
	}
	if diff := cmp.Diff(want, readTree(t, dst)); diff != "" {
		t.Errorf("copied tree (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "stacks", "api", "modules", "m", "main.tf")); err != nil || string(b) != "module" {
		t.Errorf("link into the copy does not resolve within it: %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "modules", "m", "main.tf")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode not kept: %v %v", fi.Mode(), err)
	}

	// Configuration is shared by link; state Terraform rewrites in place never is.
	for rel, wantShared := range map[string]bool{
		"stacks/api/main.tf":                   true,
		"stacks/api/terraform.tfstate":         false,
		"stacks/api/terraform.tfstate.d/dev/x": false,
	} {
		a, _ := os.Stat(filepath.Join(src, rel))
		b, _ := os.Stat(filepath.Join(dst, rel))
		if got := os.SameFile(a, b); got != wantShared {
			t.Errorf("%s: shares the source's inode = %v, want %v", rel, got, wantShared)
		}
	}
}

func TestCopyTreeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		dst     func(src string) string
		wantErr string
	}{
		{
			name:    "relative link out",
			files:   map[string]string{"a/up": "->../.."},
			wantErr: "a/up: symbolic link points outside the tree",
		},
		{
			name:    "absolute link out",
			files:   map[string]string{"passwd": "->/etc/passwd"},
			wantErr: "passwd: symbolic link points outside the tree",
		},
		{
			name:    "link chain out",
			files:   map[string]string{"hop": "->/etc", "x": "->hop/passwd"},
			wantErr: "symbolic link points outside the tree",
		},
		{
			name:    "dst exists",
			files:   map[string]string{"a": "a"},
			dst:     func(string) string { return t.TempDir() },
			wantErr: "file exists",
		},
		{
			name:    "dst inside src",
			files:   map[string]string{"a": "a"},
			dst:     func(src string) string { return filepath.Join(src, "sub") },
			wantErr: "is inside the source",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "src")
			writeTree(t, src, tt.files)
			dst := filepath.Join(t.TempDir(), "dst")
			if tt.dst != nil {
				dst = tt.dst(src)
			}
			err := CopyTree(src, dst)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CopyTree: got %v, want an error containing %q", err, tt.wantErr)
			}
			if _, statErr := os.Lstat(dst); tt.dst == nil && !errors.Is(statErr, fs.ErrNotExist) {
				t.Errorf("a failed copy left %s behind (%v)", dst, statErr)
			}
		})
	}
}

func TestCopyTreeMissingSource(t *testing.T) {
	t.Parallel()
	err := CopyTree(filepath.Join(t.TempDir(), "nope"), filepath.Join(t.TempDir(), "dst"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CopyTree of a missing source: %v, want fs.ErrNotExist", err)
	}
}
