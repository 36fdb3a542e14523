package serve_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
)

// TestRepoPolicyCannotSwitchOffServerPolicy: a server policy denies prod plans unless data.main.reviewed
// holds; a repository whose policies add `reviewed if true` to the server's package is refused, so its
// plans stay blocked, while a repository that leaves the server's package alone gets the server's denial.
func TestRepoPolicyCannotSwitchOffServerPolicy(t *testing.T) {
	t.Parallel()
	server := t.TempDir()
	rego := "package main\n\n" +
		"deny_unreviewed contains {\"id\": \"SRV_001\", \"msg\": \"prod changes need a review\"} if {\n" +
		"\tdata.gitops.stage == \"prod\"\n\tnot reviewed\n}\n\nreviewed if false\n"
	if err := os.WriteFile(filepath.Join(server, "server.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	gl := gitlabfake.New(t, clitest.Token)
	a := clitest.Start(t, gl, clitest.Backend{Name: "sqlite"}, t.TempDir(), "GITOPS_POLICY_DIR", server)
	cases := []struct {
		project, sha, tree string
		want               []string
	}{
		{"group/evil", sha1, clitest.WithFile(t, "policies/evil.rego", "package main\n\nreviewed if true\n"),
			[]string{"policies/evil.rego:1: package main is a server policy package", "could not be evaluated"}},
		{"group/clean", sha2, clitest.Quickstart(t), []string{"SRV_001", "prod changes need a review"}},
	}
	for _, tc := range cases {
		gl.AddProject(tc.project)
		if err := gl.CommitDir(tc.project, tc.sha, tc.tree); err != nil {
			t.Fatal(err)
		}
		_, opened := gl.OpenMR(tc.project, gitlabfake.MR{HeadSHA: tc.sha, Changes: gitlabfake.Modified("stacks/base/main.tf")})
		a.DeliverOK(opened, "queued")
	}
	for _, tc := range cases {
		if st := clitest.WaitStatusOf(t, gl, tc.project, tc.sha, a); st.State != "failed" {
			t.Errorf("%s: gitops/plan = %s (%s), want failed", tc.project, st.State, st.Description)
		}
		note := ""
		for _, n := range gl.Notes(tc.project, 1) {
			if strings.HasPrefix(n.Body, "<!-- gitops-agent:plan -->") {
				note = n.Body
			}
		}
		clitest.MustContain(t, tc.project+"'s plan note", note, tc.want...)
	}
}
