package cli

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestNotDumpable(t *testing.T) {
	t.Cleanup(func() {
		// Other tests of the package run in this process: give it back its default.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
			t.Errorf("restore dumpable: %v", err)
		}
	})
	if err := notDumpable(); err != nil {
		t.Fatalf("notDumpable: %v", err)
	}
	got, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatalf("PR_GET_DUMPABLE: %v", err)
	}
	if got != 0 {
		t.Errorf("dumpable = %d after notDumpable, want 0", got)
	}
}
