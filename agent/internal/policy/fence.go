package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The fence keeps server policies (Options.ServerDirs) evaluating on their own terms. Repository and
// server modules compile into one set, so without it a repository module could add rules to a server
// package (`reviewed if true` next to the server's `deny ... if not reviewed`), define a parent
// package whose rules collide with or shadow a server package, supply a document a server policy
// reads, or shadow data.gitops, the context document the agent writes.
//
// Checking a repository module's package path is enough: every rule a module defines, default rules,
// functions and rules with a ref head (`a.b.c := 1`) included, lives under its package. A package
// cannot climb out of data (`package data.main` is data.data.main), and the compiler refuses rule
// heads that start with data or input ("rules must not shadow data").

// gitopsRef is data.gitops, the context document (see contextDocument).
var gitopsRef = ast.DefaultRootRef.Append(ast.StringTerm("gitops"))

// maxFenceErrors bounds how many refused modules one error lists.
const maxFenceErrors = 10

// fenced is a document of data that a repository package may not be, be inside, or be a parent of.
type fenced struct {
	path ast.Ref
	kind fenceKind
	at   string // for a server read: the server file and line that reads it
}

type fenceKind int

const (
	fenceGitops fenceKind = iota
	fenceServerPackage
	fenceServerRead
)

// fence returns an *Error when a repository module's package is, is inside, or is a parent of a
// server package, data.gitops, or a document a server module reads. The error is located at the first
// such module (in srcs order) and its message lists up to maxFenceErrors of them. mods holds the
// parsed module of every source, by name.
func fence(srcs []source, mods map[string]*ast.Module) error {
	var server []*ast.Module
	var repo []source
	for _, s := range srcs {
		if s.server {
			server = append(server, mods[s.name])
		} else {
			repo = append(repo, s)
		}
	}
	if len(repo) == 0 {
		return nil
	}
	guarded := fencedPaths(server)
	var refused []*Error
	for _, s := range repo {
		m := mods[s.name]
		if m == nil || m.Package == nil {
			continue
		}
		if msg, ok := refusal(m.Package.Path, guarded); ok {
			e := &Error{File: s.name, Msg: msg}
			if m.Package.Location != nil {
				e.Line = m.Package.Location.Row
			}
			refused = append(refused, e)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	msgs := []string{refused[0].Msg}
	for i, e := range refused[1:] {
		if i+1 == maxFenceErrors {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(refused)-maxFenceErrors))
			break
		}
		msgs = append(msgs, e.Error())
	}
	return &Error{File: refused[0].File, Line: refused[0].Line, Msg: strings.Join(msgs, "; ")}
}

// refusal says why a repository package at pkg is refused, if it is.
func refusal(pkg ast.Ref, guarded []fenced) (string, bool) {
	for _, g := range guarded {
		var rel string
		switch {
		case pkg.Equal(g.path):
			rel = "is"
		case pkg.HasPrefix(g.path):
			rel = "is inside"
		case g.path.HasPrefix(pkg):
			rel = "is a parent of"
		default:
			continue
		}
		name := packageName(pkg)
		switch g.kind {
		case fenceGitops:
			return fmt.Sprintf("package %s %s data.gitops, the context the agent provides: a repository policy cannot add to or shadow it", name, rel), true
		case fenceServerPackage:
			switch rel {
			case "is":
				return fmt.Sprintf("package %s is a server policy package: a repository policy cannot add rules to it", name), true
			case "is inside":
				return fmt.Sprintf("package %s is inside server policy package %s: a repository policy cannot add rules to it", name, packageName(g.path)), true
			default:
				return fmt.Sprintf("package %s is a parent of server policy package %s: a repository policy cannot define rules above a server package (they would collide with or shadow it)", name, packageName(g.path)), true
			}
		default:
			return fmt.Sprintf("package %s %s %s, which server policy %s reads: a repository policy cannot define what a server policy reads", name, rel, g.path, g.at), true
		}
	}
	return "", false
}

