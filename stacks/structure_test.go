package stacks_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"gitlab.com/gitops-agent/gitops-agent/stacks/schema"
)

// requiredTags are the tags every taggable resource carries, through the provider's default_tags.
var requiredTags = []string{"Project", "Stage", "Stack", "ManagedBy"}

// module is one parsed root module.
type module struct {
	dir   string
	files map[string]*hclsyntax.Body // by path
	src   map[string][]byte
}

func loadModule(t testing.TB, dir string) *module {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	m := &module{dir: dir, files: map[string]*hclsyntax.Body{}, src: map[string][]byte{}}
	p := hclparse.NewParser()
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := p.ParseHCL(src, path)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", path, diags.Error())
		}
		m.files[path] = f.Body.(*hclsyntax.Body)
		m.src[path] = src
	}
	return m
}

// blocks returns the top-level blocks of the given type, in file order.
func (m *module) blocks(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, path := range sortedKeys(m.files) {
		for _, b := range m.files[path].Blocks {
			if b.Type == typ {
				out = append(out, b)
			}
		}
	}
	return out
}

// literal returns the value of an expression that needs no variables, or false.
func literal(e hcl.Expression) (cty.Value, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

func TestVariablesTypedDescribedValidated(t *testing.T) {
	for name, dir := range stackDirs(t) {
		t.Run(name, func(t *testing.T) {
			for _, p := range variableProblems(loadModule(t, dir)) {
				t.Error(p)
			}
		})
	}
}

// variableProblems lists variables without a type, a description, or (unless bool) a validation.
func variableProblems(m *module) []string {
	vars := m.blocks("variable")
	if len(vars) == 0 {
		return []string{m.dir + ": no variables"}
	}
	var problems []string
	for _, v := range vars {
		at := fmt.Sprintf("%s: variable %q", v.TypeRange.Filename, v.Labels[0])
		typ, hasType := v.Body.Attributes["type"]
		if !hasType {
			problems = append(problems, at+" has no type")
		}
		desc, ok := v.Body.Attributes["description"]
		if !ok {
			problems = append(problems, at+" has no description")
		} else if d, isLit := literal(desc.Expr); !isLit || d.Type() != cty.String || len(strings.TrimSpace(d.AsString())) < 10 {
			problems = append(problems, at+" has no description (a literal sentence)")
		}
		isBool := hasType && hcl.ExprAsKeyword(typ.Expr) == "bool"
		if hasType && !isBool && !slices.ContainsFunc(v.Body.Blocks, func(b *hclsyntax.Block) bool { return b.Type == "validation" }) {
			problems = append(problems, at+" has no validation block")
		}
	}
	return problems
}

func TestVersionsAndBackend(t *testing.T) {
	for name, dir := range stackDirs(t) {
		t.Run(name, func(t *testing.T) {
			for _, p := range versionProblems(loadModule(t, dir)) {
				t.Error(p)
			}
		})
	}
}

// versionProblems checks the terraform block: required_version and a partial S3 backend with locking.
func versionProblems(m *module) []string {
	tf := m.blocks("terraform")
	if len(tf) != 1 {
		return []string{fmt.Sprintf("%s: want one terraform block, got %d", m.dir, len(tf))}
	}
	var problems []string
	if rv, ok := tf[0].Body.Attributes["required_version"]; !ok {
		problems = append(problems, "required_version must be \">= 1.10\"")
	} else if v, isLit := literal(rv.Expr); !isLit || v.Type() != cty.String || v.AsString() != ">= 1.10" {
		problems = append(problems, "required_version must be \">= 1.10\"")
	}
	var backends []*hclsyntax.Block
	pinned := false
	for _, b := range tf[0].Body.Blocks {
		switch b.Type {
		case "backend":
			backends = append(backends, b)
		case "required_providers":
			_, pinned = b.Body.Attributes["aws"]
		}
	}
	if !pinned {
		problems = append(problems, "required_providers must declare aws (its version is checked against the schema)")
	}
	if len(backends) != 1 || backends[0].Labels[0] != "s3" {
		return append(problems, "want one backend \"s3\" block")
	}
	for _, attr := range []string{"use_lockfile", "encrypt"} {
		a, ok := backends[0].Body.Attributes[attr]
		if !ok {
			problems = append(problems, fmt.Sprintf("backend \"s3\" must set %s = true", attr))
		} else if v, isLit := literal(a.Expr); !isLit || v != cty.True {
			problems = append(problems, fmt.Sprintf("backend \"s3\" must set %s = true", attr))
		}
	}
	for _, attr := range []string{"bucket", "key", "region"} {
		if _, ok := backends[0].Body.Attributes[attr]; ok {
			problems = append(problems, fmt.Sprintf("backend \"s3\" sets %s: it belongs in stages/<stage>.backend.hcl", attr))
		}
	}
	return problems
}

// TestDefaultTags checks that every AWS provider configuration tags every resource it manages with the
// required tags, that the Stack tag names the stack, and that no resource overrides them.
func TestDefaultTags(t *testing.T) {
	p, err := schema.AWS()
	if err != nil {
		t.Fatal(err)
	}
	for name, dir := range stackDirs(t) {
		t.Run(name, func(t *testing.T) {
			for _, problem := range tagProblems(loadModule(t, dir), p, name) {
				t.Error(problem)
			}
		})
	}
}

func tagProblems(m *module, p *schema.Provider, stackName string) []string {
	var problems []string
	providers := m.blocks("provider")
	if len(providers) == 0 {
		return []string{m.dir + ": no provider \"aws\" block"}
	}
	for _, pb := range providers {
		keys, stack := defaultTagKeys(pb)
		if diff := cmp.Diff(requiredTags, keys, cmpSubset(requiredTags)); diff != "" {
			problems = append(problems, fmt.Sprintf("%s: default_tags lack required tags (-want +got):\n%s", pb.TypeRange, diff))
		}
		if stack != stackName {
			problems = append(problems, fmt.Sprintf("%s: default_tags Stack = %q, want %q", pb.TypeRange, stack, stackName))
		}
	}
	taggable := 0
	for _, r := range m.blocks("resource") {
		s, ok := p.Resources[r.Labels[0]]
		if !ok {
			continue // TestProviderSchema reports it
		}
		if _, ok := s.Attributes["tags"]; !ok {
			continue
		}
		taggable++
		if _, ok := r.Body.Attributes["provider"]; ok {
			problems = append(problems, fmt.Sprintf("%s: resource %s.%s uses another provider configuration; keep one per stack so default_tags apply", r.TypeRange, r.Labels[0], r.Labels[1]))
		}
		tags, ok := r.Body.Attributes["tags"]
		if !ok {
			continue
		}
		obj, ok := tags.Expr.(*hclsyntax.ObjectConsExpr)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: resource %s.%s: tags must be an object literal so required tags cannot be overridden", r.TypeRange, r.Labels[0], r.Labels[1]))
			continue
		}
		for _, item := range obj.Items {
			if k, ok := literal(item.KeyExpr); ok && k.Type() == cty.String && slices.Contains(requiredTags, k.AsString()) {
				problems = append(problems, fmt.Sprintf("%s: resource %s.%s overrides required tag %s", r.TypeRange, r.Labels[0], r.Labels[1], k.AsString()))
			}
		}
	}
	if taggable == 0 {
		problems = append(problems, m.dir+": no taggable resources found")
	}
	return problems
}

