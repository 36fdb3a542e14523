package gitops

import (
	"cmp"
	"time"
)

// MergeRequest is a merge request as the agent knows it. It is the one type every part uses: GitLab's
// adapter fills it, the pipeline reads it, and policies see the IID, Author, Labels and ApprovedBy.
type MergeRequest struct {
	IID       int
	ProjectID int // the target project
	// SourceProjectID is the project the changes come from: another project (a fork) than ProjectID when
	// the merge request comes from a fork; 0 when unknown.
	SourceProjectID int
	State           string // opened, merged, closed or locked
	HeadSHA         string
	TargetBranch    string
	// MergeCommitSHA and SquashCommitSHA are set once merged, each when GitLab made such a commit.
	MergeCommitSHA, SquashCommitSHA string
	Title                           string
	Author                          string // username
	AuthorID                        int
	Labels                          []string
	ApprovedBy                      []string // usernames; empty when not read
	WebURL                          string
	UpdatedAt                       time.Time
	MergedAt                        *time.Time // set once merged
	// MergedBy is the username of who merged it (or set it to merge when its pipeline succeeds), else
	// its author; "" while it is not merged.
	MergedBy string
}

// Merge request states the agent acts on.
const (
	MergeRequestOpened = "opened"
	MergeRequestMerged = "merged"
)

// FromFork reports whether the merge request comes from another project than its target (a fork): its
// code is not planned until a Maintainer asks.
func (mr MergeRequest) FromFork() bool {
	return mr.SourceProjectID != 0 && mr.ProjectID != 0 && mr.SourceProjectID != mr.ProjectID
}

// MergedCommit is the commit a merge put on the target branch: the merge commit, else the squash commit,
// else (a fast-forward merge) the head commit. It is "" for a merge request that is not merged.
func (mr MergeRequest) MergedCommit() string {
	if mr.State != MergeRequestMerged {
		return ""
	}
	return MergedCommit(mr.MergeCommitSHA, mr.SquashCommitSHA, mr.HeadSHA)
}

// MergedCommit is the rule GitLab's merge methods follow: a merge commit when one was made, else the
// squash commit, else the head commit (fast-forward). It is the one place the rule lives.
func MergedCommit(mergeCommit, squashCommit, head string) string {
	return cmp.Or(mergeCommit, squashCommit, head)
}
