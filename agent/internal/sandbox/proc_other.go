//go:build !linux

package sandbox

import "syscall"

// helperAttr is how the processes that hold a run's namespaces run: in a process group of their own.
// The signal on the parent's death (Linux's Pdeathsig) does not exist here, and neither do the
// namespaces: sealed runs need Linux.
func helperAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
