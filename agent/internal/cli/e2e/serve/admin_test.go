package serve_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

// TestAdminRoutesOnlyOnTheAdminListener: what GitLab reaches (the webhook listener) serves the webhook and
// the health checks only; metrics and the API answer on the admin listener.
func TestAdminRoutesOnlyOnTheAdminListener(t *testing.T) {
	t.Parallel()
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir())
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/metrics", "/api/v1/deployments?project=" + clitest.Project} {
		if code, _ := get(a.URL + path); code != http.StatusNotFound {
			t.Errorf("webhook listener: GET %s = %d, want 404", path, code)
		}
		if code, body := get(a.AdminURL + path); code != http.StatusOK || body == "" {
			t.Errorf("admin listener: GET %s = %d, want 200 with a body", path, code)
		}
	}
	if code, body := get(a.URL + "/healthz"); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("webhook listener: GET /healthz = %d %q", code, body)
	}
}
