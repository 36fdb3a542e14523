// Package cli is the gitops-agent command line: it reads the environment and flags, wires the parts
// together and runs one command. It is the only package that reads the environment.
package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes shared by every command.
const (
	ExitOK     = 0
	ExitDenied = 1 // a policy denied
	ExitError  = 2 // anything went wrong
)

// Env is what a command may touch of the outside world.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	run   func(ctx context.Context, args []string, env Env) int
	usage string
}

var commands = map[string]command{
	"serve":   {runServe, "serve                       run the service (webhooks, queue, workers, poller)"},
	"plan":    {runPlan, "plan [--repo DIR] [--stage NAME] [--stack NAME]   plan a local checkout and print the MR note"},
	"policy":  {runPolicy, "policy test [DIR] | policy check --plan FILE [--stage S] [--label L] [--format table|json]"},
	"status":  {runStatus, "status                      print what is live per project, stack and stage"},
	"version": {runVersion, "version                     print the version"},
}

// Run runs the command named by args[0] and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return ExitError
		}
		return ExitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "gitops-agent: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return ExitError
	}
	return cmd.run(ctx, args[1:], env)
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: gitops-agent COMMAND [ARGS]\n\ncommands:\n")
	for _, name := range names {
		b.WriteString("  " + commands[name].usage + "\n")
	}
	fmt.Fprint(w, b.String())
}

// fail prints err the one way every command reports and returns ExitError.
func fail(env Env, err error) int {
	fmt.Fprintf(env.Stderr, "gitops-agent: %v\n", err)
	return ExitError
}
