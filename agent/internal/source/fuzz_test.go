package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed archives in testdata/extract-seeds")

// seedArchives are the FuzzExtract seeds besides testdata/gitlab-archive.tar.gz: one of every attack
// TestExtractRejects covers, so the fuzzer starts next to each check.
func seedArchives(tb testing.TB) map[string][]byte {
	tb.Helper()
	return map[string][]byte{
		"happy":          tarGz(tb, dir("p/"), file("p/a/b.tf", "x"), exe("p/run", "y"), symlink("p/l", "a/b.tf"), hardlink("p/h", "p/a/b.tf")),
		"dotdot":         tarGz(tb, file("p/../../evil", "x")),
		"absolute":       tarGz(tb, file("/etc/evil", "x")),
		"symlink-out":    tarGz(tb, symlink("p/a/up", "../../..")),
		"symlink-chain":  tarGz(tb, symlink("p/e", "d/x/../.."), symlink("p/d", ".")),
		"symlink-loop":   tarGz(tb, symlink("p/a", "b"), symlink("p/b", "a")),
		"write-via-link": tarGz(tb, symlink("p/up", "sub"), file("p/up/evil", "x")),
		"hardlink-out":   tarGz(tb, hardlink("p/passwd", "/etc/passwd")),
		"device":         tarGz(tb, entry{name: "p/null", typ: tar.TypeChar}),
		"duplicate":      tarGz(tb, file("p/a", "x"), dir("p/a/")),
		"bomb":           tarGz(tb, entry{name: "p/bomb", typ: tar.TypeReg, size: 4 << 20}),
	}
}

// TestFuzzSeedsUpToDate checks that testdata/extract-seeds holds every attack archive seedArchives makes,
// entry for entry; with -update it rewrites them.
func TestFuzzSeedsUpToDate(t *testing.T) {
	if *update {
		must(t, os.MkdirAll("testdata/extract-seeds", 0o755))
	}
	for name, data := range seedArchives(t) {
		path := filepath.Join("testdata/extract-seeds", name+".tar.gz")
		if *update {
			must(t, os.WriteFile(path, data, 0o644))
			continue
		}
		committed, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("seed %s: %v (run go test -run TestFuzzSeedsUpToDate -update)", name, err)
			continue
		}
		if got, want := tarEntries(t, committed), tarEntries(t, data); got != want {
			t.Errorf("seed %s is out of date (run go test -run TestFuzzSeedsUpToDate -update):\ncommitted %s\nwant      %s", name, got, want)
		}
	}
}

// tarEntries lists a gzip tar's entries as "name type link size" lines, timestamps left out.
func tarEntries(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	must(t, err)
	tr := tar.NewReader(zr)
	var b strings.Builder
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return b.String()
		}
		must(t, err)
		fmt.Fprintf(&b, "%s %c %s %d; ", h.Name, h.Typeflag, h.Linkname, h.Size)
	}
}

// FuzzExtract checks that no input makes Extract panic, write outside dest, leave anything behind on
// failure or produce a link that leads out of the tree.
func FuzzExtract(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.tar.gz")
	if err != nil {
		f.Fatal(err)
	}
	more, err := filepath.Glob("testdata/extract-seeds/*.tar.gz")
	if err != nil {
		f.Fatal(err)
	}
	if len(more) == 0 {
		f.Fatal("no seeds in testdata/extract-seeds: run go test -run TestFuzzSeedsUpToDate -update")
	}
	for _, name := range append(seeds, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	lim := Limits{MaxBytes: 1 << 20, MaxFiles: 200, MaxCompressed: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		// dest sits three levels down so that an escape by ".." lands somewhere the walk below sees.
		base := t.TempDir()
		parent := filepath.Join(base, "a", "b", "c")
		must(t, os.MkdirAll(parent, 0o755))
		dest := filepath.Join(parent, "tree")
		err := Extract(bytes.NewReader(data), dest, lim)

		must(t, filepath.WalkDir(base, func(p string, d fs.DirEntry, werr error) error {
			if werr != nil {
				return werr
			}
			if p == base || strings.HasPrefix(parent, p) {
				return nil // base, a, a/b, a/b/c
			}
			if err != nil || (p != dest && !strings.HasPrefix(p, dest+string(filepath.Separator))) {
				t.Errorf("Extract (error %v) left %s", err, p)
			}
			return nil
		}))
		if err != nil {
			return
		}
		root, rerr := os.OpenRoot(dest)
		must(t, rerr)
		defer root.Close()
		must(t, filepath.WalkDir(dest, func(p string, d fs.DirEntry, werr error) error {
			if werr != nil {
				return werr
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				rel, _ := filepath.Rel(dest, p)
				// os.Root refuses to follow a link out of dest; a dangling link inside is fine.
				if _, serr := root.Stat(rel); serr != nil && !errors.Is(serr, fs.ErrNotExist) && !errors.Is(serr, syscall.ENOTDIR) {
					t.Errorf("link %s: %v", rel, serr)
				}
			case d.Type()&^fs.ModeDir != 0:
				t.Errorf("%s has mode %v: only files, dirs and links may be written", p, d.Type())
			}
			return nil
		}))
	})
}
