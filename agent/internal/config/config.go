package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// FileName is the config file's name at the repository root.
const FileName = ".gitops.yaml"

// Bounds on a config file: its size in bytes, and how many stages and stacks it may define.
const (
	MaxSize   = 1 << 20
	MaxStages = 50
	MaxStacks = 5000
)

// StagePlaceholder is replaced by the stage name in var_files, backend_config and workspace, and in a
// function's function_name and alarms.
const StagePlaceholder = "{stage}"

// Config is a validated .gitops.yaml. Every field is filled: defaults are applied by Parse.
type Config struct {
	Version  int
	Stages   []Stage  // in promotion order
	Policies []string // policy directories, repo-relative and cleaned; nil when the file names none
	Stacks   []Stack  // in file order
	// Functions are the Go Lambda functions released after their stacks apply, in file order.
	Functions []Function
	// Rollback holds the rollback settings, defaults filled in when the file has no rollback key.
	Rollback Rollback
}

// Stage is one environment changes are promoted through.
type Stage struct {
	Name string
	// RoleARN is the IAM role promotions assume for this stage's runs (apply, release).
	RoleARN string
	// PlanRoleARN is the read-only IAM role merge request plans (and drift checks) assume; without it they
	// run with no AWS credentials at all, never with RoleARN.
	PlanRoleARN string
	// URL, when set, is where the stage's API answers: the external URL of the stage's GitLab environment.
	URL string
}

// Stack is one Terraform root module.
type Stack struct {
	Name          string
	Dir           string   // repo-relative and cleaned; "." for the root
	VarFiles      []string // relative to Dir; may contain {stage}
	BackendConfig []string // files relative to Dir, or key=value; may contain {stage}
	Workspace     string   // "default" unless set; may contain {stage}
	WhenModified  []string // globs relative to Dir; default ["**/*.tf", "**/*.tfvars"]
	Stages        []string // the stages it runs in, in promotion order; default all
	DependsOn     []string // stacks applied before this one within a stage
}

// DefaultWhenModified are the globs of a stack that sets no when_modified.
var DefaultWhenModified = []string{"**/*.tf", "**/*.tfvars"}

// DefaultPolicyDir is the policy directory used when the file names none and it exists.
const DefaultPolicyDir = "policies"

