// Package release_test holds the end-to-end tests of function releases by an in-process `gitops-agent
// serve`: a merge built once and released stage by stage as a canary behind the alias, through the Lambda
// and CloudWatch stand-ins driven by the real SDK, with the GitLab stand-in showing notes, statuses and
// deployments.
package release_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release/lambdafake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

const (
	agentKey    = "AKIAAGENTRELEASE0001"
	agentSecret = "agent-release-secret-0123456789"
	alias       = "live"
	smokeEvent  = `{"path": "/healthz", "httpMethod": "GET"}`
)

// fixture is one release test's world: GitLab, Lambda and CloudWatch stand-ins, a repository whose
// function "documents" is released after app in every stage, and the agent serving them.
type fixture struct {
	gl     *gitlabfake.Server
	lambda *lambdafake.Server
	cw     *cloudwatchfake.Server
	repo   *clitest.Repo
	agent  *clitest.Agent
}

// fnName is the Lambda function of stage.
func fnName(stage string) string { return "documents-" + stage }

// tree is a commit holding a tiny Go function (rev makes its build differ) and its release config: two
// canary steps of bake each, the stage's alarms watched, a smoke event.
func tree(rev string, bake time.Duration) clitest.Tree {
	return clitest.Tree{
		Rev: rev,
		Config: fmt.Sprintf(`functions:
  - name: documents
    package: ./fn
    function_name: documents-{stage}
    architecture: x86_64
    after: [app]
    steps: [{weight: 10, bake: %[1]s}, {weight: 50, bake: %[1]s}]
    alarms: ["documents-{stage}-*"]
    smoke: fn/smoke.json
    dashboard: documents-{stage}-overview
`, bake),
		Files: map[string]string{
			"go.mod":        "module example.com/documents\n\ngo 1.24\n",
			"fn/main.go":    "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + rev + "\") }\n",
			"fn/smoke.json": smokeEvent,
		},
	}
}

// newFixture starts the stand-ins with version 1 of each stage's function live behind the alias, its
// alarms OK, commits head with tree(rev), and starts the agent with the agent's own AWS credentials.
func newFixture(t *testing.T, head, rev string, bake time.Duration) *fixture {
	return newFixtureOf(t, head, tree(rev, bake))
}

// newFixtureOf is newFixture with the commit's tree given, and the agent's extra settings (name, value, …).
func newFixtureOf(t *testing.T, head string, tr clitest.Tree, extra ...string) *fixture {
	t.Helper()
	testsvc.Terraform(t)
	clitest.WithAgentAWS(t, agentKey, agentSecret)
	f := &fixture{
		gl:     gitlabfake.New(t, clitest.Token),
		lambda: lambdafake.New(t, lambdafake.Options{Region: "eu-west-1", AccessKeyIDs: []string{agentKey}}),
		cw:     cloudwatchfake.New(t),
		repo:   clitest.NewRepo(t),
	}
	f.gl.AddProject(clitest.Project)
	liveFunctions(t, f.lambda, f.cw, clitest.AllStages)
	f.repo.Commit(t, f.gl, head, tr)
	f.agent = clitest.Start(t, f.gl, clitest.Backend{Name: "sqlite"}, t.TempDir(), append([]string{
		"AWS_ENDPOINT_URL_LAMBDA", f.lambda.URL(), "AWS_ENDPOINT_URL_CLOUDWATCH", f.cw.URL, "GITOPS_ALARM_POLL", "50ms"}, extra...)...)
	return f
}

// liveFunctions gives each stage's function version 1 of oldZip live behind the alias, and its alarms, OK.
func liveFunctions(t testing.TB, lf *lambdafake.Server, cw *cloudwatchfake.Server, stages []string) {
	t.Helper()
	for _, stage := range stages {
		old := oldZip(t, stage)
		lf.AddFunction(fnName(stage), old)
		v := lf.AddVersion(fnName(stage), old)
		lf.SetAlias(fnName(stage), alias, v, nil)
		for _, a := range []string{"errors", "p99"} {
			cw.Put(cloudwatchfake.Alarm{Name: "documents-" + stage + "-" + a, State: types.StateValueOk})
		}
	}
}

