package source

import (
	"fmt"
	"path"
	"strings"
)

// Bounds on resolving symbolic links, so that no archive makes the check costly: hops per link as the
// kernel's MAXSYMLINKS, depth of any path met on the way, and path segments walked for the whole archive.
const (
	maxLinkHops  = 40
	maxLinkDepth = 2 * maxDepth
	maxLinkSteps = 1 << 20
)

// pendingLink is a symbolic link recorded while the archive streams.
type pendingLink struct {
	name   string // as the archive gives it
	rel    string // below the tree's root
	target string
}

// createLinks checks every recorded link against the complete set of links, then creates them.
func (x *extractor) createLinks() error {
	for _, l := range x.pending {
		hops := 0
		if _, refused := x.resolve(parentSegments(l.rel), l.target, &hops); refused != "" {
			return unsafeEntry(l.name, "%s", refused)
		}
	}
	for _, l := range x.pending {
		if err := x.root.Symlink(l.target, l.rel); err != nil {
			return fmt.Errorf("extract %q: %w", l.name, err)
		}
	}
	return nil
}

// resolve walks target from the directory dir (path segments below the tree's root), following the
// archive's symbolic links as the kernel would, and returns where it ends, or why the walk is refused:
// it leaves the tree, loops, or passes the bounds above.
func (x *extractor) resolve(dir []string, target string, hops *int) (end []string, refused string) {
	cur := append([]string(nil), dir...)
	for seg := range strings.SplitSeq(target, "/") {
		if x.linkSteps++; x.linkSteps > maxLinkSteps {
			return nil, "symbolic links too intricate to check"
		}
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return nil, fmt.Sprintf("symbolic link target %q leaves the tree", target)
			}
			cur = cur[:len(cur)-1]
			continue
		}
		if cur = append(cur, seg); len(cur) > maxLinkDepth {
			return nil, "symbolic link resolves too deep"
		}
		next, isLink := x.links[strings.Join(cur, "/")]
		if !isLink {
			continue
		}
		if *hops++; *hops > maxLinkHops {
			return nil, "symbolic link loop"
		}
		if strings.HasPrefix(next, "/") {
			return nil, fmt.Sprintf("symbolic link target %q leads to an absolute path", target)
		}
		if cur, refused = x.resolve(cur[:len(cur)-1], next, hops); refused != "" {
			if strings.Contains(refused, "leaves the tree") {
				refused = fmt.Sprintf("symbolic link target %q leaves the tree", target)
			}
			return nil, refused
		}
	}
	return cur, ""
}

func parentSegments(rel string) []string {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	return strings.Split(dir, "/")
}
