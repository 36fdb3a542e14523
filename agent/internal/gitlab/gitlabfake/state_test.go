package gitlabfake_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

func TestTerraformStateAsGitLabKeepsIt(t *testing.T) {
	srv := gitlabfake.New(t, token)
	id := srv.AddProject("g/infra")
	state := srv.URL() + "/api/v4/projects/" + strconv.Itoa(id) + "/terraform/state/prod"
	basic := http.Header{"Authorization": []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:"+token))}}
	wrong := http.Header{"Authorization": []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:nope"))}}
	lockBody := func(id string) string {
		return `{"ID":"` + id + `","Operation":"OperationTypeApply","Info":"","Who":"run@host","Version":"1.11.4","Created":"2026-12-06T06:00:00Z","Path":""}`
	}
	steps := []struct {
		name, method, url, body string
		header                  http.Header
		wantStatus              int
		wantWho                 string // of the lock information answered, when set
	}{
		{"wrong password", "GET", state, "", wrong, 401, ""},
		{"no state yet", "GET", state, "", basic, 404, ""},
		{"lock", "POST", state + "/lock", lockBody("a"), basic, 200, gitlabfake.BotUsername},
		{"a state with no version yet", "GET", state, "", basic, 204, ""},
		{"locked already: GitLab's lock information", "POST", state + "/lock", lockBody("b"), basic, 409, gitlabfake.BotUsername},
		{"write without the lock's ID", "POST", state, `{"serial":1}`, basic, 409, ""},
		{"write with it", "POST", state + "?ID=a", `{"serial":1}`, basic, 200, ""},
		{"unlock with another ID", "DELETE", state + "/lock", lockBody("b"), basic, 409, ""},
		{"unlock with the ID", "DELETE", state + "/lock", lockBody("a"), basic, 200, ""},
		{"read it back", "GET", state, "", auth(), 200, ""},
	}
	for _, s := range steps {
		got := do(t, s.method, s.url, s.header, s.body)
		if got.status != s.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", s.name, got.status, s.wantStatus, got.body)
		}
		if s.wantWho != "" {
			var info struct{ ID, Who string }
			if err := json.Unmarshal([]byte(got.body), &info); err != nil || info.Who != s.wantWho || info.ID != "a" {
				t.Errorf("%s: lock information %s, want the held lock a taken by %s", s.name, got.body, s.wantWho)
			}
		}
	}
	if n := srv.StateSerial("g/infra", "prod"); n != 1 {
		t.Errorf("StateSerial = %d, want 1", n)
	}
	// force-unlock sends no ID: any lock goes.
	srv.SetStateLock("g/infra", "prod", "c", "alice")
	if l, ok := srv.StateLockOf("g/infra", "prod"); !ok || l.Who != "alice" {
		t.Fatalf("StateLockOf = %+v, %v; want alice's lock", l, ok)
	}
	if got := do(t, "DELETE", state+"/lock", basic, ""); got.status != 200 {
		t.Fatalf("force unlock: %d %s", got.status, got.body)
	}
	if _, ok := srv.StateLockOf("g/infra", "prod"); ok {
		t.Error("the state is still locked after a force unlock")
	}
	if got := do(t, "GET", srv.URL()+"/api/v4/projects/404/terraform/state/prod", basic, ""); got.status != 404 {
		t.Errorf("state of a missing project: %d", got.status)
	}
}
