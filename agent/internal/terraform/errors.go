package terraform

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Steps a failure can come from, as Error.Step names them.
const (
	StepInit      = "init"
	StepWorkspace = "workspace"
	StepPlan      = "plan"
	StepShow      = "show"
	StepApply     = "apply"
	StepUnlock    = "force-unlock"
)

// maxDiagnostics bounds the diagnostics kept from one failed step. Terraform can print an error per
// resource; beyond this the text is cut with a visible marker.
const maxDiagnostics = 256 << 10

// Error is a failed terraform step, with Terraform's own diagnostics (its stderr), cleaned of ANSI colour
// and other control characters and cut at 256 KiB with a visible marker.
//
// Err is the cause without the diagnostics: an *exec.ExitError for a non-zero exit, or an error that
// matches context.Canceled / context.DeadlineExceeded when the run was cancelled. A failure is
// deterministic unless it was cancelled: the runner never retries.
type Error struct {
	Step        string // "init", "workspace", "plan", "show", "apply" or "force-unlock"
	Diagnostics string
	Err         error

	lock lockInfo // the lock information of a state-lock error, read before Who was redacted
}

// Error is "terraform <step>: <cause>", followed by Terraform's first error summary when it printed one.
func (e *Error) Error() string {
	msg := "terraform " + e.Step + ": " + e.Err.Error()
	if s := firstSummary(e.Diagnostics); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// StateLocked reports whether the step failed because another run holds the state lock (after waiting
// Options.LockTimeout for it): trying again later can succeed.
func (e *Error) StateLocked() bool {
	return strings.Contains(e.Diagnostics, "Error acquiring the state lock")
}

// firstSummary returns the first "Error: ..." line of Terraform diagnostics, or "".
func firstSummary(diags string) string {
	for line := range strings.SplitSeq(diags, "\n") {
		line = strings.TrimSpace(strings.TrimLeft(line, "│╷╵ "))
		if strings.HasPrefix(line, "Error: ") {
			return line
		}
	}
	return ""
}

// ScrubDiagnostics hides the agent's host from Terraform diagnostics (Error.Diagnostics) before they are
// shown to merge request authors. dirs maps directories to what is shown instead, such as
// {workDir: "<work>", dataDir: "<data>"}: each directory is rewritten wherever it starts a path,
// itself or followed by "/", so "/srv/data/state/prod.tfstate" becomes "<data>/state/prod.tfstate" (but
// "/srv/data2" and "/x/srv/data" stay). Directories are matched as written, cleaned (filepath.Clean), the
// longest first, so a work dir inside the data dir becomes "<work>"; give them absolute, as Terraform prints
// them, and give a directory reached through a symbolic link under both names. "", "." and "/" are
// ignored.
//
// In the lock information of a state-lock error ("Lock Info:" up to the next blank line), the value of the
// "Who:" line (user@host of the lock holder) becomes "<redacted>"; the "Path:" line keeps its value, its
// directories rewritten as above. Everything else is left as it is.
func ScrubDiagnostics(text string, dirs map[string]string) string {
	type rewrite struct{ dir, to string }
	var rewrites []rewrite
	for dir, to := range dirs {
		if dir = filepath.Clean(dir); dir != "." && dir != "/" && dir != "" {
			rewrites = append(rewrites, rewrite{dir, to})
		}
	}
	slices.SortFunc(rewrites, func(a, b rewrite) int {
		return cmp.Or(cmp.Compare(len(b.dir), len(a.dir)), strings.Compare(a.dir, b.dir))
	})
	for _, r := range rewrites {
		text = rewriteDir(text, r.dir, r.to)
	}
	return scrubLockInfo(text)
}

// rewriteDir replaces dir with to wherever dir is a whole path or a path's leading directories.
func rewriteDir(text, dir, to string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, dir)
		if i < 0 {
			break
		}
		end := i + len(dir)
		if (i > 0 && pathByte(text[i-1])) || !pathEnd(text[end:]) {
			b.WriteString(text[:i+1])
			text = text[i+1:]
			continue
		}
		b.WriteString(text[:i])
		b.WriteString(to)
		text = text[end:]
	}
	if b.Len() == 0 {
		return text
	}
	b.WriteString(text)
	return b.String()
}

