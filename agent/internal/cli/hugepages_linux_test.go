package cli

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// TestPreferHugePages: after preferHugePages, at least the huge-page-aligned part of the bytes it was
// asked for lies in mappings the kernel may back with transparent huge pages (VmFlags hg).
func TestPreferHugePages(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		testsvc.Unavailable(t, "this kernel has no transparent huge pages: the hint cannot apply")
	}
	before := hugePageMapped(t)
	const n = 64 << 20
	preferHugePages(n)
	if got := hugePageMapped(t) - before; got < n-2*hugePage {
		t.Errorf("mappings marked for huge pages grew by %d bytes, want at least %d", got, n-2*hugePage)
	}
	// Too small to hold one aligned huge page: nothing is allocated or marked.
	before = hugePageMapped(t)
	preferHugePages(hugePage)
	if got := hugePageMapped(t); got != before {
		t.Errorf("a request for %d bytes marked %d bytes", hugePage, got-before)
	}
}

// hugePageMapped is the size of the process's mappings marked MADV_HUGEPAGE, from /proc/self/smaps.
func hugePageMapped(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, size := 0, 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		switch {
		case len(fields) == 3 && fields[0] == "Size:":
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("smaps: %q", s.Text())
			}
			size = kb << 10
		case len(fields) > 0 && fields[0] == "VmFlags:":
			for _, flag := range fields[1:] {
				if flag == "hg" {
					total += size
				}
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}
