// Package cli is the gitops-agent command line: it reads the environment and flags, wires the parts
// together and runs one command. It is the only package that reads the environment.
package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Exit codes shared by every command; `status` adds ExitNoLedger.
const (
	ExitOK     = 0
	ExitDenied = 1 // a policy denied, or a policy test failed
	ExitError  = 2 // anything went wrong
)

// Env is what a command may touch of the outside world.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	run      func(ctx context.Context, args []string, env Env) int
	synopsis string        // the command line, as the top-level usage lists it
	summary  string        // what it does, in a few words
	help     func() string // the full help of `gitops-agent COMMAND -h` for commands that print it themselves
}

// order is the order of the commands in the usage.
var order = []string{"plan", "drift", "policy", "release", "status", "serve", "version"}

var commands = map[string]command{
	"serve": {runServe, "serve", "run the service (webhooks, queue, workers, poller); configured by environment, see serve -h", serveUsage},
	"plan": {runPlan, "plan [--repo DIR] [--stage NAME]... [--stack NAME]... [-v]",
		"plan a local checkout and print the MR note", nil},
	"drift": {runDrift, "drift [--repo DIR] [--stage NAME]... [--stack NAME]... [-v]",
		"plan a local checkout read-only and report drift: exit 0 clean, 1 drift, 2 error", nil},
	"policy": {runPolicy, "policy test [-v] [DIR]...\n  policy check --plan FILE [--stage S] [--stack S] [--project P] [--label L]... [--policies DIR]... [--format table|json] [-v]",
		"run the Rego unit tests, or check one plan JSON against the policies", nil},
	"release": {runRelease, "release build [--repo DIR] [--function NAME]... [--out DIR] [-v]",
		"build the functions of .gitops.yaml as releases do: sealed, reproducible zips, sha256 printed", nil},
	"status":  {runStatus, "status [--project P]", "print what is live per project, stack and stage (read-only)", nil},
	"version": {runVersion, "version | --version", "print the version", nil},
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

// Run runs the command named by args[0] and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	switch {
	case len(args) == 0:
		usage(env.Stderr)
		return ExitError
	case isHelp(args[0]):
		usage(env.Stdout)
		return ExitOK
	case args[0] == "help":
		if len(args) > 1 {
			if _, ok := commands[args[1]]; ok {
				return Run(ctx, append(args[1:2:2], "-h"), env)
			}
		}
		usage(env.Stdout)
		return ExitOK
	case args[0] == "--version" || args[0] == "-version":
		return runVersion(ctx, nil, env)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "gitops-agent: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return ExitError
	}
	// serve and version take no flags of their own: their help is answered here.
	if cmd.help != nil && slices.ContainsFunc(args[1:], isHelp) {
		fmt.Fprint(env.Stdout, cmd.help())
		return ExitOK
	}
	return cmd.run(ctx, args[1:], env)
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: gitops-agent COMMAND [ARGS]\n\ncommands:\n")
	for _, name := range order {
		c := commands[name]
		fmt.Fprintf(&b, "  %s\n      %s\n", c.synopsis, c.summary)
	}
	b.WriteString("\nRun `gitops-agent COMMAND -h` for a command's flags; `gitops-agent --version` prints the version.\n")
	fmt.Fprint(w, b.String())
}

// fail prints err the one way every command reports and returns ExitError.
func fail(env Env, err error) int {
	fmt.Fprintf(env.Stderr, "gitops-agent: %v\n", err)
	return ExitError
}
