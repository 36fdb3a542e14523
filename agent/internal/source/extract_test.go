package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestExtractWritesTree(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		archive func(testing.TB) []byte
		want    map[string]string
	}{
		{
			name: "nested dirs, modes and links inside the tree",
			archive: func(tb testing.TB) []byte {
				return tarGz(tb,
					dir("proj-abc/"),
					dir("proj-abc/stacks/"),
					dir("proj-abc/stacks/api/"),
					file("proj-abc/stacks/api/main.tf", "resource {}"),
					exe("proj-abc/run.sh", "#!/bin/sh"),
					file("proj-abc/implicit/parent/x.txt", "x"),
					symlink("proj-abc/stacks/api/shared", "../../implicit"),
					symlink("proj-abc/latest.sh", "run.sh"),
					symlink("proj-abc/dangling", "not/there"),
					symlink("proj-abc/self-dir", "."),
					hardlink("proj-abc/copy.tf", "proj-abc/stacks/api/main.tf"),
				)
			},
			want: map[string]string{
				"stacks":                "dir",
				"stacks/api":            "dir",
				"stacks/api/main.tf":    "file -rw-r--r-- resource {}",
				"stacks/api/shared":     "link -> ../../implicit",
				"run.sh":                "file -rwxr-xr-x #!/bin/sh",
				"implicit":              "dir",
				"implicit/parent":       "dir",
				"implicit/parent/x.txt": "file -rw-r--r-- x",
				"latest.sh":             "link -> run.sh",
				"dangling":              "link -> not/there",
				"self-dir":              "link -> .",
				"copy.tf":               "file -rw-r--r-- resource {}",
			},
		},
		{
			name: "archive made by git archive, as GitLab serves it",
			archive: func(tb testing.TB) []byte {
				b, err := os.ReadFile("testdata/gitlab-archive.tar.gz")
				must(tb, err)
				return b
			},
			want: map[string]string{
				".gitops.yaml":                 "file -rw-r--r-- version: 1\n",
				"latest.sh":                    "link -> run.sh",
				"modules":                      "dir",
				"modules/net":                  "dir",
				"modules/net/main.tf":          "file -rw-r--r-- variable \"cidr\" {}\n",
				"run.sh":                       "file -rwxr-xr-x #!/bin/sh\necho ok\n",
				"stacks":                       "dir",
				"stacks/api":                   "dir",
				"stacks/api/main.tf":           "file -rw-r--r-- resource \"terraform_data\" \"x\" {}\n",
				"stacks/api/net":               "link -> ../../modules/net",
				"stacks/api/stages":            "dir",
				"stacks/api/stages/dev.tfvars": "file -rw-r--r-- name = \"dev\"\n",
			},
		},
		{
			name: "setuid and group bits are dropped",
			archive: func(tb testing.TB) []byte {
				return tarGz(tb, entry{name: "p/suid", typ: tar.TypeReg, body: "x", mode: 0o4777})
			},
			want: map[string]string{"suid": "file -rwxr-xr-x x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dest := filepath.Join(t.TempDir(), "tree")
			if err := Extract(bytes.NewReader(tt.archive(t)), dest, Limits{}); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tt.want, describe(t, dest)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			info, err := os.Stat(dest)
			must(t, err)
			if got := info.Mode().Perm(); got != 0o755 {
				t.Errorf("tree root mode = %v, want 0755", got)
			}
		})
	}
}

