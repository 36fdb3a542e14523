package statuspage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/terraform"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// TestTerraformOutputReachesSubscribersMasked runs a real terraform plan whose output prints the run's
// credential and the agent's secret, teed to the Hub as the wiring does: a subscriber gets the plan's
// lines as they come, and neither value, in any line.
func TestTerraformOutputReachesSubscribersMasked(t *testing.T) {
	t.Parallel()
	const credential = "ASIARUNCREDENTIAL0123456789"
	dir := t.TempDir()
	files := map[string]string{
		"main.tf": `variable "token" {
  type = string
}
resource "terraform_data" "probe" {
  input = "credential ${var.token}"
}
`,
		"x.tfvars": `token = "` + credential + ` and ` + agentSecret + `"` + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := terraform.NewRunner(terraform.Options{Binary: testsvc.Terraform(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hub := &Hub{Mask: maskAgent}
	stepCtx, endStep := context.WithCancel(context.Background())
	out := hub.Start(stepCtx, RunInfo{Project: "p", Stack: "probe", Stage: "dev", Kind: "plan"})
	_, lines, _, cancel, ok := hub.Subscribe(hub.Runs()[0].ID, 0)
	if !ok {
		t.Fatal("no run to subscribe to")
	}
	defer cancel()
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l := range lines {
			got = append(got, l.Text)
		}
	}()

	ws, err := r.Open(stepCtx, terraform.Request{Dir: dir, VarFiles: []string{"x.tfvars"},
		Env: map[string]string{"AWS_SESSION_TOKEN": credential}, Output: out})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := ws.Plan(stepCtx, filepath.Join(t.TempDir(), "p.tfplan")); err != nil {
		t.Fatalf("Plan: %v", err)
	}
	_ = ws.Close()
	endStep()
	<-done

	text := strings.Join(got, "\n")
	if !strings.Contains(text, `"credential [masked] and [masked]"`) || !strings.Contains(text, "Plan: 1 to add") {
		t.Errorf("the subscriber did not get the masked plan:\n%s", text)
	}
	for _, secret := range []string{credential, agentSecret, "glpat-"} {
		if strings.Contains(text, secret) {
			t.Errorf("a line shows %q:\n%s", secret, text)
		}
	}
}