// cmpSubset makes cmp.Diff accept a got list that holds every wanted key (and maybe more).
func cmpSubset(want []string) cmp.Option {
	return cmp.Transformer("subset", func(got []string) []string {
		var kept []string
		for _, w := range want {
			if slices.Contains(got, w) {
				kept = append(kept, w)
			}
		}
		return kept
	})
}

// defaultTagKeys returns the keys of the provider's default_tags and the literal value of its Stack tag.
func defaultTagKeys(provider *hclsyntax.Block) (keys []string, stack string) {
	for _, b := range provider.Body.Blocks {
		if b.Type != "default_tags" {
			continue
		}
		tags, ok := b.Body.Attributes["tags"]
		if !ok {
			return nil, ""
		}
		expr := tags.Expr
		// merge(var.extra_tags, { ... }): the required tags come last and win.
		if call, ok := expr.(*hclsyntax.FunctionCallExpr); ok && call.Name == "merge" && len(call.Args) > 0 {
			expr = call.Args[len(call.Args)-1]
		}
		obj, ok := expr.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return nil, ""
		}
		for _, item := range obj.Items {
			k, ok := literal(item.KeyExpr)
			if !ok || k.Type() != cty.String {
				continue
			}
			keys = append(keys, k.AsString())
			if k.AsString() == "Stack" {
				if v, ok := literal(item.ValueExpr); ok && v.Type() == cty.String {
					stack = v.AsString()
				}
			}
		}
	}
	return keys, stack
}

