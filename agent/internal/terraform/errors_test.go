package terraform

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "Error: x\n\nmore", want: "Error: x\n\nmore"},
		{name: "colour", in: "\x1b[31m╷\x1b[0m\n\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mBad\x1b[0m", want: "╷\n│ Error: Bad"},
		{name: "osc link", in: "see \x1b]8;;https://example.com\x07docs\x1b]8;;\x07 now", want: "see docs now"},
		{name: "crlf and controls", in: "a\r\nb\x00c\x07d\te\x7f", want: "a\nbcd\te"},
		{name: "trim blank lines", in: "\n\n  Error: x\n\n", want: "Error: x"},
		{name: "c1 controls", in: "a\u0085b\u009bc", want: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cleanText(tt.in); got != tt.want {
				t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCleanDiagnosticsCuts(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxDiagnostics) // two bytes each: the cut falls inside a rune
	got := cleanDiagnostics(long)
	if !strings.HasSuffix(got, "\n[… diagnostics cut at 256 KiB]") {
		t.Errorf("no cut marker at the end: …%q", got[len(got)-40:])
	}
	if !utf8.ValidString(got) || len(got) > maxDiagnostics+64 {
		t.Errorf("cut result: valid UTF-8 %v, %d bytes", utf8.ValidString(got), len(got))
	}
}

func TestCapBuffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "under", writes: []string{"ab", "cd"}, want: "abcd"},
		{name: "exact", writes: []string{"abcde"}, want: "abcde"},
		{name: "split write", writes: []string{"abc", "defg"}, want: "abcde\n[… 2 more bytes of output cut]\n"},
		{name: "after full", writes: []string{"abcde", "fg", "h"}, want: "abcde\n[… 3 more bytes of output cut]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newCapBuffer(5)
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// exitError returns a real *exec.ExitError from a process that exits with code 1.
func exitError(t testing.TB) error {
	t.Helper()
	err := exec.Command("/bin/sh", "-c", "exit 1").Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("sh exit 1: %v", err)
	}
	return fmt.Errorf("%w\nstderr text tfexec appends", exitErr)
}

func TestStepError(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	diags := "\x1b[31m╷\x1b[0m\n│ Error: Failed to read variables file\n│\n│ Given variables file x.tfvars does not exist.\n╵"
	other := errors.New("planPath cannot be blank")
	tests := []struct {
		name       string
		ctx        context.Context
		err        error
		wantMsg    string
		wantCancel bool
	}{
		{
			name:    "exit status",
			ctx:     context.Background(),
			err:     exitError(t),
			wantMsg: "terraform plan: exit status 1: Error: Failed to read variables file",
		},
		{
			name:       "interrupted",
			ctx:        cancelled,
			err:        exitError(t),
			wantMsg:    "terraform plan: interrupted: context canceled: Error: Failed to read variables file",
			wantCancel: true,
		},
		{
			name:    "not an exit",
			ctx:     context.Background(),
			err:     other,
			wantMsg: "terraform plan: planPath cannot be blank: Error: Failed to read variables file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := stepError(tt.ctx, StepPlan, tt.err, diags, time.Second)
			if diff := cmp.Diff(tt.wantMsg, e.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
			if got := errors.Is(e, context.Canceled); got != tt.wantCancel {
				t.Errorf("errors.Is(context.Canceled) = %v, want %v", got, tt.wantCancel)
			}
			if strings.Contains(e.Err.Error(), "stderr text") {
				t.Errorf("Err repeats the diagnostics: %q", e.Err)
			}
			want := "╷\n│ Error: Failed to read variables file\n│\n│ Given variables file x.tfvars does not exist.\n╵"
			if e.Diagnostics != want {
				t.Errorf("Diagnostics = %q, want %q", e.Diagnostics, want)
			}
		})
	}
}
