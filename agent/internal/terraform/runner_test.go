package terraform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

func TestCheckEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "none", env: nil},
		{name: "credentials", env: map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s", "TF_TOKEN_app_terraform_io": "t"}},
		{name: "input variable", env: map[string]string{"TF_VAR_password": "hunter2"}, wantErr: "request env: TF_VAR_password managed by the runner"},
		{name: "log", env: map[string]string{"TF_LOG": "TRACE", "TF_CLI_CONFIG_FILE": "/x"}, wantErr: "request env: TF_CLI_CONFIG_FILE, TF_LOG managed"},
		{name: "data dir", env: map[string]string{"TF_DATA_DIR": "/x"}, wantErr: "TF_DATA_DIR managed"},
		{name: "equals in name", env: map[string]string{"A=B": "secret"}, wantErr: `malformed variable "A=B"`},
		{name: "empty name", env: map[string]string{"": "secret"}, wantErr: `malformed variable ""`},
		{name: "NUL in value", env: map[string]string{"X": "a\x00b"}, wantErr: `malformed variable "X"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkEnv(tt.env)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("checkEnv: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("checkEnv: got %v, want an error containing %q", err, tt.wantErr)
			}
			for _, v := range tt.env {
				if err != nil && v != "" && strings.Contains(err.Error(), v) {
					t.Errorf("error %q shows a value", err)
				}
			}
		})
	}
}

func TestRequestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		req     Request
		wantErr string
	}{
		{name: "minimal", req: Request{Dir: dir}},
		{name: "full", req: Request{Dir: dir, Workspace: "prod-eu_1.a", VarFiles: []string{"stages/dev.tfvars", "../common.tfvars"}, BackendConfig: []string{"dev.backend.hcl", "key=api/dev.tfstate"}}},
		{name: "no dir", req: Request{}, wantErr: "Dir is empty"},
		{name: "missing dir", req: Request{Dir: filepath.Join(dir, "nope")}, wantErr: "no such file"},
		{name: "file as dir", req: Request{Dir: file}, wantErr: "is not a directory"},
		{name: "flag as workspace", req: Request{Dir: dir, Workspace: "-help"}, wantErr: "invalid workspace name"},
		{name: "slash in workspace", req: Request{Dir: dir, Workspace: "a/b"}, wantErr: "invalid workspace name"},
		{name: "long workspace", req: Request{Dir: dir, Workspace: strings.Repeat("a", 91)}, wantErr: "invalid workspace name"},
		{name: "absolute var file", req: Request{Dir: dir, VarFiles: []string{"/etc/passwd"}}, wantErr: "is absolute"},
		{name: "empty var file", req: Request{Dir: dir, VarFiles: []string{""}}, wantErr: "empty path"},
		{name: "absolute backend config", req: Request{Dir: dir, BackendConfig: []string{"/etc/x.hcl"}}, wantErr: "is absolute"},
		{name: "key-less backend pair", req: Request{Dir: dir, BackendConfig: []string{"=x"}}, wantErr: "malformed key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.req.check()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("check: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("check: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, want, wantErr string
	}{
		{line: "Terraform v1.11.4\n", want: "terraform 1.11.4"},
		{line: "OpenTofu v1.10.6", want: "tofu 1.10.6"},
		{line: "Terraform v1.12.0-beta1", want: "terraform 1.12.0-beta1"},
		{line: "Terraform v1.11", wantErr: "unrecognised output"},
		{line: "", wantErr: "unrecognised output"},
		{line: "terraform 1.11.4", wantErr: "unrecognised output"},
	}
	for _, tt := range tests {
		got, err := parseVersion(tt.line)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("parseVersion(%q) = %q, %v; want %q, error %q", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestNewRunner starts a runner on a fresh data dir: the dir and both plugin caches are created 0700, and
// each kind of request has a CLI configuration of its own that names its cache and installs providers
// directly, or from ProviderMirror when set, never from a local mirror.
func TestNewRunner(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "tf")
	testsvc.WriteExecutable(t, bin, []byte("#!/bin/sh\n"))
	for _, mirror := range []string{"", "https://mirror.example.com/providers"} {
		dataDir := filepath.Join(t.TempDir(), "data")
		r, err := NewRunner(Options{Binary: bin, DataDir: dataDir, ProviderMirror: mirror})
		if err != nil {
			t.Fatalf("NewRunner: %v", err)
		}
		method := "  direct {}\n"
		if mirror != "" {
			method = "  network_mirror {\n    url = \"https://mirror.example.com/providers/\"\n  }\n"
		}
		got, want := map[string]string{}, map[string]string{}
		for kind, readOnly := range map[string]bool{"review": true, "deploy": false} {
			cache := filepath.Join(dataDir, "plugin-cache", kind)
			config := filepath.Join(dataDir, "terraform-"+kind+".tfrc")
			if r.PluginCache(readOnly) != cache || r.CLIConfig(readOnly) != config {
				t.Errorf("%s: PluginCache %q CLIConfig %q; want %q and %q", kind, r.PluginCache(readOnly), r.CLIConfig(readOnly), cache, config)
			}
			raw, err := os.ReadFile(config)
			if err != nil {
				t.Fatalf("CLI config: %v", err)
			}
			got[kind] = string(raw)
			want[kind] = "plugin_cache_dir   = \"" + cache + "\"\ndisable_checkpoint = true\n\n" +
				"provider_installation {\n" + method + "}\n"
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("mirror %q: CLI configs (-want +got):\n%s", mirror, diff)
		}
		for _, d := range []string{dataDir, filepath.Join(dataDir, "plugin-cache"), r.PluginCache(true), r.PluginCache(false)} {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: %v, want a dir with mode 0700 (err %v)", d, fi.Mode(), err)
			}
		}
		if r.grace != DefaultCancelGrace || r.binary != bin {
			t.Errorf("grace %v binary %q; want %v and %q", r.grace, r.binary, DefaultCancelGrace, bin)
		}
	}

	for name, opts := range map[string]Options{
		"no data dir":    {Binary: bin},
		"missing binary": {Binary: filepath.Join(t.TempDir(), "nope"), DataDir: t.TempDir()},
		"dollar in dir":  {Binary: bin, DataDir: filepath.Join(t.TempDir(), "$HOME")},
	} {
		if _, err := NewRunner(opts); err == nil {
			t.Errorf("%s: NewRunner succeeded", name)
		}
	}
}

// TestNewRunnerNarrowsOldCache: a plugin cache left wider by an older agent is narrowed to 0700.
func TestNewRunnerNarrowsOldCache(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	old := filepath.Join(dataDir, "plugin-cache", "deploy")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dataDir, "plugin-cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, Options{DataDir: dataDir})
	for _, d := range []string{filepath.Join(dataDir, "plugin-cache"), r.PluginCache(false), r.PluginCache(true)} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v (err %v), want 0700", d, fi.Mode(), err)
		}
	}
}

func TestHCLString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/var/lib/gitops/plugin-cache/review": `"/var/lib/gitops/plugin-cache/review"`,
		`a"b\c`:                               `"a\"b\\c"`,
		"https://m.example/${x}/%{y}/$z/%w":   `"https://m.example/$${x}/%%{y}/$z/%w"`,
		"tab\tline\nbell\a":                   `"tab\tline\nbell\u0007"`,
		"ünïcode":                             `"ünïcode"`,
	} {
		if got := hclString(in); got != want {
			t.Errorf("hclString(%q) = %s, want %s", in, got, want)
		}
	}
}
