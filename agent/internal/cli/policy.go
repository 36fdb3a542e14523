package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/policy"
)

// runPolicy runs `policy test [DIR]` (the Rego unit tests; exit 1 when one fails) or `policy check
// --plan FILE ...` (one plan JSON against the policies; exit 1 on a denial). Exit 2 on any error,
// including a policy that does not compile or fails at evaluation.
func runPolicy(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, commandHelp["policy"])
		return ExitError
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(env.Stdout, commandHelp["policy"])
		return ExitOK
	case "test":
		return runPolicyTest(ctx, args[1:], env)
	case "check":
		return runPolicyCheck(ctx, args[1:], env)
	default:
		return fail(env, fmt.Errorf("policy: unknown subcommand %q (want test or check)", args[0]))
	}
}

func runPolicyTest(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("policy test", env)
	verbose := fs.Bool("v", false, "verbose: list every test, not only failures")
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	dirs := fs.Args()
	if len(dirs) == 0 {
		dirs = []string{"policies"}
	}
	results, err := policy.Test(ctx, dirs)
	if err != nil {
		return fail(env, fmt.Errorf("policy test: %w", err))
	}
	if len(results) == 0 {
		return fail(env, fmt.Errorf("policy test: no tests found in %s (tests are Rego rules named test_*)", strings.Join(dirs, ", ")))
	}
	failed := 0
	for _, r := range results {
		outcome := "PASS"
		switch {
		case r.Skipped:
			outcome = "SKIP"
		case r.Error != "":
			outcome = "ERROR"
		case !r.Passed:
			outcome = "FAIL"
		}
		if outcome == "FAIL" || outcome == "ERROR" {
			failed++
		}
		if *verbose || outcome == "FAIL" || outcome == "ERROR" {
			fmt.Fprintf(env.Stdout, "%s %s:%d %s.%s", outcome, r.File, r.Line, r.Package, r.Name)
			if r.Error != "" {
				fmt.Fprintf(env.Stdout, ": %s", r.Error)
			}
			fmt.Fprintln(env.Stdout)
		}
	}
	fmt.Fprintf(env.Stdout, "%d tests, %d passed, %d failed\n", len(results), len(results)-failed, failed)
	if failed > 0 {
		return ExitDenied
	}
	return ExitOK
}

func runPolicyCheck(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("policy check", env)
	planFile := fs.String("plan", "", "the plan JSON (terraform show -json PLANFILE)")
	var pc gitops.PolicyContext
	fs.StringVar(&pc.Stage, "stage", "", "the stage the plan is for (data.gitops.stage)")
	fs.StringVar(&pc.Stack, "stack", "", "the stack the plan is for (data.gitops.stack)")
	fs.StringVar(&pc.Project, "project", "", "the project (data.gitops.project)")
	var labels, dirs listFlag
	fs.Var(&labels, "label", "a merge request label (repeatable)")
	fs.Var(&dirs, "policies", "a policy directory (repeatable; default policies)")
	format := fs.String("format", "table", "output: table or json")
	verbose := fs.Bool("v", false, "verbose: log what is evaluated (info and debug) to stderr")
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return fail(env, fmt.Errorf("policy check: unexpected argument %q", fs.Arg(0)))
	case *planFile == "":
		return fail(env, errors.New("policy check: --plan FILE is required"))
	case *format != "table" && *format != "json":
		return fail(env, fmt.Errorf("policy check: --format %q: want table or json", *format))
	}
	if len(dirs) == 0 {
		dirs = listFlag{"policies"}
	}
	pc.MergeRequest.Labels = labels
	// The check's heap is prepared before the plan is read when its size is known (a regular file),
	// so that the plan's own buffer is carved from the huge pages too.
	var restoreHeap func()
	if size := regularFileSize(*planFile); size > 0 && size <= policy.MaxPlanBytes {
		restoreHeap = prepareHeap(env, int(size))
	}
	planJSON, err := readLimited(*planFile, policy.MaxPlanBytes)
	if restoreHeap == nil {
		restoreHeap = prepareHeap(env, len(planJSON))
	}
	defer restoreHeap()
	if err != nil {
		return fail(env, fmt.Errorf("policy check: %w", err))
	}
	if bytes.HasPrefix(planJSON, []byte("PK")) {
		return fail(env, fmt.Errorf("policy check: %s is not plan JSON (it looks like a saved binary plan): run `terraform show -json PLANFILE` and check its output", *planFile))
	}
	s, err := readSettings(env.Getenv, local)
	if err != nil {
		return fail(env, fmt.Errorf("policy check: %w", err))
	}
	log := consoleLogger(env, *verbose)
	evaluated := strings.Join(append(slices.Clone(dirs), s.PolicyDirs...), ", ")
	if pc.Stage == "" {
		fmt.Fprintf(env.Stderr, "gitops-agent: policy check: warning: no --stage given: rules scoped to a stage cannot fire\n")
	}
	fmt.Fprintf(env.Stderr, "policy check: %s against policy dirs %s, stage %s\n", *planFile, evaluated, orNone(pc.Stage))
	engine := policy.NewEngine(policy.Options{ServerDirs: s.PolicyDirs, Logger: &log})
	findings, err := engine.Check(ctx, absAll(dirs), planJSON, pc)
	if errors.Is(err, policy.ErrInvalidPlan) {
		return fail(env, fmt.Errorf("policy check: %s is not plan JSON (%w): run `terraform show -json PLANFILE`", *planFile, err))
	}
	if err != nil {
		return fail(env, fmt.Errorf("policy check %s: %w", *planFile, err))
	}
	if *format == "json" {
		err = writeFindingsJSON(env.Stdout, findings)
	} else {
		err = writeFindingsTable(env.Stdout, findings)
	}
	if err != nil {
		return fail(env, err)
	}
	for _, f := range findings {
		if f.Severity == gitops.Deny {
			return ExitDenied
		}
	}
	return ExitOK
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func absAll(dirs []string) []string {
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		out = append(out, d)
	}
	return out
}

