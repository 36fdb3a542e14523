package gitlabfake_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

func TestGraphQLTerraformStateLock(t *testing.T) {
	srv := gitlabfake.New(t, token)
	srv.AddProject("g/infra")
	srv.SetStateLock("g/infra", "prod", "a", "alice")
	srv.SetStateLock("g/infra", "dev", "b", gitlabfake.BotUsername)
	srv.ClearStateLock("g/infra", "dev")
	graphql := srv.URL() + "/api/graphql"
	query := func(q string, vars map[string]any) string {
		b, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
		return string(b)
	}
	const stateQuery = `query lock($fullPath: ID!, $name: String!) {
  project(fullPath: $fullPath) { terraformState(name: $name) { name lockedAt lockedByUser { username } } }
}`
	for _, tc := range []struct {
		name, body string
		header     http.Header
		wantStatus int
		want       string // the answer's JSON, compacted; or, for errors, a part of it
	}{
		{"locked", query(stateQuery, map[string]any{"fullPath": "g/infra", "name": "prod"}), auth(), 200,
			`"lockedByUser":{"username":"alice"}`},
		{"not locked", query(stateQuery, map[string]any{"fullPath": "g/infra", "name": "dev"}), auth(), 200,
			`{"data":{"project":{"terraformState":{"lockedAt":null,"lockedByUser":null,"name":"dev"}}}}`},
		{"no such state", query(stateQuery, map[string]any{"fullPath": "g/infra", "name": "nope"}), auth(), 200,
			`{"data":{"project":{"terraformState":null}}}`},
		{"no such project", query(stateQuery, map[string]any{"fullPath": "g/other", "name": "prod"}), auth(), 200,
			`{"data":{"project":null}}`},
		{"literal arguments, an alias", query(`{ p: project(fullPath: "g/infra") { s: terraformState(name: "prod") { lockedByUser { username } } } }`, nil), auth(), 200,
			`{"data":{"p":{"s":{"lockedByUser":{"username":"alice"}}}}}`},
		{"the token's user", query(`{ currentUser { username } }`, nil), auth(), 200,
			`{"data":{"currentUser":{"username":"` + gitlabfake.BotUsername + `"}}}`},
		{"a field it does not know", query(`{ project(fullPath: "g/infra") { pipelines { count } } }`, nil), auth(), 200,
			`Field 'pipelines' doesn't exist on type 'Project'`},
		{"a variable not given", query(stateQuery, map[string]any{"fullPath": "g/infra"}), auth(), 200, `"errors"`},
		{"a mutation", query(`mutation { terraformStateUnlock(input: {id: "x"}) { errors } }`, nil), auth(), 200, `"errors"`},
		{"no token", query(`{ currentUser { username } }`, nil), nil, 401, ""},
	} {
		got := do(t, "POST", graphql, withJSON(tc.header), tc.body)
		if got.status != tc.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, got.status, tc.wantStatus, got.body)
		}
		body := strings.TrimSpace(got.body)
		if strings.HasPrefix(tc.want, "{") {
			if d := cmp.Diff(tc.want, body); d != "" {
				t.Errorf("%s: answer (-want +got):\n%s", tc.name, d)
			}
		} else if !strings.Contains(body, tc.want) {
			t.Errorf("%s: answer %s, want it to hold %s", tc.name, body, tc.want)
		}
	}
}

func withJSON(h http.Header) http.Header {
	out := http.Header{"Content-Type": []string{"application/json"}}
	for k, v := range h {
		out[k] = v
	}
	return out
}
