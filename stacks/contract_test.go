package stacks_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestReleaseContract checks what the agent relies on: the function's alias "live" whose version and
// routing Terraform leaves alone, and the observability outputs a canary reads.
func TestReleaseContract(t *testing.T) {
	api := loadModule(t, "api")
	var aliases int
	for _, r := range api.blocks("resource") {
		if r.Labels[0] != "aws_lambda_alias" {
			continue
		}
		aliases++
		if v, ok := literal(r.Body.Attributes["name"].Expr); !ok || v.AsString() != "live" {
			t.Errorf("%s: the alias must be named live", r.TypeRange)
		}
		var ignored []string
		for _, b := range r.Body.Blocks {
			if b.Type != "lifecycle" {
				continue
			}
			if a, ok := b.Body.Attributes["ignore_changes"]; ok {
				exprs, _ := hcl.ExprList(a.Expr)
				for _, tr := range exprs {
					ignored = append(ignored, hcl.ExprAsKeyword(tr))
				}
			}
		}
		for _, want := range []string{"function_version", "routing_config"} {
			if !slices.Contains(ignored, want) {
				t.Errorf("%s: lifecycle.ignore_changes must hold %s (the agent owns releases)", r.TypeRange, want)
			}
		}
	}
	if aliases != 1 {
		t.Errorf("api: want exactly one aws_lambda_alias, got %d", aliases)
	}

	obs := loadModule(t, "observability")
	var outputs []string
	for _, o := range obs.blocks("output") {
		outputs = append(outputs, o.Labels[0])
	}
	for _, want := range []string{"canary_alarm_names", "dashboard_name", "dashboard_url"} {
		if !slices.Contains(outputs, want) {
			t.Errorf("observability: output %s is missing", want)
		}
	}
}

// TestPlaceholderPackage checks that the committed first-release package holds exactly the placeholder
// bootstrap script, executable.
func TestPlaceholderPackage(t *testing.T) {
	zr, err := zip.OpenReader(filepath.Join("api", "placeholder", "bootstrap.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("bootstrap.zip must hold exactly one file named bootstrap")
	}
	if zr.File[0].Mode()&0o111 == 0 {
		t.Errorf("bootstrap in bootstrap.zip is not executable (mode %v)", zr.File[0].Mode())
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("api", "placeholder", "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bootstrap.zip is out of date with placeholder/bootstrap; rebuild it (see stacks/api/README.md)")
	}
}

func TestReadmes(t *testing.T) {
	for _, dir := range append(sortedKeys(stackDirs(t)), ".") {
		if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
			t.Errorf("%s: README.md is missing", dir)
		}
	}
}
