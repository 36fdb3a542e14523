package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
)

// trusted is what a merge request plan takes from the project's default branch, never from the merge
// request: which role each stage's plans assume, and which repository policies gate them.
type trusted struct {
	note gitops.Trust
	tree string
	cfg  *config.Config // nil when the default branch has no usable .gitops.yaml
}

// loadTrusted reads .gitops.yaml on the project's default branch, at its head. A branch without a usable
// file gives settings with no roles and no repository policies, and says why; an error is transient.
func (r *Runner) loadTrusted(ctx context.Context, project string) (*trusted, error) {
	branch, err := r.MRs.DefaultBranch(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("read the default branch: %w", err)
	}
	t := &trusted{note: gitops.Trust{Branch: branch}}
	sha, err := r.MRs.BranchHead(ctx, project, branch)
	if err != nil {
		return nil, fmt.Errorf("read the head of %s: %w", branch, err)
	}
	if sha == "" {
		t.note.Problem = fmt.Sprintf("the default branch %s has no commit yet", branch)
		return t, nil
	}
	tree, err := r.Source.Checkout(ctx, project, sha)
	if errors.Is(err, gitops.ErrUnusableSource) {
		t.note.Problem = fmt.Sprintf("the source of %s was refused (%v)", branch, err)
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch the source of %s: %w", branch, err)
	}
	t.note.Commit, t.tree = sha, tree
	if t.cfg, err = config.Load(tree); err != nil {
		t.cfg = nil
		t.note.Problem = fmt.Sprintf("%s on %s cannot be used: %v", config.FileName, branch, err)
	}
	return t, nil
}

// planRoles maps each stage to the plan_role_arn the default branch gives it, and lists the stages of
// targets it gives none: those plans run without AWS credentials (never with role_arn).
func (t *trusted) planRoles(targets []Target) (roles map[string]string, none []string) {
	roles = map[string]string{}
	for _, tg := range targets {
		name := tg.Stage.Name
		if _, done := roles[name]; done || slices.Contains(none, name) {
			continue
		}
		var st config.Stage
		if t.cfg != nil {
			st, _ = t.cfg.Stage(name)
		}
		if st.PlanRoleARN == "" {
			none = append(none, name)
			continue
		}
		roles[name] = st.PlanRoleARN
	}
	return roles, none
}

// policyDirs are the repository policies that gate merge request plans: the default branch's.
func (t *trusted) policyDirs() []string {
	if t.cfg == nil {
		return nil
	}
	return PolicyDirs(t.tree, t.cfg)
}

// changes lists what mr (the merge request's config) changes in the trusted settings, one line each.
func (t *trusted) changes(mr *config.Config) []string {
	var base config.Config
	if t.cfg != nil {
		base = *t.cfg
	}
	var out []string
	for _, s := range mr.Stages {
		was, _ := base.Stage(s.Name)
		for _, f := range []struct{ key, was, now string }{
			{"role_arn", was.RoleARN, s.RoleARN}, {"plan_role_arn", was.PlanRoleARN, s.PlanRoleARN},
		} {
			if f.was != f.now {
				out = append(out, fmt.Sprintf("stage %q: %s %s → %s", s.Name, f.key, orNone(f.was), orNone(f.now)))
			}
		}
	}
	if !slices.Equal(base.Policies, mr.Policies) {
		out = append(out, fmt.Sprintf("policies: %s → %s", listOrDefault(base.Policies), listOrDefault(mr.Policies)))
	}
	return out
}

// changesPolicies reports whether the merge request changes the policies: the policies list, or a file
// under the policy directories of either side.
func (t *trusted) changesPolicies(c *change) bool {
	var dirs []string
	if t.cfg != nil {
		dirs = t.cfg.PolicyDirs(t.tree)
		if !slices.Equal(t.cfg.Policies, c.cfg.Policies) {
			return true
		}
	}
	dirs = append(dirs, c.cfg.PolicyDirs(c.tree)...)
	for _, p := range c.changed {
		for _, d := range dirs {
			if strings.HasPrefix(p, path.Clean(d)+"/") {
				return true
			}
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func listOrDefault(l []string) string {
	if len(l) == 0 {
		return "(default)"
	}
	return "[" + strings.Join(l, ", ") + "]"
}
