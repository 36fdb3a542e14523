package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
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
	Step        string // "init", "workspace", "plan", "show" or "apply"
	Diagnostics string
	Err         error
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
