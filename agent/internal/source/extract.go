// Package source provides the repository tree at an exact commit: it unpacks GitLab's archive.tar.gz
// safely and keeps one immutable tree per (project, commit) on disk.
package source

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Default limits, used for every zero field of Limits.
const (
	DefaultMaxBytes      = 200 << 20 // uncompressed file content
	DefaultMaxFiles      = 100_000   // entries of any kind
	DefaultMaxCompressed = 100 << 20 // gzip bytes read from the reader
)

// Limits bound what an archive may unpack to. A zero field takes its default.
type Limits struct {
	MaxBytes      int64 // total size of the regular files, uncompressed
	MaxFiles      int   // number of entries: files, directories (also those implied by a path) and links
	MaxCompressed int64 // bytes read from the compressed stream
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxCompressed <= 0 {
		l.MaxCompressed = DefaultMaxCompressed
	}
	return l
}

// streamLimit bounds the uncompressed tar stream as a whole (content, headers, padding, data that is
// skipped), so that no entry can make Extract decompress without bound.
func (l Limits) streamLimit() int64 {
	const perEntry = 4 * 512 // a header, a PAX or long-name header with its data, and block padding
	return l.MaxBytes + int64(l.MaxFiles)*perEntry + 1<<20
}

// ErrTooLarge reports an archive that exceeds Limits. The error returned wraps it with the limit hit.
var ErrTooLarge = errors.New("archive exceeds the size limits")

// UnsafeError reports an archive entry that Extract refuses to write. Path is the entry's name in the
// archive, as given there.
type UnsafeError struct {
	Path   string
	Reason string
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("unsafe archive entry %q: %s", e.Path, e.Reason)
}

func unsafeEntry(name, format string, args ...any) error {
	return &UnsafeError{Path: name, Reason: fmt.Sprintf(format, args...)}
}

// Extract unpacks a gzip-compressed tar into dest. The archive has one top-level directory (GitLab names
// it after the project and commit) which is stripped: its contents become dest's contents. A PAX global
// header, as git archive writes, is ignored.
//
// dest must not exist; its parent must. Extract unpacks into a temporary directory beside dest and
// renames it to dest at the end, so a half-extracted tree is never seen under dest.
//
// Only directories, regular files, hard links to regular files earlier in the archive and symbolic
// links whose target stays inside the tree (following the archive's own links) are written. Files get
// mode 0644, or 0755 when the archive gives any execute bit; ownership, setuid and times are dropped.
//
// Extract returns an *UnsafeError for an absolute name, a ".." component, a name over 4096 bytes or
// 128 levels deep, an entry outside the top-level directory, a link leaving the tree, looping or too
// costly to resolve, a device, FIFO or other special entry, a non-file entry carrying data, and a name
// that repeats or would need a file or link to be a directory; an error wrapping ErrTooLarge when a
// limit is passed; another error when the stream is not a valid tar.gz or the disk fails. An
// *UnsafeError or ErrTooLarge is a property of the archive: fetching it again gives the same result.
// On any error nothing is left behind.
func Extract(r io.Reader, dest string, lim Limits) (err error) {
	lim = lim.withDefaults()
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("extract to %s: %w", dest, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".partial-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	x := &extractor{root: root, lim: lim, kinds: map[string]kind{}, links: map[string]string{}}
	err = x.run(r)
	if cerr := root.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindSymlink
)

// extractor holds the state of one Extract. Symbolic links are recorded while the archive streams and
// created only at the end: every link is checked against the complete set of links (a later entry
// could otherwise turn an earlier, harmless target into an escape), and no entry is ever written
// through a link.
type extractor struct {
	root      *os.Root
	lim       Limits
	top       string            // the archive's top-level directory
	kinds     map[string]kind   // every path written or to be written, relative to dest
	links     map[string]string // symbolic link → target, for resolving
	pending   []pendingLink     // symbolic links to create, in archive order
	linkSteps int               // path segments walked checking links, bounded by maxLinkSteps
	entries   int
	bytes     int64
}

func (x *extractor) run(r io.Reader) error {
	compressed := &limitReader{r: r, left: x.lim.MaxCompressed, what: "compressed bytes", limit: x.lim.MaxCompressed}
	zr, err := gzip.NewReader(compressed)
	if err != nil {
		return readError(compressed, nil, fmt.Errorf("read gzip header: %w", err))
	}
	defer zr.Close()
	stream := &limitReader{r: zr, left: x.lim.streamLimit(), what: "uncompressed tar bytes", limit: x.lim.streamLimit()}
	tr := tar.NewReader(stream)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return readError(compressed, stream, fmt.Errorf("read archive: %w", err))
		}
		if err := x.entry(hdr, tr); err != nil {
			return readError(compressed, stream, err)
		}
	}
	// Read the rest of the gzip stream so its checksum is verified.
	if _, err := io.Copy(io.Discard, stream); err != nil {
		return readError(compressed, stream, fmt.Errorf("read archive: %w", err))
	}
	return x.createLinks()
}

