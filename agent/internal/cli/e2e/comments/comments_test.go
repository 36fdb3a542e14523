// Package comments_test holds the end-to-end tests of comment commands ("/gitops ...") through
// `gitops-agent serve`: each command authorized by the commenter's access level read from GitLab's API,
// plans asked by commands coalesced per merge request, and merge requests from forks planned only when a
// Maintainer asks, for that commit only.
package comments_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"

	planMarker  = "<!-- gitops-agent:plan -->"
	replyMarker = "<!-- gitops-agent:reply -->"
	fork        = "outsider/documents"
)

// project is the fake GitLab with the quickstart repository at sha1 and its members: guest, dev (Developer)
// and lead (Maintainer).
func project(t *testing.T) *gitlabfake.Server {
	t.Helper()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	if err := gl.CommitDir(clitest.Project, sha1, clitest.Quickstart(t)); err != nil {
		t.Fatal(err)
	}
	gl.AddMember(clitest.Project, "guest", gitlabfake.Guest)
	gl.AddMember(clitest.Project, "dev", gitlabfake.Developer)
	gl.AddMember(clitest.Project, "lead", gitlabfake.Maintainer)
	return gl
}

// notesStarting returns the bodies of the merge request's notes that start with prefix.
func notesStarting(gl *gitlabfake.Server, iid int, prefix string) []string {
	var out []string
	for _, n := range gl.Notes(clitest.Project, iid) {
		if strings.HasPrefix(n.Body, prefix) {
			out = append(out, n.Body)
		}
	}
	return out
}

// command posts a comment as author and delivers its webhook; it returns the comment's id.
func command(t *testing.T, gl *gitlabfake.Server, a *clitest.Agent, iid int, author, body string) int {
	t.Helper()
	h := gl.NoteHook(clitest.Project, iid, author, body)
	a.DeliverOK(h, "queued")
	return noteID(t, h)
}

// noteID is the id of the comment a Note Hook announces.
func noteID(t *testing.T, h gitlabfake.Hook) int {
	t.Helper()
	var body struct {
		ObjectAttributes struct {
			ID int `json:"id"`
		} `json:"object_attributes"`
	}
	if err := json.Unmarshal(h.Body, &body); err != nil || body.ObjectAttributes.ID == 0 {
		t.Fatalf("note hook without an id: %v", err)
	}
	return body.ObjectAttributes.ID
}

// answered waits until the agent has ended the command on note with ✅ or ❌ and returns the emoji it
// left there.
func answered(t *testing.T, gl *gitlabfake.Server, a *clitest.Agent, iid, note int) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var names []string
		for _, aw := range gl.Awards(clitest.Project, iid, note) {
			names = append(names, aw.Name)
		}
		if slices.Contains(names, "white_check_mark") || slices.Contains(names, "x") {
			return names
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the command on note %d was not answered within a minute; agent logs:\n%s", note, a.Logs())
	return nil
}

// planHistory returns the states the gitops/plan status of sha went through.
func planHistory(gl *gitlabfake.Server, sha string) []string {
	var out []string
	for _, s := range gl.StatusHistory(clitest.Project, sha) {
		if s.Name == "gitops/plan" {
			out = append(out, s.State)
		}
	}
	return out
}

