package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
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

// Diagnostics as Terraform 1.11 prints them (captured from the binary), with the agent's directories
// /srv/gitops/work/mr-7 (the work dir) and /srv/gitops (the data dir).
const (
	lockDiags = `Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        d01a2099-2cf4-a64c-acff-7156ce55f0c0
  Path:      /srv/gitops/state/prod.tfstate
  Operation: OperationTypeApply
  Who:       root@gitops-agent-7f9c
  Version:   1.11.4
  Created:   2026-12-05 23:16:39.340588437 +0000 UTC
  Info:      


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.`
	boxedLockDiags = `╷
│ Error: Error acquiring the state lock
│
│ Error message: ConditionalCheckFailedException: The conditional request failed
│ Lock Info:
│   ID:        7e9b2a4e-1d7c-2b7d-9b1f-55d1c39a2f0e
│   Path:      /srv/gitops/work/mr-7/stack/terraform.tfstate
│   Operation: OperationTypePlan
│   Who:       gitops@ip-10-0-3-17.eu-west-1.compute.internal
│   Version:   1.11.4
│   Created:   2026-12-05 23:16:39.340588437 +0000 UTC
│   Info:
│
│ Who: is a word in this paragraph, not a lock holder.
╵`
)

func TestScrubDiagnostics(t *testing.T) {
	t.Parallel()
	dirs := map[string]string{"/srv/gitops/work/mr-7": "<work>", "/srv/gitops/": "<data>"}
	tests := []struct {
		name, in, want string
	}{
		{
			name: "lock error of a local state in the data dir",
			in:   lockDiags,
			want: strings.NewReplacer(
				"/srv/gitops/state/prod.tfstate", "<data>/state/prod.tfstate",
				"root@gitops-agent-7f9c", "<redacted>",
			).Replace(lockDiags),
		},
		{
			name: "boxed lock error, the work dir inside the data dir",
			in:   boxedLockDiags,
			want: strings.NewReplacer(
				"/srv/gitops/work/mr-7/stack/terraform.tfstate", "<work>/stack/terraform.tfstate",
				"gitops@ip-10-0-3-17.eu-west-1.compute.internal", "<redacted>",
			).Replace(boxedLockDiags),
		},
		{
			name: "syntax error and a missing file",
			in: "Error: Invalid expression\n\n  on /srv/gitops/work/mr-7/stack/main.tf line 2, in resource \"terraform_data\" \"a\":\n" +
				"   2:   input = \n\nGiven variables file /srv/gitops/work/mr-7/prod.tfvars does not exist.\n" +
				`Invalid value for "path" parameter: no file exists at "/srv/gitops/work/mr-7".`,
			want: "Error: Invalid expression\n\n  on <work>/stack/main.tf line 2, in resource \"terraform_data\" \"a\":\n" +
				"   2:   input = \n\nGiven variables file <work>/prod.tfvars does not exist.\n" +
				`Invalid value for "path" parameter: no file exists at "<work>".`,
		},
		{
			name: "other names that start like a dir stay",
			in:   "/srv/gitops2/x /x/srv/gitops/y /srv/gitops-old /srv/gitops_b /srv/gitops.bak and /srv/gitops.",
			want: "/srv/gitops2/x /x/srv/gitops/y /srv/gitops-old /srv/gitops_b /srv/gitops.bak and <data>.",
		},
		{
			name: "Who outside lock info stays",
			in:   "Who: me\n\nLock Info:\n  Who:       a@b\n\n  Who:       c@d",
			want: "Who: me\n\nLock Info:\n  Who:       <redacted>\n\n  Who:       c@d",
		},
		{name: "nothing to scrub", in: "Error: Unsupported argument", want: "Error: Unsupported argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, ScrubDiagnostics(tt.in, dirs)); diff != "" {
				t.Errorf("ScrubDiagnostics (-want +got):\n%s", diff)
			}
		})
	}
	if got := ScrubDiagnostics("/x /srv", map[string]string{"/": "<root>", "": "<e>", ".": "<dot>"}); got != "/x /srv" {
		t.Errorf("root, empty and dot dirs rewrote the text: %q", got)
	}
}

