package policy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// fencePlan creates a bucket ACL that testdata/server/storage.rego refuses.
const fencePlan = `{"resource_changes":[{"address":"aws_s3_bucket_acl.a","type":"aws_s3_bucket_acl","mode":"managed","change":{"actions":["create"],"after":{"acl":"public-read"}}}]}`

// serverDenials are what testdata/server denies on fencePlan in prod with no approval.
var serverDenials = []string{
	"a prod change needs an approval from someone other than its author",
	"aws_s3_bucket_acl.a: a public ACL",
}

// unreviewedProd is a prod merge request approved by nobody but its author.
var unreviewedProd = gitops.PolicyContext{
	Project: "platform/documents", Stack: "platform", Stage: "prod",
	MergeRequest: gitops.MergeRequest{IID: 7, Author: "dev", ApprovedBy: []string{"dev"}},
}

func messages(fs []gitops.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Message)
	}
	return out
}

func serverTestdata(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "server"))
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestRepoCannotChangeServerPolicies: a repository module that is, is inside or is a parent of a
// server package or data.gitops refuses the whole set (the error blocks like a denial); a repository
// policy in its own package works next to the server's, whose denials stand.
func TestRepoCannotChangeServerPolicies(t *testing.T) {
	e := NewEngine(Options{ServerDirs: []string{serverTestdata(t)}})
	ctx := context.Background()
	alone, err := e.Check(ctx, nil, []byte(fencePlan), unreviewedProd)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(serverDenials, messages(alone)); diff != "" {
		t.Fatalf("server policies alone (-want +got):\n%s", diff)
	}
	const (
		addRules = "a repository policy cannot add rules to it"
		above    = "a repository policy cannot define rules above a server package (they would collide with or shadow it)"
		context_ = "the context the agent provides: a repository policy cannot add to or shadow it"
	)
	for _, tc := range []struct {
		name    string
		repo    map[string]string
		wantErr string   // the whole error, or a part of it for a compile error
		want    []string // messages, when the set is accepted
	}{
		{
			name:    "helper rule in the server package",
			repo:    map[string]string{"x.rego": "package main\n\nreviewed if true\n"},
			wantErr: "policies/x.rego:1: package main is a server policy package: " + addRules,
		},
		{
			name:    "default rule in the server package",
			repo:    map[string]string{"x.rego": "# Looks harmless.\npackage main\n\ndefault reviewed := true\n"},
			wantErr: "policies/x.rego:2: package main is a server policy package: " + addRules,
		},
		{
			name:    "exception in the server package",
			repo:    map[string]string{"x.rego": "package main\n\nexception contains [\"unreviewed\"] if true\n"},
			wantErr: "policies/x.rego:1: package main is a server policy package: " + addRules,
		},
		{
			name:    "function in a server library",
			repo:    map[string]string{"org.rego": "package lib.org\n\napproved(_) := true\n"},
			wantErr: "policies/org.rego:1: package lib.org is a server policy package: " + addRules,
		},
		{
			name:    "package inside a server package",
			repo:    map[string]string{"x.rego": "package main.extra\n\ndeny contains \"x\" if false\n"},
			wantErr: "policies/x.rego:1: package main.extra is inside server policy package main: " + addRules,
		},
		{
			name:    "package path written as a ref",
			repo:    map[string]string{"x.rego": "package main[\"extra\"]\n\nx := 1\n"},
			wantErr: "policies/x.rego:1: package main.extra is inside server policy package main: " + addRules,
		},
		{
			name:    "parent of a server package",
			repo:    map[string]string{"x.rego": "package storage\n\nx := 1\n"},
			wantErr: "policies/x.rego:1: package storage is a parent of server policy package storage.s3: " + above,
		},
		{
			name:    "rule head ref landing in a server package",
			repo:    map[string]string{"x.rego": "package storage\n\ns3.acls_refused := set()\n"},
			wantErr: "policies/x.rego:1: package storage is a parent of server policy package storage.s3: " + above,
		},
		{
			name:    "parent of a server library",
			repo:    map[string]string{"lib.rego": "package lib\n\norg := {}\n"},
			wantErr: "policies/lib.rego:1: package lib is a parent of server policy package lib.org: " + above,
		},
		{
			name:    "package gitops",
			repo:    map[string]string{"x.rego": "package gitops\n\nstage := \"dev\"\n"},
			wantErr: "policies/x.rego:1: package gitops is data.gitops, " + context_,
		},
		{
			name:    "package gitops.mr",
			repo:    map[string]string{"x.rego": "package gitops.mr\n\napproved_by := [\"lead\"]\n"},
			wantErr: "policies/x.rego:1: package gitops.mr is inside data.gitops, " + context_,
		},
		{
			name: "every refused file is listed",
			repo: map[string]string{
				"a.rego":  "package main\n\nreviewed if true\n",
				"b.rego":  "package gitops.mr\n\napproved_by := [\"lead\"]\n",
				"ok.rego": "package repo\n\nwarn_ok contains \"ok\" if true\n",
			},
			wantErr: "policies/a.rego:1: package main is a server policy package: " + addRules +
				"; policies/b.rego:1: package gitops.mr is inside data.gitops, " + context_,
		},
		{
			// The parser accepts it; the compiler refuses it.
			name:    "rule head naming data",
			repo:    map[string]string{"x.rego": "package mine\n\ndata.main.reviewed if true\n"},
			wantErr: "policies/x.rego:3: rego_compile_error: rules must not shadow data",
		},
		{
			name: "own package",
			repo: map[string]string{"repo.rego": "package repo\n\nwarn_repo contains \"repo rule\" if true\n\ndeny_repo contains \"repo denial\" if true\n"},
			want: append(append([]string{}, serverDenials...), "repo denial", "repo rule"),
		},
		{
			// Reading and importing server documents is harmless, and so is overriding them for the
			// repository's own rules: the server's rules are queried on their own.
			name: "reads server documents with its own overrides",
			repo: map[string]string{"repo.rego": `package repo

import data.lib.org
import data.main as server

warn_would_pass contains "would pass with a lead's approval" if {
	count(server.deny_unreviewed) == 0 with data.gitops.mr.approved_by as ["lead"]
	org.approved({"author": "dev", "approved_by": ["lead"]})
}
`},
			want: append(append([]string{}, serverDenials...), "would pass with a lead's approval"),
		},
		{
			name: "package data.main stays inside its own tree",
			repo: map[string]string{"x.rego": "package data.main\n\nreviewed if true\n"},
			want: serverDenials,
		},
		{
			name: "names that only start like a fenced package",
			repo: map[string]string{
				"a.rego": "package mainline\n\nreviewed if true\n",
				"b.rego": "package gitops_local\n\nmr := {}\n",
				"c.rego": "package storage_s3\n\nx := 1\n",
			},
			want: serverDenials,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := writePolicies(t, tc.repo)
			got, err := e.Check(ctx, []string{repo}, []byte(fencePlan), unreviewedProd)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v, want the set accepted", err)
				}
				if diff := cmp.Diff(tc.want, messages(got)); diff != "" {
					t.Errorf("messages (-want +got):\n%s", diff)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), tc.wantErr) || got != nil {
				t.Errorf("findings %v, err %v (%T)\nwant an *Error: %s", messages(got), err, err, tc.wantErr)
			}
			// Without the repository's policies, the server's denials stand.
			again, err := e.Check(ctx, nil, []byte(fencePlan), unreviewedProd)
			if err != nil || !cmp.Equal(serverDenials, messages(again)) {
				t.Errorf("server policies alone afterwards: %v, %v", messages(again), err)
			}
		})
	}
}

