package promote_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// stsFake serves the STS Query API's AssumeRole (a SigV4-signed form POST answered with XML) and hands out
// new credentials on every call.
type stsFake struct {
	*httptest.Server
	agentKey string // the access key id the agent must sign with

	mu    sync.Mutex
	calls []url.Values
}

func newSTSFake(t testing.TB, agentKey string) *stsFake {
	t.Helper()
	f := &stsFake{agentKey: agentKey}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// issued returns the nth credentials the fake hands out (from 1).
func issued(n int) (keyID, secret, token string) {
	return fmt.Sprintf("ASIASTSFAKE%05d", n), fmt.Sprintf("sts-secret-%d-0123456789abcdef", n), fmt.Sprintf("sts-session-token-%d//FAKE+=", n)
}

func (f *stsFake) serve(w http.ResponseWriter, r *http.Request) {
	stsError := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>`, code, msg)
	}
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+f.agentKey+"/") || !strings.Contains(auth, "/sts/aws4_request") {
		stsError(http.StatusForbidden, "InvalidClientTokenId", "the security token included in the request is invalid")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	form, perr := url.ParseQuery(string(body))
	if err != nil || perr != nil || form.Get("Action") != "AssumeRole" || form.Get("Version") != "2011-06-15" {
		stsError(http.StatusBadRequest, "InvalidAction", "expected Action=AssumeRole&Version=2011-06-15")
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, form)
	n := len(f.calls)
	f.mu.Unlock()
	key, secretKey, token := issued(n)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleResult>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/gitops-deploy/%[1]s</Arn><AssumedRoleId>AROAFAKE:%[1]s</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>%[2]s</AccessKeyId><SecretAccessKey>%[3]s</SecretAccessKey><SessionToken>%[4]s</SessionToken><Expiration>%[5]s</Expiration></Credentials>
</AssumeRoleResult>
<ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-%012[6]d</RequestId></ResponseMetadata>
</AssumeRoleResponse>`, xmlText(form.Get("RoleSessionName")), key, secretKey, xmlText(token), time.Now().UTC().Add(time.Hour).Format(time.RFC3339), n)
}

func (f *stsFake) received() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.calls...)
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// withAgentAWS gives the agent process its own AWS credentials (key, secret) through the environment, for
// the test's duration, and returns the STS stand-in that accepts them. Tests that call it are not parallel.
func withAgentAWS(t *testing.T, key, secret string) *stsFake {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"),
	} {
		t.Setenv(k, v)
	}
	return newSTSFake(t, key)
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