// quiet waits until the gitops/plan status of sha has been final (or, with pending allowed, pending) and
// unchanged for 4 seconds, longer than a waiting plan takes to start, and returns its history.
func quiet(t *testing.T, gl *gitlabfake.Server, a *clitest.Agent, sha string, pendingOK bool) []string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var last []string
	since := time.Now()
	for time.Now().Before(deadline) {
		h := planHistory(gl, sha)
		if !slices.Equal(h, last) {
			last, since = h, time.Now()
		}
		if n := len(h); n > 0 && (h[n-1] != "running" && (pendingOK || h[n-1] != "pending")) && time.Since(since) > 4*time.Second {
			return h
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("gitops/plan on %s did not settle within 3 minutes (history %v); agent logs:\n%s", sha[:8], last, a.Logs())
	return nil
}

func TestGuestPlanCommandIsRefusedAndNothingRuns(t *testing.T) {
	t.Parallel()
	gl := project(t)
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
	iid, _ := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Author: "dev", Changes: gitlabfake.Modified("stacks/base/main.tf")})

	h := gl.NoteHook(clitest.Project, iid, "guest", "/gitops plan")
	a.DeliverOK(h, "queued")
	a.DeliverOK(h, "duplicate") // a redelivery is the same command
	note := noteID(t, h)
	if got := answered(t, gl, a, iid, note); !slices.Equal(got, []string{"x"}) {
		t.Errorf("emoji on the command: %v, want only ❌ (👀 taken back)", got)
	}
	time.Sleep(2 * time.Second) // room for anything that should not happen

	replies := notesStarting(gl, iid, replyMarker)
	if len(replies) != 1 {
		t.Fatalf("%d replies, want exactly 1: %q", len(replies), replies)
	}
	clitest.MustContain(t, "the reply", replies[0], "@guest", "**Developer**", "**Guest**", "was not run")
	if plans := notesStarting(gl, iid, planMarker); len(plans) != 0 {
		t.Errorf("a refused command planned: %q", plans)
	}
	if h := gl.StatusHistory(clitest.Project, sha1); len(h) != 0 {
		t.Errorf("a refused command set statuses: %+v", h)
	}
}

func TestTwentyPlanCommandsRunAtMostTwoPlans(t *testing.T) {
	clitest.ForEachBackend(t, func(t *testing.T, b clitest.Backend) {
		gl := project(t)
		a := clitest.Start(t, gl, b, t.TempDir())
		iid, _ := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Author: "dev", Changes: gitlabfake.Modified("stacks/base/main.tf")})

		// The first plan cannot finish before every command is in: its source download waits.
		release := gl.HoldArchives()
		defer release()
		var ids []int
		for range 20 {
			ids = append(ids, command(t, gl, a, iid, "dev", "/gitops plan"))
		}
		for _, id := range ids {
			if got := answered(t, gl, a, iid, id); !slices.Equal(got, []string{"white_check_mark"}) {
				t.Errorf("emoji on command %d: %v, want only ✅", id, got)
			}
		}
		release()
		history := quiet(t, gl, a, sha1, false)
		runs := 0
		for _, s := range history {
			if s == "running" {
				runs++
			}
		}
		if runs < 1 || runs > 2 || history[len(history)-1] != "success" {
			t.Errorf("gitops/plan went through %v: want one or two plans, the last a success", history)
		}
		if plans := notesStarting(gl, iid, planMarker); len(plans) != 1 {
			t.Errorf("%d plan notes, want 1", len(plans))
		}
		if replies := notesStarting(gl, iid, replyMarker); len(replies) != 0 {
			t.Errorf("accepted plan commands got replies: %q", replies)
		}
		t.Logf("%d plans for 20 comments (%v)", runs, history)
	})
}

