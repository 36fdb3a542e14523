package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// Request is what one delivery asks the agent to do: at most one of Plan, Promote and Command is set; with
// none, the delivery is ignored and Ignored says why.
type Request struct {
	Plan    *gitops.PlanRequest
	Promote *gitops.PromoteRequest
	Command *gitops.CommandRequest
	Ignored string
}

// InputError is a delivery that cannot be understood: it answers 400.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

var shaRE = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// Parse reads one GitLab delivery of the given X-Gitlab-Event type. Events the agent does not act on come
// back as an ignored Request, not as an error; an error is always an *InputError.
func Parse(eventType string, body []byte) (Request, error) {
	if eventType == "" {
		return Request{}, &InputError{"missing X-Gitlab-Event header"}
	}
	if !json.Valid(body) {
		return Request{}, &InputError{"body is not valid JSON"}
	}
	switch gitlab.EventType(eventType) {
	case gitlab.EventTypeMergeRequest:
		return parseMergeRequest(body)
	case gitlab.EventTypeNote, gitlab.EventConfidentialNote:
		return parseNote(body)
	default:
		return Request{Ignored: "event " + strconv.Quote(eventType) + " is not acted on"}, nil
	}
}

func parseMergeRequest(body []byte) (Request, error) {
	ev, err := decode[gitlab.MergeEvent](gitlab.EventTypeMergeRequest, body)
	if err != nil {
		return Request{}, err
	}
	// client-go's MergeEvent does not carry squash_commit_sha; read it beside.
	var extra struct {
		ObjectAttributes struct {
			SquashCommitSHA string `json:"squash_commit_sha"`
		} `json:"object_attributes"`
	}
	_ = json.Unmarshal(body, &extra) // the body is valid JSON; a wrong type only leaves the field empty
	a := ev.ObjectAttributes
	project, err := projectOf(ev.Project.PathWithNamespace, ev.Project.ID)
	if err != nil {
		return Request{}, err
	}
	if a.IID <= 0 {
		return Request{}, &InputError{"merge request event without object_attributes.iid"}
	}
	switch {
	case a.Action == "open" || a.Action == "reopen" || (a.Action == "update" && a.OldRev != ""):
		sha, err := commit("object_attributes.last_commit.id", a.LastCommit.ID)
		if err != nil {
			return Request{}, err
		}
		return Request{Plan: &gitops.PlanRequest{
			Project: project, ProjectID: int(ev.Project.ID), MR: int(a.IID), HeadSHA: sha, Trigger: "webhook",
		}}, nil
	case a.Action == "merge":
		for _, c := range []struct{ field, v string }{
			{"object_attributes.merge_commit_sha", a.MergeCommitSHA},
			{"object_attributes.squash_commit_sha", extra.ObjectAttributes.SquashCommitSHA},
			{"object_attributes.last_commit.id", a.LastCommit.ID},
		} {
			if c.v != "" {
				if _, err := commit(c.field, c.v); err != nil {
					return Request{}, err
				}
			}
		}
		sha := gitops.MergedCommit(a.MergeCommitSHA, extra.ObjectAttributes.SquashCommitSHA, a.LastCommit.ID)
		if sha == "" {
			return Request{}, &InputError{"merge event names no commit (merge_commit_sha, squash_commit_sha, last_commit.id)"}
		}
		return Request{Promote: &gitops.PromoteRequest{
			Project: project, ProjectID: int(ev.Project.ID), MR: int(a.IID), Commit: sha, Trigger: "webhook",
		}}, nil
	case a.Action == "update":
		return Request{Ignored: "merge request update without new commits"}, nil
	default:
		return Request{Ignored: "merge request action " + strconv.Quote(a.Action) + " is not acted on"}, nil
	}
}

