package sandbox

import "syscall"

// helperAttr is how the processes that hold a run's namespaces (bwrap, slirp4netns) run: in a process
// group of their own, and killed when the agent's thread that started them dies.
func helperAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