// fencedPaths lists what repository packages must keep clear of: data.gitops, then every server
// package, then every other document a server module reads, each once.
func fencedPaths(server []*ast.Module) []fenced {
	out := []fenced{{path: gitopsRef, kind: fenceGitops}}
	var pkgs []ast.Ref
	seen := map[string]bool{gitopsRef.String(): true}
	for _, m := range server {
		if m == nil || m.Package == nil {
			continue
		}
		if k := m.Package.Path.String(); !seen[k] {
			seen[k] = true
			pkgs = append(pkgs, m.Package.Path)
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Compare(pkgs[j]) < 0 })
	for _, p := range pkgs {
		out = append(out, fenced{path: p, kind: fenceServerPackage})
	}
	var reads []fenced
	for _, m := range server {
		for _, r := range serverReads(m) {
			if k := r.path.String(); !seen[k] && !coveredBy(r.path, gitopsRef, pkgs) {
				seen[k] = true
				reads = append(reads, r)
			}
		}
	}
	sort.Slice(reads, func(i, j int) bool { return reads[i].path.Compare(reads[j].path) < 0 })
	return append(out, reads...)
}

// coveredBy reports whether path is at or inside gitops or one of pkgs, so that fencing those
// already fences it.
func coveredBy(path, gitops ast.Ref, pkgs []ast.Ref) bool {
	if path.HasPrefix(gitops) {
		return true
	}
	for _, p := range pkgs {
		if path.HasPrefix(p) {
			return true
		}
	}
	return false
}

// serverReads finds the documents of data a server module reads outside its own package: the constant
// prefix of every data.… reference (data.exempt[input.stack].ok reads data.exempt), imported names
// resolved (import data.lib.tf; tf.resources[x] reads data.lib.tf.resources). References to the
// module's own rules need no entry: its package is fenced. It over-approximates (a local variable
// named like an import counts as the import), never under.
func serverReads(m *ast.Module) []fenced {
	if m == nil {
		return nil
	}
	file := ""
	if m.Package != nil && m.Package.Location != nil {
		file = m.Package.Location.File
	}
	aliases := map[ast.Var]ast.Ref{}
	for _, imp := range m.Imports {
		if imp == nil || imp.Path == nil {
			continue
		}
		path, ok := imp.Path.Value.(ast.Ref)
		if !ok || len(path) == 0 || !path[0].Equal(ast.DefaultRootDocument) {
			continue
		}
		name := imp.Alias
		if name == "" {
			switch last := path[len(path)-1].Value.(type) {
			case ast.Var:
				name = last
			case ast.String:
				name = ast.Var(last)
			}
		}
		if name != "" {
			aliases[name] = path
		}
	}
	root := func(v ast.Value) (ast.Ref, bool) {
		name, ok := v.(ast.Var)
		if !ok {
			return nil, false
		}
		if name.Equal(ast.DefaultRootDocument.Value) {
			return ast.DefaultRootRef, true
		}
		p, ok := aliases[name]
		return p, ok
	}
	var out []fenced
	add := func(path ast.Ref, t *ast.Term) {
		at := file
		if t.Location != nil {
			at = fmt.Sprintf("%s:%d", t.Location.File, t.Location.Row)
		}
		out = append(out, fenced{path: path, kind: fenceServerRead, at: at})
	}
	var visit func(x any) bool
	visit = func(x any) bool {
		t, ok := x.(*ast.Term)
		if !ok {
			return false
		}
		switch v := t.Value.(type) {
		case ast.Ref:
			if len(v) == 0 {
				return true
			}
			parts := v[1:]
			if p, ok := root(v[0].Value); ok {
				add(p.Concat(v[1:]).ConstantPrefix(), t)
			} else if _, local := v[0].Value.(ast.Var); !local {
				parts = v // a call's result: f(data.x)[0]
			}
			for _, part := range parts {
				ast.NewGenericVisitor(visit).Walk(part)
			}
			return true
		case ast.Var:
			if p, ok := root(v); ok {
				add(p, t)
			}
			return true
		}
		return false
	}
	for _, r := range m.Rules {
		ast.NewGenericVisitor(visit).Walk(r)
		for rule := r; rule != nil; rule = rule.Else {
			if rule.Head != nil && len(rule.Head.Reference) > 1 {
				ast.NewGenericVisitor(visit).Walk(rule.Head.Reference[1:]) // p[data.x] := 1
			}
		}
	}
	return out
}

// packageName is a package path as its package statement writes it: "main.s3" for data.main.s3.
func packageName(path ast.Ref) string {
	return strings.TrimPrefix(path.String(), "data.")
}
