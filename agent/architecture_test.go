package main

// The architecture test: what each package of agent/internal may import, checked from source.
// It reads imports with go/parser (parser.ImportsOnly), so it does not need the packages to compile.
// Run it with: go test ./agent/ -run Architecture -v

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// role is what a package of agent/ is for; it decides what the package may import.
type role int

const (
	core     role = iota + 1 // the domain types (gitops, config) and the pipeline over them
	renderer                 // turns domain values into text
	adapter                  // converts one outside dependency to domain types
	wiring                   // builds the adapters and hands them to the core
	fake                     // a test double of an adapter; not an adapter, imported by tests
	harness                  // code that tests of several packages share; imports anything, imported only by tests
)

func (r role) String() string {
	switch r {
	case core:
		return "core"
	case renderer:
		return "renderer"
	case adapter:
		return "adapter"
	case wiring:
		return "wiring"
	case fake:
		return "test fake"
	case harness:
		return "test harness"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// part is one package's entry in the architecture table.
type part struct {
	role role
	// module lists the packages of agent/internal the package may import, beyond what its role allows:
	// adapters may import the domain, fakes the domain and what is listed here, core packages and
	// renderers only what is listed here. For wiring, nil means any package of agent/internal.
	// Harnesses may import any package of the module but lambda/.
	module []string
	// thirdParty lists the third-party modules a core package or a renderer may import (a module
	// allows its sub-packages). Adapters, wiring, fakes and harnesses may import any.
	thirdParty []string
}

// domain lists the core packages adapters may import: the types they convert to and the configuration.
var domain = []string{"config", "gitops"}

// architecture gives every package of agent/ its role. Keys are directories below agent/internal;
// "main" is agent/ itself. A package missing here fails TestArchitecture, and so does an entry
// naming a package that does not exist.
var architecture = map[string]part{
	// The core: domain types with no I/O, the .gitops.yaml model, and the pipeline over them.
	"gitops": {role: core},
	"config": {role: core, module: []string{"gitops"}, thirdParty: []string{
		"github.com/agext/levenshtein",     // "did you mean" in errors
		"github.com/bmatcuk/doublestar/v4", // when_modified globs
		"gopkg.in/yaml.v3",
	}},
	"pipeline": {role: core, module: []string{"config", "gitops"}, thirdParty: []string{"github.com/rs/zerolog"}},

	// Renderers.
	"comment":    {role: renderer, module: []string{"gitops"}},
	"statuspage": {role: renderer, module: []string{"gitops"}},

	// Adapters: one outside dependency each.
	"alarms":    {role: adapter},
	"dashboard": {role: adapter},
	"awsrole":   {role: adapter},
	"build":     {role: adapter},
	"gitlab":    {role: adapter},
	"ledger":    {role: adapter},
	"lock":      {role: adapter},
	"metrics":   {role: adapter},
	"planjson":  {role: adapter},
	"policy":    {role: adapter},
	"poller":    {role: adapter},
	"queue":     {role: adapter},
	"release":   {role: adapter},
	"sandbox":   {role: adapter},
	"server":    {role: adapter},
	"source":    {role: adapter},
	"spool":     {role: adapter},
	"terraform": {role: adapter},
	"webhook":   {role: adapter},

	// Exception: gitlabfake is not an adapter but the httptest GitLab that the gitlab and cli tests
	// drive through the real client library. It may import the adapter it fakes; only tests import it.
	"gitlab/gitlabfake": {role: fake, module: []string{"gitlab"}},
	// lambdafake is the httptest Lambda that the release tests drive through the real SDK client.
	"release/lambdafake": {role: fake, module: []string{"release"}},
	// cloudwatchfake, likewise, is the httptest CloudWatch (rpc-v2-cbor) the alarms tests drive.
	"alarms/cloudwatchfake": {role: fake, module: []string{"alarms", "dashboard"}},

	// Harnesses. clitest runs the whole agent for the end-to-end tests below cli/e2e, which hold only
	// _test.go files and so need no entry here.
	"cli/clitest":         {role: harness},
	"sandbox/sandboxtest": {role: harness},

	// Wiring: cli builds everything; main only calls cli.
	"cli":  {role: wiring},
	"main": {role: wiring, module: []string{"cli"}},
}

// fileImport is one import of one non-test Go file. File is relative to the module root, with slashes.
type fileImport struct {
	File string
	Path string
}

// importGraph maps each package directory, relative to the module root and with slashes
// ("agent/internal/pipeline"), to the imports of its non-test files.
type importGraph map[string][]fileImport

const (
	agentDir    = "agent"
	internalDir = "agent/internal/"
	lambdaDir   = "lambda"
)

// checkImports returns one message for each import of g that breaks a rule, and one for each package
// of agent/ that has no role: packages in order of directory, imports in the order g gives them.
func checkImports(modulePath string, g importGraph) []string {
	var msgs []string
	for _, dir := range slices.Sorted(maps.Keys(g)) {
		name, inAgent := agentName(dir)
		p, known := architecture[name]
		if inAgent && !known {
			msgs = append(msgs, fmt.Sprintf("%s: package has no role: add it to the architecture table in agent/architecture_test.go", dir))
		}
		for _, imp := range g[dir] {
			var broken string
			switch {
			case within(dir, lambdaDir):
				broken = lambdaRule(modulePath, imp.Path)
			case inAgent && known:
				broken = p.rule(name, modulePath, imp.Path)
			case inAgent:
				broken = agentRule(modulePath, imp.Path)
			}
			if broken != "" {
				msgs = append(msgs, fmt.Sprintf("%s imports %q: %s", imp.File, imp.Path, broken))
			}
		}
	}
	return msgs
}

// missingPackages returns one message for each entry of the architecture table that names no package of g.
func missingPackages(g importGraph) []string {
	var msgs []string
	for _, name := range slices.Sorted(maps.Keys(architecture)) {
		dir := internalDir + name
		if name == "main" {
			dir = agentDir
		}
		if _, ok := g[dir]; !ok {
			msgs = append(msgs, fmt.Sprintf("the architecture table names %s, but %s has no non-test Go files: rename or remove the entry", name, dir))
		}
	}
	return msgs
}

// rule returns the rule that importing imp from package name (of role p.role) breaks, or "" if none.
func (p part) rule(name, modulePath, imp string) string {
	rel, inModule := strings.CutPrefix(imp, modulePath+"/")
	if !inModule {
		if isStdlib(imp) || p.role == adapter || p.role == wiring || p.role == fake || p.role == harness || allows(p.thirdParty, imp) {
			return ""
		}
		if len(p.thirdParty) == 0 {
			return fmt.Sprintf("the %s (%s) must not import a third-party module", p.role, name)
		}
		return fmt.Sprintf("the %s (%s) must not import a third-party module other than %s", p.role, name, strings.Join(p.thirdParty, ", "))
	}
	if within(rel, lambdaDir) {
		return "agent must not import lambda"
	}
	to, inAgent := agentName(rel)
	target, known := architecture[to]
	if known && target.role == harness {
		return fmt.Sprintf("the %s (%s) must not import a test harness (%s): only tests may", p.role, name, to)
	}
	if inAgent && slices.Contains(p.module, to) {
		return ""
	}
	switch p.role {
	case core:
		switch {
		case known && target.role == renderer:
			return fmt.Sprintf("the core (%s) must not import a renderer (%s)", name, to)
		case known && target.role == adapter:
			return fmt.Sprintf("the core (%s) must not import an adapter (%s)", name, to)
		case known && target.role == wiring:
			return fmt.Sprintf("the core (%s) must not import the wiring (%s)", name, to)
		case known && target.role == fake:
			return fmt.Sprintf("the core (%s) must not import a test fake (%s)", name, to)
		case len(p.module) == 0:
			return fmt.Sprintf("the core (%s) must not import a package of the module", name)
		}
		return fmt.Sprintf("the core (%s) may import from the module only %s", name, strings.Join(p.module, ", "))
	case renderer:
		return fmt.Sprintf("the renderer (%s) may import from the module only %s", name, strings.Join(p.module, ", "))
	case adapter:
		switch {
		case inAgent && slices.Contains(domain, to):
			return ""
		case known && target.role == adapter:
			return fmt.Sprintf("an adapter (%s) must not import another adapter (%s)", name, to)
		case known && target.role == core:
			return fmt.Sprintf("an adapter (%s) must not import %s: of the core, adapters import only the domain (%s)", name, to, strings.Join(domain, ", "))
		case known && target.role == renderer:
			return fmt.Sprintf("an adapter (%s) must not import a renderer (%s)", name, to)
		case known && target.role == wiring:
			return fmt.Sprintf("an adapter (%s) must not import the wiring (%s)", name, to)
		case known && target.role == fake:
			return fmt.Sprintf("an adapter (%s) must not import a test fake (%s) outside tests", name, to)
		}
		return fmt.Sprintf("an adapter (%s) may import from the module only the domain (%s)", name, strings.Join(domain, ", "))
	case fake:
		if inAgent && slices.Contains(domain, to) {
			return ""
		}
		return fmt.Sprintf("a test fake (%s) may import from the module only %s", name, strings.Join(append(slices.Clone(domain), p.module...), ", "))
	case harness:
		return ""
	case wiring:
		if p.module == nil && inAgent {
			return ""
		}
		if p.module == nil {
			return fmt.Sprintf("the wiring (%s) may import from the module only packages of agent/internal", name)
		}
		return fmt.Sprintf("the wiring (%s) may import from the module only %s", name, strings.Join(p.module, ", "))
	}
	return fmt.Sprintf("the %s (%s) has no import rules: give its role rules in agent/architecture_test.go", p.role, name)
}

// agentRule is the only rule for a package of agent/ that has no role yet.
func agentRule(modulePath, imp string) string {
	if rel, ok := strings.CutPrefix(imp, modulePath+"/"); ok && within(rel, lambdaDir) {
		return "agent must not import lambda"
	}
	return ""
}

// lambdaRule is the rule for every package of lambda/: it must not import agent/.
func lambdaRule(modulePath, imp string) string {
	if rel, ok := strings.CutPrefix(imp, modulePath+"/"); ok && within(rel, agentDir) {
		return "lambda must not import agent"
	}
	return ""
}

// agentName returns the architecture table's key for the module-relative directory dir, and whether
// dir is in agent/: "main" for agent/ itself, the path below agent/internal otherwise.
func agentName(dir string) (string, bool) {
	if dir == agentDir {
		return "main", true
	}
	if name, ok := strings.CutPrefix(dir, internalDir); ok {
		return name, true
	}
	return "", within(dir, agentDir)
}

// within reports whether the slash path p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// allows reports whether imp is one of modules or a package inside one of them.
func allows(modules []string, imp string) bool {
	return slices.ContainsFunc(modules, func(m string) bool { return within(imp, m) })
}

// isStdlib reports whether imp is a standard library package: its first element has no dot.
func isStdlib(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// readImports parses the imports of the non-test Go files below root's dirs, skipping testdata and
// the directories the go tool ignores (names starting with "." or "_").
func readImports(root string, dirs ...string) (importGraph, error) {
	g := importGraph{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
			if err != nil {
				return fmt.Errorf("parse imports: %w", err)
			}
			pkg := path.Dir(rel)
			if _, ok := g[pkg]; !ok {
				g[pkg] = nil // the package exists even if it imports nothing
			}
			for _, spec := range f.Imports {
				imp, err := strconv.Unquote(spec.Path.Value)
				if err != nil {
					return fmt.Errorf("%s: import %s: %w", rel, spec.Path.Value, err)
				}
				g[pkg] = append(g[pkg], fileImport{File: rel, Path: imp})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return g, nil
}

// modulePath returns the module path declared in root/go.mod.
func modulePath(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", filepath.Join(root, "go.mod"))
}

// TestArchitecture checks the import rules on the packages of agent/ and lambda/ as they are on disk.
func TestArchitecture(t *testing.T) {
	root := ".." // go test runs in agent/
	mod, err := modulePath(root)
	if err != nil {
		t.Fatal(err)
	}
	g, err := readImports(root, agentDir, lambdaDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range append(checkImports(mod, g), missingPackages(g)...) {
		t.Error(msg)
	}
}

// TestArchitectureRules feeds checkImports synthetic graphs with each kind of violation, so that
// TestArchitecture passing means the rules hold and not that the check is blind.
func TestArchitectureRules(t *testing.T) {
	const m = "example.com/mod"
	in := func(name string) string { return m + "/" + internalDir + name }
	file := func(pkg, f string, imps ...string) importGraph {
		var fi []fileImport
		for _, imp := range imps {
			fi = append(fi, fileImport{File: pkg + "/" + f, Path: imp})
		}
		return importGraph{pkg: fi}
	}
	merge := func(gs ...importGraph) importGraph {
		out := importGraph{}
		for _, g := range gs {
			for k, v := range g {
				out[k] = append(out[k], v...)
			}
		}
		return out
	}
	tests := []struct {
		name string
		g    importGraph
		want []string
	}{
		{
			name: "allowed imports",
			g: merge(
				file("agent", "main.go", "context", "os", in("cli")),
				file("agent/internal/cli", "cli.go", in("pipeline"), in("gitlab"), in("comment"), in("gitlab/gitlabfake"), "github.com/rs/zerolog"),
				file("agent/internal/pipeline", "plan.go", "fmt", in("gitops"), in("config"), "github.com/rs/zerolog"),
				file("agent/internal/config", "load.go", in("gitops"), "gopkg.in/yaml.v3", "github.com/bmatcuk/doublestar/v4", "github.com/agext/levenshtein"),
				file("agent/internal/gitops", "gitops.go", "time", "slices"),
				file("agent/internal/comment", "deploy.go", "text/template", "embed", in("gitops")),
				file("agent/internal/gitlab", "notes.go", "gitlab.com/gitlab-org/api/client-go", "github.com/rs/zerolog"),
				file("agent/internal/webhook", "webhook.go", in("gitops"), in("config"), "net/http"),
				file("agent/internal/gitlab/gitlabfake", "server.go", "net/http/httptest", in("gitlab"), in("gitops")),
				file("agent/internal/cli/clitest", "agent.go", "testing", in("cli"), in("gitlab/gitlabfake"), in("ledger"), in("config"), m+"/internal/testsvc", "github.com/google/go-cmp/cmp"),
				file("lambda", "main.go", m+"/lambda/internal/api"),
				file("lambda/internal/api", "api.go", m+"/lambda/internal/document"),
			),
		},
		{
			name: "core imports a renderer, an adapter, the wiring, a fake",
			g: merge(
				file("agent/internal/pipeline", "plan.go", in("comment"), in("gitlab")),
				file("agent/internal/config", "load.go", in("cli"), in("gitlab/gitlabfake")),
			),
			want: []string{
				`agent/internal/config/load.go imports "example.com/mod/agent/internal/cli": the core (config) must not import the wiring (cli)`,
				`agent/internal/config/load.go imports "example.com/mod/agent/internal/gitlab/gitlabfake": the core (config) must not import a test fake (gitlab/gitlabfake)`,
				`agent/internal/pipeline/plan.go imports "example.com/mod/agent/internal/comment": the core (pipeline) must not import a renderer (comment)`,
				`agent/internal/pipeline/plan.go imports "example.com/mod/agent/internal/gitlab": the core (pipeline) must not import an adapter (gitlab)`,
			},
		},
		{
			name: "core imports core against the layering",
			g: merge(
				file("agent/internal/gitops", "gitops.go", in("config")),
				file("agent/internal/config", "load.go", in("pipeline"), m+"/internal/testsvc"),
			),
			want: []string{
				`agent/internal/config/load.go imports "example.com/mod/agent/internal/pipeline": the core (config) may import from the module only gitops`,
				`agent/internal/config/load.go imports "example.com/mod/internal/testsvc": the core (config) may import from the module only gitops`,
				`agent/internal/gitops/gitops.go imports "example.com/mod/agent/internal/config": the core (gitops) must not import a package of the module`,
			},
		},
		{
			name: "core imports a third-party module",
			g: merge(
				file("agent/internal/gitops", "gitops.go", "github.com/rs/zerolog"),
				file("agent/internal/pipeline", "plan.go", "github.com/rs/zerolog/log", "github.com/hashicorp/terraform-exec/tfexec", "github.com/rs/zerologx"),
				file("agent/internal/config", "load.go", "gopkg.in/yaml.v2"),
			),
			want: []string{
				`agent/internal/config/load.go imports "gopkg.in/yaml.v2": the core (config) must not import a third-party module other than github.com/agext/levenshtein, github.com/bmatcuk/doublestar/v4, gopkg.in/yaml.v3`,
				`agent/internal/gitops/gitops.go imports "github.com/rs/zerolog": the core (gitops) must not import a third-party module`,
				`agent/internal/pipeline/plan.go imports "github.com/hashicorp/terraform-exec/tfexec": the core (pipeline) must not import a third-party module other than github.com/rs/zerolog`,
				`agent/internal/pipeline/plan.go imports "github.com/rs/zerologx": the core (pipeline) must not import a third-party module other than github.com/rs/zerolog`,
			},
		},
		{
			name: "renderer imports beyond gitops",
			g:    file("agent/internal/comment", "deploy.go", in("config"), in("gitlab"), "github.com/yuin/goldmark"),
			want: []string{
				`agent/internal/comment/deploy.go imports "example.com/mod/agent/internal/config": the renderer (comment) may import from the module only gitops`,
				`agent/internal/comment/deploy.go imports "example.com/mod/agent/internal/gitlab": the renderer (comment) may import from the module only gitops`,
				`agent/internal/comment/deploy.go imports "github.com/yuin/goldmark": the renderer (comment) must not import a third-party module`,
			},
		},
		{
			name: "adapter imports another adapter, pipeline, a renderer, the wiring, a fake, another module package",
			g: file("agent/internal/webhook", "webhook.go",
				in("gitlab"), in("pipeline"), in("comment"), in("cli"), in("gitlab/gitlabfake"), m+"/internal/testsvc", in("gitops"), "github.com/jackc/pgx/v5"),
			want: []string{
				`agent/internal/webhook/webhook.go imports "example.com/mod/agent/internal/gitlab": an adapter (webhook) must not import another adapter (gitlab)`,
				`agent/internal/webhook/webhook.go imports "example.com/mod/agent/internal/pipeline": an adapter (webhook) must not import pipeline: of the core, adapters import only the domain (config, gitops)`,
				`agent/internal/webhook/webhook.go imports "example.com/mod/agent/internal/comment": an adapter (webhook) must not import a renderer (comment)`,
				`agent/internal/webhook/webhook.go imports "example.com/mod/agent/internal/cli": an adapter (webhook) must not import the wiring (cli)`,
				`agent/internal/webhook/webhook.go imports "example.com/mod/agent/internal/gitlab/gitlabfake": an adapter (webhook) must not import a test fake (gitlab/gitlabfake) outside tests`,
				`agent/internal/webhook/webhook.go imports "example.com/mod/internal/testsvc": an adapter (webhook) may import from the module only the domain (config, gitops)`,
			},
		},
		{
			name: "fake imports an adapter it does not fake; main imports past cli",
			g: merge(
				file("agent/internal/gitlab/gitlabfake", "server.go", in("ledger")),
				file("agent", "main.go", in("cli"), in("pipeline")),
			),
			want: []string{
				`agent/main.go imports "example.com/mod/agent/internal/pipeline": the wiring (main) may import from the module only cli`,
				`agent/internal/gitlab/gitlabfake/server.go imports "example.com/mod/agent/internal/ledger": a test fake (gitlab/gitlabfake) may import from the module only config, gitops, gitlab`,
			},
		},
		{
			name: "package imports a test harness",
			g: merge(
				file("agent", "main.go", in("cli"), in("cli/clitest")),
				file("agent/internal/cli", "serve.go", in("cli/clitest")),
				file("agent/internal/pipeline", "plan.go", in("cli/clitest")),
				file("agent/internal/gitlab", "notes.go", in("cli/clitest")),
				file("agent/internal/gitlab/gitlabfake", "server.go", in("cli/clitest")),
				file("agent/internal/cli/clitest", "agent.go", m+"/lambda/internal/document"),
			),
			want: []string{
				`agent/main.go imports "example.com/mod/agent/internal/cli/clitest": the wiring (main) must not import a test harness (cli/clitest): only tests may`,
				`agent/internal/cli/serve.go imports "example.com/mod/agent/internal/cli/clitest": the wiring (cli) must not import a test harness (cli/clitest): only tests may`,
				`agent/internal/cli/clitest/agent.go imports "example.com/mod/lambda/internal/document": agent must not import lambda`,
				`agent/internal/gitlab/notes.go imports "example.com/mod/agent/internal/cli/clitest": the adapter (gitlab) must not import a test harness (cli/clitest): only tests may`,
				`agent/internal/gitlab/gitlabfake/server.go imports "example.com/mod/agent/internal/cli/clitest": the test fake (gitlab/gitlabfake) must not import a test harness (cli/clitest): only tests may`,
				`agent/internal/pipeline/plan.go imports "example.com/mod/agent/internal/cli/clitest": the core (pipeline) must not import a test harness (cli/clitest): only tests may`,
			},
		},
		{
			name: "package with no role",
			g: merge(
				file("agent/internal/unlisted", "release.go", in("gitops"), m+"/lambda/internal/document"),
				file("agent/internal/pipeline", "plan.go", in("unlisted")),
			),
			want: []string{
				`agent/internal/pipeline/plan.go imports "example.com/mod/agent/internal/unlisted": the core (pipeline) may import from the module only config, gitops`,
				`agent/internal/unlisted: package has no role: add it to the architecture table in agent/architecture_test.go`,
				`agent/internal/unlisted/release.go imports "example.com/mod/lambda/internal/document": agent must not import lambda`,
			},
		},
		{
			name: "agent and lambda import each other",
			g: merge(
				file("agent/internal/cli", "cli.go", m+"/lambda/internal/document"),
				file("agent/internal/gitops", "gitops.go", m+"/lambda/internal/document"),
				file("lambda/internal/api", "api.go", in("gitops"), m+"/agent"),
				file("lambda", "main.go", in("cli")),
			),
			want: []string{
				`agent/internal/cli/cli.go imports "example.com/mod/lambda/internal/document": agent must not import lambda`,
				`agent/internal/gitops/gitops.go imports "example.com/mod/lambda/internal/document": agent must not import lambda`,
				`lambda/main.go imports "example.com/mod/agent/internal/cli": lambda must not import agent`,
				`lambda/internal/api/api.go imports "example.com/mod/agent/internal/gitops": lambda must not import agent`,
				`lambda/internal/api/api.go imports "example.com/mod/agent": lambda must not import agent`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, checkImports(m, tt.g)); diff != "" {
				t.Errorf("checkImports messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestArchitectureTableComplete checks missingPackages on a graph that lacks one entry of the table.
func TestArchitectureTableComplete(t *testing.T) {
	g := importGraph{}
	for name := range architecture {
		if name == "main" {
			g[agentDir] = nil
			continue
		}
		g[internalDir+name] = nil
	}
	if diff := cmp.Diff([]string(nil), missingPackages(g)); diff != "" {
		t.Errorf("missingPackages with every package present (-want +got):\n%s", diff)
	}
	delete(g, internalDir+"gitlab/gitlabfake")
	want := []string{"the architecture table names gitlab/gitlabfake, but agent/internal/gitlab/gitlabfake has no non-test Go files: rename or remove the entry"}
	if diff := cmp.Diff(want, missingPackages(g)); diff != "" {
		t.Errorf("missingPackages without gitlabfake (-want +got):\n%s", diff)
	}
}