// Hard-coded values that belong in stage files (accounts, regions) or nowhere (credentials).
var (
	reAccountID   = regexp.MustCompile(`\b[0-9]{12}\b`)
	reRegion      = regexp.MustCompile(`\b(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-[0-9]\b`)
	reAccessKey   = regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)
	rePrivateKey  = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)
	reSecretName  = regexp.MustCompile(`(?i)(password|passwd|secret_key|secret_value|secret_string|auth_token|api_key_value|private_key|access_key|token)$`)
	secretAllowed = map[string]bool{"secret_arn": true}
)

func TestNoHardCodedAccountsRegionsOrSecrets(t *testing.T) {
	for name, dir := range stackDirs(t) {
		t.Run(name, func(t *testing.T) {
			stageFiles, err := filepath.Glob(filepath.Join(dir, "stages", "*"))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range hardCodedProblems(loadModule(t, dir), stageFiles) {
				t.Error(p)
			}
		})
	}
}

// hardCodedProblems finds account ids and regions in configuration, and credentials anywhere.
func hardCodedProblems(m *module, stageFiles []string) []string {
	var problems []string
	for _, path := range sortedKeys(m.src) {
		for _, a := range configExprs(m.files[path]) {
			text := string(a.Expr.Range().SliceBytes(m.src[path]))
			if reAccountID.MatchString(text) {
				problems = append(problems, fmt.Sprintf("%s: %s: hard-coded account id; use data.aws_caller_identity or a stage variable", a.Expr.Range(), a.Name))
			}
			if reRegion.MatchString(text) {
				problems = append(problems, fmt.Sprintf("%s: %s: hard-coded region; use var.region or data.aws_region", a.Expr.Range(), a.Name))
			}
		}
		problems = append(problems, literalSecrets(m.files[path])...)
	}
	for _, path := range append(slices.Clone(stageFiles), sortedKeys(m.src)...) {
		src, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if reAccessKey.Match(src) || rePrivateKey.Match(src) {
			problems = append(problems, path+": holds a credential (access key id or private key)")
		}
		if strings.HasSuffix(path, ".tfvars") {
			f, diags := hclparse.NewParser().ParseHCL(src, path)
			if diags.HasErrors() {
				problems = append(problems, fmt.Sprintf("parse %s: %s", path, diags.Error()))
				continue
			}
			problems = append(problems, literalSecrets(f.Body.(*hclsyntax.Body))...)
		}
	}
	return problems
}

// configExprs returns the arguments, at any depth, that configure something: documentation
// (description, error_message) is left out, so it may show examples.
func configExprs(body *hclsyntax.Body) []*hclsyntax.Attribute {
	var out []*hclsyntax.Attribute
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for name, a := range b.Attributes {
			if name != "description" && name != "error_message" {
				out = append(out, a)
			}
		}
		for _, blk := range b.Blocks {
			walk(blk.Body)
		}
	}
	walk(body)
	return out
}

// literalSecrets lists the arguments, at any depth, whose name says secret and whose value is a literal.
func literalSecrets(body *hclsyntax.Body) []string {
	var found []string
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for name, a := range b.Attributes {
			if secretAllowed[name] || !reSecretName.MatchString(name) {
				continue
			}
			if v, ok := literal(a.Expr); ok && !v.IsNull() && v.Type() == cty.String && v.AsString() != "" {
				found = append(found, fmt.Sprintf("%s: %s is set to a literal; secrets come from Secrets Manager or are generated by AWS", a.NameRange, name))
			}
		}
		for _, blk := range b.Blocks {
			walk(blk.Body)
		}
	}
	walk(body)
	return found
}
