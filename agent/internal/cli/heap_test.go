package cli

import (
	"runtime/debug"
	"testing"
)

// TestBoundHeap: a policy check caps the heap at seven times its plan (at least 128 MiB) and puts
// the previous limit back; GOMEMLIMIT, when set, is left to rule.
func TestBoundHeap(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	for _, tc := range []struct {
		gomemlimit string
		plan       int
		want       int64
	}{
		{"", 100 << 20, 700 << 20},
		{"", 1 << 20, 128 << 20},
		{"1GiB", 100 << 20, before},
	} {
		env := Env{Getenv: func(k string) string {
			if k == "GOMEMLIMIT" {
				return tc.gomemlimit
			}
			return ""
		}}
		restore := boundHeap(env, tc.plan)
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q, plan of %d bytes: limit %d, want %d", tc.gomemlimit, tc.plan, got, tc.want)
		}
		restore()
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("after the check the limit is %d, want %d as before", got, before)
		}
	}
}
