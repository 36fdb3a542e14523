package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Sentinels for errors.Is on MergeMergeRequest's refusals. Each error also carries GitLab's answer as an
// *APIError, and says through Permanent whether trying again can succeed.
var (
	// ErrNotMergeableYet: GitLab has not finished checking whether the merge request can be merged (its
	// detailed_merge_status is "preparing", "checking" or "unchecked", as it is for a while after the merge
	// request was opened or its branches moved), or a pipeline it waits for is still running. Transient:
	// try again later.
	ErrNotMergeableYet = errors.New("merge request is not mergeable yet")
	// ErrHeadMoved: the source branch's head is not the sha the merge was guarded by (GitLab's 409 "SHA
	// does not match HEAD of source branch"). Permanent for that sha: read the merge request again.
	ErrHeadMoved = errors.New("merge request head moved")
	// ErrAlreadyMerged: the merge request was merged before, by an earlier attempt whose answer was lost
	// or by someone else. Permanent; MergeMergeRequest returns the merge commit with it.
	ErrAlreadyMerged = errors.New("merge request is already merged")
	// ErrCannotMerge: GitLab refuses the merge for a reason waiting does not cure: the merge request is
	// closed, a draft, conflicts with its target branch, needs a rebase, lacks approvals, has unresolved
	// threads or a failed pipeline. Permanent: a person has to act.
	ErrCannotMerge = errors.New("merge request cannot be merged")
)

// MergeMergeRequest merges merge request iid of project (PUT /projects/:id/merge_requests/:iid/merge)
// if the head of its source branch is still sha, removing the source branch, and returns the merge
// commit (the squash commit, or the head itself for a fast-forward merge, when GitLab made no merge
// commit). An empty sha merges whatever the head is.
//
// GitLab's refusals are told apart with sentinels, the merge request read back when the answer alone
// does not say why:
//   - 409 (the head is not sha): ErrHeadMoved, permanent.
//   - 405 or 422 (GitLab answers "405 Method Not Allowed", or 422 "Branch cannot be merged"; older
//     versions 406 for conflicts): an opened merge request GitLab is still checking, or whose pipeline
//     is still running, gives ErrNotMergeableYet, transient; so does a 405 for an opened merge request
//     whose status GitLab does not report. A merged one gives ErrAlreadyMerged with its merge commit; a
//     closed, draft or conflicting one, or any other status, ErrCannotMerge naming the reason, permanent.
//   - 401 (the token's user may not merge), 403 and 404 are permanent as for every call.
func (c *Client) MergeMergeRequest(ctx context.Context, project string, iid int, sha string) (mergeCommit string, err error) {
	op := "merge " + ref(project, iid)
	if sha != "" {
		op += "@" + sha
	}
	if project == "" || iid <= 0 {
		return "", fmt.Errorf("gitlab: %s: empty project or iid", op)
	}
	opt := &gl.AcceptMergeRequestOptions{ShouldRemoveSourceBranch: gl.Ptr(true)}
	if sha != "" {
		opt.SHA = gl.Ptr(sha)
	}
	m, _, err := c.api.MergeRequests.AcceptMergeRequest(project, int64(iid), opt, gl.WithContext(ctx))
	if err == nil && m == nil {
		return "", fmt.Errorf("gitlab: %s: empty answer", op)
	}
	if err == nil {
		if commit := mergedCommit(&m.BasicMergeRequest); m.State == "merged" && commit != "" {
			return commit, nil
		}
		// Merged asynchronously or not at all: GitLab answers 200 with the merge request as it is.
		return "", fmt.Errorf("gitlab: %s: %w", op, &mergeRefusal{
			reason: ErrNotMergeableYet, why: "GitLab accepted the merge but the merge request is " + m.State,
		})
	}
	err = c.wrap(op, err)
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return "", err
	}
	switch apiErr.StatusCode {
	case http.StatusConflict:
		return "", fmt.Errorf("gitlab: %s: %w", op, &mergeRefusal{reason: ErrHeadMoved, permanent: true, api: apiErr})
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnprocessableEntity:
	default:
		return "", err
	}
	cur, _, gerr := c.api.MergeRequests.GetMergeRequest(project, int64(iid), nil, gl.WithContext(ctx))
	if gerr != nil {
		// Whether trying again helps is the read's to say: the refusal alone does not tell.
		return "", fmt.Errorf("gitlab: %s: %v; %w", op, apiErr, c.wrap("read "+ref(project, iid)+" back", gerr))
	}
	refusal := classifyRefusal(&cur.BasicMergeRequest, apiErr)
	if errors.Is(refusal.reason, ErrAlreadyMerged) {
		return mergedCommit(&cur.BasicMergeRequest), fmt.Errorf("gitlab: %s: %w", op, refusal)
	}
	return "", fmt.Errorf("gitlab: %s: %w", op, refusal)
}

