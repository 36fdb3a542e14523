package cli

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Version is stamped by `make build` (-ldflags "-X .../cli.Version=$(git describe --tags --always --dirty)").
// When empty, version reads what the Go toolchain recorded: the module version of `go install …@v1.2.3`,
// else the VCS revision of a build in a checkout.
var Version = ""

func runVersion(_ context.Context, args []string, env Env) int {
	fs := newFlagSet("version", env)
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(env, fmt.Errorf("version: unexpected argument %q", fs.Arg(0)))
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(env.Stdout, "gitops-agent", version(Version, info))
	return ExitOK
}

// version names the build: stamped, else the module version, else the VCS revision (12 digits, with
// "-dirty" when the tree had uncommitted changes), else "(devel)".
func version(stamped string, info *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if info == nil {
		return "(devel)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "(devel) " + rev
}
