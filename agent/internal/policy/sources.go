package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Limits on what a policy directory may hold: it comes from the repository under review.
const (
	maxPolicyFileBytes  = 1 << 20
	maxPolicyTotalBytes = 16 << 20
	maxPolicyFiles      = 2000
)

// source is one Rego file: name is how findings and errors name it, raw its content.
type source struct {
	name   string
	raw    []byte
	server bool // from a server dir
}

// readSources reads the .rego files under the repo dirs, then under the server dirs, in a stable order.
// Test files (_test.rego) are read only when withTests is set. Hidden directories are skipped, and so
// are symbolic links in repo dirs (server dirs follow them). A missing directory, or a server
// directory without any policy, is an error: server policies must never vanish silently.
func readSources(repoDirs, serverDirs []string, withTests bool) ([]source, error) {
	r := sourceReader{withTests: withTests, names: map[string]bool{}, dirs: map[string]bool{}}
	for _, dir := range repoDirs {
		if err := r.readDir(dir, false); err != nil {
			return nil, err
		}
	}
	for _, dir := range serverDirs {
		if err := r.readDir(dir, true); err != nil {
			return nil, err
		}
	}
	return r.srcs, nil
}

type sourceReader struct {
	withTests bool
	srcs      []source
	names     map[string]bool
	dirs      map[string]bool // directories read, so that one named twice is read once
	total     int
}

func (r *sourceReader) readDir(dir string, server bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("policy directory %q: %w", dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("policy directory %q does not exist", dir)
		}
		return fmt.Errorf("policy directory %q: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("policy directory %q is not a directory", dir)
	}
	if r.dirs[abs] {
		return nil
	}
	r.dirs[abs] = true
	if server {
		// Server dirs are trusted and often mounted through links (a Kubernetes ConfigMap volume).
		if abs, err = filepath.EvalSymlinks(abs); err != nil {
			return fmt.Errorf("policy directory %q: %w", dir, err)
		}
	}
	var paths []string
	err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != abs && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".rego") || !r.regular(path, d, server) {
			return nil
		}
		if !r.withTests && strings.HasSuffix(d.Name(), "_test.rego") {
			return nil
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return fmt.Errorf("policy directory %q: %w", dir, err)
	}
	if server && len(paths) == 0 {
		return fmt.Errorf("server policy directory %q holds no .rego file", dir)
	}
	sort.Strings(paths)
	for _, path := range paths {
		if err := r.readFile(abs, path, server); err != nil {
			return err
		}
	}
	return nil
}

// regular reports whether the entry is a regular file; in server dirs a link to one counts.
func (r *sourceReader) regular(path string, d fs.DirEntry, server bool) bool {
	if d.Type().IsRegular() {
		return true
	}
	if !server || d.Type()&fs.ModeSymlink == 0 {
		return false
	}
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

func (r *sourceReader) readFile(dir, path string, server bool) error {
	if len(r.srcs) >= maxPolicyFiles {
		return fmt.Errorf("more than %d policy files", maxPolicyFiles)
	}
	rel, err := filepath.Rel(filepath.Dir(dir), path)
	if err != nil {
		return fmt.Errorf("policy file %q: %w", path, err)
	}
	name := filepath.ToSlash(rel)
	if server || r.names[name] {
		name = filepath.ToSlash(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("policy file %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("policy file %s: %w", name, err)
	}
	if info.Size() > maxPolicyFileBytes {
		return &Error{File: name, Msg: fmt.Sprintf("policy file is %d bytes, over the %d byte limit", info.Size(), maxPolicyFileBytes)}
	}
	raw := make([]byte, info.Size())
	if _, err := io.ReadFull(f, raw); err != nil {
		return fmt.Errorf("policy file %s: %w", name, err)
	}
	r.total += len(raw)
	if r.total > maxPolicyTotalBytes {
		return fmt.Errorf("policy files total over the %d byte limit", maxPolicyTotalBytes)
	}
	r.names[name] = true
	r.srcs = append(r.srcs, source{name: name, raw: raw, server: server})
	return nil
}

// hashSources identifies a policy set by its file names and contents.
func hashSources(srcs []source) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range srcs {
		binary.BigEndian.PutUint64(n[:], uint64(len(s.name)))
		h.Write(n[:])
		h.Write([]byte(s.name))
		if s.server {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(s.raw)))
		h.Write(n[:])
		h.Write(s.raw)
	}
	return hex.EncodeToString(h.Sum(nil))
}
