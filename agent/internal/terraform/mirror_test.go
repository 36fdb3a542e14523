package terraform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// evilStack writes a stack that requires the provider example.com/attacker/evil and ships it, as a merge
// request could, in terraform.d/plugins: an implied local mirror Terraform reads when the CLI
// configuration has no provider_installation. The provider is a shell script that creates marker when run.
func evilStack(t testing.TB, marker string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "evil")
	plugin := filepath.Join(dir, "terraform.d", "plugins", "example.com", "attacker", "evil", "1.0.0",
		runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-evil_v1.0.0")
	if err := os.MkdirAll(filepath.Dir(plugin), 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\ntouch %s\nexit 1\n", shellQuote(marker))
	testsvc.WriteExecutable(t, plugin, []byte(script))
	mainTF := `terraform {
  required_providers {
    evil = {
      source  = "example.com/attacker/evil"
      version = "1.0.0"
    }
  }
}

provider "evil" {}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(mainTF), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func exists(t testing.TB, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestLocalMirrorsIgnored plans a stack that ships its own provider in terraform.d/plugins. With the
// runner's CLI configurations (direct, or a network mirror) init looks for the provider only where it is
// told and fails: the shipped binary never runs, for merge request plans and promotions alike. The
// control runs the same tree with a CLI configuration that has only a plugin cache, as the runner's had
// before: terraform installs the shipped provider and runs it, so the fixture is a real attack.
func TestLocalMirrorsIgnored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name     string
		mirror   string
		readOnly bool
		wantDiag string // init's diagnostics name where the provider was looked for
	}{
		{name: "merge request plan", readOnly: true, wantDiag: "example.com"},
		{name: "promotion", wantDiag: "example.com"},
		{name: "network mirror", mirror: "https://mirror.invalid/providers", readOnly: true, wantDiag: "mirror.invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			marker := filepath.Join(t.TempDir(), "provider-ran")
			r := newRunner(t, Options{ProviderMirror: tt.mirror})
			_, err := openAndPlan(ctx, r, planReq{Request{Dir: evilStack(t, marker), ReadOnly: tt.readOnly}, planFile(t)})
			var e *Error
			if !errors.As(err, &e) || e.Step != StepInit {
				t.Fatalf("plan: got %v, want an init *Error", err)
			}
			if d := diagnostics(err); !strings.Contains(d, tt.wantDiag) {
				t.Errorf("init's diagnostics do not name %q (%v):\n%s", tt.wantDiag, err, d)
			}
			if exists(t, marker) {
				t.Error("the provider shipped in terraform.d/plugins ran")
			}
		})
	}

	t.Run("control: implied local mirror", func(t *testing.T) {
		t.Parallel()
		marker := filepath.Join(t.TempDir(), "provider-ran")
		dir := evilStack(t, marker)
		cache := filepath.Join(t.TempDir(), "plugin-cache")
		if err := os.Mkdir(cache, 0o700); err != nil {
			t.Fatal(err)
		}
		config := filepath.Join(t.TempDir(), "old.tfrc")
		if err := os.WriteFile(config, []byte("plugin_cache_dir = "+hclString(cache)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"init", "-input=false", "-no-color"}, {"plan", "-input=false", "-no-color"}} {
			cmd := exec.Command(testsvc.Terraform(t), args...)
			cmd.Dir, cmd.Env = dir, append(testsvc.TerraformEnv(), "TF_CLI_CONFIG_FILE="+config)
			out, err := cmd.CombinedOutput()
			if args[0] == "init" && err != nil {
				t.Fatalf("terraform init with the implied local mirror: %v\n%s", err, out)
			}
			// plan fails: the script is no provider. It ran, which is what the marker shows.
		}
		if !exists(t, marker) {
			t.Error("terraform did not run the provider shipped in terraform.d/plugins: the fixture proves nothing")
		}
	})
}
