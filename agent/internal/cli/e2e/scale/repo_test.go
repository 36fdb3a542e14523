package scale_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
)

// The synthetic repository of the scale figure: stacks × stages small but real Terraform stacks (built-in
// terraform_data resources only, so no provider is downloaded; the default local backend; one var file per
// stage), chained by depends_on in groups of five, and one Rego policy that warns on every prod plan.
const (
	stackCount = 50
	chainLen   = 5 // s00 ← s01 ← … ← s04, s05 ← … : every fifth stack starts a new chain
)

var stages = []string{"dev", "staging", "prod"}

// replicas is how many service resources a stack plans per stage: with the config and the index, a plan
// adds 4, 5 or 6 resources.
var replicas = map[string]int{"dev": 2, "staging": 3, "prod": 4}

func stackName(i int) string { return fmt.Sprintf("s%02d", i) }

// scaleRepo writes the synthetic repository into a fresh dir and returns it, with the repo-relative paths
// an MR that touches every stack changes.
func scaleRepo(tb testing.TB) (dir string, changed []string) {
	tb.Helper()
	dir = tb.TempDir()
	files := map[string]string{".gitops.yaml": gitopsYAML(), "policies/scale.rego": policy}
	for i := range stackCount {
		name := stackName(i)
		files["stacks/"+name+"/main.tf"] = stackHCL(name)
		for _, st := range stages {
			files["stacks/"+name+"/stages/"+st+".tfvars"] = tfvars(name, st)
		}
		changed = append(changed, "stacks/"+name+"/main.tf")
	}
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir, changed
}

func gitopsYAML() string {
	var b strings.Builder
	b.WriteString("version: 1\nstages:\n")
	for _, st := range stages {
		fmt.Fprintf(&b, "  - name: %s\n", st)
	}
	b.WriteString("policies: [policies/]\nstacks:\n")
	for i := range stackCount {
		name := stackName(i)
		fmt.Fprintf(&b, "  - name: %s\n    dir: stacks/%s\n    var_files: [\"stages/{stage}.tfvars\"]\n", name, name)
		if i%chainLen != 0 {
			fmt.Fprintf(&b, "    depends_on: [%s]\n", stackName(i-1))
		}
	}
	return b.String()
}

func stackHCL(name string) string {
	return fmt.Sprintf(`# Stack %[1]s of the scale benchmark: a service record per replica and its shared config.
terraform {
  backend "local" {}
}

variable "stage" {
  type = string
}

variable "replicas" {
  type = number
}

variable "tags" {
  type = map(string)
}

resource "terraform_data" "config" {
  input = {
    stack       = %[1]q
    stage       = var.stage
    tags        = var.tags
    description = "Shared settings of stack %[1]s in ${var.stage}: every service record below reads them at start-up."
  }
}

resource "terraform_data" "service" {
  count = var.replicas
  input = {
    name     = "%[1]s-${var.stage}-${count.index}"
    config   = terraform_data.config.id
    port     = 8000 + count.index
    tags     = var.tags
    endpoint = "https://%[1]s-${count.index}.${var.stage}.example.internal/health"
  }
}

resource "terraform_data" "index" {
  input = [for s in terraform_data.service : s.id]
}

output "services" {
  value = [for s in terraform_data.service : s.input.name]
}
`, name)
}

func tfvars(name, stage string) string {
	return fmt.Sprintf("stage    = %q\nreplicas = %d\ntags = {\n  team       = \"platform\"\n  stack      = %q\n  stage      = %q\n  cost_center = \"cc-%s\"\n  owner      = \"oncall-%s@example.com\"\n}\n",
		stage, replicas[stage], name, stage, name, name)
}

// policy warns on every prod plan that adds a service record, so the note carries a finding per prod run.
const policy = `package scale

warn_prod_service contains {"id": "SCALE_001", "address": rc.address, "msg": "a prod service record is added: check its endpoint"} if {
	data.gitops.stage == "prod"
	some rc in input.resource_changes
	rc.type == "terraform_data"
	rc.name == "service"
	"create" in rc.change.actions
}
`

// TestScaleRepo checks that the benchmark's repository stays a valid one as the configuration evolves:
// 50 stacks, each planned in the 3 stages with its own var file, chained as chainLen says.
func TestScaleRepo(t *testing.T) {
	dir, changed := scaleRepo(t)
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Stacks) != stackCount || len(cfg.Stages) != len(stages) || len(changed) != stackCount {
		t.Fatalf("%d stacks, %d stages, %d changed paths; want %d, %d, %d", len(cfg.Stacks), len(cfg.Stages), len(changed), stackCount, len(stages), stackCount)
	}
	for i, s := range cfg.Stacks {
		if want := i%chainLen != 0; (len(s.DependsOn) == 1) != want {
			t.Errorf("stack %s depends on %v", s.Name, s.DependsOn)
		}
		for _, st := range stages {
			for _, f := range s.VarFilesFor(st) {
				if _, err := os.Stat(filepath.Join(dir, s.Dir, f)); err != nil {
					t.Errorf("stack %s, stage %s: %v", s.Name, st, err)
				}
			}
		}
	}
}