// oldZip is the zip of the version live before the test: any valid zip that differs per stage.
func oldZip(t testing.TB, stage string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	fw, err := w.Create("bootstrap")
	if err == nil {
		_, err = fw.Write([]byte("old " + stage))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// weights is the alias history of stage's function as the percent on the version the release brought:
// 0 while the alias points at the old version with no routing, 100 once on the new one.
func (f *fixture) weights(stage, newVersion string) []int {
	var out []int
	for _, h := range f.lambda.AliasHistory(fnName(stage), alias) {
		switch {
		case h.FunctionVersion == newVersion && len(h.Weights) == 0:
			out = append(out, 100)
		case h.Weights[newVersion] > 0:
			out = append(out, int(h.Weights[newVersion]*100+0.5))
		default:
			out = append(out, 0)
		}
	}
	return out
}

func TestReleaseCanaryThroughEveryStage(t *testing.T) {
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	tr := tree("r1", 300*time.Millisecond)
	tr.URLs = map[string]string{"prod": "https://api.example.com"}
	f := newFixtureOf(t, head, tr)
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go", "stacks/app/main.tf")
	f.agent.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)

	clitest.MustContain(t, "the deploy note", body, "✅ Deployed: every stage is done.", "1 → 2", "documents-prod:live",
		"Traffic: 10% ", " · 50% ", " · 100% ", "documents-staging-errors", "CloudWatch dashboard", "Zip sha256 ",
		"[`stage dashboard`](https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/documents-prod-overview)")
	rows := clitest.DeployRows(body)
	var shas []string
	for _, stage := range clitest.AllStages {
		if row := rows[stage+"/λ documents"]; row.State != "✅ released" || row.Plan != "released version 2" {
			t.Errorf("deploy note row of documents in %s = %+v, want released version 2\n%s", stage, row, body)
		}
		if diff := cmp.Diff([]int{0, 10, 50, 100}, f.weights(stage, "2")); diff != "" {
			t.Errorf("alias history of %s as percent on version 2 (-want +got):\n%s", stage, diff)
		}
		calls := f.lambda.Invocations(fnName(stage))
		if len(calls) != 1 || calls[0].Version != "2" || string(calls[0].Payload) != smokeEvent {
			t.Errorf("smoke invocations in %s = %+v, want one of version 2 with the smoke event", stage, calls)
		} else if first := f.lambda.AliasHistory(fnName(stage), alias)[1].At; calls[0].At.After(first) {
			t.Errorf("the smoke test in %s ran at %v, after traffic moved at %v", stage, calls[0].At, first)
		}
		shas = append(shas, f.lambda.LatestCodeSha256(fnName(stage)))
		if _, ok := f.cw.Dashboard("gitops-documents-" + stage + "-live"); !ok {
			t.Errorf("no dashboard for documents in %s", stage)
		}
	}
	if testing.Verbose() {
		t.Log(f.agent.Logs())
	}
	if shas[0] != shas[1] || shas[1] != shas[2] {
		t.Errorf("the stages got different code: %v; the merge is built once", shas)
	}
	// Releases come after the stage's stacks (app, which the merge changed), stage after stage.
	if diff := cmp.Diff([]string{"r1 app dev", "r1 app staging", "r1 app prod"}, clitest.Applies(f.repo.Events(t))); diff != "" {
		t.Errorf("applies (-want +got):\n%s", diff)
	}
	devDone := f.lambda.AliasHistory(fnName("dev"), alias)[3].At
	if staging := f.lambda.AliasHistory(fnName("staging"), alias)[1].At; !staging.After(devDone) {
		t.Errorf("staging's canary started at %v, before dev's release ended at %v", staging, devDone)
	}
	want := []string{"dev bbbbbbbb running>success", "staging bbbbbbbb running>success", "prod bbbbbbbb running>success"}
	var got []string
	settled(t, func() bool { // the last deployment ends just after the note's last edit
		got = got[:0]
		for _, d := range f.gl.Deployments(clitest.Project) {
			got = append(got, d.Environment+" "+d.SHA[:8]+" "+strings.Join(d.History, ">"))
		}
		return cmp.Equal(want, got)
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GitLab deployments (-want +got):\n%s", diff)
	}
	metrics := scrape(t, f.agent.AdminURL)
	clitest.MustContain(t, "the metrics", metrics, `gitops_release_duration_seconds_count{outcome="released"} 3`)
	if env, ok := f.gl.Environment(clitest.Project, "prod"); !ok || env.ExternalURL != "https://api.example.com" {
		t.Errorf("prod's environment = %+v, want its external URL from the stage's url", env)
	}
	if keys := f.lambda.AccessKeyIDs(); slices.ContainsFunc(keys, func(k string) bool { return k != agentKey }) {
		t.Errorf("Lambda calls signed with %v, want only %s", keys, agentKey)
	}
}

func TestReleaseAlarmDuringTheCanaryRestoresTheStage(t *testing.T) {
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	f := newFixture(t, head, "r1", 2*time.Second)
	var once sync.Once
	restored := make(chan time.Duration, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // flip staging's errors alarm as soon as its canary takes traffic
		var fired time.Time
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			a, _ := f.lambda.Alias(fnName("staging"), alias)
			if fired.IsZero() && len(a.Weights) > 0 {
				fired = time.Now()
				f.cw.SetState("documents-staging-errors", types.StateValueAlarm, "Threshold Crossed: 3 errors")
			}
			if !fired.IsZero() && len(a.Weights) == 0 {
				once.Do(func() { restored <- time.Since(fired) })
				return
			}
		}
	}()
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	f.agent.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)

	select {
	case d := <-restored:
		t.Logf("figure: staging's alias back on the old version %v after its alarm fired (alarm poll 50ms)", d.Round(time.Millisecond))
	default:
		t.Error("staging's alias was not seen restored after the alarm")
	}
	// The alarm during a canary rolls the merge back: dev, where it was released, goes back too.
	waitRollbackNote(t, f, iid)
	if diff := cmp.Diff([]int{0, 10, 50, 100, 0}, f.weights("dev", "2")); diff != "" {
		t.Errorf("dev's alias history as percent on version 2 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 10, 0}, f.weights("staging", "2")); diff != "" {
		t.Errorf("staging's alias history as percent on version 2 (-want +got):\n%s", diff)
	}
	if a, _ := f.lambda.Alias(fnName("staging"), alias); a.FunctionVersion != "1" || len(a.Weights) != 0 {
		t.Errorf("staging's alias = %+v, want version 1 alone", a)
	}
	if v := f.lambda.Versions(fnName("prod")); len(v) != 1 {
		t.Errorf("prod has %d versions, want 1: prod is untouched", len(v))
	}
	if diff := cmp.Diff(map[string]string{"dev": "success", "staging": "failed", "prod": "canceled"}, applyStatuses(t, f, merged, 3)); diff != "" {
		t.Errorf("gitops/apply statuses (-want +got):\n%s", diff)
	}
	clitest.MustContain(t, "the metrics", scrape(t, f.agent.AdminURL), `gitops_release_rollbacks_total{reason="alarm"} 1`,
		`gitops_release_duration_seconds_count{outcome="failed"} 1`)
	clitest.MustContain(t, "the deploy note", body, "❌ Failed at `documents` · `staging`", "documents-staging-errors",
		"Threshold Crossed: 3 errors", "↩️ Traffic back on version 1 (alarm)", "an earlier step failed")
}

func TestReleaseFailingSmokeTestMovesNoTraffic(t *testing.T) {
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	f := newFixture(t, head, "r1", 300*time.Millisecond)
	f.lambda.SetInvokeResponse(fnName("dev"), lambdafake.InvokeResponse{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom","errorType":"Panic"}`)})
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	f.agent.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)

	if h := f.lambda.AliasHistory(fnName("dev"), alias); len(h) != 1 {
		t.Errorf("dev's alias moved %d times after a failing smoke test, want never: %+v", len(h)-1, h)
	}
	if v := f.lambda.Versions(fnName("staging")); len(v) != 1 {
		t.Errorf("staging has %d versions, want 1: later stages are untouched", len(v))
	}
	clitest.MustContain(t, "the deploy note", body, "❌ Failed at `documents` · `dev`", "boom")
	if diff := cmp.Diff(map[string]string{"dev": "failed", "staging": "canceled", "prod": "canceled"}, applyStatuses(t, f, merged, 3)); diff != "" {
		t.Errorf("gitops/apply statuses (-want +got):\n%s", diff)
	}
}

// TestReleaseAlarmWithinTheWatchIsToldOnTheMergeRequest: an alarm that fires after the release completed,
// within rollback.watch, edits the deploy note and gets a reply note of its own, once, however often the
// watch reads it.
func TestReleaseAlarmWithinTheWatchIsToldOnTheMergeRequest(t *testing.T) {
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	tr := tree("r1", 100*time.Millisecond)
	tr.Stages = []string{"dev"}
	tr.Config += "rollback:\n  watch: 1m\n"
	f := newFixtureOf(t, head, tr)
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	f.agent.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)
	clitest.MustContain(t, "the deploy note", body, "✅ Deployed: every stage is done.")

	f.cw.SetState("documents-dev-p99", types.StateValueAlarm, "Threshold Crossed: p99 3100 ms")
	var alerts []gitlabfake.Note
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && len(alerts) == 0; time.Sleep(50 * time.Millisecond) {
		alerts = notesStarting(f.gl, iid, "<!-- gitops-agent:alert -->")
	}
	if len(alerts) != 1 {
		t.Fatalf("%d alert notes, want 1; agent logs:\n%s", len(alerts), f.agent.Logs())
	}
	clitest.MustContain(t, "the alert note", alerts[0].Body, "Alarm after the release of `documents` in `dev`", "documents-dev-p99",
		"Threshold Crossed: p99 3100 ms", "Version `2`")
	var deploy string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if deploy = clitest.DeployNotes(f.gl, iid)[0].Body; strings.Contains(deploy, "Alarm after the release") {
			break
		}
	}
	clitest.MustContain(t, "the deploy note after the alarm", deploy, "🔥 **Alarm after the release:** documents in dev, version 2",
		"alarm documents-dev-p99 is in ALARM")
	time.Sleep(300 * time.Millisecond) // several alarm polls more: still one alert note
	if n := len(notesStarting(f.gl, iid, "<!-- gitops-agent:alert -->")); n != 1 {
		t.Errorf("%d alert notes after more polls, want 1", n)
	}
}