// mergedCommit is the commit a merged merge request's target branch moved to: its merge commit, else its
// squash commit, else (fast-forward) its head.
func mergedCommit(m *gl.BasicMergeRequest) string {
	switch {
	case m.MergeCommitSHA != "":
		return m.MergeCommitSHA
	case m.SquashCommitSHA != "":
		return m.SquashCommitSHA
	}
	return m.SHA
}

// transientStatuses are the detailed_merge_status values that waiting cures: GitLab is still computing
// mergeability, or a pipeline is still running.
var transientStatuses = map[string]bool{
	"preparing": true, "checking": true, "unchecked": true, "approvals_syncing": true, "ci_still_running": true,
	"mergeable": true, // GitLab refused, then found it mergeable: its check had not finished
}

// classifyRefusal tells why GitLab answered 405, 406 or 422 to a merge, from the merge request as it is
// now.
func classifyRefusal(m *gl.BasicMergeRequest, apiErr *APIError) *mergeRefusal {
	r := &mergeRefusal{api: apiErr, reason: ErrCannotMerge, permanent: true}
	status := m.DetailedMergeStatus
	switch {
	case m.State == "merged":
		r.reason, r.why = ErrAlreadyMerged, "merged at "+mergedCommit(m)
	case m.State == "closed":
		r.why = "it is closed"
	case m.State == "locked": // being merged right now: the merge will tell
		r.reason, r.permanent, r.why = ErrNotMergeableYet, false, "it is being merged"
	case m.State != "opened":
		r.why = "it is " + m.State
	case m.HasConflicts || status == "conflict" || status == "broken_status":
		r.why = "it conflicts with its target branch"
	case m.Draft || status == "draft_status":
		r.why = "it is a draft"
	case transientStatuses[status]:
		r.reason, r.permanent, r.why = ErrNotMergeableYet, false, "merge status "+status
	case status == "" && apiErr.StatusCode == http.StatusMethodNotAllowed:
		// GitLab refused before trying and gives no status: most likely it had not checked yet.
		r.reason, r.permanent, r.why = ErrNotMergeableYet, false, "GitLab gives no merge status"
	case status == "":
		// 406 or 422: GitLab tried to merge and git could not.
		r.why = "GitLab could not merge it"
	default:
		r.why = "merge status " + status
	}
	return r
}

// mergeRefusal is a merge GitLab refused: the sentinel saying why, a few words for people, and GitLab's
// answer. Permanent reports whether trying the same merge again can succeed; the queue reads it.
type mergeRefusal struct {
	reason    error
	why       string
	permanent bool
	api       *APIError // nil when GitLab answered 200 without merging
}

func (e *mergeRefusal) Error() string {
	var b strings.Builder
	b.WriteString(e.reason.Error())
	if e.why != "" {
		b.WriteString(" (" + e.why + ")")
	}
	if e.api != nil {
		b.WriteString(": " + e.api.Error())
	}
	return b.String()
}

func (e *mergeRefusal) Unwrap() []error {
	if e.api == nil {
		return []error{e.reason}
	}
	return []error{e.reason, e.api}
}

// Permanent reports whether the same merge cannot succeed later.
func (e *mergeRefusal) Permanent() bool { return e.permanent }

// Temporary reports whether trying again later may succeed.
func (e *mergeRefusal) Temporary() bool { return !e.permanent }
