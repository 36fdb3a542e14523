package release_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	gl "gitlab.com/gitlab-org/api/client-go"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release/lambdafake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// The benchmarks of this file measure the agent end to end against the same work done by raw SDK calls
// on the same stand-ins, in the same run: the figures are ratios, never thresholds.
//
// Each iteration gets a fresh world (stand-ins, ledger, agent), set up untimed. The builder keeps zips by
// a digest of the whole checked-out tree, whose .gitops.yaml names the scratch repo's state dir, and in
// the data dir: a fresh fixture per iteration would build again. So the iterations share one scratch
// repo (the same tree, byte for byte) and one build cache, linked into each fresh data dir, and a
// warm-up iteration before the timed ones builds the function once.

// benchPoll is how often the benchmarks look at the stand-ins.
const benchPoll = time.Millisecond

// benchWorld starts, for one iteration, the stand-ins with version 1 of each stage's function live, commits
// base (when not "") and head with tr in repo, and starts the agent with its build cache at builds.
func benchWorld(b *testing.B, repo *clitest.Repo, builds, base, head string, tr clitest.Tree) *fixture {
	b.Helper()
	testsvc.Terraform(b)
	home := b.TempDir()
	for k, v := range map[string]string{ // clitest.WithAgentAWS, which takes a *testing.T
		"AWS_ACCESS_KEY_ID": agentKey, "AWS_SECRET_ACCESS_KEY": agentSecret, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"),
	} {
		b.Setenv(k, v)
	}
	f := &fixture{
		gl:     gitlabfake.New(b, clitest.Token),
		lambda: lambdafake.New(b, lambdafake.Options{Region: "eu-west-1", AccessKeyIDs: []string{agentKey}}),
		cw:     cloudwatchfake.New(b),
		repo:   repo,
	}
	f.gl.AddProject(clitest.Project)
	stages := tr.Stages
	if len(stages) == 0 {
		stages = clitest.AllStages
	}
	liveFunctions(b, f.lambda, f.cw, stages)
	f.repo.Commit(b, f.gl, head, tr)
	if base != "" { // as withBase: main's head before the merge, what a revert restores
		bt := tr
		bt.Rev = "r0"
		bt.Files = map[string]string{"go.mod": tr.Files["go.mod"], "fn/smoke.json": tr.Files["fn/smoke.json"],
			"fn/main.go": strings.ReplaceAll(tr.Files["fn/main.go"], `"r1"`, `"r0"`)}
		f.repo.Commit(b, f.gl, base, bt)
		f.gl.SetBranch(clitest.Project, "main", base)
	}
	data := b.TempDir()
	if err := os.Symlink(builds, filepath.Join(data, "builds")); err != nil {
		b.Fatal(err)
	}
	f.agent = clitest.Start(b, f.gl, clitest.Backend{Name: "sqlite"}, data,
		"AWS_ENDPOINT_URL_LAMBDA", f.lambda.URL(), "AWS_ENDPOINT_URL_CLOUDWATCH", f.cw.URL, "GITOPS_ALARM_POLL", "50ms")
	return f
}

// finalDeploy reports whether merge request iid's deploy note says its promotion ended.
func finalDeploy(g *gitlabfake.Server, iid int) (string, bool) {
	notes := clitest.DeployNotes(g, iid)
	if len(notes) != 1 {
		return "", false
	}
	for _, s := range []string{"**✅ Deployed", "**❌ Failed", "**❌ The promotion failed", "**✅ Nothing to deploy"} {
		if strings.Contains(notes[0].Body, s) {
			return notes[0].Body, true
		}
	}
	return "", false
}

// pollUntil calls done every benchPoll until it reports true, and returns when it did; it fails b after
// within.
func pollUntil(b *testing.B, f *fixture, within time.Duration, what string, done func() bool) time.Time {
	b.Helper()
	deadline := time.Now().Add(within)
	for {
		if done() {
			return time.Now()
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: not within %v; agent logs:\n%s", what, within, f.agent.Logs())
		}
		time.Sleep(benchPoll)
	}
}

