package terraform

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// lines is an Output that keeps every line written to it, safe for concurrent use.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestLineTeeMasksWholeLines(t *testing.T) {
	var out lines
	mask := outputMasker(map[string]string{
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
		"AWS_SESSION_TOKEN":     "FwoGZXIvYXdzEJr//token",
		"AWS_REGION":            "eu-west-1", // names no secret: left as it is
		"SHORT":                 "abc",       // too short to mask without masking ordinary text
	}, map[string]string{"/var/lib/agent/data": "<data>"})
	tee := &lineTee{out: &out, mask: mask}
	// The secret arrives cut across writes, as a pipe may deliver it.
	for _, chunk := range []string{
		"key = \"wJalrXU", "tnFEMI/K7MDENG\" in eu-west-1\r\n",
		"token FwoGZXIvYXdzEJr//token abc\nplugin at /var/lib/agent/data/plugins/x\n",
		"Lock Info:\n  ID: 1\n  Who: alice@laptop\n\n  Who: not a lock\n",
		"no newline at the end",
	} {
		if _, err := tee.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), "no newline") {
		t.Errorf("an incomplete line was written before Flush:\n%s", out.String())
	}
	tee.Flush()
	want := `key = "[masked]" in eu-west-1
token [masked] abc
plugin at <data>/plugins/x
Lock Info:
  ID: 1
  Who: <redacted>

  Who: not a lock
no newline at the end
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("teed output (-want +got):\n%s", diff)
	}
}

func TestLineTeeCutsLongLines(t *testing.T) {
	var out lines
	tee := &lineTee{out: &out, mask: func(s string) string { return s }}
	long := strings.Repeat("x", maxOutputLine+100)
	_, _ = tee.Write([]byte(long + "\nnext\n"))
	got := strings.Split(out.String(), "\n")
	if len(got) != 3 || len(got[0]) != maxOutputLine || got[1] != "next" {
		t.Errorf("lines of %d, %q, want one of %d then next", len(got[0]), got[1:], maxOutputLine)
	}
}

// TestOutputStreamsMaskedRun runs a real terraform whose plan prints the run's credential: Output gets
// the plan's lines as they come, with the credential masked in each, and never `show -json`.
func TestOutputStreamsMaskedRun(t *testing.T) {
	t.Parallel()
	const secret = "AKIASECRETVALUE0123456789"
	dir := t.TempDir()
	main := `variable "token" {
  type = string
}
resource "terraform_data" "probe" {
  input = "token is ${var.token}"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	// The value reaches the plan from a var file; the run knows it as its credential.
	if err := os.WriteFile(filepath.Join(dir, "x.tfvars"), []byte(`token = "`+secret+`"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(Options{Binary: testsvc.Terraform(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var out lines
	ctx := context.Background()
	ws, err := r.Open(ctx, Request{Dir: dir, VarFiles: []string{"x.tfvars"}, Env: map[string]string{"AWS_SECRET_ACCESS_KEY": secret}, Output: &out})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer ws.Close()
	res, err := ws.Plan(ctx, filepath.Join(t.TempDir(), "p.tfplan"))
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if !strings.Contains(string(res.JSON), secret) {
		t.Fatal("the plan does not hold the credential: the test proves nothing")
	}
	got := out.String()
	for _, want := range []string{"Terraform has been successfully initialized", "terraform_data.probe will be created", `"token is [masked]"`, "Plan: 1 to add"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, secret) || strings.Contains(got, `"format_version"`) {
		t.Errorf("output shows the credential or the plan JSON:\n%s", got)
	}
}
