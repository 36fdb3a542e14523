package gitlab

import (
	"context"
	"errors"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// What comment commands need: the commenter's access level, emoji on the command's note, and the
// statuses of a commit.

// AccessLevel returns the user's access level to project, inherited from groups included
// (GET /projects/:id/members/all/:user_id); gitops.NoAccess when the user is not a member. A project the
// token cannot see is an error (ErrNotFound), not "no access": GitLab answers both with a 404, so the
// project is looked up (once per Client) to tell them apart.
func (c *Client) AccessLevel(ctx context.Context, project string, userID int) (gitops.AccessLevel, error) {
	m, _, err := c.api.ProjectMembers.GetInheritedProjectMember(project, int64(userID), gl.WithContext(ctx))
	err = c.wrap(fmt.Sprintf("get member %d of %s", userID, project), err)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, perr := c.project(ctx, project); perr != nil {
			return gitops.NoAccess, perr
		}
		return gitops.NoAccess, nil
	case err != nil:
		return gitops.NoAccess, err
	case m == nil:
		return gitops.NoAccess, fmt.Errorf("gitlab: get member %d of %s: empty answer", userID, project)
	}
	return gitops.AccessLevel(m.AccessLevel), nil
}

// emoji are GitLab's names of the reactions the agent awards.
var emoji = map[gitops.Reaction]string{
	gitops.ReactionSeen:    "eyes",
	gitops.ReactionDone:    "white_check_mark",
	gitops.ReactionRefused: "x",
}

func emojiName(r gitops.Reaction) (string, error) {
	name, ok := emoji[r]
	if !ok {
		return "", fmt.Errorf("gitlab: no emoji for reaction %q", r)
	}
	return name, nil
}

// React awards the reaction's emoji on note noteID of the MR as the token's user
// (POST .../notes/:note_id/award_emoji). An emoji the user awarded already is not an error: GitLab answers
// it with a 404, as it does a missing note, so on a 404 the note's awards are read to tell them apart. An
// award whose answer was lost is looked for before it is sent again (see createOnce).
func (c *Client) React(ctx context.Context, project string, iid, noteID int, r gitops.Reaction) error {
	name, err := emojiName(r)
	if err != nil {
		return err
	}
	_, err = createOnce(ctx, c, func(opts ...gl.RequestOptionFunc) (bool, error) {
		_, _, err := c.api.AwardEmoji.CreateMergeRequestAwardEmojiOnNote(project, int64(iid), int64(noteID),
			&gl.CreateAwardEmojiOptions{Name: name}, opts...)
		return true, err
	}, func() (bool, bool, error) {
		mine, err := c.myAwards(ctx, project, iid, noteID, name)
		return len(mine) > 0, len(mine) > 0, err
	})
	err = c.wrap(fmt.Sprintf("award %s on note %d of %s", name, noteID, ref(project, iid)), err)
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	if mine, lerr := c.myAwards(ctx, project, iid, noteID, name); lerr == nil && len(mine) > 0 {
		return nil
	}
	return err
}

// Unreact takes back the token's user's award of the reaction's emoji on note noteID of the MR (its
// awards listed, then DELETE .../award_emoji/:award_id); there being none is not an error.
func (c *Client) Unreact(ctx context.Context, project string, iid, noteID int, r gitops.Reaction) error {
	name, err := emojiName(r)
	if err != nil {
		return err
	}
	op := fmt.Sprintf("take %s back on note %d of %s", name, noteID, ref(project, iid))
	mine, err := c.myAwards(ctx, project, iid, noteID, name)
	if err != nil {
		return fmt.Errorf("gitlab: %s: %w", op, err)
	}
	for _, id := range mine {
		_, err := c.api.AwardEmoji.DeleteMergeRequestAwardEmojiOnNote(project, int64(iid), int64(noteID), id, gl.WithContext(ctx))
		if err = c.wrap(op, err); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// myAwards lists the ids of the token's user's awards of emoji name on a note (all pages).
func (c *Client) myAwards(ctx context.Context, project string, iid, noteID int, name string) ([]int64, error) {
	me, err := c.currentUser(ctx)
	if err != nil {
		return nil, err
	}
	var mine []int64
	err = eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.AwardEmoji, *gl.Response, error) {
		return c.api.AwardEmoji.ListMergeRequestAwardEmojiOnNote(project, int64(iid), int64(noteID),
			&gl.ListAwardEmojiOptions{ListOptions: lo}, gl.WithContext(ctx))
	}, func(a *gl.AwardEmoji) bool {
		if a != nil && a.Name == name && a.User.ID == me {
			mine = append(mine, a.ID)
		}
		return true
	})
	if err != nil {
		return nil, c.wrap(fmt.Sprintf("list the awards on note %d of %s", noteID, ref(project, iid)), err)
	}
	return mine, nil
}

// Statuses returns the latest commit status of each name set on sha
// (GET /projects/:id/repository/commits/:sha/statuses, all pages), in the order the names first appear.
func (c *Client) Statuses(ctx context.Context, project, sha string) ([]gitops.Status, error) {
	latest := map[string]*gl.CommitStatus{}
	var names []string
	err := eachPage(c.perPage, func(lo gl.ListOptions) ([]*gl.CommitStatus, *gl.Response, error) {
		return c.api.Commits.GetCommitStatuses(project, sha, &gl.GetCommitStatusesOptions{ListOptions: lo}, gl.WithContext(ctx))
	}, func(s *gl.CommitStatus) bool {
		if s == nil {
			return true
		}
		if cur, ok := latest[s.Name]; !ok {
			names = append(names, s.Name)
			latest[s.Name] = s
		} else if s.ID > cur.ID {
			latest[s.Name] = s
		}
		return true
	})
	if err != nil {
		return nil, c.wrap("list statuses of "+project+"@"+sha, err)
	}
	out := make([]gitops.Status, 0, len(names))
	for _, n := range names {
		s := latest[n]
		out = append(out, gitops.Status{Name: s.Name, State: gitops.StatusState(s.Status), Description: s.Description, TargetURL: s.TargetURL})
	}
	return out, nil
}
