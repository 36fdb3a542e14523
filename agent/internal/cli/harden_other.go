//go:build !linux

package cli

// notDumpable does nothing where PR_SET_DUMPABLE does not exist (it is Linux only).
func notDumpable() error { return nil }