// pathEnd reports whether rest, what follows a directory's name in the text, ends the name there: it is
// empty, starts with "/", or starts with a byte no name holds (a full stop ending a sentence included).
func pathEnd(rest string) bool {
	switch {
	case rest == "" || rest[0] == '/':
		return true
	case rest[0] == '.':
		return len(rest) == 1 || !pathByte(rest[1])
	}
	return !pathByte(rest[0])
}

// pathByte reports whether c can be part of a path name next to a directory: a match preceded or followed
// by one is part of another name.
func pathByte(c byte) bool {
	return c == '/' || c == '.' || c == '_' || c == '-' || c == '~' || c == '+' ||
		c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// lockWho matches the "Who:" line of Terraform's lock information, diagnostics box ("│ ") and
// indentation included: group 1 is everything up to the value.
var lockWho = regexp.MustCompile(`^([│ 	]*Who:[ 	]*)\S.*$`)

// scrubLockInfo redacts the lock holder (the Who: line) in each "Lock Info:" block of text.
func scrubLockInfo(text string) string {
	if !strings.Contains(text, "Lock Info:") {
		return text
	}
	lines := strings.Split(text, "\n")
	inLock := false
	for i, line := range lines {
		bare := strings.TrimSpace(strings.TrimLeft(line, "│ \t"))
		switch {
		case bare == "Lock Info:":
			inLock = true
		case bare == "":
			inLock = false
		case inLock:
			lines[i] = lockWho.ReplaceAllString(line, "${1}<redacted>")
		}
	}
	return strings.Join(lines, "\n")
}

// stepError turns what a tfexec call returned into an *Error. stderr is what the step printed; grace is
// how long terraform had to stop after an interrupt, for the message when it had to be killed.
func stepError(ctx context.Context, step string, err error, stderr string, grace time.Duration) *Error {
	e := &Error{Step: step, Diagnostics: cleanDiagnostics(stderr)}
	var exitErr *exec.ExitError
	hasExit := errors.As(err, &exitErr)
	switch {
	case ctx.Err() != nil && hasExit && killed(exitErr):
		e.Err = fmt.Errorf("killed %s after the interrupt, its state lock may still be held: %w", grace, context.Cause(ctx))
	case ctx.Err() != nil:
		e.Err = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	case hasExit:
		e.Err = exitErr
	default:
		e.Err = err
	}
	return e
}

// killed reports whether the process ended by SIGKILL rather than exiting on its own.
func killed(exitErr *exec.ExitError) bool {
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// ansiSeq matches ECMA-48 escape sequences: CSI (colours, cursor moves), OSC (titles, links) and the
// two-byte escapes.
var ansiSeq = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])`)

// cleanDiagnostics is cleanText cut at maxDiagnostics bytes with a visible marker.
func cleanDiagnostics(s string) string {
	s = cleanText(s)
	if len(s) > maxDiagnostics {
		s = strings.ToValidUTF8(s[:maxDiagnostics], "") + "\n[… diagnostics cut at 256 KiB]"
	}
	return s
}

// cleanText strips ANSI escape sequences and control characters other than newline and tab from
// terraform's output, turns CRLF into LF and trims surrounding blank lines.
func cleanText(s string) string {
	s = ansiSeq.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		default:
			return r
		}
	}, s)
	return strings.Trim(s, "\n ")
}

// capBuffer keeps the first limit bytes written to it and counts the rest, so a runaway subprocess
// cannot exhaust memory. It never returns an error: a full buffer discards.
type capBuffer struct {
	buf     bytes.Buffer
	limit   int
	dropped int64
}

func newCapBuffer(limit int) *capBuffer { return &capBuffer{limit: limit} }

func (b *capBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.buf.Len()
	switch {
	case room <= 0:
		b.dropped += int64(len(p))
	case len(p) > room:
		b.buf.Write(p[:room])
		b.dropped += int64(len(p) - room)
	default:
		b.buf.Write(p)
	}
	return len(p), nil
}

// String returns what was kept, followed by a marker line when something was dropped.
func (b *capBuffer) String() string {
	if b.dropped == 0 {
		return b.buf.String()
	}
	return strings.ToValidUTF8(b.buf.String(), "") + fmt.Sprintf("\n[… %d more bytes of output cut]\n", b.dropped)
}