func TestExtractRejects(t *testing.T) {
	t.Parallel()
	small := Limits{MaxBytes: 1 << 20, MaxFiles: 10, MaxCompressed: 1 << 20}
	tests := []struct {
		name       string
		archive    func(testing.TB) []byte
		lim        Limits
		wantUnsafe *UnsafeError // nil: want ErrTooLarge
	}{
		{
			name:       "parent directory component",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("p/../../evil", "x")) },
			wantUnsafe: &UnsafeError{Path: "p/../../evil", Reason: `path contains ".."`},
		},
		{
			name:       "dot-dot hidden after a dot",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("p/ok", ""), file("p/./a/../../x", "x")) },
			wantUnsafe: &UnsafeError{Path: "p/./a/../../x", Reason: `path contains ".."`},
		},
		{
			name:       "absolute path",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("/etc/cron.d/evil", "x")) },
			wantUnsafe: &UnsafeError{Path: "/etc/cron.d/evil", Reason: "absolute path"},
		},
		{
			name:       "second top-level directory",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("p/a", ""), file("q/b", "")) },
			wantUnsafe: &UnsafeError{Path: "q/b", Reason: `outside the archive's top-level directory "p"`},
		},
		{
			name:       "name over PATH_MAX",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("p/"+strings.Repeat("a", 4096), "x")) },
			wantUnsafe: &UnsafeError{Path: "p/" + strings.Repeat("a", 4096), Reason: "name longer than 4096 bytes"},
		},
		{
			name:       "name too deep",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("p"+strings.Repeat("/d", 129), "x")) },
			wantUnsafe: &UnsafeError{Path: "p" + strings.Repeat("/d", 129), Reason: "more than 128 levels deep"},
		},
		{
			name: "directories implied by paths count as entries",
			archive: func(tb testing.TB) []byte {
				return tarGz(tb, file("p/1/2/3/4/5/6/7/8/9/10/f", "x"))
			},
			lim: small,
		},
		{
			name:       "symlink to an absolute path",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, symlink("p/etc", "/etc")) },
			wantUnsafe: &UnsafeError{Path: "p/etc", Reason: `symbolic link to the absolute path "/etc"`},
		},
		{
			name:       "symlink out of the tree",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, symlink("p/a/up", "../../..")) },
			wantUnsafe: &UnsafeError{Path: "p/a/up", Reason: `symbolic link target "../../.." leaves the tree`},
		},
		{
			name: "symlink chain out of the tree",
			archive: func(tb testing.TB) []byte {
				// Each link alone looks harmless; "d/x/../.." through d -> "." is the parent of the tree.
				return tarGz(tb, symlink("p/e", "d/x/../.."), symlink("p/d", "."))
			},
			wantUnsafe: &UnsafeError{Path: "p/e", Reason: `symbolic link target "d/x/../.." leaves the tree`},
		},
		{
			name: "symlink through another link that leaves",
			archive: func(tb testing.TB) []byte {
				return tarGz(tb, symlink("p/a", "b/inner"), symlink("p/b", "c"), symlink("p/c", ".."))
			},
			wantUnsafe: &UnsafeError{Path: "p/a", Reason: `symbolic link target "b/inner" leaves the tree`},
		},
		{
			name:       "symlink loop",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, symlink("p/a", "b"), symlink("p/b", "a")) },
			wantUnsafe: &UnsafeError{Path: "p/a", Reason: "symbolic link loop"},
		},
		{
			name:       "symlink resolving too deep",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, symlink("p/deep", strings.Repeat("x/", 300))) },
			wantUnsafe: &UnsafeError{Path: "p/deep", Reason: "symbolic link resolves too deep"},
		},
		{
			name: "symlinks too costly to check",
			archive: func(tb testing.TB) []byte {
				target := strings.Repeat("x/../", 800) + "x" // 1,601 segments that go nowhere
				var es []entry
				for i := range 700 {
					es = append(es, symlink(fmt.Sprintf("p/l%d", i), target))
				}
				return tarGz(tb, es...)
			},
			wantUnsafe: &UnsafeError{Path: "p/l654", Reason: "symbolic links too intricate to check"},
		},
		{
			name: "file written through a symlink",
			archive: func(tb testing.TB) []byte {
				return tarGz(tb, symlink("p/up", "sub"), file("p/up/evil", "x"))
			},
			wantUnsafe: &UnsafeError{Path: "p/up/evil", Reason: `parent "up" is not a directory`},
		},
		{
			name:       "hard link out of the tree",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, hardlink("p/passwd", "/etc/passwd")) },
			wantUnsafe: &UnsafeError{Path: "p/passwd", Reason: `hard link target "/etc/passwd": absolute path`},
		},
		{
			name:       "hard link with dot-dot",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, hardlink("p/x", "p/../../x")) },
			wantUnsafe: &UnsafeError{Path: "p/x", Reason: `hard link target "p/../../x": path contains ".."`},
		},
		{
			name: "hard link to a symlink",
			archive: func(tb testing.TB) []byte {
				return tarGz(tb, symlink("p/l", "f"), hardlink("p/h", "p/l"))
			},
			wantUnsafe: &UnsafeError{Path: "p/h", Reason: `hard link target "p/l" is not a regular file earlier in the archive`},
		},
		{
			name:       "character device",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, entry{name: "p/null", typ: tar.TypeChar}) },
			wantUnsafe: &UnsafeError{Path: "p/null", Reason: "character device entries are not allowed"},
		},
		{
			name:       "fifo",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, entry{name: "p/pipe", typ: tar.TypeFifo}) },
			wantUnsafe: &UnsafeError{Path: "p/pipe", Reason: "FIFO entries are not allowed"},
		},
		{
			name:       "file replaced by a directory",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("p/a", "x"), dir("p/a/")) },
			wantUnsafe: &UnsafeError{Path: "p/a/", Reason: "a directory replaces an earlier entry of the same name"},
		},
		{
			name:       "duplicate file",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("p/a", "x"), file("p/a", "y")) },
			wantUnsafe: &UnsafeError{Path: "p/a", Reason: "duplicate entry"},
		},
		{
			name:       "file under a file",
			archive:    func(tb testing.TB) []byte { return tarGz(tb, file("p/a", "x"), file("p/a/b", "y")) },
			wantUnsafe: &UnsafeError{Path: "p/a/b", Reason: `parent "a" is not a directory`},
		},
		{
			name:       "directory carrying data",
			archive:    dirWithData,
			wantUnsafe: &UnsafeError{Path: "p/d", Reason: "a directory entry carries 4096 bytes of data"},
		},
		{
			name:    "file over the size limit",
			archive: func(tb testing.TB) []byte { return tarGz(tb, file("p/a", strings.Repeat("x", 2<<20))) },
			lim:     small,
		},
		{
			name: "files together over the size limit",
			archive: func(tb testing.TB) []byte {
				return tarGz(tb, file("p/a", strings.Repeat("x", 600<<10)), file("p/b", strings.Repeat("x", 600<<10)))
			},
			lim: small,
		},
		{
			name: "too many files",
			archive: func(tb testing.TB) []byte {
				var es []entry
				for i := range 11 {
					es = append(es, file("p/f"+strings.Repeat("x", i), ""))
				}
				return tarGz(tb, es...)
			},
			lim: small,
		},
		{
			name: "gzip bomb: 64 MiB of zeros in a few kilobytes",
			archive: func(tb testing.TB) []byte {
				return tarGz(tb, entry{name: "p/bomb", typ: tar.TypeReg, size: 64 << 20})
			},
			lim: small,
		},
		{
			name: "compressed stream over its limit",
			archive: func(tb testing.TB) []byte {
				// Incompressible content, within MaxBytes but not within MaxCompressed.
				body := make([]byte, 200<<10)
				seed := uint32(1)
				for i := range body {
					seed = seed*1664525 + 1013904223
					body[i] = byte(seed >> 24)
				}
				return tarGz(tb, file("p/noise", string(body)))
			},
			lim: Limits{MaxBytes: 1 << 20, MaxFiles: 10, MaxCompressed: 100 << 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			err := Extract(bytes.NewReader(tt.archive(t)), filepath.Join(parent, "tree"), tt.lim)
			if tt.wantUnsafe == nil {
				if !errors.Is(err, ErrTooLarge) {
					t.Errorf("Extract error = %v, want ErrTooLarge", err)
				}
			} else {
				var got *UnsafeError
				if !errors.As(err, &got) {
					t.Fatalf("Extract error = %v, want *UnsafeError", err)
				}
				if diff := cmp.Diff(tt.wantUnsafe, got); diff != "" {
					t.Errorf("UnsafeError (-want +got):\n%s", diff)
				}
			}
			assertEmpty(t, parent)
		})
	}
}

