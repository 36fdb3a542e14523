package webhook

import (
	"crypto/subtle"
	"encoding/json"
	"slices"
	"strconv"
)

// access decides which deliveries are authentic and which projects are served.
type access struct {
	secret   []byte            // the agent's webhook secret
	projects map[string][]byte // per-project secrets, by path_with_namespace
	allowed  []string          // projects served (paths or numeric ids); empty serves every project
}

// sender is the project a delivery names.
type sender struct {
	path string
	id   int64
}

// senderOf reads the project a delivery names; zero when it names none. It reads nothing else.
func senderOf(body []byte) sender {
	var ev struct {
		Project struct {
			ID   int64  `json:"id"`
			Path string `json:"path_with_namespace"`
		} `json:"project"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return sender{}
	}
	return sender{path: ev.Project.Path, id: ev.Project.ID}
}

// needsBody reports whether authenticating token needs the delivery's project: it is not the agent's
// secret, but some project has a secret of its own.
func (a access) needsBody(token string) bool {
	return !equal(token, a.secret) && len(a.projects) > 0
}

// authentic reports whether token authenticates a delivery for project s: a project with a secret of its
// own accepts only that secret; any other project, the agent's secret.
func (a access) authentic(token string, s sender) bool {
	if own, ok := a.projects[s.path]; ok {
		return equal(token, own)
	}
	return equal(token, a.secret)
}

// serves reports whether the agent serves project s: every project when no allowlist is set.
func (a access) serves(s sender) bool {
	if len(a.allowed) == 0 {
		return true
	}
	return slices.Contains(a.allowed, s.path) || (s.id > 0 && slices.Contains(a.allowed, strconv.FormatInt(s.id, 10)))
}

func equal(token string, secret []byte) bool {
	return subtle.ConstantTimeCompare([]byte(token), secret) == 1
}