// readError reports a passed stream limit in preference to the error it caused downstream.
func readError(compressed, stream *limitReader, err error) error {
	if compressed.exceeded() {
		return compressed.err()
	}
	if stream != nil && stream.exceeded() {
		return stream.err()
	}
	return err
}

func (x *extractor) entry(hdr *tar.Header, body io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	if err := x.count(); err != nil {
		return err
	}
	rel, refused := x.relative(hdr.Name)
	if refused != "" {
		return unsafeEntry(hdr.Name, "%s", refused)
	}
	// archive/tar reports the legacy TypeRegA as TypeReg or TypeDir.
	if hdr.Typeflag != tar.TypeReg && hdr.Size != 0 {
		return unsafeEntry(hdr.Name, "a %s entry carries %d bytes of data", typeName(hdr.Typeflag), hdr.Size)
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return unsafeEntry(hdr.Name, "the top-level entry is a %s, not a directory", typeName(hdr.Typeflag))
		}
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.addDir(hdr.Name, rel)
	case tar.TypeReg:
		return x.addFile(hdr, rel, body)
	case tar.TypeSymlink:
		return x.addSymlink(hdr.Name, rel, hdr.Linkname)
	case tar.TypeLink:
		return x.addHardlink(hdr.Name, rel, hdr.Linkname)
	default:
		return unsafeEntry(hdr.Name, "%s entries are not allowed", typeName(hdr.Typeflag))
	}
}

// Bounds on one name, so that no entry costs more than a bounded amount of work.
const (
	maxNameBytes = 4096 // PATH_MAX on Linux
	maxDepth     = 128
)

// relative validates an archive name and returns it relative to the top-level directory ("" for the
// directory itself), or why the name is refused.
func (x *extractor) relative(name string) (rel, refused string) {
	switch {
	case name == "":
		return "", "empty name"
	case len(name) > maxNameBytes:
		return "", fmt.Sprintf("name longer than %d bytes", maxNameBytes)
	case strings.Count(name, "/") > maxDepth:
		return "", fmt.Sprintf("more than %d levels deep", maxDepth)
	case strings.ContainsRune(name, 0):
		return "", "name contains a NUL byte"
	case strings.HasPrefix(name, "/"):
		return "", "absolute path"
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == ".." {
			return "", `path contains ".."`
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", "names the archive root"
	}
	top, rest, _ := strings.Cut(clean, "/")
	if x.top == "" {
		x.top = top
	} else if top != x.top {
		return "", fmt.Sprintf("outside the archive's top-level directory %q", x.top)
	}
	return rest, ""
}

func (x *extractor) addDir(name, rel string) error {
	if err := x.parents(name, rel); err != nil {
		return err
	}
	switch x.kinds[rel] {
	case kindDir:
		return nil
	case 0:
	default:
		return unsafeEntry(name, "a directory replaces an earlier entry of the same name")
	}
	if err := x.root.Mkdir(rel, 0o755); err != nil {
		return fmt.Errorf("extract %q: %w", name, err)
	}
	x.kinds[rel] = kindDir
	return nil
}

// parents creates the missing directories above rel, each counted as an entry, and checks that none of
// them is a file or link. Every ancestor of a recorded directory is a directory, so the walk up stops at
// the first one recorded.
func (x *extractor) parents(name, rel string) error {
	var missing []string
	for dir := parentOf(rel); dir != ""; dir = parentOf(dir) {
		k := x.kinds[dir]
		if k == kindDir {
			break
		}
		if k != 0 {
			return unsafeEntry(name, "parent %q is not a directory", dir)
		}
		missing = append(missing, dir)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := x.count(); err != nil {
			return err
		}
		if err := x.root.Mkdir(missing[i], 0o755); err != nil {
			return fmt.Errorf("extract %q: %w", name, err)
		}
		x.kinds[missing[i]] = kindDir
	}
	return nil
}

// parentOf returns the directory above rel, "" for the tree's root.
func parentOf(rel string) string {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return ""
	}
	return rel[:i]
}

