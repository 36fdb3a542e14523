package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

const marker = "<!-- gitops-agent:plan -->"

// busyMR opens an MR carrying other people's comments, a system note and a comment quoting the marker.
func busyMR(tb testing.TB, srv *gitlabfake.Server, project string, others int) int {
	tb.Helper()
	srv.AddProject(project)
	srv.Commit(project, "head1", map[string]string{"main.tf": ""})
	iid, _ := srv.OpenMR(project, gitlabfake.MR{HeadSHA: "head1"})
	srv.AddNote(project, iid, "reviewer", marker+"\nI quote the agent's marker; do not edit me.")
	srv.AddSystemNote(project, iid, marker+" added 1 commit")
	for i := range others {
		srv.AddNote(project, iid, "reviewer", fmt.Sprintf("comment %d", i))
	}
	return iid
}

// agentNotes returns the bodies of the notes the token's user wrote.
func agentNotes(srv *gitlabfake.Server, project string, iid int) []string {
	var out []string
	for _, n := range srv.Notes(project, iid) {
		if n.Author == gitlabfake.BotUsername {
			out = append(out, n.Body)
		}
	}
	return out
}

func TestUpsertNoteCreatesThenEditsInPlace(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t, WithPageSize(20))
	clk := newClock(srv)
	iid := busyMR(t, srv, "group/sub/app", 45) // 47 notes: the agent's lands on page 3

	first := marker + "\nPlan: 1 to add, 0 to change, 0 to destroy."
	created, err := c.WriteNote(ctx, "group/sub/app", iid, marker, first)
	if err != nil {
		t.Fatalf("first WriteNote: %v", err)
	}
	clk.advance(time.Minute)
	srv.AddNote("group/sub/app", iid, "reviewer", "a later comment")
	second := marker + "\nNo changes."
	edited, err := c.WriteNote(ctx, "group/sub/app", iid, marker, second)
	if err != nil {
		t.Fatalf("second WriteNote: %v", err)
	}
	unchanged, err := c.WriteNote(ctx, "group/sub/app", iid, marker, second)
	if err != nil {
		t.Fatalf("third WriteNote: %v", err)
	}
	var agents []int
	for _, n := range srv.Notes("group/sub/app", iid) {
		if n.Author == gitlabfake.BotUsername {
			agents = append(agents, n.ID)
		}
	}
	if len(agents) != 1 || created != agents[0] || edited != agents[0] || unchanged != agents[0] {
		t.Errorf("WriteNote returned ids %d, %d, %d; the agent's notes are %v", created, edited, unchanged, agents)
	}

	if diff := cmp.Diff([]string{second}, agentNotes(srv, "group/sub/app", iid)); diff != "" {
		t.Errorf("agent notes (-want +got):\n%s", diff)
	}
	notes := srv.Notes("group/sub/app", iid)
	if len(notes) != 49 {
		t.Errorf("MR has %d notes, want 49 (47 + the agent's + the later comment)", len(notes))
	}
	if !strings.HasSuffix(notes[0].Body, "do not edit me.") {
		t.Errorf("the reviewer's note quoting the marker was changed: %q", notes[0].Body)
	}
}

func TestUpsertNoteLeavesUnchangedNoteAlone(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	clk := newClock(srv)
	iid := busyMR(t, srv, "g/app", 3)
	body := marker + "\nNo changes."
	if err := c.UpsertNote(ctx, "g/app", iid, marker, body); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if err := c.UpsertNote(ctx, "g/app", iid, marker, body); err != nil {
		t.Fatal(err)
	}
	for _, n := range srv.Notes("g/app", iid) {
		if n.Author == gitlabfake.BotUsername && !n.UpdatedAt.Equal(n.CreatedAt) {
			t.Errorf("note %d was rewritten with the same body (updated %v, created %v)", n.ID, n.UpdatedAt, n.CreatedAt)
		}
	}
}

func TestUpsertNoteConcurrentCallsKeepOneNote(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	iid := busyMR(t, srv, "g/app", 0)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() { errs <- c.UpsertNote(ctx, "g/app", iid, marker, fmt.Sprintf("%s\nrun %d", marker, i)) }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := agentNotes(srv, "g/app", iid); len(got) != 1 {
		t.Errorf("agent notes = %q, want exactly one", got)
	}
}

func TestUpsertNoteLimits(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantErr   error
		wantNotes int
	}{
		{"exactly the limit in multi-byte characters", marker + strings.Repeat("é", MaxNoteLength-len(marker)), nil, 1},
		{"one character over", marker + strings.Repeat("x", MaxNoteLength-len(marker)+1), ErrNoteTooLong, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := newClient(t)
			iid := busyMR(t, srv, "g/app", 0)
			err := c.UpsertNote(context.Background(), "g/app", iid, marker, tt.body)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UpsertNote error = %v, want %v", err, tt.wantErr)
			}
			if got := len(agentNotes(srv, "g/app", iid)); got != tt.wantNotes {
				t.Errorf("agent notes = %d, want %d", got, tt.wantNotes)
			}
		})
	}
}

func TestUpsertNoteRejectsBadArguments(t *testing.T) {
	c, srv := newClient(t)
	iid := busyMR(t, srv, "g/app", 0)
	for name, args := range map[string][2]string{
		"empty marker":            {"", "body"},
		"body without its marker": {marker, "Plan: 1 to add"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := c.UpsertNote(context.Background(), "g/app", iid, args[0], args[1]); err == nil {
				t.Fatal("UpsertNote = nil error")
			}
			if got := agentNotes(srv, "g/app", iid); len(got) != 0 {
				t.Errorf("notes were written: %q", got)
			}
		})
	}
}
