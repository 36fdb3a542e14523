package cli

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3"; otherwise the module version or
// VCS revision recorded by the Go toolchain is printed.
var Version = ""

func runVersion(_ context.Context, _ []string, env Env) int {
	fmt.Fprintln(env.Stdout, "gitops-agent", version())
	return ExitOK
}

func version() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return info.Main.Version
}