// zipIn is the one zip of a build cache dir.
func zipIn(b *testing.B, builds string) []byte {
	b.Helper()
	zips, err := filepath.Glob(filepath.Join(builds, "*.zip"))
	if err != nil || len(zips) != 1 {
		b.Fatalf("build cache %s holds %v (%v), want one zip", builds, zips, err)
	}
	zip, err := os.ReadFile(zips[0])
	if err != nil {
		b.Fatal(err)
	}
	return zip
}

// lambdaClient is a real SDK client for the Lambda stand-in, signing as the agent.
func lambdaClient(s *lambdafake.Server) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(agentKey, agentSecret, ""),
	})
}

// builtCount is how many builds the agent made rather than took from its cache.
func builtCount(logs string) int { return strings.Count(logs, "function built") }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkRollbackToAliasRestored: a merge released in dev whose smoke test fails in staging. From the
// moment the deploy note says so (polled every millisecond), it measures how long until dev's alias is
// back on version 1 (restore-ms) and until the revert merge request exists (revert-ms), against the
// same changes made by raw calls on the same stand-ins: one UpdateAlias with the AWS SDK, then create
// branch, revert commit and create merge request with client-go (ref-ms).
func BenchmarkRollbackToAliasRestored(b *testing.B) {
	repo, builds := clitest.NewRepo(b), b.TempDir()
	base, head, merged := clitest.CommitID('0'), clitest.CommitID('a'), clitest.CommitID('b')
	tr := tree("r1", time.Millisecond)
	ctx := context.Background()

	run := func(i int, timed bool) (restore, revert, ref time.Duration) {
		b.StopTimer()        // the setup, the checks and the raw calls are not timed
		defer b.StartTimer() // b.Loop wants the timer running
		f := benchWorld(b, repo, builds, base, head, tr)
		defer f.agent.Stop()
		f.lambda.SetInvokeResponse(fnName("staging"), lambdafake.InvokeResponse{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)})
		f.lambda.AddFunction("bench-ref", oldZip(b, "ref"))
		f.lambda.AddVersion("bench-ref", oldZip(b, "ref"))
		f.lambda.SetAlias("bench-ref", alias, f.lambda.AddVersion("bench-ref", oldZip(b, "ref2")), nil)
		lc := lambdaClient(f.lambda)
		gc, err := gl.NewClient(clitest.Token, gl.WithBaseURL(f.gl.URL()))
		if err != nil {
			b.Fatal(err)
		}
		iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
		if timed {
			b.StartTimer()
		}
		f.agent.DeliverOK(hook, "queued")
		failed := pollUntil(b, f, 4*time.Minute, "the deploy note says the promotion failed", func() bool {
			_, ok := finalDeploy(f.gl, iid)
			return ok
		})
		restored := pollUntil(b, f, time.Minute, "dev's alias back on version 1", func() bool {
			a, _ := f.lambda.Alias(fnName("dev"), alias)
			return a.FunctionVersion == "1" && len(a.Weights) == 0
		})
		reverted := pollUntil(b, f, time.Minute, "the revert merge request", func() bool {
			return len(f.gl.MergeRequests(clitest.Project)) == 2
		})
		if timed {
			b.StopTimer()
		}
		if body, _ := finalDeploy(f.gl, iid); !strings.Contains(body, "❌ Failed at `documents` · `staging`") {
			b.Fatalf("the deploy note does not say documents failed in staging:\n%s", body)
		}
		if h := f.lambda.AliasHistory(fnName("dev"), alias); len(h) < 4 {
			b.Fatalf("dev's alias history %+v: dev was not released before staging failed", h)
		}
		pollUntil(b, f, time.Minute, "the finished rollback note", func() bool { // the agent is done before the raw calls start
			notes := notesStarting(f.gl, iid, "<!-- gitops-agent:rollback -->")
			return len(notes) == 1 && strings.Contains(notes[0].Body, "**Revert:** [")
		})

		branch := fmt.Sprintf("bench/revert-%d", i)
		start := time.Now()
		if _, err := lc.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("bench-ref"), Name: aws.String(alias),
			FunctionVersion: aws.String("1"), RoutingConfig: &lambdatypes.AliasRoutingConfiguration{}}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := gc.Branches.CreateBranch(clitest.Project, &gl.CreateBranchOptions{Branch: gl.Ptr(branch), Ref: gl.Ptr("main")}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := gc.Commits.RevertCommit(clitest.Project, merged, &gl.RevertCommitOptions{Branch: gl.Ptr(branch)}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := gc.MergeRequests.CreateMergeRequest(clitest.Project, &gl.CreateMergeRequestOptions{
			Title: gl.Ptr(`Revert "Change"`), Description: gl.Ptr("Reverts !1"), SourceBranch: gl.Ptr(branch),
			TargetBranch: gl.Ptr("main"), Labels: gl.Ptr(gl.LabelOptions{"gitops::rollback"}), RemoveSourceBranch: gl.Ptr(true),
		}); err != nil {
			b.Fatal(err)
		}
		ref = time.Since(start)
		if n := builtCount(f.agent.Logs()); timed && n != 0 {
			b.Errorf("the agent built %d times in a timed iteration: the build cache was missed", n)
		} else if !timed && n != 1 {
			b.Errorf("the agent built %d times in the warm-up, want 1 (is \"function built\" still logged?)", n)
		}
		return restored.Sub(failed), reverted.Sub(failed), ref
	}

	run(0, false) // warm-up: builds the function into the shared cache
	var restore, revert, ref time.Duration
	n := 0
	for b.Loop() {
		n++
		r1, r2, r3 := run(n, true)
		restore, revert, ref = restore+r1, revert+r2, ref+r3
		b.Logf("iteration %d: restore %.1f ms, revert %.1f ms, raw calls %.1f ms", n, ms(r1), ms(r2), ms(r3))
	}
	b.ReportMetric(ms(restore)/float64(n), "restore-ms")
	b.ReportMetric(ms(revert)/float64(n), "revert-ms")
	b.ReportMetric(ms(ref)/float64(n), "ref-ms")
	b.ReportMetric(float64(restore)/float64(ref), "restore/ref")
	b.ReportMetric(float64(revert)/float64(ref), "revert/ref")
}

