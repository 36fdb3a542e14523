package release_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/alarms/cloudwatchfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release/lambdafake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// processFixture is the world of a release test whose agent runs as child processes on PostgreSQL: the
// stand-ins as newFixture sets them up, and what a process needs to reach them.
type processFixture struct {
	fixture
	bin, databaseURL, dataDir string
	env                       []string // the stand-ins' endpoints and the agent's AWS identity, "NAME=value"
}

// newProcessFixture is newFixture for agents run as child processes: the AWS settings go into each
// process's environment instead of the test's, and no agent is started.
func newProcessFixture(t *testing.T, head, rev string, bake time.Duration) *processFixture {
	t.Helper()
	databaseURL := testsvc.Postgres(t)
	testsvc.Terraform(t) // skip before building anything when there is no terraform
	f := &processFixture{bin: clitest.BuildAgent(t), databaseURL: databaseURL, dataDir: t.TempDir()}
	f.gl = gitlabfake.New(t, clitest.Token)
	f.lambda = lambdafake.New(t, lambdafake.Options{Region: "eu-west-1", AccessKeyIDs: []string{agentKey}})
	f.cw = cloudwatchfake.New(t)
	f.repo = clitest.NewRepo(t)
	f.gl.AddProject(clitest.Project)
	liveFunctions(t, f.lambda, f.cw, clitest.AllStages)
	f.repo.Commit(t, f.gl, head, tree(rev, bake))
	home := t.TempDir() // holds no AWS config or credentials files: the agent's identity is its environment
	f.env = []string{
		"AWS_ACCESS_KEY_ID=" + agentKey, "AWS_SECRET_ACCESS_KEY=" + agentSecret, "AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_ENDPOINT_URL_LAMBDA=" + f.lambda.URL(), "AWS_ENDPOINT_URL_CLOUDWATCH=" + f.cw.URL, "GITOPS_ALARM_POLL=50ms",
	}
	return f
}

// start runs an agent process as replica id on the fixture's database and data dir.
func (f *processFixture) start(t *testing.T, id string) *clitest.Process {
	t.Helper()
	return clitest.StartProcess(t, f.bin, f.gl, f.databaseURL, f.dataDir, id, f.env...)
}

// releaseRow is one row of the ledger's gitops_releases table.
type releaseRow struct {
	State, OldVersion, NewVersion, Error string
}

