package clitest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
)

// Deployments reads GET /api/v1/deployments of Project from the agent's admin listener at adminURL.
func Deployments(t testing.TB, adminURL string) ledger.Deployments {
	t.Helper()
	resp, err := http.Get(adminURL + "/api/v1/deployments?limit=500&project=" + url.QueryEscape(Project))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/deployments answered %d", resp.StatusCode)
	}
	var d ledger.Deployments
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("decode deployments: %v", err)
	}
	return d
}

// LiveCommits returns the live commit per "stack/stage".
func LiveCommits(d ledger.Deployments) map[string]string {
	out := map[string]string{}
	for _, l := range d.Live {
		out[l.Stack+"/"+l.Stage] = l.Commit
	}
	return out
}

// RunsOf returns, oldest first, the state of each run of commit per "stack/stage".
func RunsOf(d ledger.Deployments, commit string) map[string][]string {
	out := map[string][]string{}
	for i := len(d.History) - 1; i >= 0; i-- {
		r := d.History[i]
		if r.Commit == commit {
			out[r.Stack+"/"+r.Stage] = append(out[r.Stack+"/"+r.Stage], string(r.State))
		}
	}
	return out
}
