package build

import "syscall"

// toolAttr is how the go command of a build runs: in a process group of its own, so that a cancel
// reaches every process it started, and killed when the agent's thread that started it dies.
func toolAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
