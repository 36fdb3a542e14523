package gitlab

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// UpsertNote keeps exactly one note on the MR whose body starts with marker: it edits that note in place,
// or creates it when there is none. Only notes written by the token's user count, so a comment that
// quotes the marker is never taken for the agent's own; when several match, the oldest is edited. body
// must start with marker, so that the next call finds the note again. A body over MaxNoteLength
// characters is refused with ErrNoteTooLong before anything is sent. An unchanged body is not sent again.
//
// Creating is idempotent: a create whose answer is lost is never sent again before the marker has been
// looked for anew, so a lost answer does not make a second note (see createOnce).
//
// Calls for the same MR are serialized within this Client; across processes the caller must ensure one
// writer per MR.
func (c *Client) UpsertNote(ctx context.Context, project string, iid int, marker, body string) error {
	_, err := c.WriteNote(ctx, project, iid, marker, body)
	return err
}

// WriteNote is UpsertNote that also returns the id of the note it edited or created (or found
// unchanged); 0 with the error when it failed.
func (c *Client) WriteNote(ctx context.Context, project string, iid int, marker, body string) (int, error) {
	op := "upsert note on " + ref(project, iid)
	switch {
	case marker == "":
		return 0, fmt.Errorf("gitlab: %s: empty marker", op)
	case !strings.HasPrefix(body, marker):
		return 0, fmt.Errorf("gitlab: %s: body does not start with its marker %q", op, marker)
	}
	if n := utf8.RuneCountInString(body); n > MaxNoteLength {
		return 0, fmt.Errorf("gitlab: %s: %w: %d characters, the limit is %d", op, ErrNoteTooLong, n, MaxNoteLength)
	}

	unlock := c.lockNote(project, iid)
	defer unlock()

	me, err := c.currentUser(ctx)
	if err != nil {
		return 0, err
	}
	existing, err := c.findNote(ctx, project, iid, marker, me)
	if err != nil {
		return 0, c.wrap("find note on "+ref(project, iid), err)
	}
	if existing == nil {
		return c.createNote(ctx, project, iid, marker, body, me)
	}
	if existing.Body == body {
		return int(existing.ID), nil
	}
	_, _, err = c.api.Notes.UpdateMergeRequestNote(project, int64(iid), existing.ID,
		&gl.UpdateMergeRequestNoteOptions{Body: gl.Ptr(body)}, gl.WithContext(ctx))
	if err != nil {
		return 0, c.wrap(fmt.Sprintf("update note %d on %s", existing.ID, ref(project, iid)), err)
	}
	return int(existing.ID), nil
}

// createNote creates the note (createOnce), looking for marker again before each new attempt; a note found
// then is brought to body.
func (c *Client) createNote(ctx context.Context, project string, iid int, marker, body string, me int64) (int, error) {
	n, err := createOnce(ctx, c, func(opts ...gl.RequestOptionFunc) (*gl.Note, error) {
		n, _, err := c.api.Notes.CreateMergeRequestNote(project, int64(iid), &gl.CreateMergeRequestNoteOptions{Body: gl.Ptr(body)}, opts...)
		return n, err
	}, func() (*gl.Note, bool, error) {
		n, err := c.findNote(ctx, project, iid, marker, me)
		return n, n != nil, err
	})
	if err != nil {
		return 0, c.wrap("create note on "+ref(project, iid), err)
	}
	if n == nil {
		return 0, fmt.Errorf("gitlab: create note on %s: empty answer", ref(project, iid))
	}
	if n.Body != body { // found by its marker after a lost answer: ours, or an older one
		if _, _, err := c.api.Notes.UpdateMergeRequestNote(project, int64(iid), n.ID,
			&gl.UpdateMergeRequestNoteOptions{Body: gl.Ptr(body)}, gl.WithContext(ctx)); err != nil {
			return 0, c.wrap(fmt.Sprintf("update note %d on %s", n.ID, ref(project, iid)), err)
		}
	}
	return int(n.ID), nil
}

// findNote returns the oldest non-system note by user me whose body starts with marker, or nil.
func (c *Client) findNote(ctx context.Context, project string, iid int, marker string, me int64) (*gl.Note, error) {
	opt := &gl.ListMergeRequestNotesOptions{OrderBy: gl.Ptr("created_at"), Sort: gl.Ptr("asc")}
	var found *gl.Note
	err := eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.Note, *gl.Response, error) {
		opt.ListOptions = lo
		return c.api.Notes.ListMergeRequestNotes(project, int64(iid), opt, gl.WithContext(ctx))
	}, func(n *gl.Note) bool {
		if n != nil && !n.System && n.Author.ID == me && strings.HasPrefix(n.Body, marker) {
			found = n
			return false
		}
		return true
	})
	return found, err
}
