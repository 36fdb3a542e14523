package promote_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// Not parallel: the agent's own AWS credentials come from the process environment.
func TestMergeRequestPlansAssumeOnlyPlanRoles(t *testing.T) {
	const (
		deployProd = "arn:aws:iam::123456789012:role/gitops-deploy-prod"
		planDev    = "arn:aws:iam::123456789012:role/gitops-plan-dev"
		planProd   = "arn:aws:iam::123456789012:role/gitops-plan-prod"
		attacker   = "arn:aws:iam::999999999999:role/OrganizationAccountAccessRole"
	)
	testsvc.Terraform(t)
	sts := withAgentAWS(t, "AKIAAGENTOWNKEY00002", "agent-own-secret-2")
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	stages := []string{"dev", "prod"}
	// The default branch (its first commit) says which roles the stages use.
	r.Commit(t, gl, clitest.CommitID('a'), clitest.Tree{Rev: "r1", Stages: stages,
		Roles: map[string]string{"prod": deployProd}, PlanRoles: map[string]string{"dev": planDev, "prod": planProd}})
	// The merge request asks for another account's admin role everywhere.
	r.Commit(t, gl, clitest.CommitID('c'), clitest.Tree{Rev: "r2", Stages: stages,
		Roles: map[string]string{"dev": attacker, "prod": attacker}, PlanRoles: map[string]string{"dev": attacker, "prod": attacker}})
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir(),
		"AWS_ENDPOINT_URL_STS", sts.URL, "GITOPS_ALLOWED_ROLES", "arn:aws:iam::123456789012:role/gitops-*")

	iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: clitest.CommitID('c'), Changes: gitlabfake.Modified(".gitops.yaml", "stacks/base/probe.tf")})
	a.DeliverOK(opened, "queued")
	clitest.WaitStatus(t, gl, clitest.CommitID('c'), a)

	var assumed []string
	for _, c := range sts.received() {
		assumed = append(assumed, c.Get("RoleArn"))
	}
	slices.Sort(assumed)
	// 2 stacks × 2 stages, each plan with its stage's plan role from the default branch.
	if want := []string{planDev, planDev, planProd, planProd}; !slices.Equal(assumed, want) {
		t.Errorf("roles assumed for the MR's plans: %v, want %v", assumed, want)
	}
	note := planNote(t, gl, iid)
	clitest.MustContain(t, "the plan note", note,
		"never from this merge request",
		"they take effect only after it is merged",
		attacker)
}

// TestForgedAndForeignMergesApplyNothing: a merge event for a merge request GitLab says is open, and a
// merge into a branch that is not the default one, are refused and apply nothing.
func TestForgedAndForeignMergesApplyNothing(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	r.Commit(t, gl, clitest.CommitID('a'), clitest.Tree{Rev: "r1"})
	r.Commit(t, gl, clitest.CommitID('c'), clitest.Tree{Rev: "r2"})
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())

	// A forged "merge" delivery for an open merge request.
	open, hook := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: clitest.CommitID('c'), Changes: gitlabfake.Modified("stacks/base/main.tf")})
	hook.Body = forgeMerge(t, hook.Body, clitest.CommitID('c'))
	hook.UUID = "forged-" + hook.UUID
	a.DeliverOK(hook, "queued")
	// A real merge into another branch.
	scratch, _ := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: clitest.CommitID('c'), TargetBranch: "scratch", Changes: gitlabfake.Modified("stacks/base/main.tf")})
	a.DeliverOK(gl.MergeMR(clitest.Project, scratch, gitlabfake.Merge{MergeCommitSHA: clitest.CommitID('d')}), "queued")

	for iid, want := range map[int]string{
		open:    "promotion refused: !1 is opened, not merged",
		scratch: "which is not a deploy branch (main)",
	} {
		if body := waitNote(t, gl, iid, "<!-- gitops-agent:deploy -->", a); !strings.Contains(body, want) {
			t.Errorf("!%d: the deploy note does not say %q:\n%s", iid, want, body)
		}
	}
	if applied := clitest.Applies(r.Events(t)); len(applied) != 0 {
		t.Errorf("refused promotions applied %v", applied)
	}
}

// forgeMerge turns an "open" merge request hook into a "merge" one naming commit as the merge commit.
func forgeMerge(t *testing.T, body []byte, commit string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	attrs := ev["object_attributes"].(map[string]any)
	attrs["action"], attrs["state"], attrs["merge_commit_sha"] = "merge", "merged", commit
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func planNote(t *testing.T, gl *gitlabfake.Server, iid int) string {
	t.Helper()
	for _, n := range gl.Notes(clitest.Project, iid) {
		if strings.HasPrefix(n.Body, "<!-- gitops-agent:plan -->") {
			return n.Body
		}
	}
	t.Fatal("no plan note")
	return ""
}

// waitNote waits for a note of merge request iid starting with marker.
func waitNote(t *testing.T, gl *gitlabfake.Server, iid int, marker string, a *clitest.Agent) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, n := range gl.Notes(clitest.Project, iid) {
			if strings.HasPrefix(n.Body, marker) {
				return n.Body
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no note %s on !%d; agent logs:\n%s", marker, iid, a.Logs())
	return ""
}

// TestMergeRequestPlanDuringAPromotion: while a promotion's apply holds the state lock of base in dev, a
// merge request plan of the same stack and stage goes ahead (it does not lock), and the promotion ends
// deployed.
func TestMergeRequestPlanDuringAPromotion(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	r.Commit(t, gl, clitest.CommitID('a'), clitest.Tree{Rev: "r1", Stages: []string{"dev"}, Hold: []string{"base/dev"}})
	r.Commit(t, gl, clitest.CommitID('c'), clitest.Tree{Rev: "r2", Stages: []string{"dev"}})
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
	if err := os.WriteFile(r.HoldFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	merged, hook := clitest.MergeMR(gl, clitest.CommitID('a'), clitest.CommitID('b'), "stacks/base/main.tf")
	a.DeliverOK(hook, "queued")
	waitFor(t, "the promotion's apply of base in dev to start", func() bool {
		return slices.Contains(clitest.Applies(r.Events(t)), "r1 base dev")
	})

	iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: clitest.CommitID('c'), Changes: gitlabfake.Modified("stacks/base/main.tf")})
	a.DeliverOK(opened, "queued")
	if s := clitest.WaitStatus(t, gl, clitest.CommitID('c'), a); s.State != "success" {
		t.Errorf("the MR plan during the promotion ended %s (%s):\n%s", s.State, s.Description, planNote(t, gl, iid))
	}
	if err := os.Remove(r.HoldFile); err != nil {
		t.Fatal(err)
	}
	body := clitest.WaitDeploy(t, gl, merged, clitest.CommitID('b'), a.Logs, 2*time.Minute)
	clitest.MustContain(t, "the deploy note", body, "✅ Deployed")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