// releases reads the ledger's releases of documents in stage for commit, oldest first. The admin API
// (/api/v1/deployments) shows stack runs only, so the test reads the table the agent writes.
func (f *processFixture) releases(t *testing.T, stage, commit string) []releaseRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT state, old_version, new_version, error FROM gitops_releases
		WHERE project = $1 AND function = 'documents' AND stage = $2 AND commit_sha = $3 ORDER BY id`, clitest.Project, stage, commit)
	if err != nil {
		t.Fatalf("read the ledger's releases: %v", err)
	}
	var out []releaseRow
	for rows.Next() {
		var r releaseRow
		if err := rows.Scan(&r.State, &r.OldVersion, &r.NewVersion, &r.Error); err != nil {
			t.Fatalf("read the ledger's releases: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the ledger's releases: %v", err)
	}
	return out
}

// TestReleaseRestartAfterKillMidCanary kills the agent (SIGKILL, its whole process group) while dev's
// canary holds 10% of the traffic, starts it again as the same replica on the same database and data
// dir, and checks that the resumed release walks the canary to its end: no alias is left split, every
// stage ends on version 2 alone, and the ledger records one successful release per stage.
func TestReleaseRestartAfterKillMidCanary(t *testing.T) {
	t.Parallel()
	began := time.Now()
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	const bake = 3 * time.Second
	f := newProcessFixture(t, head, "r1", bake)

	first := f.start(t, "replica-1")
	iid, hook := clitest.MergeMR(f.gl, head, merged, "fn/main.go")
	first.DeliverOK(hook, "queued")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if a, _ := f.lambda.Alias(fnName("dev"), alias); len(a.Weights) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev's canary did not start within 2m; agent logs:\n%s", first.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	canaryAt := time.Now()
	first.Kill()
	killedAt := time.Now()

	// The kill hit mid-canary: the alias is split, and the release's ledger row is unfinished.
	atKill, _ := f.lambda.Alias(fnName("dev"), alias)
	if atKill.FunctionVersion != "1" || atKill.Weights["2"] != 0.1 {
		t.Fatalf("dev's alias when the agent was killed = %+v, want version 1 with 10%% on version 2", atKill)
	}
	historyAtKill := len(f.lambda.AliasHistory(fnName("dev"), alias))
	if rows := f.releases(t, "dev", merged); len(rows) != 1 || rows[0].State != "releasing" {
		t.Errorf("dev's releases in the ledger when the agent was killed = %+v, want one releasing", rows)
	}
	if v := f.lambda.Versions(fnName("staging")); len(v) != 1 {
		t.Errorf("staging has %d versions when the agent was killed, want 1: the kill hit dev's release", len(v))
	}
	t.Logf("figure: killed %v after dev's canary took traffic; the alias stays split at 10%% while no agent runs",
		killedAt.Sub(canaryAt).Round(time.Millisecond))

	// The same replica starts again: it takes back the job it was running and resumes the release.
	restartedAt := time.Now()
	second := f.start(t, "replica-1")
	logs := func() string { return first.Logs() + "\n--- restarted ---\n" + second.Logs() }
	body := clitest.WaitDeploy(t, f.gl, iid, merged, logs, 3*time.Minute)
	var healed time.Duration
	for _, h := range f.lambda.AliasHistory(fnName("dev"), alias)[historyAtKill:] {
		if len(h.Weights) == 0 {
			healed = h.At.Sub(restartedAt)
			break
		}
	}

	clitest.MustContain(t, "the deploy note", body, "✅ Deployed: every stage is done.", "documents-prod:live", "1 → 2")
	rows := clitest.DeployRows(body)
	for _, stage := range clitest.AllStages {
		if row := rows[stage+"/λ documents"]; row.State != "✅ released" || row.Plan != "released version 2" {
			t.Errorf("deploy note row of documents in %s = %+v, want released version 2\n%s", stage, row, body)
		}
		// The key property: after the promotion, no alias is split, and each is on version 2.
		if a, _ := f.lambda.Alias(fnName(stage), alias); a.FunctionVersion != "2" || len(a.Weights) != 0 {
			t.Errorf("%s's alias after the promotion = %+v, want version 2 alone", stage, a)
		}
		// The resumed release re-published the same build: Lambda gave back version 2, no version 3.
		if v := f.lambda.Versions(fnName(stage)); len(v) != 2 {
			t.Errorf("%s has versions %+v, want 1 and 2", stage, v)
		}
	}
	for _, stage := range []string{"staging", "prod"} {
		if diff := cmp.Diff([]int{0, 10, 50, 100}, f.weights(stage, "2")); diff != "" {
			t.Errorf("alias history of %s as percent on version 2 (-want +got):\n%s", stage, diff)
		}
	}

	// dev's alias before the kill moved to 10%; after it, the resumed release walked the strategy again
	// from the split alias (10%, 50%) and ended on version 2, never back on version 1 alone.
	dev := f.weights("dev", "2")
	before, after := dev[:historyAtKill], dev[historyAtKill:]
	if diff := cmp.Diff([]int{0, 10}, before); diff != "" {
		t.Errorf("dev's alias history before the kill (-want +got):\n%s", diff)
	}
	if len(after) == 0 || after[len(after)-1] != 100 {
		t.Errorf("dev's alias history after the restart = %v, want it to end at 100", after)
	}
	for i, w := range after {
		if w == 0 || (i > 0 && w < after[i-1]) {
			t.Errorf("dev's alias history after the restart = %v: it went back toward version 1", after)
			break
		}
	}
	for _, h := range f.lambda.AliasHistory(fnName("dev"), alias)[historyAtKill:] {
		if h.At.Before(restartedAt) {
			t.Errorf("dev's alias moved at %v, while no agent ran (restarted at %v)", h.At, restartedAt)
		}
	}
	t.Logf("figure: dev's alias as percent on version 2 — before the kill %v, after the restart %v; "+
		"the restarted agent cleared the split %v after it started", before, after, healed.Round(time.Millisecond))

	// The ledger: the killed release closed as interrupted, one release of each stage that succeeded.
	for _, stage := range clitest.AllStages {
		got := f.releases(t, stage, merged)
		var states []string
		for _, r := range got {
			states = append(states, r.State)
		}
		if strings.Count(strings.Join(states, " "), "released") != 1 {
			t.Errorf("%s's releases of %s in the ledger = %+v, want exactly one released", stage, merged[:8], got)
		}
		if last := got[len(got)-1]; last.State != "released" || last.OldVersion != "1" || last.NewVersion != "2" {
			t.Errorf("%s's last release in the ledger = %+v, want released 1 → 2", stage, last)
		}
		if stage == "dev" {
			if len(got) != 2 || got[0].State != "failed" || !strings.Contains(got[0].Error, "interrupted") {
				t.Errorf("dev's releases in the ledger = %+v, want the killed one failed as interrupted, then one released", got)
			}
		} else if len(got) != 1 {
			t.Errorf("%s's releases in the ledger = %+v, want one", stage, got)
		}
	}
	if diff := cmp.Diff(map[string]string{"dev": "success", "staging": "success", "prod": "success"}, clitest.ApplyStatuses(f.gl, merged)); diff != "" {
		t.Errorf("gitops/apply statuses (-want +got):\n%s", diff)
	}
	if testing.Verbose() {
		t.Log(logs())
	}
	second.Stop()
	t.Logf("figure: the whole test took %v (bake %v per step)", time.Since(began).Round(time.Millisecond), bake)
}
