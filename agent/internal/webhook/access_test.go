package webhook_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/queue"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/webhook"
)

// TestProjectSecretsAndAllowlist: a project with a secret of its own is authenticated by it alone, other
// projects by the agent's secret, and projects outside GITOPS_PROJECTS are ignored and counted.
func TestProjectSecretsAndAllowlist(t *testing.T) {
	mr := payload(t, "merge_request.json") // project gitlabhq/gitlab-test, id 1
	other := bytes.Replace(mr, []byte(`"gitlabhq/gitlab-test"`), []byte(`"team/other"`), -1)
	const own = "own-secret-of-gitlab-test"
	tests := []struct {
		name       string
		allowed    []string
		d          delivery
		wantCode   int
		wantStatus string
		wantQueued int
	}{
		{"own secret", nil, delivery{own, "Merge Request Hook", mr}, 202, "queued", 1},
		{"agent secret refused for a project with its own", nil, delivery{secret, "Merge Request Hook", mr}, 401, "unauthorized", 0},
		{"agent secret for another project", nil, delivery{secret, "Merge Request Hook", other}, 202, "queued", 1},
		{"own secret of another project", nil, delivery{own, "Merge Request Hook", other}, 401, "unauthorized", 0},
		{"wrong token", nil, delivery{"nope", "Merge Request Hook", other}, 401, "unauthorized", 0},
		{"allowed by path", []string{"gitlabhq/gitlab-test"}, delivery{own, "Merge Request Hook", mr}, 202, "queued", 1},
		{"allowed by id", []string{"1"}, delivery{own, "Merge Request Hook", mr}, 202, "queued", 1},
		{"not allowed", []string{"gitlabhq/gitlab-test"}, delivery{secret, "Merge Request Hook", other}, 202, "ignored", 0},
		{"not allowed, wrong token", []string{"gitlabhq/gitlab-test"}, delivery{"nope", "Merge Request Hook", other}, 401, "unauthorized", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := queue.Open(context.Background(), queue.Options{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = q.Stop(context.Background()) })
			var logs bytes.Buffer
			log := zerolog.New(&logs)
			c := &counts{m: map[string]int{}}
			h := webhook.New(webhook.Options{
				Secret: secret, ProjectSecrets: map[string]string{"gitlabhq/gitlab-test": own},
				Projects: tt.allowed, Queue: q, Logger: &log, Promote: true, Observe: c.observe,
			})
			code, body := send(h, tt.d)
			if code != tt.wantCode || body["status"] != tt.wantStatus {
				t.Errorf("answer = %d %v, want %d status %q", code, body, tt.wantCode, tt.wantStatus)
			}
			if got := depth(t, q); got != tt.wantQueued {
				t.Errorf("queued jobs = %d, want %d", got, tt.wantQueued)
			}
			if tt.name == "not allowed" && c.m["Merge Request Hook/not_allowed"] != 1 {
				t.Errorf("a delivery of a project not served is not counted: %v", c.m)
			}
			if strings.Contains(logs.String(), own) || strings.Contains(logs.String(), secret) {
				t.Errorf("a secret appears in the logs:\n%s", logs.String())
			}
		})
	}
}
