package cli

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBoundHeap: a policy check's heap gets a soft limit of seven times its plan (at least 128 MiB)
// and no other trigger unless GOGC is set; GOMEMLIMIT, when set, is left to rule; the previous
// settings come back afterwards.
func TestBoundHeap(t *testing.T) {
	limit := func() int64 { return debug.SetMemoryLimit(-1) }
	percent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	beforeLimit, beforePercent := limit(), percent()
	for _, tc := range []struct {
		env         map[string]string
		plan        int
		wantLimit   int64
		wantPercent int
	}{
		{nil, 100 << 20, 700 << 20, -1},
		{nil, 1 << 20, 128 << 20, -1},
		{map[string]string{"GOGC": "100"}, 100 << 20, 700 << 20, beforePercent},
		{map[string]string{"GOMEMLIMIT": "1GiB"}, 100 << 20, beforeLimit, beforePercent},
	} {
		env := Env{Getenv: func(k string) string { return tc.env[k] }}
		restore := boundHeap(env, tc.plan)
		if got := limit(); got != tc.wantLimit {
			t.Errorf("%v, plan of %d bytes: limit %d, want %d", tc.env, tc.plan, got, tc.wantLimit)
		}
		if got := percent(); got != tc.wantPercent {
			t.Errorf("%v, plan of %d bytes: GC percent %d, want %d", tc.env, tc.plan, got, tc.wantPercent)
		}
		restore()
		if limit() != beforeLimit || percent() != beforePercent {
			t.Errorf("%v: after the check: limit %d, GC percent %d; want %d, %d as before", tc.env, limit(), percent(), beforeLimit, beforePercent)
		}
	}
}

// TestRegularFileSize: the heap is prepared before reading only for a regular file, whose size is
// known; anything else (a directory, a pipe, no file) reads as 0, and is prepared for after reading.
func TestRegularFileSize(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(file, make([]byte, 1234), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int64{file: 1234, dir: 0, fifo: 0, filepath.Join(dir, "missing"): 0} {
		if got := regularFileSize(path); got != want {
			t.Errorf("regularFileSize(%s) = %d, want %d", path, got, want)
		}
	}
}
