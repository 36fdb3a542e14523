package chaos_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

// TestDatabaseDownSpoolsWebhooks stops PostgreSQL for 30 seconds under an agent that is in the middle of a
// promotion (an apply held): the merge requests opened meanwhile are answered 202 spooled, and once the
// database is back each ends in its one plan note; the promotion resumes and completes, each step applied
// once.
func TestDatabaseDownSpoolsWebhooks(t *testing.T) {
	t.Parallel()
	agentBinary(t)
	cluster, w := holding(t, "app/dev")
	p := w.start(t, "replica-1")
	w.promoteUntil(t, &current{p: p}, "app/dev", p.Logs)

	// Merge requests that change only app, in dev only: one cheap plan each.
	type mr struct {
		iid  int
		head string
		hook gitlabfake.Hook
	}
	var mrs []mr
	for i := range 5 {
		head := clitest.CommitID(byte('1' + i))
		w.repo.Commit(t, w.gl, head, clitest.Tree{Rev: fmt.Sprintf("m%d", i+1), Stages: []string{"dev"}})
		iid, hook := w.gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: head, Changes: gitlabfake.Modified("stacks/app/main.tf")})
		mrs = append(mrs, mr{iid, head, hook})
	}

	down := 30 * time.Second
	cluster.Stop()
	stopped := time.Now()
	var answers []string
	for i, m := range mrs {
		code, status, err := post(p.URL, m.hook)
		answers = append(answers, fmt.Sprintf("%d %s", code, status))
		if err != nil {
			t.Errorf("delivery %d while the database is down: %v", i+1, err)
		}
		time.Sleep(down / time.Duration(2*len(mrs)))
	}
	ready := readyz(p.URL)
	time.Sleep(time.Until(stopped.Add(down)))
	cluster.Start()
	restarted := time.Now()
	t.Logf("database down for %v; /readyz meanwhile answered %d", restarted.Sub(stopped).Round(time.Second), ready)
	want := make([]string, len(mrs))
	for i := range want {
		want[i] = "202 spooled"
	}
	if diff := cmp.Diff(want, answers); diff != "" {
		t.Errorf("answers to the deliveries while the database was down (-want +got):\n%s", diff)
	}
	if err := os.Remove(w.repo.HoldFile); err != nil {
		t.Fatal(err)
	}

	for _, m := range mrs {
		if !until(4*time.Minute, nil, func() bool { _, ok := clitest.FinalPlanStatus(w.gl, clitest.Project, m.head); return ok }) {
			t.Fatalf("the plan of !%d, delivered while the database was down, did not end; logs:\n%s", m.iid, p.Logs())
		}
	}
	figure(t, "spooled_plans_done_after_db_back_seconds", seconds(time.Since(restarted)))
	clitest.WaitDeploy(t, w.gl, w.iid, w.merged, p.Logs, 5*time.Minute)
	figure(t, "promotion_done_after_db_back_seconds", seconds(time.Since(restarted)))
	for _, m := range mrs {
		if n := countNotes(w.gl, m.iid, "<!-- gitops-agent:plan -->"); n != 1 {
			t.Errorf("!%d has %d plan notes, want 1", m.iid, n)
		}
	}
	o := w.outcome(t, p.AdminURL)
	if diff := cmp.Diff(clitest.EveryStep(clitest.AllStages, 1), o.Applied); diff != "" {
		t.Errorf("applied runs per step in the ledger (-want +got):\n%s", diff)
	}
	for marker, bodies := range o.Notes {
		if len(bodies) != 1 {
			t.Errorf("the promoted MR has %d notes %s, want 1", len(bodies), marker)
		}
	}
	w.checkOnce(t, clitest.Deployments(t, p.AdminURL), nil, nil)
	p.Stop()
}

// countNotes counts the notes of merge request iid that start with marker.
func countNotes(gl *gitlabfake.Server, iid int, marker string) int {
	n := 0
	for _, note := range gl.Notes(clitest.Project, iid) {
		if strings.HasPrefix(note.Body, marker) {
			n++
		}
	}
	return n
}

// readyz returns the code GET /readyz answers, 0 when it does not answer.
func readyz(baseURL string) int {
	resp, err := client.Get(baseURL + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