// prepareHeap readies the heap for checking a plan of planBytes: a soft limit (boundHeap), and huge
// pages for the plan and the check's terms (about four times the plan) and garbage. It returns what
// restores the previous limits.
func prepareHeap(env Env, planBytes int) (restore func()) {
	restore = boundHeap(env, planBytes)
	preferHugePages(min(7*planBytes, 1<<30))
	return restore
}

// regularFileSize is the size of the regular file at path, or 0 (not a regular file, or no file).
func regularFileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return 0
	}
	return info.Size()
}

// boundHeap gives a policy check's heap a soft limit of seven times its plan JSON (at least 128 MiB)
// and, unless GOGC is set, no other trigger: the collector runs only when the heap nears the limit.
// A check's live heap is about four times its plan; the default pacing (collect whenever the heap has
// doubled) collects nine times on the way to it, and on a loaded machine, where the collector gets
// little CPU, overshoots it. A soft limit never fails a check: above it the runtime collects more
// often. GOMEMLIMIT, when set, rules instead. It returns what restores the previous settings.
func boundHeap(env Env, planBytes int) (restore func()) {
	if env.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prevLimit := debug.SetMemoryLimit(max(128<<20, 7*int64(planBytes)))
	prevPercent := debug.SetGCPercent(-1)
	if env.Getenv("GOGC") != "" {
		debug.SetGCPercent(prevPercent)
	}
	return func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	}
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Read into one buffer of the file's size: a plan may be 100 MB, and growing a buffer to it by
	// doubling would allocate twice that.
	var buf bytes.Buffer
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
		buf.Grow(int(min(info.Size(), limit)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s is over the %d byte limit", path, limit)
	}
	return buf.Bytes(), nil
}

type findingJSON struct {
	Severity string `json:"severity"`
	ID       string `json:"id,omitempty"`
	Rule     string `json:"rule"`
	Message  string `json:"msg"`
	Address  string `json:"address,omitempty"`
	File     string `json:"file"`
}

func writeFindingsJSON(w io.Writer, findings []gitops.Finding) error {
	out := make([]findingJSON, 0, len(findings))
	for _, f := range findings {
		out = append(out, findingJSON{string(f.Severity), f.ID, f.Rule, f.Message, f.Address, f.File})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeFindingsTable(out io.Writer, findings []gitops.Finding) error {
	var denials, warnings int
	// tabwriter writes each cell and its padding on its own: one system call each on a terminal or
	// pipe, a second for 6,000 rows, without the buffer.
	w := bufio.NewWriter(out)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(findings) > 0 {
		fmt.Fprintln(tw, "SEVERITY\tID\tADDRESS\tMESSAGE\tFILE")
	}
	for _, f := range findings {
		if f.Severity == gitops.Deny {
			denials++
		} else {
			warnings++
		}
		id := f.ID
		if id == "" {
			id = f.Rule
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, id, f.Address, oneLine(f.Message), f.File)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d denied, %d warned\n", denials, warnings)
	return w.Flush()
}

// oneLine keeps a table row on one line whatever a policy message holds.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
