//go:build !linux

package build

import "syscall"

// toolAttr is how the go command of a build runs: in a process group of its own. The signal on the
// parent's death (Linux's Pdeathsig) does not exist here.
func toolAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
