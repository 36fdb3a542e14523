package promote_test

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// stsFake is the STS stand-in of these tests, as WithAgentAWS starts it.
type stsFake struct{ *clitest.STS }

func (f stsFake) received() []url.Values { return f.Received() }

// issued returns the nth credentials the stand-in hands out (from 1).
func issued(n int) (keyID, secret, token string) { return clitest.IssuedCredentials(n) }

// withAgentAWS gives the agent process its own AWS credentials (key, secret) through the environment, for
// the test's duration, and returns the STS stand-in that accepts them. Tests that call it are not parallel.
func withAgentAWS(t *testing.T, key, secret string) stsFake {
	t.Helper()
	return stsFake{clitest.WithAgentAWS(t, key, secret)}
}

// readEnvFile reads a probe's `env | sort` output as a map.
func readEnvFile(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the probe did not record its environment: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Not parallel: the agent's own AWS credentials come from the process environment.
func TestPromoteAssumesTheStageRole(t *testing.T) {
	const (
		agentKey    = "AKIAAGENTOWNKEY00001"
		agentSecret = "agent-own-secret-do-not-pass-on"
		roleARN     = "arn:aws:iam::123456789012:role/gitops-deploy"
	)
	testsvc.Terraform(t) // skip before building anything when there is no terraform
	sts := withAgentAWS(t, agentKey, agentSecret)
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	stages := []string{"dev", "prod"}
	r.Commit(t, gl, clitest.CommitID('a'), clitest.Tree{Rev: "r1", Stages: stages, Roles: map[string]string{"prod": roleARN}})
	dataDir := t.TempDir()
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, dataDir,
		"AWS_ENDPOINT_URL_STS", sts.URL, "GITOPS_AWS_EXTERNAL_ID", "ext-4242")

	iid, hook := clitest.MergeMR(gl, clitest.CommitID('a'), clitest.CommitID('b'), "stacks/base/main.tf")
	a.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, gl, iid, clitest.CommitID('b'), a.Logs, 2*time.Minute)
	clitest.MustContain(t, "the deploy note", body, "✅ Deployed: every stage is done.")

	// dev has no role: its runs get no AWS credentials at all, not even the agent's own.
	for _, stack := range []string{"base", "app"} {
		env := readEnvFile(t, filepath.Join(r.EnvDir, stack+".dev.env"))
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
			if _, ok := env[k]; ok {
				t.Errorf("the dev run of %s has %s in its environment", stack, k)
			}
		}
	}
	// prod's runs carry credentials STS issued for this merge request, assumed afresh for each run.
	calls := sts.received()
	seen := map[string]bool{}
	for _, stack := range []string{"base", "app"} {
		env := readEnvFile(t, filepath.Join(r.EnvDir, stack+".prod.env"))
		got := [3]string{env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]}
		match := false
		for n := 1; n <= len(calls); n++ {
			k, s, tok := issued(n)
			if got == [3]string{k, s, tok} {
				match = true
			}
		}
		if !match {
			t.Errorf("the prod run of %s has credentials %q, which STS did not issue", stack, got[0])
		}
		if seen[got[0]] {
			t.Errorf("the prod run of %s reuses credentials of another run", stack)
		}
		seen[got[0]] = true
		if env["AWS_REGION"] != "eu-west-1" {
			t.Errorf("the prod run of %s has AWS_REGION %q, want eu-west-1", stack, env["AWS_REGION"])
		}
	}
	if len(calls) != 2 {
		t.Errorf("%d AssumeRole calls, want 2 (one per prod run)", len(calls))
	}
	for _, c := range calls {
		got := map[string]string{"RoleArn": c.Get("RoleArn"), "ExternalId": c.Get("ExternalId"), "DurationSeconds": c.Get("DurationSeconds")}
		want := map[string]string{"RoleArn": roleARN, "ExternalId": "ext-4242", "DurationSeconds": "3600"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AssumeRole parameters (-want +got):\n%s", diff)
		}
		if s := c.Get("RoleSessionName"); !strings.Contains(s, "platform-documents") || !strings.Contains(s, fmt.Sprintf("-mr-%d", iid)) {
			t.Errorf("RoleSessionName %q does not name the project and the merge request", s)
		}
	}
	// Credentials are never logged or written to the agent's data dir.
	secrets := []string{agentSecret}
	for n := 1; n <= len(calls); n++ {
		_, s, tok := issued(n)
		secrets = append(secrets, s, tok)
	}
	for _, s := range secrets {
		if strings.Contains(a.Logs(), s) {
			t.Errorf("the agent's logs contain a secret (%.12s…)", s)
		}
	}
	a.Stop()
	err := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds a secret (%.12s…)", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
