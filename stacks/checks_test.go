package stacks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// writeModule writes a root module into a temporary directory and loads it.
func writeModule(t testing.TB, files map[string]string) *module {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return loadModule(t, dir)
}

const goodProvider = `
provider "aws" {
  region = var.region
  default_tags {
    tags = merge(var.extra_tags, {
      Project   = var.project
      Stage     = var.stage
      Stack     = "network"
      ManagedBy = "gitops-agent"
    })
  }
}
resource "aws_vpc" "this" {
  cidr_block = var.vpc_cidr
  tags = {
    Name = "x"
  }
}
`

// TestStructureChecksFindProblems proves each structure check fails on the mistake it is meant to catch,
// and passes the same module without it.
func TestStructureChecksFindProblems(t *testing.T) {
	p, err := schema.AWS()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string
		check func(m *module) []string
		want  []string // substrings, one per expected problem; none means the module passes
	}{
		{
			name: "variables: complete",
			files: map[string]string{"variables.tf": `
variable "a" {
  type        = string
  description = "A described variable."
  validation {
    condition     = var.a != ""
    error_message = "a must not be empty."
  }
}
variable "b" {
  type        = bool
  description = "Booleans need no validation."
}`},
			check: variableProblems,
		},
		{
			name: "variables: untyped, undescribed, unvalidated",
			files: map[string]string{"variables.tf": `
variable "a" {}
variable "b" {
  type        = number
  description = "No validation here."
}
variable "c" {
  type        = bool
  description = var.x
}`},
			check: variableProblems,
			want:  []string{`"a" has no type`, `"a" has no description`, `"b" has no validation block`, `"c" has no description (a literal sentence)`},
		},
		{
			name: "versions: complete",
			files: map[string]string{"versions.tf": `
terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = { source = "hashicorp/aws", version = "= 6.66.0" }
  }
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}`},
			check: versionProblems,
		},
		{
			name: "versions: old terraform, no lock file, bucket hard-coded",
			files: map[string]string{"versions.tf": `
terraform {
  required_version = ">= 1.5"
  backend "s3" {
    bucket  = "state"
    encrypt = true
  }
}`},
			check: versionProblems,
			want:  []string{`required_version must be ">= 1.10"`, `required_providers must declare aws`, `must set use_lockfile = true`, `sets bucket`},
		},
		{
			name: "versions: local backend",
			files: map[string]string{"versions.tf": `
terraform {
  required_version = ">= 1.10"
  backend "local" {}
}`},
			check: versionProblems,
			want:  []string{`required_providers must declare aws`, `want one backend "s3" block`},
		},
		{
			name:  "tags: provider default_tags",
			files: map[string]string{"main.tf": goodProvider},
			check: func(m *module) []string { return tagProblems(m, p, "network") },
		},
		{
			name:  "tags: wrong stack name",
			files: map[string]string{"main.tf": goodProvider},
			check: func(m *module) []string { return tagProblems(m, p, "data") },
			want:  []string{`default_tags Stack = "network", want "data"`},
		},
		{
			name: "tags: missing default tags and an override",
			files: map[string]string{"main.tf": `
provider "aws" {
  default_tags {
    tags = { Project = "p", Stack = "network" }
  }
}
resource "aws_vpc" "this" {
  tags = { Stage = "" }
}
resource "aws_subnet" "a" {
  provider = aws.other
  vpc_id   = "v"
  tags     = local.tags
}`},
			check: func(m *module) []string { return tagProblems(m, p, "network") },
			want:  []string{"default_tags lack required tags", "aws_vpc.this overrides required tag Stage", "aws_subnet.a uses another provider configuration", "aws_subnet.a: tags must be an object literal"},
		},
		{
			name: "hard-coded: clean",
			files: map[string]string{
				"main.tf": `
resource "aws_s3_bucket" "b" {
  bucket = "${var.project}-${data.aws_caller_identity.current.account_id}"
}
variable "region" {
  type        = string
  description = "Region, e.g. eu-west-1 or account 123456789012 in documentation."
}`,
				"stages/dev.tfvars": "region = \"eu-west-1\"\nallowed_account_ids = [\"123456789012\"]\n",
			},
			check: func(m *module) []string { return hardCodedProblems(m, stageFilesOf(t, m)) },
		},
		{
			name: "hard-coded: account, region and secrets",
			files: map[string]string{
				"main.tf": `
resource "aws_iam_role" "r" {
  name               = "arn:aws:iam::123456789012:role/x"
  assume_role_policy = "{}"
}
provider "aws" {
  region = "eu-west-1"
}
resource "aws_elasticache_replication_group" "g" {
  auth_token = "hunter2hunter2hunter2"
}`,
				"stages/dev.tfvars":      "db_password = \"s3cret\"\n",
				"stages/dev.backend.hcl": "# AKIAABCDEFGHIJKLMNOP\n",
			},
			check: func(m *module) []string { return hardCodedProblems(m, stageFilesOf(t, m)) },
			want:  []string{"hard-coded account id", "hard-coded region", "auth_token is set to a literal", "dev.backend.hcl: holds a credential", "db_password is set to a literal"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.check(writeModule(t, tt.files))
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no problem mentions %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

func stageFilesOf(t testing.TB, m *module) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(m.dir, "stages", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}