// count counts one more entry against MaxFiles.
func (x *extractor) count() error {
	x.entries++
	if x.entries > x.lim.MaxFiles {
		return fmt.Errorf("%w: more than %d entries", ErrTooLarge, x.lim.MaxFiles)
	}
	return nil
}

func (x *extractor) claim(name, rel string) error {
	if err := x.parents(name, rel); err != nil {
		return err
	}
	if x.kinds[rel] != 0 {
		return unsafeEntry(name, "duplicate entry")
	}
	return nil
}

func (x *extractor) addFile(hdr *tar.Header, rel string, body io.Reader) error {
	if err := x.claim(hdr.Name, rel); err != nil {
		return err
	}
	if hdr.Size < 0 {
		return unsafeEntry(hdr.Name, "negative size")
	}
	x.bytes += hdr.Size
	if x.bytes > x.lim.MaxBytes {
		return fmt.Errorf("%w: more than %d bytes uncompressed", ErrTooLarge, x.lim.MaxBytes)
	}
	mode := fs.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		mode = 0o755
	}
	f, err := x.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("extract %q: %w", hdr.Name, err)
	}
	x.kinds[rel] = kindFile
	_, err = io.Copy(f, body)
	if err == nil {
		err = f.Chmod(mode) // the umask does not decide what the tree looks like
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extract %q: %w", hdr.Name, err)
	}
	return nil
}

func (x *extractor) addSymlink(name, rel, target string) error {
	if err := x.claim(name, rel); err != nil {
		return err
	}
	switch {
	case target == "":
		return unsafeEntry(name, "symbolic link with an empty target")
	case len(target) > maxNameBytes:
		return unsafeEntry(name, "symbolic link target longer than %d bytes", maxNameBytes)
	case strings.ContainsRune(target, 0):
		return unsafeEntry(name, "symbolic link target contains a NUL byte")
	case strings.HasPrefix(target, "/"):
		return unsafeEntry(name, "symbolic link to the absolute path %q", target)
	}
	x.kinds[rel] = kindSymlink
	x.links[rel] = target
	x.pending = append(x.pending, pendingLink{name: name, rel: rel, target: target})
	return nil
}

// addHardlink links rel to a regular file written earlier. A tar hard link names its target by its full
// archive name.
func (x *extractor) addHardlink(name, rel, linkname string) error {
	if err := x.claim(name, rel); err != nil {
		return err
	}
	target, refused := x.relative(linkname)
	if refused != "" {
		return unsafeEntry(name, "hard link target %q: %s", linkname, refused)
	}
	if x.kinds[target] != kindFile {
		return unsafeEntry(name, "hard link target %q is not a regular file earlier in the archive", linkname)
	}
	if err := x.root.Link(target, rel); err != nil {
		return fmt.Errorf("extract %q: %w", name, err)
	}
	x.kinds[rel] = kindFile
	return nil
}

func typeName(flag byte) string {
	switch flag {
	case tar.TypeReg:
		return "regular file"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeDir:
		return "directory"
	case tar.TypeFifo:
		return "FIFO"
	case tar.TypeGNUSparse:
		return "sparse file"
	default:
		return fmt.Sprintf("type %q", flag)
	}
}
