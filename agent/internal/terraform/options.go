package terraform

import (
	"strconv"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// The option builders turn a request into terraform-exec options: plain values, checked in options_test.go
// without a binary. terraform-exec turns them into the command line and adds what it always passes:
// -no-color and -input=false to every command, -detailed-exitcode, -lock=true, -parallelism=10 and
// -refresh=true to plan, -auto-approve to apply.

// initOptions is `init` with one -backend-config per entry of backendConfig, in order: a file relative to
// the work dir, or a key=value pair.
func initOptions(backendConfig []string) []tfexec.InitOption {
	opts := make([]tfexec.InitOption, 0, len(backendConfig))
	for _, b := range backendConfig {
		opts = append(opts, tfexec.BackendConfig(b))
	}
	return opts
}

// planOptions is `plan -out=planFile -lock-timeout=… -var-file=…` with the var files in order (a later
// file overrides an earlier one).
func planOptions(planFile string, varFiles []string, lockTimeout time.Duration, readOnly bool) []tfexec.PlanOption {
	opts := make([]tfexec.PlanOption, 0, 2+len(varFiles))
	opts = append(opts, tfexec.Out(planFile))
	if readOnly {
		opts = append(opts, tfexec.Lock(false))
	} else {
		opts = append(opts, tfexec.LockTimeout(lockTimeoutArg(lockTimeout)))
	}
	for _, f := range varFiles {
		opts = append(opts, tfexec.VarFile(f))
	}
	return opts
}

// applyOptions is `apply -lock-timeout=… planFile`: exactly the saved plan, which carries its variables.
func applyOptions(planFile string, lockTimeout time.Duration) []tfexec.ApplyOption {
	return []tfexec.ApplyOption{tfexec.DirOrPlan(planFile), tfexec.LockTimeout(lockTimeoutArg(lockTimeout))}
}

// lockTimeoutArg renders d as whole seconds, rounded up ("0s" fails at once when the lock is held).
// Negative durations count as zero.
func lockTimeoutArg(d time.Duration) string {
	s := max(int64((d+time.Second-1)/time.Second), 0)
	return strconv.FormatInt(s, 10) + "s"
}