// parseNote reads a comment on a merge request whose first line is a command ("/gitops ..."), whatever the
// merge request's state: the command job checks who asked and what state the merge request is in.
func parseNote(body []byte) (Request, error) {
	var kind struct {
		ObjectAttributes struct {
			NoteableType string `json:"noteable_type"`
		} `json:"object_attributes"`
	}
	if err := json.Unmarshal(body, &kind); err != nil {
		return Request{}, &InputError{"note event: " + jsonProblem(err)}
	}
	if kind.ObjectAttributes.NoteableType != "MergeRequest" {
		return Request{Ignored: "note is not on a merge request"}, nil
	}
	ev, err := decode[gitlab.MergeCommentEvent](gitlab.EventTypeNote, body)
	if err != nil {
		return Request{}, err
	}
	a := ev.ObjectAttributes
	cmd, ok := parseCommand(a.Note)
	switch {
	case !ok:
		return Request{Ignored: "note is not a " + CommandPrefix + " command"}, nil
	case a.System:
		return Request{Ignored: "system note"}, nil
	case a.Action != "" && a.Action != gitlab.CommentEventActionCreate:
		return Request{Ignored: "note " + strconv.Quote(string(a.Action)) + ": commands run when posted"}, nil
	}
	project, err := projectOf(ev.Project.PathWithNamespace, ev.Project.ID)
	if err != nil {
		return Request{}, err
	}
	req := gitops.CommandRequest{
		Project: project, ProjectID: int(ev.Project.ID), MR: int(ev.MergeRequest.IID), NoteID: int(a.ID),
		Command: cmd.Word, Args: cmd.Args, Problem: cmd.Problem, MRState: ev.MergeRequest.State,
	}
	if err := noteAuthor(ev, &req); err != nil {
		return Request{}, err
	}
	switch {
	case req.MR <= 0:
		return Request{}, &InputError{"note event without merge_request.iid"}
	case req.NoteID <= 0:
		return Request{}, &InputError{"note event without object_attributes.id"}
	case len(req.MRState) > 32:
		return Request{}, &InputError{"merge_request.state is not a state"}
	}
	if sha := ev.MergeRequest.LastCommit.ID; sha != "" {
		if req.HeadSHA, err = commit("merge_request.last_commit.id", sha); err != nil {
			return Request{}, err
		}
	}
	return Request{Command: &req}, nil
}

// noteAuthor sets who wrote the comment: the event's user, who must be the note's author.
func noteAuthor(ev *gitlab.MergeCommentEvent, req *gitops.CommandRequest) error {
	if ev.User == nil || !usernameRE.MatchString(ev.User.Username) {
		return &InputError{"note event without a valid user.username"}
	}
	id := ev.ObjectAttributes.AuthorID
	if id <= 0 {
		id = ev.User.ID
	}
	if id <= 0 || (ev.User.ID > 0 && ev.User.ID != id) {
		return &InputError{"note event without a consistent object_attributes.author_id and user.id"}
	}
	req.Author, req.AuthorID = ev.User.Username, int(id)
	return nil
}

func decode[T any](eventType gitlab.EventType, body []byte) (*T, error) {
	ev, err := gitlab.ParseWebhook(eventType, body)
	if err != nil {
		return nil, &InputError{string(eventType) + ": " + jsonProblem(err)}
	}
	typed, ok := ev.(*T)
	if !ok {
		return nil, &InputError{fmt.Sprintf("%s: unexpected payload kind %T", eventType, ev)}
	}
	return typed, nil
}

func projectOf(path string, id int64) (string, error) {
	if path == "" {
		return "", &InputError{"event without project.path_with_namespace"}
	}
	if len(path) > 512 || strings.ContainsAny(path, "\x00\r\n") {
		return "", &InputError{"project.path_with_namespace is not a project path"}
	}
	if id < 0 {
		return "", &InputError{"project.id is negative"}
	}
	return path, nil
}

func commit(field, sha string) (string, error) {
	if !shaRE.MatchString(sha) {
		return "", &InputError{field + " is not a commit SHA"}
	}
	return sha, nil
}

// jsonProblem describes a decoding error without echoing the payload.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %q has the wrong type (%s, want %s)", typeErr.Field, typeErr.Value, typeErr.Type)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	}
	return "cannot decode the payload"
}
