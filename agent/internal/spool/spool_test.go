package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

func open(t *testing.T, opts Options) *Spool {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func put(t *testing.T, s *Spool, e Entry) string {
	t.Helper()
	id, err := s.Put(e)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return id
}

// drainAll drains s until it holds no entry and returns what handle saw, in order.
func drainAll(t *testing.T, s *Spool, handle func(Entry) error) []Entry {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []Entry
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Drain(ctx, func(_ context.Context, e Entry) error {
			if handle != nil {
				if err := handle(e); err != nil {
					return err
				}
			}
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
			return nil
		})
	}()
	deadline := time.After(time.Minute)
	for {
		if n, _ := s.Stats(); n == 0 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("the spool did not drain")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return got
}

func entry(i int) Entry {
	return Entry{
		Kind: "Merge Request Hook", Delivery: fmt.Sprintf("uuid-%d", i),
		Received: time.Date(2026, 12, 6, 7, 0, i, 0, time.UTC), Body: []byte(fmt.Sprintf(`{"n":%d}`, i)),
	}
}

func TestEntriesSurviveReopeningAndDrainOldestFirst(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	var ids []string
	for i := range 3 {
		ids = append(ids, put(t, s, entry(i)))
	}
	n, size := s.Stats()
	if n != 3 || size <= 0 {
		t.Fatalf("Stats = %d, %d; want 3 entries", n, size)
	}
	s.Close()

	// A restart (or a crash after the answers): the entries are all there, in order.
	var drained int
	s = open(t, Options{Dir: dir, Drained: func() { drained++ }})
	if n2, size2 := s.Stats(); n2 != 3 || size2 != size {
		t.Fatalf("after reopening: Stats = %d, %d; want 3, %d", n2, size2, size)
	}
	got := drainAll(t, s, nil)
	var want []Entry
	for i, id := range ids {
		e := entry(i)
		e.ID = id
		want = append(want, e)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drained (-want +got):\n%s", diff)
	}
	if drained != 3 {
		t.Errorf("Drained called %d times, want 3", drained)
	}
	s.Close()
	s = open(t, Options{Dir: dir})
	if n, size := s.Stats(); n != 0 || size != 0 {
		t.Errorf("after draining and reopening: Stats = %d, %d; want empty", n, size)
	}
}

func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, Options{Dir: dir})
	if s, err := Open(Options{Dir: dir}); err == nil {
		s.Close()
		t.Fatal("a second Open of a held spool succeeded")
	}
}

func TestBounds(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		s := open(t, Options{Dir: t.TempDir(), MaxEntries: 2})
		put(t, s, entry(1))
		put(t, s, entry(2))
		if err := s.Room(); !errors.Is(err, ErrFull) {
			t.Errorf("Room of a full spool = %v, want ErrFull", err)
		}
		if _, err := s.Put(entry(3)); !errors.Is(err, ErrFull) {
			t.Fatalf("Put into a full spool = %v, want ErrFull", err)
		}
		drainAll(t, s, nil)
		if err := s.Room(); err != nil {
			t.Errorf("Room after draining = %v", err)
		}
		put(t, s, entry(3))
	})
	t.Run("bytes", func(t *testing.T) {
		s := open(t, Options{Dir: t.TempDir(), MaxBytes: 4096})
		put(t, s, Entry{Kind: "Note Hook", Body: bytes.Repeat([]byte("x"), 3000)})
		if _, err := s.Put(Entry{Kind: "Note Hook", Body: bytes.Repeat([]byte("y"), 1500)}); !errors.Is(err, ErrFull) {
			t.Fatalf("Put over the byte bound = %v, want ErrFull", err)
		}
		put(t, s, Entry{Kind: "Note Hook", Body: []byte("{}")}) // a small one still fits
		if n, size := s.Stats(); n != 2 || size > 4096 {
			t.Errorf("Stats = %d, %d; want 2 entries within 4096 bytes", n, size)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		s := open(t, Options{Dir: t.TempDir()})
		for name, e := range map[string]Entry{
			"no kind":       {Body: []byte("{}")},
			"long kind":     {Kind: strings.Repeat("k", 300)},
			"long delivery": {Kind: "Note Hook", Delivery: strings.Repeat("d", 300)},
		} {
			if _, err := s.Put(e); err == nil {
				t.Errorf("%s: Put succeeded", name)
			}
		}
	})
}

