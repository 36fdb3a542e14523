package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testSHA = "306a25c49e813c0a71f67ba6f6c30a47491518ef"

// countingFetcher serves one archive and counts the fetches; release, when set, holds every fetch until
// it is closed.
type countingFetcher struct {
	archive []byte
	err     error
	release chan struct{}
	calls   atomic.Int32
}

func (f *countingFetcher) fetch(ctx context.Context, project, sha string) (io.ReadCloser, error) {
	f.calls.Add(1)
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return io.NopCloser(bytes.NewReader(f.archive)), nil
}

func TestCheckoutFetchesOnceForConcurrentCallers(t *testing.T) {
	t.Parallel()
	f := &countingFetcher{archive: tarGz(t, file("p/main.tf", "x")), release: make(chan struct{})}
	cache := NewCache(filepath.Join(t.TempDir(), "cache"), f.fetch, Limits{})

	const callers = 16
	paths := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			paths[i], errs[i] = cache.Checkout(t.Context(), "group/project", testSHA)
		})
	}
	// Let every caller reach the flight before the one fetch completes.
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(f.release)
	wg.Wait()

	if got := f.calls.Load(); got != 1 {
		t.Errorf("fetches = %d, want 1", got)
	}
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if paths[i] != paths[0] {
			t.Errorf("caller %d got %s, caller 0 got %s", i, paths[i], paths[0])
		}
	}
	if diff := cmp.Diff(map[string]string{"main.tf": "file -rw-r--r-- x"}, describe(t, paths[0])); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	// A later Checkout is served from disk.
	if _, err := cache.Checkout(t.Context(), "group/project", strings.ToUpper(testSHA)); err != nil {
		t.Fatal(err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("fetches after a cached Checkout = %d, want 1", got)
	}
}

func TestCheckoutDoesNotCacheFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fetch *countingFetcher
	}{
		{"fetch fails", &countingFetcher{err: errors.New("503 Service Unavailable")}},
		{"archive is unsafe", &countingFetcher{archive: tarGz(t, symlink("p/x", "/etc"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "cache")
			f := tt.fetch
			cache := NewCache(dir, f.fetch, Limits{})
			for range 2 {
				if _, err := cache.Checkout(t.Context(), "group/project", testSHA); err == nil {
					t.Fatal("Checkout succeeded")
				}
			}
			if got := f.calls.Load(); got != 2 {
				t.Errorf("fetches = %d, want 2 (a failure is not cached)", got)
			}
			assertEmpty(t, dir)
		})
	}
}

func TestCheckoutSurvivesTheFirstCallerGivingUp(t *testing.T) {
	t.Parallel()
	f := &countingFetcher{archive: tarGz(t, file("p/a", "x")), release: make(chan struct{})}
	cache := NewCache(filepath.Join(t.TempDir(), "cache"), f.fetch, Limits{})

	first, cancelFirst := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() {
		_, err := cache.Checkout(first, "p", testSHA)
		firstErr <- err
	}()
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	secondDone := make(chan error, 1)
	go func() {
		_, err := cache.Checkout(t.Context(), "p", testSHA)
		secondDone <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancelFirst()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("first Checkout error = %v, want context.Canceled", err)
	}
	close(f.release)
	if err := <-secondDone; err != nil {
		t.Errorf("second Checkout: %v", err)
	}
}

func TestCheckoutRejectsBadArguments(t *testing.T) {
	t.Parallel()
	f := &countingFetcher{archive: tarGz(t, file("p/a", "x"))}
	cache := NewCache(t.TempDir(), f.fetch, Limits{})
	tests := []struct{ name, project, sha string }{
		{"empty project", "", testSHA},
		{"short sha", "p", "abc12"},
		{"not hex", "p", "306a25c49e813c0a71f67ba6f6c30a47491518eg"},
		{"path in sha", "p", "../../../../etc"},
		{"too long", "p", strings.Repeat("a", 65)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cache.Checkout(t.Context(), tt.project, tt.sha); err == nil {
				t.Error("Checkout accepted it")
			}
		})
	}
	if got := f.calls.Load(); got != 0 {
		t.Errorf("fetches = %d, want 0", got)
	}
}

func TestCheckoutKeepsProjectsApart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "cache")
	f := &countingFetcher{archive: tarGz(t, file("p/a", "x"))}
	cache := NewCache(dir, f.fetch, Limits{})
	var trees []string
	for _, project := range []string{"group/a", "group/b", "../../escape", "/abs"} {
		tree, err := cache.Checkout(t.Context(), project, testSHA)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(tree) != dir {
			t.Errorf("project %q: tree %s is not directly under %s", project, tree, dir)
		}
		trees = append(trees, tree)
	}
	entries, err := os.ReadDir(dir)
	must(t, err)
	if len(entries) != len(trees) {
		t.Errorf("cache holds %d trees, want %d", len(entries), len(trees))
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "cache")
	f := &countingFetcher{archive: tarGz(t, file("p/a", "x"))}
	cache := NewCache(dir, f.fetch, Limits{})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cache.now = func() time.Time { return now }

	old, err := cache.Checkout(t.Context(), "p", "aaaaaaa")
	must(t, err)
	now = now.Add(2 * time.Hour)
	recent, err := cache.Checkout(t.Context(), "p", "bbbbbbb")
	must(t, err)
	// Something the cache did not create, and an interrupted extraction from long ago.
	foreign := filepath.Join(dir, "keep-me")
	must(t, os.Mkdir(foreign, 0o755))
	must(t, os.Chtimes(foreign, now.Add(-time.Hour*48), now.Add(-time.Hour*48)))
	partial := filepath.Join(dir, ".x.partial-123")
	must(t, os.Mkdir(partial, 0o755))
	must(t, os.Chtimes(partial, now.Add(-time.Hour*48), now.Add(-time.Hour*48)))

	must(t, cache.Prune(time.Hour))

	var left []string
	entries, err := os.ReadDir(dir)
	must(t, err)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{filepath.Base(recent), "keep-me"} // ReadDir sorts by name
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("left after Prune (-want +got):\n%s", diff)
	}
	// A pruned tree is fetched again.
	if _, err := cache.Checkout(t.Context(), "p", "aaaaaaa"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("pruned tree not restored: %v", err)
	}
	if got := f.calls.Load(); got != 3 {
		t.Errorf("fetches = %d, want 3", got)
	}
}