func TestExtractRefusesExistingDest(t *testing.T) {
	t.Parallel()
	dest := t.TempDir()
	err := Extract(bytes.NewReader(tarGz(t, file("p/a", "x"))), dest, Limits{})
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("Extract into an existing dir: error = %v, want fs.ErrExist", err)
	}
}

func TestExtractCorruptStreams(t *testing.T) {
	t.Parallel()
	good := tarGz(t, file("p/a", strings.Repeat("terraform ", 1000)))
	flipped := bytes.Clone(good)
	flipped[len(flipped)-6] ^= 0xff // inside the gzip trailer's checksum
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not gzip", []byte("PK\x03\x04 a zip file")},
		{"truncated", good[:len(good)/2]},
		{"bad checksum", flipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			if err := Extract(bytes.NewReader(tt.data), filepath.Join(parent, "tree"), Limits{}); err == nil {
				t.Error("Extract succeeded on a corrupt stream")
			}
			assertEmpty(t, parent)
		})
	}
}

// dirWithData is a tar.gz whose one directory entry carries 4096 bytes, which archive/tar's writer
// refuses to produce: it writes a regular file and rewrites the header's type flag and checksum.
func dirWithData(tb testing.TB) []byte {
	tb.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	must(tb, tw.WriteHeader(&tar.Header{Name: "p/d", Typeflag: tar.TypeReg, Size: 4096, Format: tar.FormatUSTAR}))
	_, err := tw.Write(make([]byte, 4096))
	must(tb, err)
	must(tb, tw.Close())
	b := raw.Bytes()
	b[156] = tar.TypeDir
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(b)
	must(tb, err)
	must(tb, zw.Close())
	return gz.Bytes()
}

