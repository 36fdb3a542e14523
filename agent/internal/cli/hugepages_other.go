//go:build !linux

package cli

// preferHugePages does nothing where madvise(MADV_HUGEPAGE) does not exist (it is Linux only).
func preferHugePages(int) {}