func TestCorruptEntriesAreSetAside(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	good := put(t, s, entry(1))
	truncated := put(t, s, entry(2))
	altered := put(t, s, entry(3))
	s.Close()
	// A crash mid-write leaves a temporary file; a truncated or altered entry does not read back whole.
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(tempPrefix+"00000000000000000099.entry", []byte("gitops-spool 1\n{\"kind\""))
	write("notes.txt", []byte("hello"))
	if err := os.Truncate(filepath.Join(dir, truncated), 40); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, altered))
	if err != nil {
		t.Fatal(err)
	}
	write(altered, bytes.Replace(data, []byte(`"n":3`), []byte(`"n":4`), 1))

	var logs bytes.Buffer
	log := zerolog.New(&logs)
	s = open(t, Options{Dir: dir, Logger: &log})
	got := drainAll(t, s, nil)
	if len(got) != 1 || got[0].ID != good {
		t.Errorf("drained %+v, want only %s", got, good)
	}
	bad, err := os.ReadDir(filepath.Join(dir, badDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range bad {
		names = append(names, f.Name())
	}
	want := []string{tempPrefix + "00000000000000000099.entry", truncated, altered, "notes.txt"}
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(names))); diff != "" {
		t.Errorf("bad/ holds (-want +got):\n%s", diff)
	}
	if c := strings.Count(logs.String(), "bad entry set aside"); c != 4 {
		t.Errorf("%d log lines about set-aside entries, want 4:\n%s", c, logs.String())
	}
}

// An entry corrupted after Open is set aside by Drain, which goes on with the next.
func TestDrainSetsAsideAnEntryCorruptedLater(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	first := put(t, s, entry(1))
	second := put(t, s, entry(2))
	if err := os.Truncate(filepath.Join(dir, first), 10); err != nil {
		t.Fatal(err)
	}
	got := drainAll(t, s, nil)
	if len(got) != 1 || got[0].ID != second {
		t.Errorf("drained %+v, want only %s", got, second)
	}
	if _, err := os.Stat(filepath.Join(dir, badDir, first)); err != nil {
		t.Errorf("the corrupt entry is not in bad/: %v", err)
	}
}

func TestConcurrentPut(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	const n = 40
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = s.Put(entry(i))
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Put %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Fatalf("id %s given twice", ids[i])
		}
		seen[ids[i]] = true
	}
	s.Close()
	s = open(t, Options{Dir: dir})
	got := drainAll(t, s, nil)
	bodies := map[string]bool{}
	for _, e := range got {
		bodies[string(e.Body)] = true
	}
	if len(got) != n || len(bodies) != n {
		t.Errorf("drained %d entries (%d distinct), want %d", len(got), len(bodies), n)
	}
}

func TestDrainRetriesTheOldestUntilItIsHandedOn(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), Retry: time.Millisecond, MaxRetry: 4 * time.Millisecond})
	for i := range 3 {
		put(t, s, entry(i))
	}
	failures := 0
	got := drainAll(t, s, func(e Entry) error {
		if string(e.Body) == `{"n":1}` && failures < 3 {
			failures++
			return errors.New("database does not answer")
		}
		return nil
	})
	var order []string
	for _, e := range got {
		order = append(order, string(e.Body))
	}
	if diff := cmp.Diff([]string{`{"n":0}`, `{"n":1}`, `{"n":2}`}, order); diff != "" {
		t.Errorf("order handed on (-want +got):\n%s", diff)
	}
	if failures != 3 {
		t.Errorf("failures = %d, want 3", failures)
	}
}