// BenchmarkExtract unpacks a 500-file archive and, in the same run, has GNU tar unpack the same bytes;
// the x_tar metric is Extract's time over tar's (exec of the tar process included).
func BenchmarkExtract(b *testing.B) {
	tarPath, err := exec.LookPath("tar")
	if err != nil {
		b.Skip("tar is not installed: no reference to compare with")
	}
	var es []entry
	for i := range 500 {
		es = append(es, file(fmt.Sprintf("p/stacks/s%02d/f%04d.tf", i%40, i), strings.Repeat("resource \"terraform_data\" \"x\" {}\n", 60)))
	}
	archive := tarGz(b, es...)
	base := b.TempDir()
	var ours, ref time.Duration
	b.ResetTimer()
	for i := range b.N {
		dest := filepath.Join(base, fmt.Sprintf("ours-%d", i))
		start := time.Now()
		if err := Extract(bytes.NewReader(archive), dest, Limits{}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)

		b.StopTimer()
		refDest := filepath.Join(base, fmt.Sprintf("tar-%d", i))
		must(b, os.Mkdir(refDest, 0o755))
		cmd := exec.Command(tarPath, "-xzf", "-", "-C", refDest, "--strip-components=1")
		cmd.Stdin = bytes.NewReader(archive)
		start = time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("tar: %v: %s", err, out)
		}
		ref += time.Since(start)
		must(b, os.RemoveAll(dest))
		must(b, os.RemoveAll(refDest))
		b.StartTimer()
	}
	b.ReportMetric(float64(ours)/float64(ref), "x_tar")
}