func TestForkMergeRequestIsPlannedWhenAMaintainerAsksForThatCommit(t *testing.T) {
	t.Parallel()
	gl := project(t)
	gl.AddProject(fork)
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
	iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{
		HeadSHA: sha1, Author: "outsider", SourceProject: fork, Changes: gitlabfake.Modified("stacks/base/main.tf"),
	})

	// Opened: not planned, and the note says how to ask.
	a.DeliverOK(opened, "queued")
	if h := quiet(t, gl, a, sha1, true); !slices.Equal(h, []string{"pending"}) {
		t.Errorf("gitops/plan of the fork's commit went through %v, want pending only", h)
	}
	note := onlyPlanNote(t, gl, iid)
	clitest.MustContain(t, "the plan note", note, sha1, "was **not planned**", "comes from a fork", "a Maintainer can comment `/gitops plan`", "each new push needs a new")
	if strings.Contains(note, "Plan: ") {
		t.Errorf("the fork's code was planned without a Maintainer:\n%s", note)
	}

	// A Developer may not approve it.
	devNote := command(t, gl, a, iid, "dev", "/gitops plan")
	if got := answered(t, gl, a, iid, devNote); !slices.Equal(got, []string{"x"}) {
		t.Errorf("emoji on the developer's command: %v, want ❌", got)
	}
	replies := notesStarting(gl, iid, replyMarker)
	if len(replies) != 1 {
		t.Fatalf("%d replies, want 1: %q", len(replies), replies)
	}
	clitest.MustContain(t, "the reply", replies[0], "@dev", "**Maintainer**", "comes from a fork", "**Developer**")

	// A Maintainer asks: that commit is planned.
	leadNote := command(t, gl, a, iid, "lead", "/gitops plan")
	if got := answered(t, gl, a, iid, leadNote); !slices.Equal(got, []string{"white_check_mark"}) {
		t.Errorf("emoji on the maintainer's command: %v, want ✅", got)
	}
	if st := clitest.WaitStatus(t, gl, sha1, a); st.State != "success" {
		t.Errorf("gitops/plan after the maintainer asked = %s (%s), want success", st.State, st.Description)
	}
	note = onlyPlanNote(t, gl, iid)
	clitest.MustContain(t, "the approved plan note", note, sha1, "`lead` approved planning this commit",
		"| `base` | `dev` | Plan: 3 to add, 0 to change, 0 to destroy.")

	// A new push is not approved: not planned until a Maintainer asks again.
	dev, err := os.ReadFile(filepath.Join(clitest.Quickstart(t), "stacks", "base", "stages", "dev.tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	tree2 := clitest.WithFile(t, "stacks/base/stages/dev.tfvars", string(dev)+"# pushed by the fork\n")
	if err := gl.CommitDir(clitest.Project, sha2, tree2); err != nil {
		t.Fatal(err)
	}
	a.DeliverOK(gl.PushMR(clitest.Project, iid, sha2, gitlabfake.Modified("stacks/base/stages/dev.tfvars")), "queued")
	if h := quiet(t, gl, a, sha2, true); !slices.Equal(h, []string{"pending"}) {
		t.Errorf("gitops/plan of the pushed commit went through %v, want pending only", h)
	}
	clitest.MustContain(t, "the plan note after the push", onlyPlanNote(t, gl, iid), sha2, "was **not planned**")

	again := command(t, gl, a, iid, "lead", "/gitops plan")
	answered(t, gl, a, iid, again)
	if st := clitest.WaitStatus(t, gl, sha2, a); st.State != "success" {
		t.Errorf("gitops/plan of the pushed commit after the maintainer asked = %s (%s), want success", st.State, st.Description)
	}
	clitest.MustContain(t, "the plan note", onlyPlanNote(t, gl, iid), sha2, "`lead` approved planning this commit")
	if n := len(notesStarting(gl, iid, replyMarker)); n != 1 {
		t.Errorf("%d replies, want only the developer's refusal", n)
	}
}

// onlyPlanNote returns the merge request's one plan note.
func onlyPlanNote(t *testing.T, gl *gitlabfake.Server, iid int) string {
	t.Helper()
	plans := notesStarting(gl, iid, planMarker)
	if len(plans) != 1 {
		t.Fatalf("%d plan notes, want 1", len(plans))
	}
	return plans[0]
}

// TestPartialPlanIsMergedIntoTheOnePlanNote: after the full plan of a commit, `/gitops plan --stack app
// --stage dev` plans that one stack × stage again and the one plan note keeps every row, the fresh one marked.
func TestPartialPlanIsMergedIntoTheOnePlanNote(t *testing.T) {
	t.Parallel()
	gl := project(t)
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
	iid, opened := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: sha1, Author: "dev", Changes: gitlabfake.Modified("stacks/base/main.tf")})
	a.DeliverOK(opened, "queued")
	if h := quiet(t, gl, a, sha1, false); h[len(h)-1] != "success" {
		t.Fatalf("the full plan ended %v", h)
	}
	id := command(t, gl, a, iid, "dev", "/gitops plan --stack app --stage dev")
	answered(t, gl, a, iid, id)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(onlyPlanNote(t, gl, iid), "were planned again now") {
		if time.Now().After(deadline) {
			t.Fatalf("the partial plan was not merged into the note:\n%s\nagent logs:\n%s", onlyPlanNote(t, gl, iid), a.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	note := onlyPlanNote(t, gl, iid)
	for _, row := range []string{"| `base` | `dev` |", "| `base` | `prod` |", "| `app` | `prod` |", "| `app` | `dev` | 🔄 "} {
		if !strings.Contains(note, row) {
			t.Errorf("the merged note lacks the row %q:\n%s", row, note)
		}
	}
	if strings.Count(note, "🔄") != 2 { // the row, and the explanation
		t.Errorf("want exactly the app · dev row marked fresh:\n%s", note)
	}
}
