package cli

import "golang.org/x/sys/unix"

// notDumpable marks the agent's process not dumpable (PR_SET_DUMPABLE 0): no core dump, and another
// process of the same user can neither ptrace it nor read its /proc/PID/mem or environ, where
// GITLAB_TOKEN, the webhook secrets and stage credentials live. Processes the agent starts (terraform)
// are dumpable again after execve: this protects the agent, not its children.
func notDumpable() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