// BenchmarkReleaseOverheadPerStage: a merge that changes only the function, one stage, released all at
// once, its build taken from the cache: from the merge hook's delivery to the deploy note saying it is
// deployed (agent-ms), against the Lambda calls of the same release made with the AWS SDK on the same
// stand-in (ref-ms): UpdateFunctionCode, GetFunction until updated, PublishVersion,
// GetFunctionConfiguration, Invoke, UpdateAlias.
func BenchmarkReleaseOverheadPerStage(b *testing.B) {
	repo, builds := clitest.NewRepo(b), b.TempDir()
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	tr := tree("r1", time.Millisecond)
	tr.Stages = []string{"dev"}
	steps := "    steps: [{weight: 10, bake: 1ms}, {weight: 50, bake: 1ms}]\n"
	if !strings.Contains(tr.Config, steps) {
		b.Fatalf("tree's config has no %q:\n%s", steps, tr.Config)
	}
	tr.Config = strings.Replace(tr.Config, steps, "    strategy: AllAtOnce\n", 1)
	ctx := context.Background()

	run := func(timed bool) (agent, ref time.Duration) {
		b.StopTimer()        // the setup, the checks and the raw calls are not timed
		defer b.StartTimer() // b.Loop wants the timer running
		f := benchWorld(b, repo, builds, "", head, tr)
		defer f.agent.Stop()
		f.lambda.AddFunction("bench-ref", oldZip(b, "ref"))
		f.lambda.SetAlias("bench-ref", alias, f.lambda.AddVersion("bench-ref", oldZip(b, "ref")), nil)
		lc := lambdaClient(f.lambda)
		iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
		if timed {
			b.StartTimer()
		}
		before := f.gl.Requests()
		start := time.Now()
		f.agent.DeliverOK(hook, "queued")
		var body string
		var firstCall time.Time // when the job's first GitLab call was seen: the queue handed it over
		end := pollUntil(b, f, 4*time.Minute, "the deploy note says the promotion ended", func() bool {
			var ok bool
			if firstCall.IsZero() && f.gl.Requests() > before {
				firstCall = time.Now()
			}
			body, ok = finalDeploy(f.gl, iid)
			return ok
		})
		if timed {
			b.StopTimer()
		}
		clitest.MustContain(b, "the deploy note", body, "✅ Deployed")
		if row := clitest.DeployRows(body)["dev/λ documents"]; row.State != "✅ released" || row.Plan != "released version 2" {
			b.Fatalf("dev's row = %+v, want released version 2\n%s", row, body)
		}
		if n := builtCount(f.agent.Logs()); timed && n != 0 {
			b.Errorf("the agent built %d times in a timed iteration: the build cache was missed", n)
		} else if !timed && n != 1 {
			b.Errorf("the agent built %d times in the warm-up, want 1 (is \"function built\" still logged?)", n)
		}
		if !timed {
			return 0, 0
		}

		zip := zipIn(b, builds)
		if got, want := f.lambda.LatestCodeSha256(fnName("dev")), lambdafake.CodeSha256(zip); got != want {
			b.Fatalf("dev's code %s, the cached zip's %s", got, want)
		}
		fn := aws.String("bench-ref")
		t0 := time.Now()
		up, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: fn, ZipFile: zip})
		if err != nil {
			b.Fatal(err)
		}
		for {
			got, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: fn})
			if err != nil {
				b.Fatal(err)
			}
			if got.Configuration.LastUpdateStatus == lambdatypes.LastUpdateStatusSuccessful {
				break
			}
			time.Sleep(benchPoll)
		}
		pub, err := lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: fn, CodeSha256: up.CodeSha256})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: fn, Qualifier: pub.Version}); err != nil {
			b.Fatal(err)
		}
		inv, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: fn, Qualifier: pub.Version, Payload: []byte(smokeEvent)})
		if err != nil || inv.FunctionError != nil {
			b.Fatalf("smoke invocation: %v %v", err, inv)
		}
		if _, err := lc.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: fn, Name: aws.String(alias), FunctionVersion: pub.Version,
			RoutingConfig: &lambdatypes.AliasRoutingConfiguration{}}); err != nil {
			b.Fatal(err)
		}
		ref = time.Since(t0)
		note := clitest.DeployNotes(f.gl, iid)[0]
		calls, moves := f.lambda.Invocations(fnName("dev")), f.lambda.AliasHistory(fnName("dev"), alias)
		b.Logf("timeline after the delivery: first GitLab call %.1f ms, deploy note posted %.0f ms, smoke invocation %.1f ms, alias on version 2 %.1f ms, note final %.1f ms",
			ms(firstCall.Sub(start)), ms(note.CreatedAt.Sub(start)), ms(calls[0].At.Sub(start)), ms(moves[len(moves)-1].At.Sub(start)), ms(end.Sub(start)))
		return end.Sub(start), ref
	}

	run(false) // warm-up: builds the function into the shared cache
	var agent, ref time.Duration
	n := 0
	for b.Loop() {
		n++
		a, r := run(true)
		agent, ref = agent+a, ref+r
		b.Logf("iteration %d: agent %.1f ms, raw calls %.1f ms", n, ms(a), ms(r))
	}
	b.ReportMetric(ms(agent)/float64(n), "agent-ms")
	b.ReportMetric(ms(ref)/float64(n), "ref-ms")
	b.ReportMetric(float64(agent)/float64(ref), "agent/ref")
}
