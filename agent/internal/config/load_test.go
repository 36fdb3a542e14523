package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// repo lays out a repository in a temp dir: dirs end in "/", "link:TARGET" makes a symlink, anything
// else is a file's content. It returns the repository's path; outside/ beside it is outside the repo.
func repo(tb testing.TB, files map[string]string) string {
	tb.Helper()
	base := tb.TempDir()
	must(tb, os.Mkdir(filepath.Join(base, "outside"), 0o755))
	root := filepath.Join(base, "repo")
	must(tb, os.Mkdir(root, 0o755))
	for name, content := range files {
		p := filepath.Join(root, name)
		must(tb, os.MkdirAll(filepath.Dir(p), 0o755))
		switch {
		case name[len(name)-1] == '/':
			must(tb, os.MkdirAll(p, 0o755))
		case len(content) > 5 && content[:5] == "link:":
			must(tb, os.Symlink(content[5:], p))
		default:
			must(tb, os.WriteFile(p, []byte(content), 0o644))
		}
	}
	return root
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

const withFunction = "version: 1\nstages: [{name: dev}]\nstacks:\n  - {name: a, dir: stacks/a}\nfunctions:\n  - {name: f, package: ./cmd/f, function_name: f, smoke: ./lambda/testdata/smoke.json}\n"

const twoStacks = "version: 1\nstages: [{name: dev}]\nstacks:\n  - {name: a, dir: stacks/a}\n  - {name: b, dir: stacks/b}\n"

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		want    string // error text; "" for success
		wantDir []string
	}{
		{
			name:    "stack dirs exist",
			files:   map[string]string{FileName: twoStacks, "stacks/a/": "", "stacks/b/main.tf": "x"},
			wantDir: nil,
		},
		{
			name:    "default policy dir used when present",
			files:   map[string]string{FileName: twoStacks, "stacks/a/": "", "stacks/b/": "", "policies/deny.rego": "package x"},
			wantDir: []string{"policies"},
		},
		{
			name: "stack dir through a symlink inside the repo",
			files: map[string]string{
				FileName: twoStacks, "stacks/a/": "", "real/b/": "", "stacks/b": "link:../real/b",
			},
		},
		{
			name:  "missing stack dir",
			files: map[string]string{FileName: twoStacks, "stacks/a/": ""},
			want:  `.gitops.yaml:5:20: stack "b": dir "stacks/b" does not exist`,
		},
		{
			name:  "stack dir is a file",
			files: map[string]string{FileName: twoStacks, "stacks/a/": "", "stacks/b": "not a dir"},
			want:  `.gitops.yaml:5:20: stack "b": dir "stacks/b" is not a directory`,
		},
		{
			name:  "stack dir is a symlink leaving the repo",
			files: map[string]string{FileName: twoStacks, "stacks/a/": "", "stacks/b": "link:../../outside"},
			want:  `.gitops.yaml:5:20: stack "b": dir "stacks/b" leads outside the repository through a symbolic link`,
		},
		{
			name: "listed policy dir missing, both errors at once",
			files: map[string]string{
				FileName:    "version: 1\nstages: [{name: dev}]\npolicies: [rego, policies]\nstacks:\n  - {name: a, dir: a}\n",
				"policies/": "",
			},
			want: ".gitops.yaml:3:12: policies: \"rego\" does not exist\n.gitops.yaml:5:20: stack \"a\": dir \"a\" does not exist",
		},
		{
			name:  "function package and smoke event exist",
			files: map[string]string{FileName: withFunction, "stacks/a/": "", "cmd/f/main.go": "package main", "lambda/testdata/smoke.json": "{}"},
		},
		{
			name:  "function package missing, smoke event a directory",
			files: map[string]string{FileName: withFunction, "stacks/a/": "", "lambda/testdata/smoke.json/": ""},
			want: ".gitops.yaml:6:24: function \"f\": package \"cmd/f\" does not exist\n" +
				".gitops.yaml:6:58: function \"f\": smoke \"lambda/testdata/smoke.json\" is not a regular file",
		},
		{
			name:  "smoke event missing",
			files: map[string]string{FileName: withFunction, "stacks/a/": "", "cmd/f/": ""},
			want:  ".gitops.yaml:6:58: function \"f\": smoke \"lambda/testdata/smoke.json\" does not exist",
		},
		{
			name:  "smoke event is a symlink leaving the repo",
			files: map[string]string{FileName: withFunction, "stacks/a/": "", "cmd/f/": "", "lambda/testdata/smoke.json": "link:../../../outside/event.json", "../outside/event.json": "{}"},
			want:  ".gitops.yaml:6:58: function \"f\": smoke \"lambda/testdata/smoke.json\" leads outside the repository through a symbolic link",
		},
		{
			name:  "config file missing",
			files: map[string]string{"README.md": "x"},
			want:  ".gitops.yaml: not found at the repository root",
		},
		{
			name:  "config file is a symlink leaving the repo",
			files: map[string]string{FileName: "link:../outside/cfg"},
			want:  ".gitops.yaml: cannot be read",
		},
		{
			name:  "config file is a directory",
			files: map[string]string{FileName + "/": ""},
			want:  ".gitops.yaml: is not a regular file",
		},
		{
			name:  "parse errors come first",
			files: map[string]string{FileName: "version: 1\nstages: []\n"},
			want:  ".gitops.yaml:1:1: stages is missing or empty: name at least one stage",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := repo(t, tt.files)
			cfg, err := Load(dir)
			if tt.want != "" {
				if err == nil {
					t.Fatalf("Load accepted it: %+v", cfg)
				}
				if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.wantDir, cfg.PolicyDirs(dir)); diff != "" {
				t.Errorf("PolicyDirs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissingFileIsNotExist(t *testing.T) {
	t.Parallel()
	_, err := Load(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a repo without %s: error %v does not wrap fs.ErrNotExist", FileName, err)
	}
}

// TestLoadRepositoryConfig loads this repository's own .gitops.yaml.
func TestLoadRepositoryConfig(t *testing.T) {
	t.Parallel()
	cfg, err := Load(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	f, ok := cfg.Function("documents")
	if !ok {
		t.Fatalf("no function documents in %+v", cfg.Functions)
	}
	type view struct {
		Package, Name, Alias, GOARCH string
		After, Alarms, Stages        []string
		Plan                         []TrafficStep
		Rollback                     Rollback
	}
	got := view{f.Package, f.FunctionNameFor("prod"), f.Alias, f.GOARCH(), f.After, f.AlarmsFor("prod"), f.Stages, f.Plan(), cfg.Rollback}
	want := view{
		Package: "lambda", Name: "gitops-agent-prod-api", Alias: "live", GOARCH: "arm64",
		After:    []string{"api"},
		Alarms:   []string{"gitops-agent-prod-lambda-*", "gitops-agent-prod-api-*"},
		Stages:   []string{"dev", "staging", "prod"},
		Plan:     []TrafficStep{{Weight: 10, Bake: 5 * time.Minute}},
		Rollback: Rollback{Watch: 15 * time.Minute},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("function documents (-want +got):\n%s", diff)
	}
}

func TestPolicyDirsListed(t *testing.T) {
	t.Parallel()
	dir := repo(t, map[string]string{
		FileName:    "version: 1\nstages: [{name: dev}]\npolicies: [rego/, ./more]\n",
		"rego/":     "",
		"more/":     "",
		"policies/": "",
	})
	cfg, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"rego", "more"}, cfg.PolicyDirs(dir)); diff != "" {
		t.Errorf("PolicyDirs (-want +got):\n%s", diff)
	}
}
