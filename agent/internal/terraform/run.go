package terraform

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Request says where and how to run: what Runner.Open needs to prepare a Workspace, and the var files
// Workspace.Plan plans with (they belong to the stage, as the workspace and backend config do).
type Request struct {
	Dir string // the stack's directory inside a private work copy of the source
	// Root is that work copy (Dir or a dir above it): a sandboxed run may write there and sees nothing
	// else of the host's file system but its tools. Empty means Dir.
	Root          string
	VarFiles      []string          // relative to Dir, already expanded for the stage; used by Workspace.Plan
	BackendConfig []string          // relative to Dir, passed to init; an entry with "=" is a key=value pair
	Workspace     string            // "" or "default" means default
	Env           map[string]string // extra variables for the subprocess (e.g. AWS credentials); never logged
	// ReadOnly plans without taking the state lock (-lock=false), so that a plan for review never makes a
	// promotion wait or fail; a read-only workspace refuses to apply.
	ReadOnly bool
	// Output, when set, gets what terraform prints as it runs (init, workspace, plan, apply; never `show
	// -json`, which holds the plan's values), stdout and stderr, as whole lines, each masked first: the
	// values of Env (the run's credentials, but for region names) become "[masked]", the agent's dirs
	// the names diagnostics give them, and the state lock's Who: is cut. Lines over 64 KiB are cut. Output
	// must be safe for concurrent use (stdout and stderr are written at once); it should not block.
	Output io.Writer
	// LockHolder, when set, is the user name terraform runs as in the runner's sandbox (Sandbox): the
	// user part of the Who (user@host) of the state locks it takes, for backends that keep Terraform's
	// lock information. Without a sandbox terraform runs as the agent's user and it changes nothing.
	LockHolder string
	// StaleLockHolders are the LockHolders of interrupted runs of the same state: when plan or apply
	// finds the state locked and the lock's Who is one of those users (never LockHolder), the workspace
	// releases the lock (`force-unlock -force` with the lock's ID) and runs the command once more. A lock
	// whose Who is anybody else is never released. Each holder is 1 to 32 of a-z, 0-9 and -, starting
	// with a letter.
	StaleLockHolders []string
	// StaleLock, when set with StaleLockHolders, tells a lock whose holder the backend does not report:
	// terraform's http backend names a held lock by its ID alone. When plan or apply finds the state
	// locked that way, StaleLock is asked with the backend's state address whether the lock held there is
	// an interrupted run's (GitLab-managed state: who took it and since when); true releases it as
	// above, with the ID terraform reports. An error is returned with the state-lock error.
	StaleLock func(ctx context.Context, address string) (bool, error)
}

// PlanResult is a saved plan and its two renderings.
type PlanResult struct {
	PlanFile string // absolute path of the saved plan, mode 0600
	JSON     []byte // `show -json` of the saved plan, as terraform printed it; holds secrets in plain text
	// Text is the plain-text rendering of the saved plan as `show` prints it, no colour: taken from plan's
	// own output without its progress lines, warnings and trailer (see planText).
	Text    string
	Changes bool // plan has changes
}

// workspaceName is what the runner accepts as a workspace: Terraform's own rule (a name that needs no
// escaping in a URL path) narrowed to characters every backend accepts, and never a leading "-" that
// would read as a flag.
var workspaceName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,89}$`)

// check validates a request before anything runs. Errors name fields, never Env values.
func (req Request) check() error {
	if req.Dir == "" {
		return errors.New("request: Dir is empty")
	}
	fi, err := os.Stat(req.Dir)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("request: %s is not a directory", req.Dir)
	}
	if req.Workspace != "" && !workspaceName.MatchString(req.Workspace) {
		return fmt.Errorf("request: invalid workspace name %q", truncate(req.Workspace, 100))
	}
	for _, h := range append([]string{req.LockHolder}, req.StaleLockHolders...) {
		if h != "" && !holderName.MatchString(h) {
			return fmt.Errorf("request: invalid lock holder %q", truncate(h, 100))
		}
	}
	for _, f := range req.VarFiles {
		if err := checkRelPath(f); err != nil {
			return fmt.Errorf("request: var file: %w", err)
		}
	}
	for _, b := range req.BackendConfig {
		if strings.Contains(b, "=") {
			if strings.HasPrefix(b, "=") || strings.ContainsRune(b, 0) {
				return fmt.Errorf("request: backend config: malformed key=value %q", truncate(b, 100))
			}
			continue
		}
		if err := checkRelPath(b); err != nil {
			return fmt.Errorf("request: backend config: %w", err)
		}
	}
	return nil
}

// checkRelPath accepts a non-empty relative path. A path may climb out of Dir ("../common.tfvars" for a
// file shared by stacks): the work copy is private, so the caller bounds what it holds.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("malformed path %q", truncate(p, 100))
	case filepath.IsAbs(p):
		return fmt.Errorf("path %q is absolute, want one relative to the stack dir", truncate(p, 100))
	}
	return nil
}

// planPath returns p made absolute against the agent's working directory (never against Dir, where
// terraform would otherwise resolve it).
func planPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("request: PlanFile is empty")
	}
	if strings.ContainsRune(p, 0) {
		return "", errors.New("request: malformed PlanFile")
	}
	return filepath.Abs(p)
}

// outputMask is what replaces a run's credential in the output it streams.
const outputMask = "[masked]"

// maxOutputLine bounds one line of streamed output; the rest of a longer line is dropped.
const maxOutputLine = 64 << 10

// outputMasker returns the masking of every streamed line of a run: env's values (those of at least four
// characters, but for the region variables, which name no secret) replaced by outputMask, longest first,
// then the agent's dirs by the names in hidden, as in diagnostics.
func outputMasker(env map[string]string, hidden map[string]string) func(string) string {
	var values []string
	for k, v := range env {
		if len(v) >= 4 && !strings.HasSuffix(k, "REGION") {
			values = append(values, v)
		}
	}
	slices.SortFunc(values, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(values))
	for _, v := range slices.Compact(values) {
		pairs = append(pairs, v, outputMask)
	}
	r := strings.NewReplacer(pairs...)
	return func(line string) string { return ScrubDiagnostics(r.Replace(line), hidden) }
}

// lineTee writes one stream of terraform's output to out line by line, each line masked; the state
// lock's Who: line (within a "Lock Info:" block) is cut as in diagnostics. It is safe for concurrent use.
type lineTee struct {
	out  io.Writer
	mask func(string) string

	mu      sync.Mutex
	partial []byte
	inLock  bool
}

func (t *lineTee) Write(p []byte) (int, error) {
	n := len(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxOutputLine - len(t.partial); len(chunk) > room {
			chunk = chunk[:max(room, 0)]
		}
		t.partial = append(t.partial, chunk...)
		if i < 0 {
			break
		}
		t.emit()
		p = p[i+1:]
	}
	return n, nil
}

// Flush writes the incomplete last line, if any.
func (t *lineTee) Flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.partial) > 0 {
		t.emit()
	}
}

// emit masks the partial line and writes it out; a failing out loses the line, never the run.
func (t *lineTee) emit() {
	line := strings.TrimRight(string(t.partial), "\r")
	t.partial = t.partial[:0]
	switch bare := strings.TrimSpace(strings.TrimLeft(line, "│ \t")); {
	case bare == "Lock Info:":
		t.inLock = true
	case bare == "":
		t.inLock = false
	case t.inLock:
		line = lockWho.ReplaceAllString(line, "${1}<redacted>")
	}
	_, _ = io.WriteString(t.out, t.mask(line)+"\n")
}
