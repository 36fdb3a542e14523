package cli

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the platforms the agent runs on (x86-64, arm64
// with 4 KiB base pages).
const hugePage = 2 << 20

// preferHugePages asks the kernel to back about the next n bytes the Go heap grows by with transparent
// huge pages, for a command about to fill them (a policy check's plan terms: some 200 MB at 10,000
// changes). The runtime does not ask for them, so where transparent huge pages are enabled for
// madvise only (a common default), each 4 KiB page the heap touches first costs a page fault: 47,000
// of them, 0.3 s of the command. It maps n fresh bytes of heap by allocating them (fresh memory is not
// touched), marks the huge-page-aligned part MADV_HUGEPAGE, and frees them to the heap, whose next
// allocations are carved from them. Only a hint: where the kernel has no huge page to give, or the
// runtime reuses memory it already had, nothing changes.
func preferHugePages(n int) {
	if n < 2*hugePage {
		return
	}
	b := make([]byte, n)
	off := (hugePage - int(uintptr(unsafe.Pointer(&b[0]))%hugePage)) % hugePage
	if size := (n - off) / hugePage * hugePage; size > 0 {
		_ = unix.Madvise(b[off:off+size], unix.MADV_HUGEPAGE)
	}
	runtime.KeepAlive(b) // b is garbage from here: the collection gives its pages back to the heap
	runtime.GC()
}
