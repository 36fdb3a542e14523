package gitops

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// StatusState is the state of a commit status, in GitLab's words.
type StatusState string

// Commit status states.
const (
	StatusPending  StatusState = "pending"
	StatusRunning  StatusState = "running"
	StatusSuccess  StatusState = "success"
	StatusFailed   StatusState = "failed"
	StatusCanceled StatusState = "canceled"
)

// Status is a commit status: Name tells the statuses of one commit apart; Description is cut to
// MaxStatusDescription characters when sent; TargetURL, when set, is where the status links to.
type Status struct {
	Name        string
	State       StatusState
	Description string
	TargetURL   string
}

// Status names.
const (
	// PlanStatusName is the status the plan job sets on a merge request's head commit.
	PlanStatusName = "gitops/plan"
	// ApplyStatusPrefix names the status of one stage's promotion on the merged commit: "gitops/apply: prod".
	ApplyStatusPrefix = "gitops/apply: "
)

// Descriptions of a canceled status that is not an end: the job runs again and sets running.
const (
	// WillRetry begins the description of the plan status of an attempt that failed transiently.
	WillRetry = "will retry: "
	// Resumes ends the description of an apply status whose promotion was interrupted.
	Resumes = "; the promotion resumes"
)

// Retrying reports whether s is a canceled status that announces its job runs again.
func (s Status) Retrying() bool {
	return s.State == StatusCanceled && (strings.HasPrefix(s.Description, WillRetry) || strings.HasSuffix(s.Description, Resumes))
}

// MaxStatusDescription is the longest commit status description GitLab keeps, in characters.
const MaxStatusDescription = 255

// clipRunes shortens s to at most n characters, marking the cut with "…".
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// plural is "1 stack" or "3 stacks".
func plural(n int, one, other string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, other)
}
