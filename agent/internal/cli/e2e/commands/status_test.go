package commands_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

func TestStatusCommand(t *testing.T) {
	for _, b := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"sqlite", func(t *testing.T) map[string]string { return map[string]string{"GITOPS_DATA_DIR": t.TempDir()} }},
		{"postgres", func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": testsvc.Postgres(t), "GITOPS_DATA_DIR": t.TempDir()}
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			env := b.env(t)
			ctx := context.Background()
			l, err := ledger.Open(ctx, env["DATABASE_URL"], env["GITOPS_DATA_DIR"])
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []gitops.Run{
				{Project: "group/app", MR: 7, Commit: strings.Repeat("a", 40), Stack: "network", Stage: "dev"},
				{Project: "group/app", MR: 8, Commit: strings.Repeat("b", 40), Stack: "network", Stage: "dev"},
				{Project: "other/svc", MR: 2, Commit: strings.Repeat("c", 40), Stack: "api", Stage: "prod"},
			} {
				id, err := l.StartRun(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				if err := l.FinishRun(ctx, id, gitops.RunApplied, "Plan: 1 to add, 0 to change, 0 to destroy.", ""); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()

			run := func(args ...string) (int, string, string) {
				var stdout, stderr bytes.Buffer
				code := cli.Run(ctx, append([]string{"status"}, args...), cli.Env{
					Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr,
				})
				return code, stdout.String(), stderr.String()
			}
			code, out, stderr := run()
			if code != cli.ExitOK {
				t.Fatalf("status: exit %d, stderr %s", code, stderr)
			}
			for _, want := range []string{"group/app", "network", "bbbbbbbb", "!8", "other/svc", "cccccccc"} {
				if !strings.Contains(out, want) {
					t.Errorf("status output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "aaaaaaaa") {
				t.Errorf("status shows the commit a later one replaced:\n%s", out)
			}
			code, out, _ = run("--project", "other/svc")
			if code != cli.ExitOK || strings.Contains(out, "group/app") || !strings.Contains(out, "cccccccc") {
				t.Errorf("status --project other/svc: exit %d:\n%s", code, out)
			}
			if code, _, stderr := run("extra"); code != cli.ExitError || !strings.Contains(stderr, "unexpected argument") {
				t.Errorf("status with an argument: exit %d, stderr %q", code, stderr)
			}
		})
	}
}
