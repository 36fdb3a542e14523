package release_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release/lambdafake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// maxIssued bounds the AssumeRole calls a role test expects: the Lambda stand-in accepts the access key
// ids of the first maxIssued credentials STS issues, and nothing else. It is generous because the watch
// after a release assumes the stage role again at every alarm poll (50ms here).
const maxIssued = 1000

// signedCalls records, per stage, the access key id of each request a recordingProxy passed on.
type signedCalls struct {
	mu      sync.Mutex
	byStage map[string][]string // stage ("?" when the request names none of the stages) → access key ids
}

// credentialKey reads the access key id from a SigV4 Authorization header.
var credentialKey = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/`)

// recordingProxy starts a reverse proxy to target that records which stage each request is about (the
// first of stages whose function or alarm name, "documents-STAGE", is in its path or body) and the
// access key id that signed it, then passes it on unchanged.
func recordingProxy(t *testing.T, target string, stages []string) (string, *signedCalls) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &signedCalls{byStage: map[string][]string{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		stage := "?"
		for _, s := range stages {
			name := []byte(fnName(s)) // the alarms and dashboards are named after the function too
			if strings.Contains(r.URL.Path, "/functions/"+fnName(s)+"/") || strings.HasSuffix(r.URL.Path, "/functions/"+fnName(s)) || bytes.Contains(body, name) {
				stage = s
				break
			}
		}
		key := "(unsigned)"
		if m := credentialKey.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			key = m[1]
		}
		rec.mu.Lock()
		rec.byStage[stage] = append(rec.byStage[stage], key)
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, rec
}

// keys returns the access key ids recorded for stage, deduplicated, in order of first use.
func (c *signedCalls) keys(stage string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, k := range c.byStage[stage] {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// stagesSeen returns the stages recorded, sorted.
func (c *signedCalls) stagesSeen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for s := range c.byStage {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// roleFixture is a release test's world whose stages assume deploy roles: the STS stand-in accepting
// the agent's own key, a Lambda stand-in accepting only credentials STS issued, and the proxies in front
// of Lambda and CloudWatch that record which stage each call was about and who signed it.
type roleFixture struct {
	*fixture
	sts               *clitest.STS
	lambdaBy, alarmBy *signedCalls
}

// newRoleFixture is newFixture for the given stages with roles (stage → role_arn): version 1 of each
// stage's function live behind the alias with its alarms OK, head committed with tree(rev) limited to
// stages, and the agent started with its own AWS credentials, the STS stand-in and externalID.
func newRoleFixture(t *testing.T, head, rev string, bake time.Duration, stages []string, roles map[string]string, externalID string) *roleFixture {
	t.Helper()
	testsvc.Terraform(t)
	sts := clitest.WithAgentAWS(t, agentKey, agentSecret)
	var accepted []string
	for n := 1; n <= maxIssued; n++ {
		k, _, _ := clitest.IssuedCredentials(n)
		accepted = append(accepted, k)
	}
	f := &roleFixture{
		fixture: &fixture{
			gl:     gitlabfake.New(t, clitest.Token),
			lambda: lambdafake.New(t, lambdafake.Options{Region: "eu-west-1", AccessKeyIDs: accepted}),
			cw:     cloudwatchfake.New(t),
			repo:   clitest.NewRepo(t),
		},
		sts: sts,
	}
	f.gl.AddProject(clitest.Project)
	liveFunctions(t, f.lambda, f.cw, stages)
	var lambdaURL, cwURL string
	lambdaURL, f.lambdaBy = recordingProxy(t, f.lambda.URL(), stages)
	cwURL, f.alarmBy = recordingProxy(t, f.cw.URL, stages)
	tr := tree(rev, bake)
	tr.Stages, tr.Roles = stages, roles
	f.repo.Commit(t, f.gl, head, tr)
	f.agent = clitest.Start(t, f.gl, clitest.Backend{Name: "sqlite"}, t.TempDir(),
		"AWS_ENDPOINT_URL_STS", sts.URL, "GITOPS_AWS_EXTERNAL_ID", externalID,
		"AWS_ENDPOINT_URL_LAMBDA", lambdaURL, "AWS_ENDPOINT_URL_CLOUDWATCH", cwURL, "GITOPS_ALARM_POLL", "50ms")
	return f
}

// Not parallel: the agent's own AWS credentials come from the process environment.
func TestReleaseAssumesTheStageRole(t *testing.T) {
	const (
		devRole    = "arn:aws:iam::123456789012:role/gitops-deploy-dev"
		prodRole   = "arn:aws:iam::123456789012:role/gitops-deploy-prod"
		externalID = "ext-release-7"
	)
	stages := []string{"dev", "prod"}
	roles := map[string]string{"dev": devRole, "prod": prodRole}
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	f := newRoleFixture(t, head, "r1", 300*time.Millisecond, stages, roles, externalID)
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	f.agent.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)
	if testing.Verbose() {
		t.Log(f.agent.Logs())
	}

	// The release completed in both stages.
	clitest.MustContain(t, "the deploy note", body, "✅ Deployed: every stage is done.")
	rows := clitest.DeployRows(body)
	for _, stage := range stages {
		if row := rows[stage+"/λ documents"]; row.State != "✅ released" || row.Plan != "released version 2" {
			t.Errorf("deploy note row of documents in %s = %+v, want released version 2\n%s", stage, row, body)
		}
		if a, ok := f.lambda.Alias(fnName(stage), alias); !ok || a.FunctionVersion != "2" || len(a.Weights) != 0 {
			t.Errorf("%s's alias = %+v (found %t), want version 2 alone", stage, a, ok)
		}
	}

	// Every AssumeRole call names a stage role, with the external id; issuedTo maps each issued access
	// key id to the role it was issued for.
	calls := f.sts.Received()
	issuedTo := map[string]string{}
	var secrets []string
	for i, c := range calls {
		k, s, tok := clitest.IssuedCredentials(i + 1)
		issuedTo[k] = c.Get("RoleArn")
		secrets = append(secrets, s, tok)
		got := map[string]string{"ExternalId": c.Get("ExternalId"), "DurationSeconds": c.Get("DurationSeconds")}
		want := map[string]string{"ExternalId": externalID, "DurationSeconds": "3600"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AssumeRole call %d for %s: parameters (-want +got):\n%s", i+1, c.Get("RoleArn"), diff)
		}
		if r := c.Get("RoleArn"); r != devRole && r != prodRole {
			t.Errorf("AssumeRole call %d names role %q, not a stage role", i+1, r)
		}
		if s := c.Get("RoleSessionName"); !strings.Contains(s, fmt.Sprintf("-mr-%d", iid)) {
			t.Errorf("RoleSessionName %q does not name the merge request", s)
		}
	}
	if len(calls) > maxIssued {
		t.Fatalf("%d AssumeRole calls; the Lambda stand-in accepts the first %d issued keys only", len(calls), maxIssued)
	}

	// Each stage's release was signed only with credentials STS issued for that stage's role, never with
	// the agent's own key: per stage as the proxies saw the calls, and overall as the stand-ins did.
	for _, by := range []struct {
		service string
		calls   *signedCalls
	}{{"Lambda", f.lambdaBy}, {"CloudWatch", f.alarmBy}} {
		if diff := cmp.Diff(stages, by.calls.stagesSeen()); diff != "" {
			t.Errorf("stages the %s calls were about (-want +got; ? is none):\n%s", by.service, diff)
		}
		for _, stage := range stages {
			keys := by.calls.keys(stage)
			if len(keys) == 0 {
				t.Errorf("no %s call for %s", by.service, stage)
			}
			for _, k := range keys {
				if role, ok := issuedTo[k]; !ok || role != roles[stage] {
					t.Errorf("a %s call for %s was signed with %s, issued for role %q (issued by STS: %t), want one issued for %s",
						by.service, stage, k, role, ok, roles[stage])
				}
			}
		}
	}
	for _, got := range []struct {
		service string
		keys    []string
	}{{"Lambda", f.lambda.AccessKeyIDs()}, {"CloudWatch", f.cw.AccessKeys()}} {
		if len(got.keys) == 0 {
			t.Errorf("the %s stand-in saw no signed call", got.service)
		}
		for _, k := range got.keys {
			if _, ok := issuedTo[k]; !ok || k == agentKey {
				t.Errorf("the %s stand-in saw a call signed with %s, which STS did not issue (the agent's own key is %s)", got.service, k, agentKey)
			}
		}
	}
	t.Logf("AssumeRole calls %d; Lambda keys dev %v prod %v; CloudWatch keys dev %v prod %v", len(calls),
		f.lambdaBy.keys("dev"), f.lambdaBy.keys("prod"), f.alarmBy.keys("dev"), f.alarmBy.keys("prod"))
	for _, stage := range stages {
		if !slices.ContainsFunc(calls, func(c url.Values) bool { return c.Get("RoleArn") == roles[stage] }) {
			t.Errorf("no AssumeRole call for %s's role %s", stage, roles[stage])
		}
	}

	// Neither the agent's own secret nor the issued ones are in the deploy note, or in the agent's logs.
	secrets = append(secrets, agentSecret)
	notes := clitest.DeployNotes(f.gl, iid)
	if len(notes) == 0 {
		t.Error("no deploy note")
	}
	for _, s := range secrets {
		for _, n := range notes {
			if strings.Contains(n.Body, s) {
				t.Errorf("the deploy note holds a secret (%.12s…)", s)
			}
		}
		if strings.Contains(f.agent.Logs(), s) {
			t.Errorf("the agent's logs hold a secret (%.12s…)", s)
		}
	}
}