// Load reads and validates repoDir/.gitops.yaml. Beyond Parse, it checks that every stack dir, every
// function package and every listed policy dir is a directory inside repoDir, and every smoke event a
// regular file inside it, symbolic links resolved. The error is an *Error (one problem, or the file
// cannot be read: errors.Is(err, fs.ErrNotExist) when it is missing) or Errors.
func Load(repoDir string) (*Config, error) {
	data, err := readConfig(repoDir)
	if err != nil {
		return nil, err
	}
	c, nodes, err := parse(data)
	if err != nil {
		return nil, err
	}
	var p problems
	for i, s := range c.Stacks {
		if msg := checkDir(repoDir, s.Dir); msg != "" {
			p.at(nodes.stacks[i].dir, "stack %q: dir %q %s", s.Name, s.Dir, msg)
		}
	}
	for i, f := range c.Functions {
		if msg := checkDir(repoDir, f.Package); msg != "" {
			p.at(nodes.functions[i].pkg, "function %q: package %q %s", f.Name, f.Package, msg)
		}
		if f.Smoke == "" {
			continue
		}
		if msg := checkPath(repoDir, f.Smoke, false); msg != "" {
			p.at(nodes.functions[i].smoke, "function %q: smoke %q %s", f.Name, f.Smoke, msg)
		}
	}
	for i, dir := range c.Policies {
		if msg := checkDir(repoDir, dir); msg != "" {
			p.at(nodes.policies[i], "policies: %q %s", dir, msg)
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func readConfig(repoDir string) ([]byte, error) {
	f, err := os.OpenInRoot(repoDir, FileName)
	if err != nil {
		msg := "cannot be read"
		if errors.Is(err, os.ErrNotExist) {
			msg = "not found at the repository root"
		}
		return nil, &Error{File: FileName, Msg: msg, cause: err}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, &Error{File: FileName, Msg: "cannot be read", cause: err}
	}
	if !info.Mode().IsRegular() {
		return nil, &Error{File: FileName, Msg: "is not a regular file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, &Error{File: FileName, Msg: "cannot be read", cause: err}
	}
	return data, nil
}

// checkDir returns what is wrong with rel as a directory of the repository, or "".
func checkDir(repoDir, rel string) string { return checkPath(repoDir, rel, true) }

// checkPath returns what is wrong with rel as a directory (dir) or regular file of the repository, or "".
func checkPath(repoDir, rel string, dir bool) string {
	root, err := filepath.EvalSymlinks(repoDir)
	if err != nil {
		return "cannot be checked: the repository directory cannot be resolved"
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(rel)))
	if errors.Is(err, os.ErrNotExist) {
		return "does not exist"
	}
	if err != nil {
		return "cannot be resolved"
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return "leads outside the repository through a symbolic link"
	}
	info, err := os.Stat(real)
	if err != nil {
		return "cannot be read"
	}
	if dir && !info.IsDir() {
		return "is not a directory"
	}
	if !dir && !info.Mode().IsRegular() {
		return "is not a regular file"
	}
	return ""
}

// Parse validates the contents of a .gitops.yaml without touching the file system. The error is an
// *Error or, when there are several problems, Errors.
func Parse(data []byte) (*Config, error) {
	c, _, err := parse(data)
	return c, err
}

func parse(data []byte) (*Config, *nodes, error) {
	if len(data) > MaxSize {
		return nil, nil, &Error{File: FileName, Msg: fmt.Sprintf("is larger than %d bytes", MaxSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, &Error{File: FileName, Msg: "is empty"}
		}
		return nil, nil, syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, nil, syntaxError(err)
		}
		return nil, nil, &Error{File: FileName, Line: extra.Line, Column: extra.Column,
			Msg: "holds more than one YAML document; keep only one"}
	}
	if len(doc.Content) == 0 {
		return nil, nil, &Error{File: FileName, Msg: "is empty"}
	}
	var p problems
	if rejectAliases(&p, &doc); len(p.list) > 0 {
		return nil, nil, p.err()
	}
	c, n := decode(&p, doc.Content[0])
	if len(p.list) == 0 {
		validate(&p, c, n)
	}
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	return c, n, nil
}

// Stage returns the stage called name.
func (c *Config) Stage(name string) (Stage, bool) {
	for _, s := range c.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}

// PolicyDirs returns the repo-relative policy directories to use: Policies when the file names some,
// else ["policies"] when repoDir/policies is a directory, else nil.
func (c *Config) PolicyDirs(repoDir string) []string {
	if len(c.Policies) > 0 {
		return slices.Clone(c.Policies)
	}
	if checkDir(repoDir, DefaultPolicyDir) == "" {
		return []string{DefaultPolicyDir}
	}
	return nil
}

// RunsIn reports whether the stack runs in stage.
func (s Stack) RunsIn(stage string) bool { return slices.Contains(s.Stages, stage) }

// VarFilesFor returns the stack's var files for stage, {stage} expanded, relative to Dir.
func (s Stack) VarFilesFor(stage string) []string { return expandAll(s.VarFiles, stage) }

// BackendConfigFor returns the stack's backend config for stage, {stage} expanded: files relative to
// Dir, or key=value pairs.
func (s Stack) BackendConfigFor(stage string) []string { return expandAll(s.BackendConfig, stage) }

// WorkspaceFor returns the stack's Terraform workspace for stage, {stage} expanded.
func (s Stack) WorkspaceFor(stage string) string { return expand(s.Workspace, stage) }

func expand(s, stage string) string { return strings.ReplaceAll(s, StagePlaceholder, stage) }

func expandAll(list []string, stage string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expand(s, stage)
	}
	return out
}

// cleanRel cleans a repo-relative path and reports whether it stays inside the repository.
func cleanRel(p string) (string, bool) {
	if p == "" || path.IsAbs(p) {
		return "", false
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return clean, true
}
