package terraform

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CopyTree makes dst a private working copy of the source tree src, so concurrent runs on different
// stack × stage pairs never share a .terraform dir, lock file or local state. dst must not exist; its
// parent is created when missing, and dst may not lie inside src.
//
// Regular files are hard-linked where the file system allows, else copied with their permissions. Files
// Terraform rewrites in place are always copied, so no run can write through a link into the source or
// another copy: local state (*.tfstate, *.tfstate.backup), lock info (*.tfstate.lock.info) and anything
// under terraform.tfstate.d. Everything else in the tree must be treated as read-only by the run
// (Terraform replaces .terraform.lock.hcl atomically, which leaves the link's other side untouched).
//
// Directories named .terraform (a previous init's working data) are left out, so every copy initialises
// afresh. A symbolic link is recreated, pointing at the same place within dst, when it resolves inside
// src; a link that resolves outside src is an error; a link whose target does not exist is left out.
// Devices, pipes and sockets are errors. On an error nothing is left at dst.
func CopyTree(src, dst string) error {
	root, err := filepath.Abs(src)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return fmt.Errorf("copy tree: source: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("copy tree: source: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("copy tree: source %s is not a directory", src)
	}
	dst, err = prepareDst(root, dst, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("copy tree: %w", err)
	}
	c := copier{root: root, dst: dst}
	if err := filepath.WalkDir(root, c.visit); err != nil {
		return errors.Join(fmt.Errorf("copy tree: %w", err), os.RemoveAll(dst))
	}
	return nil
}

// prepareDst creates dst (which must not exist) and returns its absolute, link-free path.
func prepareDst(root, dst string, perm fs.FileMode) (string, error) {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return "", err
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", err
	}
	if parent, err = filepath.EvalSymlinks(parent); err != nil {
		return "", err
	}
	abs = filepath.Join(parent, filepath.Base(abs))
	if within(root, abs) {
		return "", fmt.Errorf("destination %s is inside the source", dst)
	}
	if err := os.Mkdir(abs, perm|0o700); err != nil {
		return "", err // fs.ErrExist when dst exists
	}
	return abs, nil
}

type copier struct {
	root, dst string // both absolute and free of symbolic links
}

func (c copier) visit(path string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(c.root, path)
	if err != nil || rel == "." {
		return err
	}
	target := filepath.Join(c.dst, rel)
	switch t := d.Type(); {
	case t.IsDir():
		if d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.Mkdir(target, info.Mode().Perm()|0o700)
	case t&fs.ModeSymlink != 0:
		return c.link(path, rel, target)
	case t.IsRegular():
		if !rewrittenInPlace(rel) {
			if err := os.Link(path, target); err == nil {
				return nil
			}
		}
		return copyFile(path, target)
	default:
		return fmt.Errorf("%s: unsupported file type %s", rel, t)
	}
}

// link recreates the symbolic link at path as target, pointing at the copy of what it resolves to.
func (c copier) link(path, rel, target string) error {
	resolved, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // dangling: nothing to follow, in src or in a copy
	}
	if err != nil {
		return err
	}
	if !within(c.root, resolved) {
		return fmt.Errorf("%s: symbolic link points outside the tree", rel)
	}
	inTree, err := filepath.Rel(c.root, resolved)
	if err != nil {
		return err
	}
	dest, err := filepath.Rel(filepath.Dir(target), filepath.Join(c.dst, inTree))
	if err != nil {
		return err
	}
	return os.Symlink(dest, target)
}

// rewrittenInPlace reports whether Terraform may write the file at rel in place (rather than by
// replacing it), so that it must be copied rather than linked.
func rewrittenInPlace(rel string) bool {
	base := filepath.Base(rel)
	for _, suffix := range []string{".tfstate", ".tfstate.backup", ".tfstate.lock.info"} {
		if strings.HasSuffix(base, suffix) {
			return true
		}
	}
	return slices.Contains(strings.Split(filepath.ToSlash(rel), "/"), "terraform.tfstate.d")
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}

// within reports whether path is root or lies below it; both must be clean and absolute.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
