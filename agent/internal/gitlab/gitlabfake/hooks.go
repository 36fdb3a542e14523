package gitlabfake

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Hook is one webhook delivery GitLab would make: the X-Gitlab-Event header, the delivery's
// X-Gitlab-Event-UUID and the JSON body. Payload shapes follow GitLab's documented events (and the
// fixtures client-go tests its parser with).
type Hook struct {
	Event string // "Merge Request Hook" or "Note Hook"
	UUID  string
	Body  []byte
}

// Request builds the POST GitLab sends to url, with the webhook's secret token in X-Gitlab-Token.
func (h Hook) Request(url, secret string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(h.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitLab/17.11.0")
	req.Header.Set("X-Gitlab-Event", h.Event)
	req.Header.Set("X-Gitlab-Event-UUID", h.UUID)
	req.Header.Set("X-Gitlab-Webhook-UUID", h.UUID)
	req.Header.Set("X-Gitlab-Instance", "https://gitlab.example.com")
	if secret != "" {
		req.Header.Set("X-Gitlab-Token", secret)
	}
	return req, nil
}

// hookTime is the "2006-01-02 15:04:05 UTC" form GitLab uses for timestamps inside hook payloads.
func hookTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

var stateIDs = map[string]int{"opened": 1, "closed": 2, "merged": 3, "locked": 4}

// hookProject is the project object of hook payloads. Callers hold s.mu.
func (s *Server) hookProject(p *project) map[string]any {
	web := s.srv.URL + "/" + p.Path
	return map[string]any{
		"id":                  p.ID,
		"name":                p.name(),
		"description":         "",
		"web_url":             web,
		"avatar_url":          nil,
		"git_ssh_url":         "git@example.com:" + p.Path + ".git",
		"git_http_url":        web + ".git",
		"namespace":           p.namespace(),
		"visibility_level":    0,
		"path_with_namespace": p.Path,
		"default_branch":      p.DefaultBranch,
		"ci_config_path":      "",
		"homepage":            web,
		"url":                 "git@example.com:" + p.Path + ".git",
		"ssh_url":             "git@example.com:" + p.Path + ".git",
		"http_url":            web + ".git",
	}
}

func hookUser(u *user) map[string]any {
	return map[string]any{
		"id":         u.ID,
		"name":       u.Name,
		"username":   u.Username,
		"avatar_url": "",
		"email":      "[REDACTED]",
	}
}

// hookLabels renders label titles as the label objects hooks carry. Callers hold s.mu.
func (s *Server) hookLabels(p *project, titles []string) []map[string]any {
	out := make([]map[string]any, 0, len(titles))
	for i, t := range titles {
		out = append(out, map[string]any{
			"id":          p.ID*1000 + i,
			"title":       t,
			"color":       "#6699cc",
			"project_id":  p.ID,
			"created_at":  hookTime(p.CreatedAt),
			"updated_at":  hookTime(p.CreatedAt),
			"template":    false,
			"description": nil,
			"type":        "ProjectLabel",
			"group_id":    nil,
		})
	}
	return out
}

// hookMR is the merge request object of hook payloads (object_attributes of a Merge Request Hook,
// merge_request of a Note Hook). Callers hold s.mu.
func (s *Server) hookMR(p *project, m *mergeRequest) map[string]any {
	web := s.srv.URL + "/" + p.Path
	c := p.commits[m.HeadSHA]
	return map[string]any{
		"id":                            m.ID,
		"iid":                           m.IID,
		"target_branch":                 m.TargetBranch,
		"source_branch":                 m.SourceBranch,
		"source_project_id":             m.Source.ID,
		"author_id":                     m.Author.ID,
		"assignee_ids":                  []int{},
		"assignee_id":                   nil,
		"reviewer_ids":                  []int{},
		"title":                         m.Title,
		"created_at":                    hookTime(m.CreatedAt),
		"updated_at":                    hookTime(m.UpdatedAt),
		"milestone_id":                  nil,
		"state_id":                      stateIDs[m.State],
		"state":                         m.State,
		"blocking_discussions_resolved": true,
		"work_in_progress":              false,
		"draft":                         false,
		"first_contribution":            false,
		"merge_status":                  "can_be_merged",
		"detailed_merge_status":         "mergeable",
		"target_project_id":             p.ID,
		"description":                   "",
		"merge_commit_sha":              nullable(m.MergeCommitSHA),
		"url":                           web + "/-/merge_requests/" + strconv.Itoa(m.IID),
		"source":                        s.hookProject(m.Source),
		"target":                        s.hookProject(p),
		"last_commit": map[string]any{
			"id":        m.HeadSHA,
			"message":   m.Title + "\n",
			"title":     m.Title,
			"timestamp": c.CreatedAt.Format(time.RFC3339),
			"url":       web + "/-/commit/" + m.HeadSHA,
			"author":    map[string]string{"name": m.Author.Name, "email": m.Author.Email},
		},
		"labels":                 s.hookLabels(p, m.Labels),
		"total_time_spent":       0,
		"time_change":            0,
		"human_total_time_spent": nil,
		"human_time_change":      nil,
		"human_time_estimate":    nil,
	}
}

// mergeHookLocked builds a "Merge Request Hook" for action by actor; oldrev is set only for an update
// that pushed commits. Callers hold s.mu.
func (s *Server) mergeHookLocked(p *project, m *mergeRequest, action, oldrev string, actor *user) Hook {
	attrs := s.hookMR(p, m)
	attrs["action"] = action
	if oldrev != "" {
		attrs["oldrev"] = oldrev
	}
	changes := map[string]any{
		"updated_at": map[string]string{"previous": hookTime(m.CreatedAt), "current": hookTime(m.UpdatedAt)},
	}
	if action == "merge" || action == "close" {
		changes["state_id"] = map[string]int{"previous": stateIDs["opened"], "current": stateIDs[m.State]}
	}
	body := map[string]any{
		"object_kind":       "merge_request",
		"event_type":        "merge_request",
		"user":              hookUser(actor),
		"project":           s.hookProject(p),
		"repository":        s.hookRepository(p),
		"object_attributes": attrs,
		"labels":            s.hookLabels(p, m.Labels),
		"changes":           changes,
		"assignees":         []any{},
		"reviewers":         []any{},
	}
	return s.hook("Merge Request Hook", body)
}

// noteHookLocked builds the "Note Hook" for a comment on an MR. Callers hold s.mu.
func (s *Server) noteHookLocked(p *project, m *mergeRequest, n *note) Hook {
	web := s.srv.URL + "/" + p.Path
	body := map[string]any{
		"object_kind": "note",
		"event_type":  "note",
		"user":        hookUser(n.author),
		"project_id":  p.ID,
		"project":     s.hookProject(p),
		"repository":  s.hookRepository(p),
		"object_attributes": map[string]any{
			"id":            n.ID,
			"note":          n.Body,
			"noteable_type": "MergeRequest",
			"author_id":     n.author.ID,
			"created_at":    hookTime(n.CreatedAt),
			"updated_at":    hookTime(n.UpdatedAt),
			"project_id":    p.ID,
			"attachment":    nil,
			"line_code":     nil,
			"commit_id":     "",
			"noteable_id":   m.ID,
			"system":        false,
			"st_diff":       nil,
			"action":        "create",
			"internal":      false,
			"url":           web + "/-/merge_requests/" + strconv.Itoa(m.IID) + "#note_" + strconv.Itoa(n.ID),
		},
		"merge_request": s.hookMR(p, m),
	}
	return s.hook("Note Hook", body)
}

// hookRepository is the legacy repository object of hook payloads. Callers hold s.mu.
func (s *Server) hookRepository(p *project) map[string]any {
	web := s.srv.URL + "/" + p.Path
	return map[string]any{
		"name":        p.name(),
		"url":         "git@example.com:" + p.Path + ".git",
		"description": "",
		"homepage":    web,
	}
}

func (s *Server) hook(event string, body map[string]any) Hook {
	s.tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		s.fatalf("encode %s: %v", event, err)
	}
	return Hook{Event: event, UUID: newUUID(), Body: b}
}