// TestScrubDiagnosticsRealTerraform makes a real Terraform fail twice with the agent's directories in its
// diagnostics: a plan of a stack whose local state, in the data dir, another apply holds locked, and an
// init of a configuration with a syntax error and a plan reading a missing file in the work dir. The
// scrubbed diagnostics name neither directory nor the lock holder.
func TestScrubDiagnosticsRealTerraform(t *testing.T) {
	t.Parallel()
	bin := testsvc.Terraform(t)
	root := t.TempDir()
	work, data := filepath.Join(root, "work"), filepath.Join(root, "data")
	stack := filepath.Join(work, "stack")
	for _, d := range []string{stack, filepath.Join(data, "state")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cliConfig := filepath.Join(root, "cli.tfrc")
	writeDiagFile(t, cliConfig, "")
	env := append(testsvc.TerraformEnv(), "TF_CLI_CONFIG_FILE="+cliConfig)
	tf := func(dir string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		return cmd
	}
	config := `terraform {
  backend "local" { path = %q }
}
resource "terraform_data" "a" { input = %q }
`
	writeDiagFile(t, filepath.Join(stack, "main.tf"), fmt.Sprintf(config, filepath.Join(data, "state", "prod.tfstate"), "x"))
	for _, args := range [][]string{{"init", "-no-color", "-input=false"}, {"apply", "-no-color", "-auto-approve", "-input=false"}} {
		if out, err := tf(stack, args...).CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
	writeDiagFile(t, filepath.Join(stack, "main.tf"), fmt.Sprintf(config, filepath.Join(data, "state", "prod.tfstate"), "y"))

	// An apply waiting for its confirmation holds the lock.
	holder := tf(stack, "apply", "-no-color")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // no answer: the apply is cancelled and ends
		_ = holder.Wait()
	})
	prompt := make([]byte, 0, 4096)
	for buf := make([]byte, 4096); !bytes.Contains(prompt, []byte("Enter a value:")); {
		n, err := stdout.Read(buf)
		if err != nil {
			t.Fatalf("the holding apply ended before its prompt: %v\n%s", err, prompt)
		}
		prompt = append(prompt, buf[:n]...)
	}
	var lockErr bytes.Buffer
	plan := tf(stack, "plan", "-no-color", "-input=false", "-lock-timeout=0s")
	plan.Stderr = &lockErr
	if err := plan.Run(); err == nil {
		t.Fatal("plan succeeded while the state was locked")
	}

	bad := filepath.Join(work, "bad")
	writeDiagFile(t, filepath.Join(bad, "main.tf"), "resource \"terraform_data\" \"a\" {\n  input = \n}\n")
	var syntaxErr bytes.Buffer
	initBad := tf(bad, "init", "-no-color", "-input=false")
	initBad.Stderr = &syntaxErr
	if err := initBad.Run(); err == nil {
		t.Fatal("init of a broken configuration succeeded")
	}
	var fileErr bytes.Buffer
	missing := tf(stack, "plan", "-no-color", "-input=false", "-lock=false", "-var-file="+filepath.Join(work, "prod.tfvars"))
	missing.Stderr = &fileErr
	if err := missing.Run(); err == nil {
		t.Fatal("plan with a missing variables file succeeded")
	}

	dirs := map[string]string{work: "<work>", data: "<data>"}
	host, _ := os.Hostname()
	for name, diags := range map[string]string{"lock": lockErr.String(), "syntax": syntaxErr.String(), "missing file": fileErr.String()} {
		got := ScrubDiagnostics(cleanDiagnostics(diags), dirs)
		if strings.Contains(got, root) {
			t.Errorf("%s: scrubbed diagnostics still name %s:\n%s", name, root, got)
		}
		if host != "" && strings.Contains(got, "@"+host) {
			t.Errorf("%s: scrubbed diagnostics still name the lock holder:\n%s", name, got)
		}
		if t.Failed() {
			t.Logf("%s, scrubbed:\n%s", name, got)
		}
	}
	for _, want := range []string{"Path:      <data>/state/prod.tfstate", "Who:       <redacted>"} {
		if !strings.Contains(ScrubDiagnostics(lockErr.String(), dirs), want) {
			t.Errorf("scrubbed lock error lacks %q:\n%s", want, ScrubDiagnostics(lockErr.String(), dirs))
		}
	}
	if got := ScrubDiagnostics(fileErr.String(), dirs); !strings.Contains(got, "<work>/prod.tfvars") {
		t.Errorf("scrubbed missing-file error lacks <work>/prod.tfvars:\n%s", got)
	}
	if got := ScrubDiagnostics(syntaxErr.String(), dirs); !strings.Contains(got, "Invalid expression") {
		t.Errorf("scrubbed syntax error lost its summary:\n%s", got)
	}
}

// writeDiagFile writes content to path, making its directory.
func writeDiagFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
