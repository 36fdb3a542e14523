package terraform

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// TestCachedProviders decides from a work dir's dependency lock file, or without one from its
// configuration, whether its init only reads the plugin cache; anything it cannot vouch for (a linked,
// oversized or malformed lock file, a provider not in the cache, a label that would lead out of it, a
// configuration that needs a provider or that it cannot read) is "no".
func TestCachedProviders(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	platform := runtime.GOOS + "_" + runtime.GOARCH
	pkg := filepath.Join(cache, "registry.terraform.io", "hashicorp", "aws", "5.0.0", platform)
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	testsvc.WriteExecutable(t, filepath.Join(pkg, "terraform-provider-aws_v5.0.0_x5"), []byte("#!/bin/sh\n"))
	if err := os.MkdirAll(filepath.Join(cache, "registry.terraform.io", "hashicorp", "null", "3.0.0", platform), 0o755); err != nil {
		t.Fatal(err) // an empty package dir: an install that never finished
	}
	lock := func(blocks ...string) string { return strings.Join(blocks, "\n") }
	aws := "provider \"registry.terraform.io/hashicorp/aws\" {\n  version = \"5.0.0\"\n  hashes = [\"h1:x\"]\n}\n"
	tests := []struct {
		name   string
		lock   string // "" writes no lock file
		config string // main.tf
		json   bool   // and a main.tf.json
		link   bool
		want   bool
	}{
		{name: "every provider cached", lock: aws, want: true},
		{name: "no lock file, a provider", config: "resource \"aws_s3_bucket\" \"b\" {}\n"},
		{name: "no lock file, only the built-in provider", config: "terraform {\n  backend \"local\" {}\n  required_providers {}\n}\nresource \"terraform_data\" \"x\" {}\ndata \"terraform_remote_state\" \"s\" {\n  backend = \"local\"\n}\nvariable \"v\" {}\n", want: true},
		{name: "no lock file, a provider requirement", config: "terraform {\n  required_providers {\n    null = { source = \"hashicorp/null\" }\n  }\n}\n"},
		{name: "no lock file, a provider block", config: "provider \"aws\" {}\n"},
		{name: "no lock file, a module", config: "module \"m\" {\n  source = \"./m\"\n}\n"},
		{name: "no lock file, a provider chosen", config: "resource \"terraform_data\" \"x\" {\n  provider = aws.east\n}\n"},
		{name: "no lock file, a check", config: "check \"c\" {\n  data \"http\" \"h\" {}\n}\n"},
		{name: "no lock file, JSON configuration", config: "resource \"terraform_data\" \"x\" {}\n", json: true},
		{name: "no lock file, malformed configuration", config: "resource {\n"},
		{name: "no provider", lock: "# nothing\n"},
		{name: "a provider not cached", lock: lock(aws, "provider \"registry.terraform.io/hashicorp/random\" {\n  version = \"3.6.0\"\n}\n")},
		{name: "an empty package dir", lock: "provider \"registry.terraform.io/hashicorp/null\" {\n  version = \"3.0.0\"\n}\n"},
		{name: "another version", lock: "provider \"registry.terraform.io/hashicorp/aws\" {\n  version = \"5.0.1\"\n}\n"},
		{name: "no version", lock: "provider \"registry.terraform.io/hashicorp/aws\" {\n}\n"},
		{name: "a version that is no string", lock: "provider \"registry.terraform.io/hashicorp/aws\" {\n  version = 5\n}\n"},
		{name: "a version from a variable", lock: "provider \"registry.terraform.io/hashicorp/aws\" {\n  version = var.v\n}\n"},
		{name: "a label leading out", lock: "provider \"../../hashicorp/aws\" {\n  version = \"5.0.0\"\n}\n"},
		{name: "a version leading out", lock: "provider \"registry.terraform.io/hashicorp/aws\" {\n  version = \"../5.0.0\"\n}\n"},
		{name: "another block type", lock: lock(aws, "module \"x\" {\n}\n")},
		{name: "malformed", lock: "provider {{{\n"},
		{name: "a link to a lock file", lock: aws, link: true},
		{name: "oversized", lock: aws + "#" + strings.Repeat("x", maxLockFile) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.lock != "" {
				target := filepath.Join(dir, ".terraform.lock.hcl")
				if tt.link {
					target = filepath.Join(t.TempDir(), "elsewhere.hcl")
					if err := os.Symlink(target, filepath.Join(dir, ".terraform.lock.hcl")); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(target, []byte(tt.lock), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			files := map[string]string{"main.tf": tt.config}
			if tt.json {
				files["extra.tf.json"] = "{}"
			}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := cachedProviders(dir, cache); got != tt.want {
				t.Errorf("cachedProviders = %v, want %v", got, tt.want)
			}
		})
	}
}
