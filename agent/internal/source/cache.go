package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"golang.org/x/sync/singleflight"
)

// Fetcher returns the archive.tar.gz of project at sha. The caller closes the reader.
type Fetcher func(ctx context.Context, project, sha string) (io.ReadCloser, error)

// Cache keeps one extracted tree per (project, commit) under a directory. Trees are immutable once
// extracted: callers read them and copy what they need to change. Concurrent Checkouts of the same
// commit fetch it once; a failed fetch or extraction leaves nothing behind and is tried again by the next
// Checkout. The cache is for one process: two processes must not share its directory.
type Cache struct {
	dir   string
	fetch Fetcher
	lim   Limits
	now   func() time.Time

	flights singleflight.Group
	// mu makes "the tree exists, mark it used" atomic against Prune's "the tree is stale, remove it".
	mu sync.Mutex
}

// NewCache returns a cache of trees under dir (created when missing) filled by fetch, each extraction
// bounded by lim.
func NewCache(dir string, fetch Fetcher, lim Limits) *Cache {
	return &Cache{dir: dir, fetch: fetch, lim: lim, now: time.Now}
}

var shaPattern = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)

// treeNamePattern matches the names Checkout gives trees; Prune removes nothing else.
var treeNamePattern = regexp.MustCompile(`^[0-9a-f]{32}-[0-9a-f]{7,64}$`)

// Checkout returns the path of the tree of project at sha, fetching and extracting it unless the cache
// has it. sha is a hex commit id of 7 to 64 digits. The tree stays until Prune finds it unused for
// longer than its keep duration, so a caller must not hold the path longer than that. An archive refused
// for good (unsafe entries, over the limits) gives an error that wraps gitops.ErrUnusableSource.
func (c *Cache) Checkout(ctx context.Context, project, sha string) (string, error) {
	if project == "" {
		return "", errors.New("checkout: empty project")
	}
	if !shaPattern.MatchString(sha) {
		return "", fmt.Errorf("checkout %s: commit %q is not a hex SHA of 7 to 64 digits", project, sha)
	}
	sha = strings.ToLower(sha)
	key := projectKey(project) + "-" + sha
	tree := filepath.Join(c.dir, key)
	for {
		if ok, err := c.touch(tree); err != nil || ok {
			return tree, err
		}
		flight := c.flights.DoChan(key, func() (any, error) {
			return nil, c.fill(ctx, project, sha, tree)
		})
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case res := <-flight:
			if res.Err == nil {
				return tree, nil
			}
			// The Checkout that started the fetch gave up; ours has not, so fetch again.
			if isContextError(res.Err) && ctx.Err() == nil {
				continue
			}
			var unsafe *UnsafeError
			if errors.As(res.Err, &unsafe) || errors.Is(res.Err, ErrTooLarge) {
				return "", fmt.Errorf("%w: %w", gitops.ErrUnusableSource, res.Err)
			}
			return "", res.Err
		}
	}
}

// fill fetches and extracts one tree. It runs once per flight, under the context of the Checkout that
// started it; when that context ends it returns the context's error unwrapped.
func (c *Cache) fill(ctx context.Context, project, sha, tree string) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("checkout %s at %s: %w", project, sha, err)
	}
	if ok, err := c.touch(tree); err != nil || ok {
		return err
	}
	body, err := c.fetch(ctx, project, sha)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("fetch %s at %s: %w", project, sha, err)
	}
	err = Extract(body, tree, c.lim)
	if cerr := body.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("extract %s at %s: %w", project, sha, err)
	}
	_, err = c.touch(tree)
	return err
}

// touch marks tree as used now and reports whether it exists.
func (c *Cache) touch(tree string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stat(tree); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	now := c.now()
	if err := os.Chtimes(tree, now, now); err != nil {
		return false, err
	}
	return true, nil
}

// Prune removes the trees no Checkout has returned for longer than keep, and what interrupted
// extractions left behind that long ago. It leaves files it did not create alone.
func (c *Cache) Prune(keep time.Duration) error {
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	cutoff := c.now().Add(-keep)
	var doomed []string
	c.mu.Lock()
	for _, e := range entries {
		name := e.Name()
		partial := strings.HasPrefix(name, ".") && strings.Contains(name, ".partial-")
		if !treeNamePattern.MatchString(name) && !partial && !strings.HasPrefix(name, ".pruned-") {
			continue
		}
		info, err := os.Lstat(filepath.Join(c.dir, name))
		if err != nil || !info.IsDir() || info.ModTime().After(cutoff) {
			continue
		}
		// Renamed under the lock, so a Checkout never returns a tree being removed; removed after it.
		trash := filepath.Join(c.dir, ".pruned-"+strings.TrimPrefix(name, ".pruned-"))
		if trash != filepath.Join(c.dir, name) {
			if err := os.Rename(filepath.Join(c.dir, name), trash); err != nil {
				continue
			}
		}
		doomed = append(doomed, trash)
	}
	c.mu.Unlock()
	var errs []error
	for _, d := range doomed {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("prune: %w", errors.Join(errs...))
	}
	return nil
}

// projectKey names a project in the cache directory: a hash, so no project name can reach outside it.
func projectKey(project string) string {
	sum := sha256.Sum256([]byte(project))
	return hex.EncodeToString(sum[:16])
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
