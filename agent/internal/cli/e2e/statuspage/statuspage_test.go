// Package statuspage_test holds the end-to-end tests of the status page of `gitops-agent serve`: on the
// admin listener only, showing the output of the terraform runs it made, and who merged each live commit
// with a link to its promotion's deploy note.
package statuspage_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

const sha1 = "1111111111111111111111111111111111111111"

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestStatusPage: the admin listener answers GET / with the page (nothing deployed yet on a new ledger),
// the webhook listener answers 404; after a merge request's plan, the page links the plan's runs, and a
// run's page shows terraform's output with no secret of the agent's and no sensitive value.
func TestStatusPage(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	if err := gl.CommitDir(clitest.Project, sha1, clitest.Quickstart(t)); err != nil {
		t.Fatal(err)
	}
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())

	code, ct, body := get(t, a.AdminURL+"/")
	if code != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("admin listener: GET / = %d %s", code, ct)
	}
	clitest.MustContain(t, "the status page of a new ledger", body, "Nothing deployed yet")
	for _, path := range []string{"/", "/runs/1", "/runs/1/events"} {
		if code, _, _ := get(t, a.URL+path); code != http.StatusNotFound {
			t.Errorf("webhook listener: GET %s = %d, want 404", path, code)
		}
	}
	if code, _, _ := get(t, a.AdminURL+"/runs/1"); code != http.StatusNotFound {
		t.Errorf("admin listener: GET /runs/1 before any run = %d, want 404", code)
	}

	_, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Changes: gitlabfake.Modified("stacks/base/main.tf")})
	a.DeliverOK(opened, "queued")
	if st := clitest.WaitStatus(t, gl, sha1, a); st.State != "success" {
		t.Fatalf("gitops/plan = %s (%s), want success", st.State, st.Description)
	}
	_, _, body = get(t, a.AdminURL+"/")
	clitest.MustContain(t, "the status page after a plan", body, "Finished lately", "plan base in dev", "plan app in prod")
	link := regexp.MustCompile(`<a href="(/runs/\d+)">plan base in prod</a>`).FindStringSubmatch(body)
	if link == nil {
		t.Fatalf("no link to the run of base in prod:\n%s", body)
	}
	code, _, run := get(t, a.AdminURL+link[1])
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d", link[1], code)
	}
	clitest.MustContain(t, "the run's page", run, "plan base in prod", "Terraform has been successfully initialized", "Plan: 4 to add")
	for _, secret := range []string{clitest.Token, clitest.Secret, "example-not-a-real-token", a.DataDir} {
		if strings.Contains(body, secret) || strings.Contains(run, secret) {
			t.Errorf("the status page shows %q", secret)
		}
	}
}

// TestStatusPageShowsWhoMergedAndTheDeployNote: alice's merge request, merged by dave, is promoted with
// Terraform through every stage; each cell of the page then says it was applied by @dave (not by its
// author) and links the deploy note's anchor on the merge request, and /api/v1/deployments has by.
func TestStatusPageShowsWhoMergedAndTheDeployNote(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	r := clitest.NewRepo(t)
	head, merged := clitest.CommitID('a'), clitest.CommitID('b')
	r.Commit(t, gl, head, clitest.Tree{Rev: "r1"})
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())

	iid, _ := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: head, Author: "alice", Changes: gitlabfake.Modified("stacks/base/main.tf")})
	a.DeliverOK(gl.MergeMR(clitest.Project, iid, gitlabfake.Merge{MergeCommitSHA: merged, By: "dave"}), "queued")
	clitest.WaitDeploy(t, gl, iid, merged, a.Logs, 2*time.Minute)
	notes := clitest.DeployNotes(gl, iid)
	if len(notes) != 1 {
		t.Fatalf("%d deploy notes, want 1", len(notes))
	}

	d := clitest.Deployments(t, a.AdminURL)
	if len(d.Live) != 2*len(clitest.AllStages) {
		t.Errorf("%d live commits, want base and app in every stage:\n%+v", len(d.Live), d.Live)
	}
	for _, l := range d.Live {
		if l.By != "dave" {
			t.Errorf("/api/v1/deployments: live %s/%s by %q, want dave", l.Stack, l.Stage, l.By)
		}
	}
	for _, run := range d.History {
		if run.By != "dave" {
			t.Errorf("/api/v1/deployments: run %d by %q, want dave", run.ID, run.By)
		}
	}

	_, _, body := get(t, a.AdminURL+"/")
	cells := regexp.MustCompile(`(?s)<td class="cell".*?</td>`).FindAllString(body, -1)
	if len(cells) != 2*len(clitest.AllStages) {
		t.Fatalf("the page has %d live cells, want %d:\n%s", len(cells), 2*len(clitest.AllStages), body)
	}
	note := fmt.Sprintf(`/-/merge_requests/%d#note_%d">deploy note</a>`, iid, notes[0].ID)
	for _, c := range cells {
		clitest.MustContain(t, "a live cell", c, merged[:8], fmt.Sprintf(">!%d<", iid), ` by <span class="by">@dave</span>`, note)
	}
	if strings.Contains(body, "@alice") {
		t.Error("the page names the merge request's author, not who merged it")
	}
}
