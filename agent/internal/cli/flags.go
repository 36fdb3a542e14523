package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// commandHelp is the text above the flags in `gitops-agent NAME -h`, by flag set name.
var commandHelp = map[string]string{
	"plan": `usage: gitops-agent plan [--repo DIR] [--stage NAME]... [--stack NAME]... [-v]

Plans every stack in every stage of a local checkout (or those named) with terraform and prints the merge
request note's markdown to stdout. Logs go to stderr: warnings and errors only, unless -v.

Exit codes: 0 plans made and no policy denied; 1 a policy denied; 2 an error.
`,
	"policy": `usage: gitops-agent policy test [-v] [DIR]...
       gitops-agent policy check --plan FILE [--stage S] [--stack S] [--project P] [--label L]...
                                 [--policies DIR]... [--format table|json] [-v]

test runs the Rego unit tests in the directories (default policies).
check evaluates one plan JSON (terraform show -json PLANFILE) against the policy directories.

Run gitops-agent policy test -h or policy check -h for their flags.
`,
	"policy test": `usage: gitops-agent policy test [-v] [DIR]...

Runs the Rego unit tests (rules named test_*) in the directories (default policies). Flags may come
before or after the directories.

Exit codes: 0 all passed; 1 a test failed; 2 an error, or no tests found.
`,
	"policy check": `usage: gitops-agent policy check --plan FILE [--stage S] [--stack S] [--project P] [--label L]...
                                 [--policies DIR]... [--format table|json] [-v]

Checks one plan JSON (terraform show -json PLANFILE, not the saved binary plan) against the policy
directories and GITOPS_POLICY_DIR. Without --stage, rules scoped to a stage cannot fire.

Exit codes: 0 no denial; 1 a policy denied; 2 an error.
`,
	"status": statusUsage(),
	"version": `usage: gitops-agent version
       gitops-agent --version

Prints the version: the one make build stamps (git describe), else the module version of go install,
else the commit it was built from.
`,
}

// newFlagSet returns a flag set whose errors go to stderr and whose help is printed by parseFlags.
func newFlagSet(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args, letting flags come after positional arguments too ("policy test DIR -v").
// On -h or --help it prints the command's help and flags to stdout and returns (ExitOK, false); on a bad
// flag it points at the help and returns (ExitError, false).
func parseFlags(fs *flag.FlagSet, args []string, env Env) (int, bool) {
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printFlagHelp(fs, env)
			return ExitOK, false
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "run `gitops-agent %s -h` for usage\n", fs.Name())
			return ExitError, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			positional = append(positional, rest[1:]...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Leave the positional arguments as the flag set's arguments.
	_ = fs.Parse(append([]string{"--"}, positional...))
	return ExitOK, true
}

func printFlagHelp(fs *flag.FlagSet, env Env) {
	var b strings.Builder
	b.WriteString(commandHelp[fs.Name()])
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		fmt.Fprint(env.Stdout, b.String())
		return
	}
	b.WriteString("\nflags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(env.Stderr)
	fmt.Fprint(env.Stdout, b.String())
}
