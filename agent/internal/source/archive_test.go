package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one member of a test archive. typ defaults to a regular file; size, when set, overrides the
// header's size and body is then streamed as that many zero bytes.
type entry struct {
	name string
	typ  byte
	body string
	link string
	mode int64
	size int64
}

func file(name, body string) entry {
	return entry{name: name, typ: tar.TypeReg, body: body, mode: 0o644}
}
func exe(name, body string) entry {
	return entry{name: name, typ: tar.TypeReg, body: body, mode: 0o755}
}
func dir(name string) entry             { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) entry { return entry{name: name, typ: tar.TypeSymlink, link: target} }
func hardlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, link: target}
}

// tarGz builds a gzip-compressed tar of entries, with a PAX global header first as git archive writes.
func tarGz(tb testing.TB, entries ...entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	must(tb, tw.WriteHeader(&tar.Header{
		Typeflag:   tar.TypeXGlobalHeader,
		Name:       "pax_global_header",
		PAXRecords: map[string]string{"comment": "306a25c49e813c0a71f67ba6f6c30a47491518ef"},
	}))
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body))}
		if e.size > 0 {
			hdr.Size = e.size
		}
		if e.typ != tar.TypeReg {
			hdr.Size = e.size
		}
		must(tb, tw.WriteHeader(hdr))
		switch {
		case e.size > 0:
			_, err := io.CopyN(tw, zeros{}, e.size)
			must(tb, err)
		case e.typ == tar.TypeReg:
			_, err := tw.Write([]byte(e.body))
			must(tb, err)
		}
	}
	must(tb, tw.Close())
	must(tb, zw.Close())
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// describe renders the tree at root as path → "dir", "file MODE CONTENT" or "link -> TARGET".
func describe(tb testing.TB, root string) map[string]string {
	tb.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			got[rel] = "link -> " + target
		case info.IsDir():
			got[rel] = "dir"
		default:
			body, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[rel] = "file " + info.Mode().Perm().String() + " " + string(body)
		}
		return nil
	})
	must(tb, err)
	return got
}

// assertEmpty fails when dir holds anything: a failed Extract must leave nothing behind.
func assertEmpty(tb testing.TB, dir string) {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	must(tb, err)
	if len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		tb.Errorf("left behind in %s: %s", dir, strings.Join(names, ", "))
	}
}