// notesStarting returns the notes of merge request iid whose body starts with prefix.
func notesStarting(gl *gitlabfake.Server, iid int, prefix string) []gitlabfake.Note {
	var out []gitlabfake.Note
	for _, n := range gl.Notes(clitest.Project, iid) {
		if strings.HasPrefix(n.Body, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// TestReleaseWithAnAlarmPatternMatchingNothingMovesNoTraffic: a watched pattern that matches no alarm would
// watch nothing; the release fails before any call that changes the function.
func TestReleaseWithAnAlarmPatternMatchingNothingMovesNoTraffic(t *testing.T) {
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	tr := tree("r1", 100*time.Millisecond)
	tr.Stages = []string{"dev"}
	tr.Config = strings.Replace(tr.Config, `alarms: ["documents-{stage}-*"]`, `alarms: ["documents-{stage}-*", "documents-{stage}-latency"]`, 1)
	f := newFixtureOf(t, head, tr)
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	f.agent.DeliverOK(hook, "queued")
	body := clitest.WaitDeploy(t, f.gl, iid, merged, f.agent.Logs, 4*time.Minute)
	clitest.MustContain(t, "the deploy note", body, "❌ Failed at `documents` · `dev`", "documents-dev-latency", "match no alarm")
	if v := f.lambda.Versions(fnName("dev")); len(v) != 1 || f.lambda.LatestCodeSha256(fnName("dev")) != lambdafake.CodeSha256(oldZip(t, "dev")) {
		t.Errorf("dev's function changed (%d versions) though its alarms could not be watched", len(v))
	}
}

// scrape returns the agent's metrics in the text format.
func scrape(t testing.TB, adminURL string) string {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// settled waits up to ten seconds for ok to hold: what the agent does right after its note's last edit
// (the stages' last statuses, the GitLab deployments) may come a moment after the note.
func settled(t testing.TB, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// applyStatuses are the gitops/apply statuses of sha by stage, once n stages have one.
func applyStatuses(t testing.TB, f *fixture, sha string, n int) map[string]string {
	t.Helper()
	var got map[string]string
	settled(t, func() bool { got = clitest.ApplyStatuses(f.gl, sha); return len(got) >= n })
	return got
}