// TestRepoCannotDefineWhatServerReads: a server policy that reads a document no server file defines
// (data.waivers) cannot be fed by the repository, whatever the import or reference looks like.
func TestRepoCannotDefineWhatServerReads(t *testing.T) {
	server := writePolicies(t, map[string]string{"org.rego": `package org

import data.config.limits as lim

deny_unwaived contains "org rule" if not data.waivers.org_rule

deny_too_many contains "too many changes" if count(input.resource_changes) > lim.max

deny_exempt contains "not exempt" if not data.exempt[input.stack].ok
`})
	at := func(line int) string { return fmt.Sprintf("%s:%d", filepath.Join(server, "org.rego"), line) }
	why := "a repository policy cannot define what a server policy reads"
	e := NewEngine(Options{ServerDirs: []string{server}})
	for _, tc := range []struct {
		name, repo, wantErr string
	}{
		{"the document read", "package waivers.org_rule\n\nx := true\n",
			"policies/x.rego:1: package waivers.org_rule is data.waivers.org_rule, which server policy " + at(5) + " reads: " + why},
		{"a parent of it", "package waivers\n\norg_rule := true\n",
			"policies/x.rego:1: package waivers is a parent of data.waivers.org_rule, which server policy " + at(5) + " reads: " + why},
		{"a parent of what an import reads", "package config\n\nlimits := {\"max\": 1000}\n",
			"policies/x.rego:1: package config is a parent of data.config.limits.max, which server policy " + at(7) + " reads: " + why},
		{"inside what a dynamic ref reads", "package exempt.platform\n\nok := true\n",
			"policies/x.rego:1: package exempt.platform is inside data.exempt, which server policy " + at(9) + " reads: " + why},
		{"unrelated", "package repo\n\nwaivers := {\"org_rule\": true}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := writePolicies(t, map[string]string{"x.rego": tc.repo})
			got, err := e.Check(context.Background(), []string{repo}, []byte(smallPlan), gitops.PolicyContext{})
			if tc.wantErr == "" {
				if err != nil || !cmp.Equal([]string{"org rule"}, messages(got)) {
					t.Errorf("findings %v, err %v; want the server's denial", messages(got), err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err = %v\nwant    %s", err, tc.wantErr)
			}
		})
	}
}

// A repository's exceptions silence its own rules only (exceptions are per package and the fence keeps
// repositories out of server packages); the server's own exceptions still apply to server rules.
func TestRepoCannotExceptServerRules(t *testing.T) {
	server := writePolicies(t, map[string]string{
		"org.rego":   "package main\n\ndeny_org_rule contains \"org rule\" if true\n\ndeny_org_waived contains \"waived by the server\" if true\n",
		"waive.rego": "package main\n\nexception contains [\"org_waived\"] if true\n",
	})
	repo := writePolicies(t, map[string]string{
		"repo.rego": "package repo\n\nexception contains [\"org_rule\", \"repo_rule\"] if true\n\ndeny_repo_rule contains \"repo rule\" if true\n\ndeny_kept contains \"kept\" if true\n",
	})
	e := NewEngine(Options{ServerDirs: []string{server}})
	got, err := e.Check(context.Background(), []string{repo}, []byte(smallPlan), gitops.PolicyContext{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kept", "org rule"}, messages(got)); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	inServer := writePolicies(t, map[string]string{"repo.rego": "package main\n\nexception contains [\"org_rule\"] if true\n"})
	_, err = e.Check(context.Background(), []string{inServer}, []byte(smallPlan), gitops.PolicyContext{})
	if want := "policies/repo.rego:1: package main is a server policy package: a repository policy cannot add rules to it"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// Behind the fence, discoverRules still makes a server rule ignore exceptions that a repository
// module defines in its package.
func TestServerRulesIgnoreRepoExceptions(t *testing.T) {
	mods := map[string]*ast.Module{}
	for name, src := range map[string]string{
		"/srv/org.rego":     "package main\n\ndeny_org contains \"org\" if true\n",
		"policies/x.rego":   "package main\n\nexception contains [\"org\"] if true\n\ndeny_repo contains \"repo\" if true\n",
		"policies/own.rego": "package own\n\ndeny_own contains \"own\" if true\n",
	} {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		mods[name] = m
	}
	got := map[string]bool{}
	for _, r := range discoverRules(mods, map[string]bool{"/srv/org.rego": true}) {
		got[r.pkg+"."+r.name] = r.ignoresExceptions
	}
	want := map[string]bool{"data.main.deny_org": true, "data.main.deny_repo": false, "data.own.deny_own": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ignoresExceptions (-want +got):\n%s", diff)
	}
}

// policy test runs no server policies, but refuses what Check would refuse whatever the server dirs.
func TestUnitTestsRefuseGitopsPackages(t *testing.T) {
	dir := writePolicies(t, map[string]string{
		"ctx.rego":      "package gitops.mr\n\napproved_by := [\"lead\"]\n",
		"ctx_test.rego": "package gitops_test\n\ntest_ok if true\n",
	})
	_, err := Test(context.Background(), []string{dir})
	if want := "policies/ctx.rego:1: package gitops.mr is inside data.gitops, the context the agent provides: a repository policy cannot add to or shadow it"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// FuzzFence compiles an arbitrary repository module next to testdata/server: it must never panic, a
// refusal is an *Error, and whenever the set is accepted and evaluates, the server's denials stand.
// Seeds: testdata/fuzz/FuzzFence.
func FuzzFence(f *testing.F) {
	for _, seed := range []string{
		"package main\n\nreviewed if true\n",
		"package repo\n\nwarn contains \"x\" if true\n",
		"package data.main\n\nreviewed if true\n",
		"package storage\n\ns3.acls_refused := set()\n",
		"package mine\n\ndata.main.reviewed if true\n",
		"package repo\n\nimport data.main\n\nx if main.reviewed with data.gitops.mr.approved_by as [\"lead\"]\n",
	} {
		f.Add([]byte(seed))
	}
	server, err := readSources(nil, []string{serverTestdata(f)}, false)
	if err != nil {
		f.Fatal(err)
	}
	input, err := parsePlan([]byte(fencePlan), inputKeys{all: true})
	if err != nil {
		f.Fatal(err)
	}
	doc := contextDocument(unreviewedProd)
	f.Fuzz(func(t *testing.T, src []byte) {
		srcs := append([]source{{name: "policies/fuzz.rego", raw: src}}, server...)
		set, err := compileSet(srcs)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Fatalf("err = %v (%T), want an *Error with a message", err, err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		found, err := set.eval(ctx, input, doc, 1)
		if err != nil {
			return // an evaluation error blocks like a denial
		}
		have := map[string]bool{}
		for _, fi := range found {
			have[fi.Message] = fi.Severity == gitops.Deny
		}
		for _, m := range serverDenials {
			if !have[m] {
				t.Errorf("server denial %q is gone; findings %v", m, messages(found))
			}
		}
	})
}

// serverReads resolves imports and finds data references wherever a rule holds them.
func TestServerReads(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"own package only", "package org\n\nx := 1\n\ny if x == 1\n", []string{}},
		{"explicit ref", "package org\n\ny if data.cfg.on\n", []string{"data.cfg.on"}},
		{"import", "package org\n\nimport data.lib.tf\n\ny if tf.resources.a\n", []string{"data.lib.tf.resources.a"}},
		{"import with alias, whole", "package org\n\nimport data.cfg.limits as lim\n\ny := lim\n", []string{"data.cfg.limits"}},
		{"dynamic part", "package org\n\ny if data.exempt[input.stack].ok\n", []string{"data.exempt"}},
		{"ref inside a ref", "package org\n\ny if input.a[data.keys.k]\n", []string{"data.keys.k"}},
		{"call result", "package org\n\ny if split(data.cfg.s, \",\")[0] == \"a\"\n", []string{"data.cfg.s"}},
		{"function call", "package org\n\nimport data.lib.org\n\ny if org.approved(input)\n", []string{"data.lib.org.approved"}},
		{"with target and value", "package org\n\nimport data.main\n\ny if main.x with data.gitops.stage as data.cfg.stage\n",
			[]string{"data.main.x", "data.gitops.stage", "data.cfg.stage"}},
		{"comprehension, every and else", "package org\n\ny := [v | some v in data.a]\n\nz if every v in data.b { v }\n\nw := 1 if false else := data.c\n",
			[]string{"data.a", "data.b", "data.c"}},
		{"rule head key", "package org\n\np[data.k.x] := 1\n", []string{"data.k.x"}},
		{"default and function", "package org\n\ndefault d := false\n\nd if data.on\n\nf(x) := data.fn[x]\n", []string{"data.on", "data.fn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ast.ParseModuleWithOpts("org.rego", tc.src, ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, r := range serverReads(m) {
				if p := r.path.String(); !slices.Contains(got, p) {
					got = append(got, p)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("reads (-want +got):\n%s", diff)
			}
		})
	}
}
